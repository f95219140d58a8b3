/**
 * A large plain trace file read with every payload decoded (`parse`, summaries) can be parsed
 * in chunks on a worker thread and this one (when asked for: see chunkPlan): the file is cut at line boundaries, each worker runs a whole
 * TraceParser (scan, protocol checks, sort, decode) over the chunks it is given
 * (chunk-worker.ts), and posts the events as columns together with the chunk's bytes (both
 * transferred, not copied); this side makes the events of them, in chunk order.
 *
 * The result is the in-process parser's, event for event, stats and diagnostics included, or
 * it is not used: a chunk is accepted only when what the serial parser carries across its
 * start cannot have changed anything —
 *
 *   - none of its events comes before an event of an earlier chunk in (timestamp, CPU) order:
 *     the serial parser's sort window then moves nothing across the boundary, emits the
 *     earlier chunk's last events before any of this one's, and orders this one's as a window
 *     of the same size started empty does (and no CPU's time goes back at the boundary);
 *   - it raised no diagnostic, lost no events, held no header line and cut no line (chunk 0,
 *     the file's start, is read exactly as the serial parser reads it, and may have any);
 *   - its first line does not repeat the previous event line (a duplicate at the boundary);
 *   - it is ASCII (event columns are string offsets).
 *
 * Events are handed on only once `sortWindow` later events were accepted (what the serial
 * parser had emitted by then). When a chunk is refused, the file is parsed again in-process
 * from its start, the events already handed on are skipped (they are the serial parser's
 * first ones), and its batches and stats are the result.
 *
 * The decoded fields stay in the worker: the worker counts each decode method and reports
 * each decode diagnostic; an event made here knows its method, and decodes its payload again
 * (on this thread, reporting nothing) only if the consumer asks for its fields.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { parseWorkerExists, startParseWorker } from './worker-start.js';
import { DiagnosticSink, type Diagnostic, type DiagnosticCode } from '../core/diagnostics.js';
import { traceBudget } from './budget.js';
import { isDat } from './dat/file.js';
import { DecodeTable, type DecodeMethod, type Layout } from './decode.js';
import { TraceEvent } from './event.js';
import type { RegistryRecipe } from './format/registry.js';
import { checkEntries, drive, TraceParser, type TraceParseOptions, type TraceStats } from './index.js';
import { LineSplitter } from './reader.js';
import { parseChunk } from './chunk-parse.js';

/** Decode methods by number (the method column). */
export const METHODS: readonly DecodeMethod[] = ['format', 'override', 'syscall', 'raw', 'generic', 'binary'];
/** Float64 columns per event: tsNs, offset in the chunk, seq in the chunk, line in the chunk. */
export const CF = 4;
/**
 * Int32 columns per event: pid, tgid (-1: none), cpu, syscall, the spans from the line's start
 * (ts start/end, lat start/end, payload start/end), method, name id, comm id.
 */
export const CI = 13;

export interface ChunkInit {
  path: string;
  file: string;
  recipe: RegistryRecipe;
  release: string | undefined;
  maxLineBytes: number | undefined;
  diagnosticsPerCode: number | undefined;
}

export interface ChunkJob {
  k: number;
  start: number;
  end: number;
  /** Forced for every chunk after the first (the layout the file's start set). */
  layout: Layout | undefined;
  /** Not the file's last chunk: nothing that needs the whole input is checked at its end. */
  partial: boolean;
  sortWindow: number | undefined;
}

/** What a chunk's parse counted: TraceStats' counters for its lines, and what merging needs. */
export interface ChunkStats extends Pick<TraceStats, 'lines' | 'bytes' | 'events' | 'specialLines' | 'unparsedLines' | 'lost' | 'truncated' | 'layout' | 'header' | 'reordered'> {
  late: number;
  kept: Diagnostic[];
  counts: Array<[DiagnosticCode, number]>;
  methods: Array<[string, Record<DecodeMethod, number>]>;
  entriesLine: number;
  lastLine: number;
  firstEventLine: string | undefined;
  firstEventNs: boolean;
  lastEventLine: string;
  /** The least and the greatest (timestamp, CPU) of the chunk's events (none: -1). */
  minTs: number;
  minCpu: number;
  maxTs: number;
  maxCpu: number;
}

