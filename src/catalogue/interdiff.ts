/**
 * Two versions of a patch or series, compared the way reviewers compare v5 with v6: parts
 * added, dropped, reworded and changed; for changed parts the hunk-level interdiff (which
 * hunks appeared, went, or changed, and the changed lines); the changelog lines of the newer
 * version that explain each change; and, when both versions are modelled, which model hooks
 * differ between their units.
 */
import { findSeries } from '../model/series/index.js';
import { rawDiff } from '../patch/mail.js';
import type { FileDiff, Hunk } from '../patch/diff.js';
import { subjectTokens } from './link.js';
import type { IdentifiedPatch as PatchInfo } from './index.js';

export interface HunkChange {
  file: string;
  /** Function the hunk is in (header or landing), for naming it. */
  function?: string;
  header: string;
  status: 'added' | 'dropped' | 'changed';
  /** Change lines (with their +/- sign, the code's indentation as written) only in the old / only in the new version of the hunk. */
  removed: string[];
  added: string[];
}

export interface PartChange {
  part?: number;
  oldPart?: number;
  newPart?: number;
  oldTitle?: string;
  newTitle?: string;
  status: 'added' | 'dropped' | 'reworded' | 'changed' | 'reworded+changed' | 'unchanged';
  hunks: HunkChange[];
  /** Changelog lines of the new version that speak of this part. */
  explainedBy: string[];
}

export interface ModelChange {
  old: string[];
  new: string[];
  hooksOnlyOld: string[];
  hooksOnlyNew: string[];
  /** Hooks both versions replace, by different units (their implementations may differ). */
  hooksBoth: string[];
  note: string;
}

export interface SeriesDiff {
  old: { version?: number; title?: string; parts: number };
  new: { version?: number; title?: string; parts: number };
  parts: PartChange[];
  changelog: string[];
  model: ModelChange;
}

/** The patches of a version: per-part patches (cover letters and replies aside). */
function partsOf(ps: PatchInfo[]): PatchInfo[] {
  return ps.filter((p) => !p.coverLetter && !p.reply && p.files.length > 0);
}

function dice(a: string, b: string): number {
  const x = new Set(subjectTokens(a));
  const y = new Set(subjectTokens(b));
  if (!x.size || !y.size) return 0;
  let n = 0;
  for (const w of x) if (y.has(w)) n++;
  return (2 * n) / (x.size + y.size);
}

const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();

function hunkKey(file: string, h: Hunk): string {
  const fn = h.lines.find((l) => l.kind !== 'context' && l.fn)?.fn ?? h.headerFunction ?? `@${h.oldStart}`;
  return `${file}::${fn}`;
}

/** A hunk's change lines with their sign, exactly as the patch has them (indentation kept). */
function changeLines(h: Hunk): string[] {
  return h.lines.filter((l) => l.kind !== 'context').map((l) => `${l.kind === 'add' ? '+' : '-'}${l.text}`);
}

/**
 * Hunk-level interdiff of two versions of one patch (hunks keyed by file and function). Lines
 * are compared as written (an indentation change is a change), except when either version
 * lost its whitespace to an archive (`whitespaceLost`): then runs of whitespace compare equal.
 */
export function interdiffHunks(oldFiles: FileDiff[], newFiles: FileDiff[], opts: { whitespaceLost?: boolean } = {}): HunkChange[] {
  const key = opts.whitespaceLost ? (l: string) => `${l[0]}${norm(l.slice(1))}` : (l: string) => l.trimEnd();
  const index = (files: FileDiff[]) => {
    const m = new Map<string, { file: string; hunks: Hunk[] }>();
    for (const f of files) {
      for (const h of f.hunks) {
        const k = hunkKey(f.to, h);
        const e = m.get(k) ?? { file: f.to, hunks: [] };
        e.hunks.push(h);
        m.set(k, e);
      }
    }
    return m;
  };
  const A = index(oldFiles);
  const B = index(newFiles);
  const out: HunkChange[] = [];
  for (const k of new Set([...A.keys(), ...B.keys()])) {
    const a = A.get(k);
    const b = B.get(k);
    const fn = k.split('::')[1]!.startsWith('@') ? undefined : k.split('::')[1];
    const la = a ? a.hunks.flatMap(changeLines) : [];
    const lb = b ? b.hunks.flatMap(changeLines) : [];
    if (!a) {
      out.push({ file: b!.file, function: fn, header: b!.hunks[0]!.header, status: 'added', removed: [], added: lb });
      continue;
    }
    if (!b) {
      out.push({ file: a.file, function: fn, header: a.hunks[0]!.header, status: 'dropped', removed: la, added: [] });
      continue;
    }
    const sa = new Set(la.map(key));
    const sb = new Set(lb.map(key));
    const removed = la.filter((l) => !sb.has(key(l)));
    const added = lb.filter((l) => !sa.has(key(l)));
    if (removed.length || added.length) out.push({ file: b.file, function: fn, header: b.hunks[0]!.header, status: 'changed', removed, added });
  }
  return out;
}

