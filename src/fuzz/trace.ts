/**
 * Mutation fuzzing of the trace readers: damaged copies of real captures (slices of
 * traces/**\/trace.txt.gz, fixtures/traces/trace-cmd-s1/report.txt.gz, and a trace.dat cut down
 * from fixtures/traces/trace-cmd-s1/trace-v6.dat.gz), and the invariants the readers keep on
 * them. Used by trace.test.ts (a few hundred inputs) and scripts/fuzz-trace.mjs (as many as
 * asked, counted by outcome). The design is src/patch/fuzz.ts's.
 *
 * Invariants, for every mutated input:
 *  - no exception escapes: every problem is a diagnostic (outcome `crash` otherwise);
 *  - no hang: the readers take at most one step per line, ring-buffer page and record
 *    (budget.ts), bounded by the input's size — a step budget, not a timer (`hang` otherwise);
 *  - every diagnostic has a position: whole numbers, line ≥ 0, column ≥ 0 (`bad-position`);
 *  - for the kinds MUST_DETECT lists for a reader, the result is the clean input's
 *    (`reproduced`), or at least one diagnostic the clean input does not have says something
 *    changed (`error` when one is an error or data loss, `warning` otherwise); a different
 *    result with no new diagnostic is `silent`.
 *
 * The result compared is every event's timestamp, CPU, task, latency flags, event name and decoded fields, in
 * the order handed on (decoding every payload, as a consumer does: payload diagnostics are
 * raised then). Line numbers and byte offsets are not compared (CR line ends keep them).
 *
 * Kinds that are not MUST_DETECT for a reader, and why a silent change is possible:
 *  - byte-flip (text): a flipped byte inside a task name, an event name that is still a name,
 *    a `%s` or `%p` payload value, or a digit for another digit, gives a line as well-formed as
 *    the original; nothing in the line says what it was;
 *  - truncate, drop-lines, duplicate-lines (trace-cmd report): `trace-cmd report` prints no
 *    count of its events, so a listing cut at a line end, or missing or repeating a line, is
 *    consistent in itself (at microsecond timestamps, two identical lines can be two events);
 *  - shuffle-lines: events of one CPU with equal timestamps (common at µs resolution) can trade
 *    places without any order being broken; events of two CPUs are put back by the sorter;
 *  - bad-number (a payload value): a `%p` value (`page=…`, `folio=…`) or a symbolic one
 *    (`lru=…`) is text, and `NaN` there is text too; a number of the header (bad-number-header:
 *    PID, tgid, CPU, timestamp) is always caught. The latency column's digits are flags, not
 *    numbers: a digit there for another (`d..1.` → `d..2.`) is a valid column, and so is a hex
 *    preempt depth, so it is left to byte-flip;
 *  - dat-flip-page, dat-flip-meta: a trace.dat has no checksums; a flipped byte inside a
 *    record's field, a timestamp delta, a format's print fmt or a saved task name is read as
 *    it stands;
 *  - dat-cut-data: cutting whole pages off a CPU's data and fixing its size in the CPU table
 *    leaves a shorter, consistent file (the saved CPU stats count reads, not the pages kept).
 */
import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DIAGNOSTICS, type Diagnostic } from '../core/diagnostics.js';
import { collectTrace, FormatRegistry, type TraceParseOptions } from '../trace/index.js';
import { traceBudget, TraceBudgetExceeded } from '../trace/budget.js';
import { rng } from '../patch/fuzz.js';

export { rng };

export type TraceReader = 'tracefs' | 'trace-cmd' | 'trace.dat';
export const READERS: readonly TraceReader[] = ['tracefs', 'trace-cmd', 'trace.dat'];

