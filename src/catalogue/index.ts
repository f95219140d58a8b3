/**
 * The catalogue: patches (src/patch/) tied to the model's series (src/model/series/). The
 * patch layer reads mail and knows nothing of the model; this layer names, for each patch,
 * the modelled unit it is, and compares versions down to the model hooks they replace.
 */
import { analysePatchFile, analysePatchText, linkEvidence, type PatchFileResult, type PatchInfo } from '../patch/index.js';
import { linkToModel, type ModelLink } from './link.js';

export type { ModelLink, Candidate } from './link.js';
export { diffSeries, interdiffHunks, type SeriesDiff, type PartChange, type HunkChange, type ModelChange } from './interdiff.js';

export interface IdentifiedPatch extends PatchInfo {
  model: ModelLink;
}

export interface IdentifiedFile extends Omit<PatchFileResult, 'patches'> {
  patches: IdentifiedPatch[];
}

export function identify(p: PatchInfo): IdentifiedPatch {
  const ev = linkEvidence.get(p)!;
  const model = linkToModel(ev);
  // Keep the parse's own identity objects (the raw hunks are keyed by them).
  const q = p as IdentifiedPatch;
  q.model = model;
  if (!q.series) q.series = model.title ?? p.title;
  return q;
}

export function identifyFile(file: string): IdentifiedFile {
  const r = analysePatchFile(file);
  return { ...r, patches: r.patches.map(identify) };
}

export function identifyText(bytes: Buffer, file: string): IdentifiedFile {
  const r = analysePatchText(bytes, file);
  return { ...r, patches: r.patches.map(identify) };
}