export interface ChunkResult {
  k: number;
  /** The parser that read it: a worker's number, or the number of workers for this thread. */
  by?: number;
  error?: string;
  n?: number;
  F?: Float64Array;
  I?: Int32Array;
  /** Names and task names, numbered on from this worker's previous result's. */
  strings?: string[];
  /** The chunk's bytes (transferred). */
  text?: ArrayBuffer;
  ascii?: boolean;
  stats?: ChunkStats;
}

function startWorker(init: ChunkInit): Worker {
  return startParseWorker('chunk-worker', init, WORKER_SEMI_SPACE_MB);
}

const WORKER_SEMI_SPACE_MB = Number(process.env.FOLIOLAB_CHUNK_SEMI ?? 8);

const CHUNK_BYTES = 4 << 20;
/** Chunks this thread may parse ahead of the one whose turn it is. */
const LOOKAHEAD = 6;
const MIN_BYTES = 16 << 20;
const HEAD_BYTES = 1 << 20;

export interface ChunkPlan {
  path: string;
  /** Chunk starts, and the file's size last. */
  bounds: number[];
  /** The layout the file's start sets (what every later chunk is read by). */
  layout: Layout;
  /** Worker threads (this thread parses chunks as well). */
  workers: number;
  /** The workers parse every chunk but the first (tests: what a worker reads is then known). */
  workersOnly: boolean;
}

function readAt(fd: number, at: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got < len ? b.subarray(0, got) : b;
}

/**
 * Whether `input` is read in chunks, and how: a plain (not gzip, not trace.dat) file of at least
 * `minBytes` whose first MiB holds an event line, read with `decodeAll` and no filter — when
 * asked for (`chunks`, or FOLIOLAB_PARSE_CHUNKS=1).
 *
 * Not by default: on the shared 2-core VM (load ~12) the bench's 100 MB typed parse took
 * 2.6–3.9 s of CPU chunked against 1.9–2.3 s serial, and its wall time was no better (a worker
 * isolate compiles and warms up its own code: ~0.5 s of CPU before it parses at the main
 * thread's speed), with peak RSS ~285 against ~145 MB.
 */