export const TEXT_MUTATIONS = [
  'byte-flip',
  'truncate',
  'truncate-mid-field',
  'shuffle-lines',
  'duplicate-lines',
  'drop-lines',
  'bad-number',
  'bad-number-header',
  'crlf',
  'cr-only',
  'huge-line',
  'nul-byte',
  'header-entries',
  'time-backwards',
] as const;
export const DAT_MUTATIONS = ['dat-flip-meta', 'dat-flip-page', 'dat-truncate', 'dat-cut-section', 'dat-cut-data', 'dat-cpu-table'] as const;
export type MutationKind = (typeof TEXT_MUTATIONS)[number] | (typeof DAT_MUTATIONS)[number];

export const MUTATIONS_OF: Record<TraceReader, readonly MutationKind[]> = {
  tracefs: TEXT_MUTATIONS,
  'trace-cmd': TEXT_MUTATIONS.filter((k) => k !== 'header-entries'),
  'trace.dat': DAT_MUTATIONS,
};

/** Kinds after which the clean result comes back, or a new diagnostic says what changed. */
export const MUST_DETECT: Record<TraceReader, ReadonlySet<MutationKind>> = {
  tracefs: new Set<MutationKind>(['truncate', 'truncate-mid-field', 'duplicate-lines', 'drop-lines', 'bad-number-header', 'crlf', 'cr-only', 'huge-line', 'nul-byte', 'header-entries', 'time-backwards']),
  'trace-cmd': new Set<MutationKind>(['truncate-mid-field', 'bad-number-header', 'crlf', 'cr-only', 'huge-line', 'nul-byte', 'time-backwards']),
  'trace.dat': new Set<MutationKind>(['dat-truncate', 'dat-cut-section', 'dat-cpu-table']),
};

export type Outcome = 'reproduced' | 'error' | 'warning' | 'silent' | 'crash' | 'hang' | 'bad-position';
export const OUTCOMES: readonly Outcome[] = ['reproduced', 'error', 'warning', 'silent', 'crash', 'hang', 'bad-position'];

/** Lines longer than this are skipped by the fuzzed reader (the default is 1 MiB: costly per input). */
export const MAX_LINE = 16 * 1024;

export interface ReadResult {
  /** One string per event handed on: what is compared. */
  events: string[];
  diagnostics: Diagnostic[];
  counts: Record<string, number>;
}

export interface CorpusEntry {
  name: string;
  reader: TraceReader;
  bytes: Buffer;
  clean: ReadResult;
  /** trace.dat: where the metadata ends and the CPU data starts (for the flips). */
  datDataStart?: number;
  /** trace.dat: byte offset of the flyrecord CPU table (offset, size per CPU), and its CPUs. */
  datCpuTable?: number;
  datCpus?: number;
}

/** Read an input as the commands do (every payload decoded), under a step budget. */
export async function readInput(bytes: Buffer, registry: FormatRegistry, release: string | undefined, budget = 2 * bytes.length + 4096): Promise<ReadResult> {
  const opts: TraceParseOptions = { file: 'fuzz', registry, release, maxLineBytes: MAX_LINE };
  traceBudget.steps = 0;
  traceBudget.limit = budget;
  try {
    const events: string[] = [];
    const { events: evs, stats } = await collectTrace(Readable.from([bytes]), opts);
    for (const e of evs) events.push(`${e.tsNs}|${e.cpu}|${e.pid}|${e.tgid}|${e.comm}|${e.lat}|${e.name}|${JSON.stringify(e.fields)}`);
    return { events, diagnostics: stats.diagnostics.kept, counts: stats.diagnostics.countsObject() };
  } finally {
    traceBudget.limit = Infinity;
  }
}

/** Diagnostics beyond the clean input's count of each code. */
function addedCodes(r: ReadResult, clean: ReadResult): string[] {
  const out: string[] = [];
  for (const [code, n] of Object.entries(r.counts)) if (n > (clean.counts[code] ?? 0)) out.push(code);
  return out;
}

export interface Checked {
  outcome: Outcome;
  added: string[];
  error?: unknown;
}

