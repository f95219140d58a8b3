/**
 * Mutation fuzzing of the patch reader: damaged copies of real-looking mail (the fixtures in
 * fixtures/patches/), and the invariants the reader keeps on them. Used by fuzz.test.ts (a few
 * hundred inputs) and scripts/fuzz-patch.mjs (as many as asked, counted by outcome).
 *
 * Invariants, for every mutated input:
 *  - no exception escapes: every problem is a diagnostic (outcome `exception` otherwise);
 *  - no hang: the reader's loops make at most STEP_FACTOR line visits per input line (and
 *    per 64 bytes, for lines an archive flattened), counted by `work` of budget.ts; inputs are
 *    bounded in size — a step budget, not a timer (outcome `over-budget` otherwise);
 *  - every diagnostic has a position (line ≥ 0, column ≥ 1) (outcome `bad-position`);
 *  - for the kinds in MUST_DETECT, the result is the clean input's (`reproduced`) or at
 *    least one diagnostic the clean input does not have says what changed (`diagnosed`);
 *    a different result with no new diagnostic is `changed-silently`.
 *
 * Kinds not in MUST_DETECT, and why a silent change is allowed after them:
 *  - byte-flip: a flipped byte inside prose, a path, or the text of a code line changes what
 *    is read, and nothing in the mail states what it should have been;
 *  - truncate: a cut between two files of a patch with no diffstat, or inside the signature
 *    or the commit message, leaves a shorter mail that is consistent in itself;
 *  - shuffle-lines: swapping two lines of one kind (two context lines, two prose lines, two
 *    headers) keeps every count the reader could check;
 *  - duplicate-lines / drop-lines: a repeated or missing prose line, trailer or header
 *    continuation changes the text, not a count; in a hunk it is caught, elsewhere it cannot be;
 *  - repeat-block: grows the input (for the step budget); a repeated run of whole messages or
 *    prose is as consistent as the original.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import { work } from './budget.js';
import { analysePatchText, rawDiff, type PatchFileResult } from './index.js';
import { MAX_LINE } from './text.js';

export const MUTATIONS = [
  'byte-flip',
  'truncate',
  'shuffle-lines',
  'duplicate-lines',
  'drop-lines',
  'repeat-block',
  'hunk-cut',
  'hunk-header',
  'subject-numbering',
  'strip-header',
  'mime-break',
  'base64-wrap',
  'crlf',
  'cr-only',
  'bom',
  'huge-line',
  'nul-byte',
  'invalid-utf8',
  'control-char',
  'whitespace-only',
] as const;
export type MutationKind = (typeof MUTATIONS)[number];

/** Kinds after which the clean result comes back, or a new diagnostic says what changed. */
export const MUST_DETECT: ReadonlySet<MutationKind> = new Set<MutationKind>([
  'hunk-cut',
  'hunk-header',
  'subject-numbering',
  'strip-header',
  'mime-break',
  'base64-wrap',
  'crlf',
  'cr-only',
  'bom',
  'huge-line',
  'nul-byte',
  'invalid-utf8',
  'control-char',
  'whitespace-only',
]);

/** Line visits allowed per input line (the reader makes a handful of passes over each). */
export const STEP_FACTOR = 48;
/** Mutated inputs are cut to this size (a huge-line input is allowed its one long line more). */
export const MAX_INPUT = 64 * 1024;

/**
 * `reproduced`: the clean result, no new diagnostic; `reproduced-diagnosed`: the clean result
 * and a new diagnostic (a cut line, a replaced byte); `diagnosed`: a different result and a new
 * diagnostic; `changed-silently`: a different result and no new diagnostic; the rest break an
 * invariant whatever the kind.
 */
export type Outcome = 'reproduced' | 'reproduced-diagnosed' | 'diagnosed' | 'changed-silently' | 'exception' | 'over-budget' | 'bad-position';
export const OUTCOMES: readonly Outcome[] = ['reproduced', 'reproduced-diagnosed', 'diagnosed', 'changed-silently', 'exception', 'over-budget', 'bad-position'];

/** A small seeded generator (mulberry32): the same seed gives the same mutation. */
export function rng(seed: number): { next: () => number; int: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)]! };
}

