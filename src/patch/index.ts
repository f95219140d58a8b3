/** Patch mail → PatchInfo for every message in a file (see mail.ts). */
import { readFileSync } from 'node:fs';
import type { Diagnostic } from '../core/diagnostics.js';
import { diag } from '../core/diagnostics.js';
import { analyseMessage, type PatchInfo } from './mail.js';
import { readMail } from './text.js';

export type { PatchInfo, ReviewComment, FileSummary, ChangelogEntry, Person } from './mail.js';
export type { Claim } from './claims.js';
export type { LinkEvidence } from './mail.js';
export { rawDiff, linkEvidence } from './mail.js';

export interface PatchFileResult {
  file: string;
  patches: PatchInfo[];
  diagnostics: Diagnostic[];
}

export function analysePatchText(bytes: Buffer, file: string): PatchFileResult {
  const r = readMail(bytes, file);
  const patches = r.messages.map((m, i) => analyseMessage(m, file, i));
  return { file, patches, diagnostics: [...r.diagnostics, ...patches.flatMap((p) => p.diagnostics)] };
}

export function analysePatchFile(file: string): PatchFileResult {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (e) {
    return { file, patches: [], diagnostics: [diag('unreadable_input', `cannot read: ${(e as Error).message}`, file, 0)] };
  }
  return analysePatchText(bytes, file);
}