export async function check(input: Buffer, entry: CorpusEntry, registry: FormatRegistry, release: string | undefined): Promise<Checked> {
  let r: ReadResult;
  try {
    r = await readInput(input, registry, release);
  } catch (error) {
    if (error instanceof TraceBudgetExceeded) return { outcome: 'hang', added: [], error };
    return { outcome: 'crash', added: [], error };
  }
  if (r.diagnostics.some((d) => !Number.isInteger(d.line) || !Number.isInteger(d.column) || d.line < 0 || d.column < 0)) return { outcome: 'bad-position', added: [] };
  const added = addedCodes(r, entry.clean);
  if (added.length) {
    const err = added.some((c) => {
      const sev = DIAGNOSTICS[c as keyof typeof DIAGNOSTICS]?.severity;
      return sev === 'error' || sev === 'data_loss';
    });
    return { outcome: err ? 'error' : 'warning', added };
  }
  const same = r.events.length === entry.clean.events.length && r.events.every((e, i) => e === entry.clean.events[i]);
  return { outcome: same ? 'reproduced' : 'silent', added };
}

/** Is this outcome a failure for this reader and kind? */
export function violates(reader: TraceReader, kind: MutationKind, outcome: Outcome): boolean {
  if (outcome === 'crash' || outcome === 'hang' || outcome === 'bad-position') return true;
  return outcome === 'silent' && MUST_DETECT[reader].has(kind);
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const EVENT_LINE = /^\s*\S.*?-\d+\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+(?:\S+\s+)?\d+\.\d+: /;
const TS = /(\[\d+\]\s+(?:\S+\s+)?)(\d+)\.(\d+)(: )/;

function eventLines(lines: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) if (EVENT_LINE.test(lines[i]!)) out.push(i);
  return out;
}

const BAD_NUMBERS = ['18446744073709551616', '99999999999999999999', '-99999999999999999999', 'NaN', '0xfffffffffffffffffffff', '4294967296', '1e400'];

/**
 * `input` mutated by `kind` (deterministic in `seed`), or undefined when the kind does not apply
 * to it (no header to edit, no number to replace).
 */