const HUNK_LINE = /^((?:> ?)*)@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** Input line numbers (1-based) of hunk headers and hunk lines the clean read placed line by line. */
function lineLevelHunks(clean: PatchFileResult): Array<{ header: number; lines: number[] }> {
  const out: Array<{ header: number; lines: number[] }> = [];
  for (const p of clean.patches) {
    for (const f of rawDiff.get(p) ?? []) {
      for (const h of f.hunks) {
        if (h.unrecoverable || h.overlong || h.src.refolded || h.lines.some((l) => l.src.refolded)) continue;
        out.push({ header: h.src.line, lines: h.lines.map((l) => l.src.line) });
      }
    }
  }
  return out;
}

/** The header blocks of each message: [first, end) line indices (0-based), up to the first blank line. */
function headerBlocks(lines: string[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || /^From \S+\s+\w{3} \w{3} /.test(lines[i]!)) {
      if (i > start || i === lines.length) {
        let end = start;
        while (end < lines.length && end < i && lines[end]!.trim() !== '') end++;
        if (end > start) out.push([start, end]);
      }
      start = i + 1;
    }
  }
  return out;
}

/**
 * `input` mutated by `kind` (deterministic in `seed`), or undefined when the kind does not apply
 * to this input (no hunk to cut, no MIME to break, no numbered subject…).
 */