function modelChange(oldIds: string[], newIds: string[]): ModelChange {
  const hooks = (ids: string[]) => {
    const m = new Map<string, string>();
    for (const id of ids) for (const h of Object.keys(findSeries(id)?.hooks ?? {})) m.set(h, id);
    return m;
  };
  const a = hooks(oldIds);
  const b = hooks(newIds);
  const only = (x: Map<string, string>, y: Map<string, string>) => [...x.keys()].filter((h) => !y.has(h));
  const both = [...a.keys()].filter((h) => b.has(h) && a.get(h) !== b.get(h));
  let note: string;
  if (!oldIds.length || !newIds.length) note = `not both modelled (old: ${oldIds.join(', ') || 'none'}; new: ${newIds.join(', ') || 'none'}): no behaviour comparison`;
  else if (oldIds.join() === newIds.join()) note = 'both versions map to the same model units: no modelled behaviour difference';
  else note = `model units differ: ${oldIds.join(', ')} → ${newIds.join(', ')}`;
  return { old: oldIds, new: newIds, hooksOnlyOld: only(a, b), hooksOnlyNew: only(b, a), hooksBoth: both, note };
}

export function diffSeries(oldPs: PatchInfo[], newPs: PatchInfo[]): SeriesDiff {
  const A = partsOf(oldPs);
  const B = partsOf(newPs);
  const coverA = oldPs.find((p) => p.coverLetter);
  const coverB = newPs.find((p) => p.coverLetter);
  const changelog = [...(coverB?.changelog ?? []), ...B.flatMap((p) => p.changelog)].filter((c) => Number(c.version.slice(1)) > (coverA?.version ?? A[0]?.version ?? 0)).flatMap((c) => c.entries.map((e) => `${c.version}${c.since ? ` (since ${c.since})` : ''}: ${e}`));

  // Pair parts: exact title, then the most alike title, then the same part number.
  const pairs: Array<[PatchInfo | undefined, PatchInfo | undefined]> = [];
  const usedB = new Set<PatchInfo>();
  const restA: PatchInfo[] = [];
  for (const a of A) {
    const b = B.find((x) => !usedB.has(x) && norm(x.title ?? '').toLowerCase() === norm(a.title ?? '').toLowerCase());
    if (b) {
      usedB.add(b);
      pairs.push([a, b]);
    } else restA.push(a);
  }
  for (const a of restA) {
    const cands = B.filter((x) => !usedB.has(x)).map((x) => ({ x, s: dice(a.title ?? '', x.title ?? '') + (x.part === a.part ? 0.2 : 0) })).sort((p, q) => q.s - p.s);
    if (cands[0] && cands[0].s >= 0.5) {
      usedB.add(cands[0].x);
      pairs.push([a, cands[0].x]);
    } else pairs.push([a, undefined]);
  }
  for (const b of B) if (!usedB.has(b)) pairs.push([undefined, b]);
  pairs.sort((p, q) => (p[1]?.part ?? p[0]?.part ?? 0) - (q[1]?.part ?? q[0]?.part ?? 0));

  const parts: PartChange[] = pairs.map(([a, b]) => {
    const whitespaceLost = [a, b].some((p) => p?.form.includes('whitespace-lost') || p?.form.includes('flattened'));
    const hunks = a && b ? interdiffHunks(rawDiff.get(a) ?? [], rawDiff.get(b) ?? [], { whitespaceLost }) : [];
    const reworded = !!a && !!b && norm(a.title ?? '').toLowerCase() !== norm(b.title ?? '').toLowerCase();
    const changed = hunks.length > 0;
    const status: PartChange['status'] = !a ? 'added' : !b ? 'dropped' : reworded && changed ? 'reworded+changed' : reworded ? 'reworded' : changed ? 'changed' : 'unchanged';
    const words = new Set([...hunks.map((h) => h.function).filter((f): f is string => !!f), ...[a?.title, b?.title].filter((t): t is string => !!t)]);
    const explainedBy = status === 'unchanged' ? [] : changelog.filter((line) => [...words].some((w) => line.includes(w) || (w.includes(' ') && dice(w, line.replace(/^v\d+[^:]*:\s*/, '')) >= 0.6)));
    return { part: b?.part ?? a?.part, oldPart: a?.part, newPart: b?.part, oldTitle: a?.title, newTitle: b?.title, status, hunks, explainedBy };
  });

  const ids = (ps: PatchInfo[]) => [...new Set(ps.flatMap((p) => p.model.ids))].sort();
  return {
    old: { version: coverA?.version ?? A[0]?.version, title: coverA?.title ?? A[0]?.series, parts: A.length },
    new: { version: coverB?.version ?? B[0]?.version, title: coverB?.title ?? B[0]?.series, parts: B.length },
    parts,
    changelog,
    model: modelChange(ids([...oldPs]), ids([...newPs])),
  };
}