export function mutate(entry: CorpusEntry, kind: MutationKind, seed: number): Buffer | undefined {
  const R = rng(seed);
  const input = entry.bytes;
  if (entry.reader === 'trace.dat') return mutateDat(entry, kind, R);
  const text = input.toString('utf8');
  const lines = text.split('\n');
  const join = (ls: string[]): Buffer => Buffer.from(ls.join('\n'));
  const evs = eventLines(lines);
  switch (kind) {
    case 'byte-flip': {
      const b = Buffer.from(input);
      for (let n = 1 + R.int(8); n > 0; n--) b[R.int(b.length)] ^= 1 + R.int(255);
      return b;
    }
    case 'truncate':
      return input.subarray(0, 1 + R.int(input.length - 1));
    case 'truncate-mid-field': {
      // Cut inside the payload of an event line, after a digit: the line still parses with a
      // shorter value.
      if (!evs.length) return undefined;
      const i = R.pick(evs);
      const l = lines[i]!;
      const colon = l.search(/\d\.\d+: \S+?[:(]/);
      const cuts: number[] = [];
      for (let k = Math.max(colon, 0) + 12; k < l.length - 1; k++) if (/[0-9a-f]/.test(l[k]!) && /[0-9a-f]/.test(l[k + 1]!)) cuts.push(k + 1);
      if (!cuts.length) return undefined;
      return Buffer.from([...lines.slice(0, i), l.slice(0, R.pick(cuts))].join('\n'));
    }
    case 'shuffle-lines': {
      if (evs.length < 2) return undefined;
      const ls = [...lines];
      for (let n = 1 + R.int(3); n > 0; n--) {
        const a = R.pick(evs);
        const b = R.pick(evs);
        [ls[a], ls[b]] = [ls[b]!, ls[a]!];
      }
      return join(ls);
    }
    case 'duplicate-lines': {
      if (!evs.length) return undefined;
      const ls = [...lines];
      const at = [...new Set(Array.from({ length: 1 + R.int(3) }, () => R.pick(evs)))].sort((x, y) => y - x);
      for (const a of at) ls.splice(a, 0, ls[a]!);
      return join(ls);
    }
    case 'drop-lines': {
      if (!evs.length) return undefined;
      const ls = [...lines];
      const at = [...new Set(Array.from({ length: 1 + R.int(3) }, () => R.pick(evs)))].sort((x, y) => y - x);
      for (const a of at) ls.splice(a, 1);
      return join(ls);
    }
    case 'bad-number':
    case 'bad-number-header': {
      if (!evs.length) return undefined;
      const i = R.pick(evs);
      const l = lines[i]!;
      // A number of the line header (PID, tgid, CPU, timestamp), or one of the payload.
      const ts = TS.exec(l);
      if (!ts) return undefined;
      const payloadAt = ts.index + ts[0].length;
      const pidAt = l.lastIndexOf('-', l.indexOf('[', l.search(/-\d+\s/))) + 1;
      const nums: Array<[number, number]> = [];
      // The latency column's digits are flags (preempt depth, migrate-disable), not numbers.
      const cpuEnd = l.indexOf(']', pidAt) + 1;
      const latEnd = /^\s*[^\s\d]\S*\s/.test(l.slice(cpuEnd)) ? cpuEnd + /^\s*\S+/.exec(l.slice(cpuEnd))![0].length : cpuEnd;
      for (const m of l.matchAll(/(?:0x)?[0-9a-f]+/g)) {
        if (!/\d/.test(m[0]) || m.index! < pidAt || (m.index! >= cpuEnd && m.index! < latEnd)) continue;
        if ((kind === 'bad-number-header') === m.index! < payloadAt) nums.push([m.index!, m.index! + m[0].length]);
      }
      if (!nums.length) return undefined;
      const [a, b] = R.pick(nums);
      const ls = [...lines];
      // In the header, 4294967296 would be a valid (if unlikely) PID-free timestamp: only the
      // values no column can hold are used there.
      ls[i] = `${l.slice(0, a)}${R.pick(kind === 'bad-number-header' ? BAD_NUMBERS.filter((x) => x !== '4294967296') : BAD_NUMBERS)}${l.slice(b)}`;
      return join(ls);
    }
    case 'crlf':
      return Buffer.from(text.replace(/\r?\n/g, '\r\n'));
    case 'cr-only':
      return Buffer.from(text.replace(/\r?\n/g, '\r'));
    case 'huge-line': {
      const ls = [...lines];
      const base = evs.length && R.int(2) === 0 ? lines[R.pick(evs)]! : '';
      ls.splice(R.int(ls.length), 0, base.padEnd(MAX_LINE + 1 + R.int(256), R.pick(['a', ' ', '0', '=', 'x'])));
      return join(ls);
    }
    case 'nul-byte': {
      const at = R.int(input.length + 1);
      return Buffer.concat([input.subarray(0, at), Buffer.from([0]), input.subarray(at)]);
    }
    case 'header-entries': {
      const i = lines.findIndex((l) => /entries-in-buffer\/entries-written:/.test(l));
      if (i < 0) return undefined;
      const ls = [...lines];
      ls[i] = ls[i]!.replace(/(\d+)\/(\d+)/, (_m, a: string, b: string) => {
        const v = R.int(4);
        const n = Number(a);
        const m = v === 0 ? n + 1 + R.int(1000) : v === 1 ? Math.max(0, n - 1 - R.int(n)) : v === 2 ? 0 : 718;
        if (m === n) return `${n + 1}/${Number(b) + 1}`;
        return `${m}/${Math.max(m, Number(b) - n + m)}`;
      });
      return join(ls);
    }
    case 'time-backwards': {
      // An event's timestamp set before the one before it on its CPU.
      const byCpu = new Map<string, number[]>();
      for (const i of evs) {
        const m = TS.exec(lines[i]!);
        if (!m) continue;
        const cpu = /\[(\d+)\]/.exec(lines[i]!)![1]!;
        let l = byCpu.get(cpu);
        if (!l) byCpu.set(cpu, (l = []));
        l.push(i);
      }
      const cands = [...byCpu.values()].filter((l) => l.length >= 2);
      if (!cands.length) return undefined;
      const l = R.pick(cands);
      const k = 1 + R.int(l.length - 1);
      const prev = TS.exec(lines[l[k - 1]!]!)!;
      const secs = Number(prev[2]);
      const frac = prev[3]!;
      const fracNum = Number(frac);
      // Earlier than the previous event of the CPU: a step back in the fraction, or a second.
      const back = fracNum > 0 && R.int(2) === 0 ? `${secs}.${String(fracNum - 1 - R.int(fracNum)).padStart(frac.length, '0')}` : `${Math.max(0, secs - 1 - R.int(100))}.${frac}`;
      if (secs === 0 && fracNum === 0) return undefined;
      const ls = [...lines];
      ls[l[k]!] = lines[l[k]!]!.replace(TS, (_m, a: string, _s: string, _f: string, c: string) => `${a}${back}${c}`);
      return join(ls);
    }
    default:
      return undefined;
  }
}

function mutateDat(entry: CorpusEntry, kind: MutationKind, R: ReturnType<typeof rng>): Buffer | undefined {
  const b = entry.bytes;
  const dataStart = entry.datDataStart!;
  switch (kind) {
    case 'dat-flip-meta': {
      const out = Buffer.from(b);
      for (let n = 1 + R.int(4); n > 0; n--) out[R.int(dataStart)] ^= 1 + R.int(255);
      return out;
    }
    case 'dat-flip-page': {
      const out = Buffer.from(b);
      for (let n = 1 + R.int(8); n > 0; n--) out[dataStart + R.int(b.length - dataStart)] ^= 1 + R.int(255);
      return out;
    }
    case 'dat-truncate':
      return b.subarray(0, R.int(b.length));
    case 'dat-cut-section': {
      // A range of bytes taken out of the middle: what follows moves up.
      const a = R.int(b.length - 1);
      const len = 1 + R.int(Math.min(4096, b.length - a - 1));
      return Buffer.concat([b.subarray(0, a), b.subarray(a + len)]);
    }
    case 'dat-cut-data': {
      // Whole pages cut off the end, the CPU table left as it was: the file ends early.
      const pages = Math.floor((b.length - dataStart) / 4096);
      if (pages < 2) return undefined;
      return b.subarray(0, dataStart + 4096 * (1 + R.int(pages - 1)));
    }
    case 'dat-cpu-table': {
      // The CPU table's offset or size of a CPU made wrong (past the end, inside the metadata,
      // huge).
      const out = Buffer.from(b);
      const at = entry.datCpuTable!;
      const field = at + 16 * R.int(entry.datCpus!) + (R.int(2) ? 8 : 0);
      const v = R.pick([BigInt(b.length + 1 + R.int(100000)), BigInt(R.int(dataStart)), (1n << 63n) + BigInt(R.int(1000)), 0xffffffffffffffffn, BigInt(b.length - dataStart + 4096)]);
      out.writeBigUInt64LE(v, field);
      return out;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The corpus.

const gz = (p: string): Buffer => {
  const b = readFileSync(p);
  return b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
};

/**
 * A slice of `body` lines under the header lines of a real capture, its entries-in-buffer set
 * to the events kept (so the clean slice is a consistent listing).
 */
function slice(text: string, from: number, n: number): Buffer {
  const lines = text.split('\n');
  const head: string[] = [];
  let i = 0;
  while (i < lines.length && (lines[i]!.startsWith('#') || /^cpus=\d+$/.test(lines[i]!) || /^version = /.test(lines[i]!))) head.push(lines[i++]!);
  const body = lines.slice(i).filter((l) => l !== '');
  const start = Math.min(from, Math.max(0, body.length - n));
  const kept = body.slice(start, start + n);
  const events = kept.filter((l) => EVENT_LINE.test(l)).length;
  const h = head.map((l) => l.replace(/(entries-in-buffer\/entries-written:\s*)(\d+)\/(\d+)/, (_m, p: string) => `${p}${events}/${events}`));
  return Buffer.from(`${[...h, ...kept].join('\n')}\n`);
}

/**
 * A trace-cmd v6 trace.dat cut down to its first `pages` ring-buffer pages per CPU, its
 * kallsyms emptied (5 MB of the 8): the metadata is kept byte for byte otherwise. Little-endian.
 */
export function smallDat(buf: Buffer, pages: number, keepEvent: (name: string) => boolean = () => true): { bytes: Buffer; dataStart: number; cpuTable: number; cpus: number } {
  let p = 10;
  const cstr = (): string => {
    const e = buf.indexOf(0, p);
    const s = buf.toString('latin1', p, e);
    p = e + 1;
    return s;
  };
  if (cstr() !== '6') throw new Error('smallDat reads version 6 files only');
  p += 1 + 1;
  const pageSize = buf.readUInt32LE(p);
  p += 4;
  for (const tag of ['header_page', 'header_event']) {
    if (cstr() !== tag) throw new Error(`expected ${tag}`);
    p += 8 + Number(buf.readBigUInt64LE(p));
  }
  let n = buf.readUInt32LE(p);
  p += 4;
  for (let k = 0; k < n; k++) p += 8 + Number(buf.readBigUInt64LE(p));
  // Event formats, by system: only those of the events kept.
  const formatsAt = p;
  const systems = buf.readUInt32LE(p);
  p += 4;
  const kept: Buffer[] = [];
  let keptSystems = 0;
  for (let s = 0; s < systems; s++) {
    const nameAt = p;
    cstr();
    const name = buf.subarray(nameAt, p);
    n = buf.readUInt32LE(p);
    p += 4;
    const fmts: Buffer[] = [];
    for (let k = 0; k < n; k++) {
      const size = Number(buf.readBigUInt64LE(p));
      const text = buf.toString('latin1', p + 8, p + 8 + size);
      const ev = /^name: (\S+)/m.exec(text)?.[1];
      if (ev !== undefined && keepEvent(ev)) fmts.push(buf.subarray(p, p + 8 + size));
      p += 8 + size;
    }
    if (!fmts.length) continue;
    keptSystems++;
    const count = Buffer.alloc(4);
    count.writeUInt32LE(fmts.length);
    kept.push(name, count, ...fmts);
  }
  const systemCount = Buffer.alloc(4);
  systemCount.writeUInt32LE(keptSystems);
  const kallsymsAt = p;
  const afterKallsyms = p + 4 + buf.readUInt32LE(p);
  const flyrecord = buf.indexOf(Buffer.from('flyrecord\0', 'latin1'), afterKallsyms);
  const cpuCountAt = (() => {
    // The CPU count follows the cmdlines (u32 printk size, u64 cmdlines size before it).
    let q = afterKallsyms;
    q += 4 + buf.readUInt32LE(q);
    q += 8 + Number(buf.readBigUInt64LE(q));
    return q;
  })();
  const cpus = buf.readUInt32LE(cpuCountAt);
  const tableAt = flyrecord + 10;
  const meta = Buffer.concat([buf.subarray(0, formatsAt), systemCount, ...kept, Buffer.alloc(4), buf.subarray(afterKallsyms, tableAt)]);
  const table = Buffer.alloc(16 * cpus);
  const datas: Buffer[] = [];
  const headerLen = meta.length + table.length;
  let off = Math.ceil(headerLen / pageSize) * pageSize;
  const dataStart = off;
  for (let c = 0; c < cpus; c++) {
    const o = Number(buf.readBigUInt64LE(tableAt + 16 * c));
    const size = Number(buf.readBigUInt64LE(tableAt + 16 * c + 8));
    const keep = Math.min(size, pages * pageSize);
    if (keep === 0) continue;
    table.writeBigUInt64LE(BigInt(off), 16 * c);
    table.writeBigUInt64LE(BigInt(keep), 16 * c + 8);
    datas.push(buf.subarray(o, o + keep));
    off += keep;
  }
  const pad = Buffer.alloc(dataStart - headerLen);
  return { bytes: Buffer.concat([meta, table, pad, ...datas]), dataStart, cpuTable: meta.length, cpus };
}

export interface CorpusOptions {
  root: string;
  registry: FormatRegistry;
  /** Lines per text slice. */
  lines?: number;
  /** Slices per source trace. */
  slices?: number;
}

const TRACEFS_SOURCES = [
  'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
  'traces/6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz',
  'traces/6.1.0-56-cloud-amd64/s6-two-threads.4k-spin/trace.txt.gz',
  'traces/6.18.44-fc-v782/s8-mremap-straddle.aligned.rec/trace.txt.gz',
  'traces/6.18.44-fc-v669/s4-pmd-thp-redirty/trace.txt.gz',
];

/** The release whose formats decode a source (its settings.txt says, as the commands read it). */
function releaseOf(root: string, path: string, registry: FormatRegistry): string | undefined {
  try {
    const m = /^kernel:\s*(\S+)/m.exec(readFileSync(join(root, path, '..', 'settings.txt'), 'utf8'));
    return registry.matchRelease(m?.[1]) ?? undefined;
  } catch {
    return undefined;
  }
}

export interface FuzzCorpus {
  entries: Array<CorpusEntry & { release: string | undefined }>;
}

export async function buildCorpus(o: CorpusOptions): Promise<FuzzCorpus> {
  const n = o.lines ?? 300;
  const per = o.slices ?? 2;
  const entries: FuzzCorpus['entries'] = [];
  const add = async (name: string, reader: TraceReader, bytes: Buffer, release: string | undefined, extra: Partial<CorpusEntry> = {}): Promise<void> => {
    const clean = await readInput(bytes, o.registry, release, Infinity);
    entries.push({ name, reader, bytes, clean, release, ...extra });
  };
  for (const src of TRACEFS_SOURCES) {
    const text = gz(join(o.root, src)).toString('utf8');
    const total = text.split('\n').length;
    const release = releaseOf(o.root, src, o.registry);
    for (let k = 0; k < per; k++) await add(`${src}@${k}`, 'tracefs', slice(text, Math.floor(((k + 0.5) * total) / per) - n / 2, n), release);
  }
  await add('fixtures/traces/tracefs-variants.trace', 'tracefs', readFileSync(join(o.root, 'fixtures/traces/tracefs-variants.trace')), '6.18.44-fc-v669');
  const report = gz(join(o.root, 'fixtures/traces/trace-cmd-s1/report.txt.gz')).toString('utf8');
  const rtotal = report.split('\n').length;
  const rrelease = releaseOf(o.root, 'fixtures/traces/trace-cmd-s1/report.txt.gz', o.registry);
  for (let k = 0; k < per * 2; k++) await add(`report.txt.gz@${k}`, 'trace-cmd', slice(report, Math.floor(((k + 0.5) * rtotal) / (per * 2)) - n / 2, n), rrelease);
  await add('fixtures/traces/trace-cmd-variants.trace', 'trace-cmd', readFileSync(join(o.root, 'fixtures/traces/trace-cmd-variants.trace')), '6.18.44-fc-v669');
  const dat = gz(join(o.root, 'fixtures/traces/trace-cmd-s1/trace-v6.dat.gz'));
  // The formats of the events the pages hold are kept (and those of every event named in
  // them, for the ones a damaged record may name).
  const first = await collectTrace(Readable.from([smallDat(dat, 8).bytes]), { file: 'fuzz', registry: o.registry });
  const used = new Set(first.events.map((e) => e.name));
  for (const pages of [2, 6]) {
    const s = smallDat(dat, pages, (n) => used.has(n));
    await add(`trace-v6.dat (first ${pages} pages)`, 'trace.dat', s.bytes, undefined, { datDataStart: s.dataStart, datCpuTable: s.cpuTable, datCpus: s.cpus });
  }
  return { entries };
}