export function mutate(input: Buffer, kind: MutationKind, seed: number, clean: PatchFileResult): Buffer | undefined {
  const R = rng(seed);
  const text = input.toString('utf8');
  const lines = text.split('\n');
  const join = (ls: string[]): Buffer => Buffer.from(ls.join('\n'));
  switch (kind) {
    case 'byte-flip': {
      const b = Buffer.from(input);
      if (!b.length) return undefined;
      for (let n = 1 + R.int(8); n > 0; n--) b[R.int(b.length)] ^= 1 + R.int(255);
      return b;
    }
    case 'truncate':
      return input.length > 1 ? input.subarray(0, R.int(input.length)) : undefined;
    case 'shuffle-lines': {
      const ls = [...lines];
      for (let n = 1 + R.int(3); n > 0; n--) {
        const a = R.int(ls.length);
        const b = R.int(ls.length);
        [ls[a], ls[b]] = [ls[b]!, ls[a]!];
      }
      return join(ls);
    }
    case 'duplicate-lines': {
      const ls = [...lines];
      for (let n = 1 + R.int(3); n > 0; n--) {
        const a = R.int(ls.length);
        ls.splice(a, 0, ls[a]!);
      }
      return join(ls);
    }
    case 'drop-lines': {
      const ls = [...lines];
      for (let n = 1 + R.int(3); n > 0 && ls.length > 1; n--) ls.splice(R.int(ls.length), 1);
      return join(ls);
    }
    case 'repeat-block': {
      const a = R.int(lines.length);
      const len = 1 + R.int(Math.min(40, lines.length - a));
      const block = lines.slice(a, a + len);
      const times = Math.min(2 + R.int(400), Math.floor(MAX_INPUT / Math.max(1, Buffer.byteLength(block.join('\n')) + 1)));
      const ls = [...lines.slice(0, a)];
      for (let k = 0; k < times; k++) for (const l of block) ls.push(l);
      for (const l of lines.slice(a)) ls.push(l);
      return join(ls);
    }
    case 'hunk-cut': {
      // Cut the input right after a line inside a hunk, before its last line: its counts go unmet.
      const hs = lineLevelHunks(clean).filter((h) => h.lines.length >= 2);
      if (!hs.length) return undefined;
      const h = R.pick(hs);
      const k = R.int(h.lines.length - 1);
      const cut = h.lines[k]!;
      if (h.lines.slice(k + 1).some((l) => l <= cut)) return undefined;
      return join(lines.slice(0, cut));
    }
    case 'hunk-header': {
      const hs = lineLevelHunks(clean);
      if (!hs.length) return undefined;
      const i = R.pick(hs).header - 1;
      const m = HUNK_LINE.exec(lines[i] ?? '');
      if (!m) return undefined;
      const [, q, a, b, c, d] = m;
      const oldN = b === undefined ? 1 : Number(b);
      const newN = d === undefined ? 1 : Number(d);
      const v = R.int(3);
      const add = 1 + R.int(5);
      const counts = v === 0 ? [0, 0] : v === 1 ? [oldN + add, newN + add] : [99_999_999, 99_999_999];
      const ls = [...lines];
      ls[i] = `${q}@@ -${a},${counts[0]} +${c},${counts[1]} @@${lines[i]!.slice(m[0].length)}`;
      return join(ls);
    }
    case 'subject-numbering': {
      const idx = lines.map((l, k) => (/^Subject:.*\[[^\]]*\b\d+\/\d+\]/i.test(l) ? k : -1)).filter((k) => k >= 0);
      if (!idx.length) return undefined;
      const i = R.pick(idx);
      const ls = [...lines];
      ls[i] = ls[i]!.replace(/\b(\d+)\/(\d+)\]/, (_x, k: string, m: string) => {
        const v = R.int(3);
        return v === 0 ? `${Number(m) + 1 + R.int(9)}/${m}]` : v === 1 ? `${k}/0]` : `99999999999999999999/${m}]`;
      });
      return join(ls);
    }
    case 'strip-header': {
      const cands: number[] = [];
      for (const [s, e] of headerBlocks(lines)) for (let k = s; k < e; k++) if (/^(?:Subject|From):/i.test(lines[k]!)) cands.push(k);
      if (!cands.length) return undefined;
      const i = R.pick(cands);
      let j = i + 1;
      while (j < lines.length && /^[ \t]\S/.test(lines[j]!)) j++;
      return join([...lines.slice(0, i), ...lines.slice(j)]);
    }
    case 'mime-break': {
      const ct = lines.findIndex((l) => /boundary="?([^";\s]+)"?/i.test(l));
      if (ct < 0) return undefined;
      const boundary = /boundary="?([^";\s]+)"?/i.exec(lines[ct]!)![1]!;
      const ls = [...lines];
      const v = R.int(3);
      if (v === 0) ls[ct] = ls[ct]!.replace(boundary, `${boundary}-renamed`);
      else if (v === 1) ls[ct] = ls[ct]!.replace(/;?\s*boundary="?[^";\s]+"?/i, '');
      else {
        const close = ls.findIndex((l) => l.trimEnd() === `--${boundary}--`);
        if (close < 0) return undefined;
        ls.splice(close, 1);
      }
      return join(ls);
    }
    case 'base64-wrap': {
      // The first message's body sent as base64, with a character outside the alphabet in it.
      const blocks = headerBlocks(lines);
      if (!blocks.length) return undefined;
      const [s, e] = blocks[0]!;
      if (lines.slice(s, e).some((l) => /^content-(?:type|transfer-encoding):/i.test(l))) return undefined;
      const next = lines.findIndex((l, k) => k > e && /^From \S+\s+\w{3} \w{3} /.test(l));
      const body = lines.slice(e + 1, next < 0 ? lines.length : next).join('\n');
      if (!body.trim()) return undefined;
      const b64 = Buffer.from(body).toString('base64');
      const at = R.int(b64.length);
      const damaged = `${b64.slice(0, at)}${R.pick(['!', '*', '#', '~', '?'])}${b64.slice(at)}`;
      const wrapped = damaged.match(/.{1,76}/g)!;
      return join([...lines.slice(s, e), 'Content-Transfer-Encoding: base64', '', ...wrapped, ...(next < 0 ? [] : lines.slice(next))]);
    }
    case 'crlf':
      return Buffer.from(text.replace(/\r?\n/g, '\r\n'));
    case 'cr-only':
      return text.includes('\n') ? Buffer.from(text.replace(/\r?\n/g, '\r')) : undefined;
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), input]);
    case 'huge-line': {
      const ls = [...lines];
      ls.splice(R.int(ls.length + 1), 0, R.pick(['+', ' ', '>', 'x', '']).padEnd(MAX_LINE + 1 + R.int(64), R.pick(['a', ' ', '-', '>', '@'])));
      return join(ls);
    }
    case 'nul-byte': {
      const at = R.int(Math.min(input.length + 1, 8192));
      return Buffer.concat([input.subarray(0, at), Buffer.from([0]), input.subarray(at)]);
    }
    case 'invalid-utf8': {
      const at = R.int(input.length + 1);
      return Buffer.concat([input.subarray(0, at), Buffer.from([R.pick([0xff, 0xfe, 0xc3])]), Buffer.from([0x28]), input.subarray(at)]);
    }
    case 'control-char': {
      const ls = [...lines];
      const i = R.int(ls.length);
      const at = R.int(ls[i]!.length + 1);
      ls[i] = `${ls[i]!.slice(0, at)}${String.fromCharCode(1 + R.int(8))}${ls[i]!.slice(at)}`;
      return join(ls);
    }
    case 'whitespace-only':
      return Buffer.from(Array.from({ length: 1 + R.int(200) }, () => R.pick([' ', '\t', '\n', '\r\n'])).join(''));
    default:
      return undefined;
  }
}