export function chunkPlan(input: unknown, opts: TraceParseOptions): ChunkPlan | undefined {
  const c = opts.chunks;
  if (c === false || typeof input !== 'string' || input === '-' || opts.decodeAll !== true || opts.only !== undefined || opts.partial) return undefined;
  if (traceBudget.limit !== Infinity) return undefined;
  // FOLIOLAB_PARSE_CHUNK_BYTES: chunks of that size for any file of two or more (checks of the
  // chunked parse against the serial one on small traces).
  const forced = Number(process.env.FOLIOLAB_PARSE_CHUNK_BYTES ?? 0);
  if (c === undefined && process.env.FOLIOLAB_PARSE_CHUNKS !== '1' && !forced) return undefined;
  if (!parseWorkerExists('chunk-worker')) return undefined;
  let size: number;
  try {
    const st = statSync(input);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  const chunkBytes = Math.max(1, c?.chunkBytes ?? (forced || CHUNK_BYTES));
  if (size < (c?.minBytes ?? (forced ? 0 : MIN_BYTES)) || size < 2 * chunkBytes) return undefined;
  const maxLine = opts.maxLineBytes ?? 1 << 20;
  let fd: number;
  try {
    fd = openSync(input, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = readAt(fd, 0, Math.min(size, HEAD_BYTES));
    if (head.length < 2 || (head[0] === 0x1f && head[1] === 0x8b) || isDat(head)) return undefined;
    // The layout, as the file's start sets it: a throwaway parse of its first lines.
    let layout = opts.layout;
    if (layout === undefined) {
      const last = head.lastIndexOf(10);
      if (last < 0) return undefined;
      const p = new TraceParser({ file: opts.file, registry: opts.registry, release: opts.release, chunks: false }, () => {}, new DiagnosticSink(0));
      const sp = new LineSplitter(p, maxLine);
      sp.push(head.subarray(0, last + 1));
      if (p.events === 0) return undefined;
      layout = p.stats(sp).layout;
    }
    const bounds = [0];
    for (let at = chunkBytes; at < size; at += chunkBytes) {
      if (at <= bounds[bounds.length - 1]!) continue;
      // The next line start at or after `at` (a line longer than any allowed ends no chunk).
      let nl = -1;
      for (let from = at - 1; nl < 0 && from < size && from - at <= maxLine + 1; from += 1 << 16) {
        const b = readAt(fd, from, Math.min(1 << 16, size - from));
        const i = b.indexOf(10);
        if (i >= 0) nl = from + i;
      }
      if (nl >= 0 && nl + 1 < size) bounds.push(nl + 1);
    }
    if (bounds.length < 2) return undefined;
    bounds.push(size);
    // This thread parses chunks too: one worker per other core.
    const workers = Math.max(0, c?.workers ?? Math.min(2, availableParallelism()) - 1);
    return { path: input, bounds, layout, workers, workersOnly: c?.workersOnly === true };
  } finally {
    closeSync(fd);
  }
}

/** An accepted chunk's events as columns (rows in the order the parser hands them on). */
export interface ChunkColumns {
  F: Float64Array;
  I: Int32Array;
  n: number;
  bytes: ArrayBuffer;
  text: string | undefined;
  strs: string[];
  lineBase: number;
  seqBase: number;
  chunkStart: number;
  /** The decode table its events refer to (for `system`, and `fields` when asked). */
  table: DecodeTable;
}

/** Rows [from, to) of an accepted chunk. */
export interface ColumnSlice {
  c: ChunkColumns;
  from: number;
  to: number;
}

/** The events of a slice of columns. */
export function makeEvents({ c: h, from, to }: ColumnSlice): TraceEvent[] {
  h.text ??= Buffer.from(h.bytes).toString('ascii');
  const { F, I, text, strs, lineBase: lb, seqBase: sb, chunkStart, table } = h;
  const made: TraceEvent[] = new Array<TraceEvent>(to - from);
  for (let i = from; i < to; i++) {
    const f = i * CF;
    const b = i * CI;
    const o = F[f + 1]!;
    const tgid = I[b + 1]!;
    const e = new TraceEvent(
      text, strs[I[b + 12]!]!, I[b]!, tgid < 0 ? undefined : tgid, I[b + 2]!, F[f]!, strs[I[b + 11]!]!, F[f + 3]! + lb, o + chunkStart, F[f + 2]! + sb,
      I[b + 3] as 0 | 1 | 2, o + I[b + 4]!, o + I[b + 5]!, o + I[b + 6]!, o + I[b + 7]!, o + I[b + 8]!, o + I[b + 9]!, table, o,
    );
    e.decodedElsewhere(METHODS[I[b + 10]!]!);
    made[i - from] = e;
  }
  return made;
}

/** The timestamp of row `i` as printed. */
export function rowTs(h: ChunkColumns, i: number): string {
  const o = h.F[i * CF + 1]!;
  return Buffer.from(h.bytes).toString('ascii', o + h.I[i * CI + 4]!, o + h.I[i * CI + 5]!);
}

/** The last chunked parse of this thread: its chunks, those accepted (and of them read by a worker), and the chunk refused (-1: none). */
export const lastChunked = { chunks: 0, accepted: 0, refused: -1, byWorkers: 0 };

const REFUSE_AT_START = new Set<DiagnosticCode>(['binary_input', 'unreadable_input', 'gzip_error', 'cr_line_ends', 'empty_input']);

/**
 * The batches of a chunked parse, in the order and with the events the in-process parser hands
 * on (in larger batches): slices of columns while chunks are accepted, then, if one is refused,
 * the in-process parser's events; the stats once done.
 */
export async function* chunkedBatches(plan: ChunkPlan, opts: TraceParseOptions, batchSize = 2048): AsyncGenerator<ColumnSlice | TraceEvent[], TraceStats> {
  const { bounds, layout } = plan;
  const nChunks = bounds.length - 1;
  const window = opts.sortWindow ?? 16384;
  const init: ChunkInit = {
    path: plan.path,
    file: opts.file,
    recipe: opts.registry.recipe(),
    release: opts.release,
    maxLineBytes: opts.maxLineBytes,
    diagnosticsPerCode: opts.diagnosticsPerCode,
  };
  // The workers, and this thread as parser number `nw`: a chunk whose turn has come and that no
  // worker has finished is parsed here (this thread would only wait otherwise), and so is the
  // first, while the workers start.
  const nw = Math.max(0, Math.min(plan.workers, nChunks - 1));
  lastChunked.chunks = nChunks;
  lastChunked.accepted = 0;
  lastChunked.refused = -1;
  lastChunked.byWorkers = 0;
  const workers: Worker[] = [];
  const results = new Map<number, ChunkResult>();
  const inflight: number[] = [];
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  let next = 1;
  const job = (k: number): ChunkJob => ({ k, start: bounds[k]!, end: bounds[k + 1]!, layout: k === 0 ? opts.layout : layout, partial: k < nChunks - 1, sortWindow: opts.sortWindow });
  // A worker is given a chunk once it is ready and has none: one that starts slowly, or gets
  // little of a busy host's CPU, holds up no chunk this thread could be parsing.
  const ready: boolean[] = [];
  const assign = (): void => {
    for (let w = 0; w < nw; w++) {
      if (ready[w] && inflight[w] === 0 && next < nChunks) {
        workers[w]!.postMessage(job(next++));
        inflight[w]!++;
      }
    }
  };
  for (let w = 0; w < nw; w++) {
    const wk = startWorker(init);
    wk.on('message', (r: ChunkResult | 'ready') => {
      if (r === 'ready') {
        ready[w] = true;
        assign();
        return;
      }
      r.by = w;
      results.set(r.k, r);
      inflight[w]!--;
      assign();
      wake?.();
    });
    wk.on('error', (e) => { failure ??= e.message; wake?.(); });
    wk.on('exit', (code) => { if (code !== 0) failure ??= `chunk worker exited with code ${code}`; wake?.(); });
    workers.push(wk);
    inflight.push(0);
    ready.push(false);
  }
  assign();
  const hereIds = new Map<string, number>();
  const here = async (k: number): Promise<void> => {
    let r: ChunkResult;
    try {
      r = (await parseChunk(init, opts.registry, hereIds, job(k))).r;
    } catch (e) {
      r = { k, error: (e as Error).stack ?? String(e) };
    }
    r.by = nw;
    results.set(k, r);
    // The parse above runs on promises alone: let the workers' messages in before the next.
    await new Promise<void>((res) => setImmediate(res));
  };
  const result = async (k: number): Promise<ChunkResult | undefined> => {
    if (k === 0) await here(0);
    for (;;) {
      const r = results.get(k);
      if (r) { results.delete(k); return r; }
      if (failure !== undefined) return undefined;
      if (next < nChunks && next <= k + LOOKAHEAD && !(plan.workersOnly && nw > 0)) {
        await here(next++);
        continue;
      }
      await new Promise<void>((res) => { wake = res; });
      wake = undefined;
    }
  };

  const table = new DecodeTable(opts.registry, opts.release, layout, new DiagnosticSink(0), opts.file);
  const strings: string[][] = [...workers.map(() => []), []];
  let lineBase = 0;
  let seqBase = 0;
  let prevTs = -Infinity;
  let prevCpu = -1;
  let prevLine: string | undefined;
  let first: ChunkStats | undefined;
  const methods = new Map<string, Record<DecodeMethod, number>>();
  let lines = 0;
  let bytes = 0;
  let events = 0;
  let specialLines = 0;
  let reordered = 0;
  let lastLine = 0;
  // Accepted events not yet handed on, oldest first, and how many were handed on.
  const held: ChunkColumns[] = [];
  let heldFrom = 0;
  let accepted = 0;
  let handed = 0;
  let refused = false;

  const accept = (r: ChunkResult): boolean => {
    const st = r.stats;
    if (r.error !== undefined || !st || !r.ascii || st.truncated !== undefined || st.layout !== layout) return false;
    if (r.k === 0) {
      if (st.counts.some(([c]) => REFUSE_AT_START.has(c))) return false;
    } else {
      if (st.counts.length > 0 || st.late > 0 || st.lost.length > 0 || Object.keys(st.header).length > 0 || st.unparsedLines > 0) return false;
      if (r.n! > 0) {
        if (!(prevTs < st.minTs || (prevTs === st.minTs && prevCpu <= st.minCpu))) return false;
        if (st.firstEventNs && st.firstEventLine === prevLine) return false;
      }
    }
    return true;
  };

  try {
    for (let k = 0; k < nChunks && !refused; k++) {
      const r = await result(k);
      if (!r || !accept(r)) {
        if (process.env.FOLIOLAB_CHUNK_DEBUG) process.stderr.write(`chunked parse: chunk ${k} refused (${r?.error ?? failure ?? JSON.stringify({ ...r?.stats, kept: undefined })})\n`);
        refused = true;
        lastChunked.refused = k;
        break;
      }
      lastChunked.accepted++;
      if (r.by! < nw) lastChunked.byWorkers++;
      const st = r.stats!;
      if (k === 0) first = st;
      const strs = strings[r.by!]!;
      for (const s of r.strings!) strs.push(s);
      const F = r.F!;
      const I = r.I!;
      const n = r.n!;
      // The chunk's text is made when its first event is handed on.
      held.push({ F, I, n, bytes: r.text!, text: undefined, strs, lineBase, seqBase, chunkStart: bounds[k]!, table });
      if (n > 0 && (prevTs < st.maxTs || (prevTs === st.maxTs && prevCpu < st.maxCpu))) {
        prevTs = st.maxTs;
        prevCpu = st.maxCpu;
      }
      if (st.firstEventLine !== undefined) prevLine = st.lastEventLine;
      lastLine = lineBase + st.lastLine;
      lineBase += st.lines;
      seqBase += st.events;
      lines += st.lines;
      bytes += st.bytes;
      events += st.events;
      specialLines += st.specialLines;
      reordered += st.reordered;
      for (const [name, m] of st.methods) {
        const have = methods.get(name);
        if (!have) methods.set(name, { ...m });
        else for (const key of METHODS) have[key] += m[key];
      }
      accepted += n;
      // What the serial parser had emitted once this chunk was read: all but a window's worth.
      const last = k === nChunks - 1;
      const upTo = last ? accepted : accepted - window;
      while (handed < upTo) {
        const cur = held[0]!;
        const take = Math.min(batchSize, upTo - handed, cur.n - heldFrom);
        const batch: ColumnSlice = { c: cur, from: heldFrom, to: heldFrom + take };
        heldFrom += take;
        handed += take;
        if (heldFrom === cur.n) {
          held.shift();
          heldFrom = 0;
        }
        yield batch;
      }
      opts.onProgress?.(bounds[k + 1]!);
    }
  } finally {
    for (const w of workers) void w.terminate();
  }

  if (!refused) {
    const f = first!;
    const sink = new DiagnosticSink(opts.diagnosticsPerCode ?? 50);
    for (const d of f.kept) sink.kept.push(d);
    for (const [c, n] of f.counts) sink.counts.set(c, n);
    checkEntries(f.header, events, f.unparsedLines, f.entriesLine, lastLine, sink, opts.file);
    return {
      truncated: undefined,
      complete: f.lost.length === 0,
      layout,
      layoutDetected: opts.layout === undefined,
      release: opts.release,
      header: f.header,
      lines,
      bytes,
      events,
      specialLines,
      unparsedLines: f.unparsedLines,
      lost: f.lost,
      reordered,
      late: f.late,
      diagnostics: sink,
      methods,
    };
  }

  // Refused: the in-process parse from the start, past the events already handed on.
  let skip = handed;
  let batch: TraceEvent[] = [];
  const serial = { ...opts, chunks: false as const };
  const parser = new TraceParser(serial, (e) => {
    if (skip > 0) { skip--; return; }
    batch.push(e);
  });
  const it = drive(plan.path, serial, parser);
  try {
    for (;;) {
      const r = await it.next();
      if (batch.length > 0) {
        const out = batch;
        batch = [];
        yield out;
      }
      if (r.done) return r.value;
    }
  } finally {
    await it.return(undefined as unknown as TraceStats);
  }
}