/** What a reader's result says, position-free: message count, identity, files and hunk ranges. */
export function fingerprint(r: PatchFileResult): string {
  return JSON.stringify(
    r.patches.map((p) => ({
      subject: p.subject,
      title: p.title,
      version: p.version,
      part: p.part,
      total: p.total,
      cover: p.coverLetter,
      reply: p.reply,
      author: p.author,
      sender: p.sender,
      date: p.date,
      messageId: p.messageId,
      files: p.files.map((f) => [f.path, f.from, f.status, f.additions, f.deletions, f.counted, f.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines])]),
    })),
  );
}

const key = (d: Diagnostic): string => `${d.code}\u0000${d.message}`;

export interface Checked {
  outcome: Outcome;
  steps: number;
  budget: number;
  error?: unknown;
  /** Diagnostics the clean input does not have (by code and message, counted). */
  added: Diagnostic[];
}

/**
 * Reads `input` with `analyse` (the reader, or the reader and what the command does with its
 * result) and classifies the outcome against the clean input's result.
 */
export function check(input: Buffer, clean: PatchFileResult, analyse: (b: Buffer) => PatchFileResult = (b) => analysePatchText(b, 'fuzz')): Checked {
  // Lines end in LF, or in CR alone (classic Mac); a flattened line is re-broken into pieces,
  // at most one per 64 bytes or so.
  let lf = 0;
  let cr = 0;
  for (let k = input.indexOf(10); k >= 0; k = input.indexOf(10, k + 1)) lf++;
  if (!lf) for (let k = input.indexOf(13); k >= 0; k = input.indexOf(13, k + 1)) cr++;
  const budget = Math.ceil(STEP_FACTOR * (1 + Math.max(lf, cr) + input.length / 64 + 16));
  work.steps = 0;
  let r: PatchFileResult;
  try {
    r = analyse(input);
  } catch (error) {
    return { outcome: 'exception', steps: work.steps, budget, error, added: [] };
  }
  const steps = work.steps;
  // New diagnostics: those beyond the clean input's count of the same code and message.
  const left = new Map<string, number>();
  for (const d of clean.diagnostics) left.set(key(d), (left.get(key(d)) ?? 0) + 1);
  const added = r.diagnostics.filter((d) => {
    const n = left.get(key(d)) ?? 0;
    left.set(key(d), n - 1);
    return n <= 0;
  });
  if (steps > budget) return { outcome: 'over-budget', steps, budget, added };
  if (r.diagnostics.some((d) => !(d.line >= 0) || !(d.column >= 1) || !Number.isInteger(d.line) || !Number.isInteger(d.column))) return { outcome: 'bad-position', steps, budget, added };
  if (fingerprint(r) === fingerprint(clean)) return { outcome: added.length ? 'reproduced-diagnosed' : 'reproduced', steps, budget, added };
  return { outcome: added.length ? 'diagnosed' : 'changed-silently', steps, budget, added };
}

/** Is this outcome a failure for this kind? */
export function violates(kind: MutationKind, outcome: Outcome): boolean {
  if (outcome === 'exception' || outcome === 'over-budget' || outcome === 'bad-position') return true;
  return outcome === 'changed-silently' && MUST_DETECT.has(kind);
}

/** Inputs bigger than MAX_INPUT are cut to it (a huge-line input keeps its one long line). */
export function bound(b: Buffer, kind: MutationKind): Buffer {
  const max = kind === 'huge-line' ? MAX_INPUT + MAX_LINE + 128 : MAX_INPUT;
  return b.length > max ? b.subarray(0, max) : b;
}
