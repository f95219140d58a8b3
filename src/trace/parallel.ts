/**
 * A text trace parsed on two threads: the parse worker (parse-worker.ts) reads, splits, scans
 * and sorts; this side makes the events of what it posts and hands them to the consumer, whose
 * `fields` decode on this thread when asked, as they do in-process. The model stays on this
 * thread: what reaches the consumer, and in which batches, is what the in-process parser hands
 * on, and so are the stats and diagnostics.
 *
 * Each message carries the events that left the sort window while the worker read one slice of
 * input, as columns (no object per event crosses the threads), the texts their lines are in
 * (one string per chunk, posted with its first event and released with its last), the new task
 * and event names, and the worker's diagnostic count at the end of the slice.
 *
 * Diagnostics: the worker's (the line scan's) and this side's (the decoding's) are put back in
 * the order the in-process parser adds them: each carries the number of diagnostics the worker
 * had added when it was made (a decode happens when its batch is handed on, or as the event
 * leaves the window with `decodeAll`), and the two lists are merged by it.
 */
import type { Worker } from 'node:worker_threads';
import { parseWorkerExists, startParseWorker } from './worker-start.js';
import { DiagnosticSink, type Diagnostic, type DiagnosticCode } from '../core/diagnostics.js';
import { traceBudget } from './budget.js';
import { DecodeTable, type Layout } from './decode.js';
import { TraceEvent } from './event.js';
import type { TraceParseOptions, TraceStats } from './index.js';

/** Float64 columns per event: tsNs, offset, seq, line. */
export const COLS_F = 4;
/**
 * Int32 columns per event: the sorter's 12 (pid, tgid, cpu, syscall, tsStart, tsEnd, latStart,
 * latEnd, payloadStart, payloadEnd, lineStart, textId), then name id, comm id, and the worker's
 * diagnostic count when the event left the window.
 */
export const COLS_I = 15;

export interface WorkerInit {
  path: string;
  file: string;
  release: string | undefined;
  layout: Layout | undefined;
  sortWindow: number | undefined;
  maxLineBytes: number | undefined;
  diagnosticsPerCode: number | undefined;
  /** Messages the worker may post ahead of the consumer. */
  ahead: number;
  /** Int32 [messages consumed]. */
  control: SharedArrayBuffer;
}

/** The worker's TraceStats, its diagnostic sink sent as plain data (kept, tags, counts, first). */
export interface WorkerFinal extends Omit<TraceStats, 'release' | 'diagnostics' | 'methods'> {
  kept: Diagnostic[];
  tags: number[];
  counts: Array<[DiagnosticCode, number]>;
  first: Array<[DiagnosticCode, number]>;
}

export interface WorkerMessage {
  /** The input is a trace.dat: read it in-process. */
  fallback?: boolean;
  n?: number;
  F?: Float64Array;
  I?: Int32Array;
  /** The worker's diagnostic count when it posted (after the slice, before what is left of it is handed on). */
  endTag?: number;
  /** Bytes read so far (-1: none this time), reported after the slice's full batches. */
  progress?: number;
  /** From event index on, events decode by this layout's table. */
  layouts?: Array<[number, Layout]>;
  /** Names and task names, numbered on from the last message's. */
  strings?: string[];
  /** Texts the message's events are the first to refer to: (number, offset, length) in `textBytes`, UTF-8. */
  texts?: Array<[number, number, number]>;
  textBytes?: ArrayBuffer;
  /** Texts no later event refers to (dropped once the message's events are made). */
  released?: number[];
  final?: WorkerFinal;
}

/**
 * A sink that notes, for each diagnostic it keeps, how many had been added before it, and for
 * each code when it first came (the worker's side).
 */
export class TaggedSink extends DiagnosticSink {
  adds = 0;
  readonly tags: number[] = [];
  readonly first = new Map<DiagnosticCode, number>();
  override add(d: Diagnostic): void {
    if (!this.first.has(d.code)) this.first.set(d.code, this.adds);
    const k = this.kept.length;
    super.add(d);
    if (this.kept.length > k) this.tags.push(this.adds);
    this.adds++;
  }
}

/** This side's sink: each diagnostic is tagged with `at`, the worker's count when it was made. */
class MainSink extends DiagnosticSink {
  at = 0;
  merged = false;
  readonly tags: number[] = [];
  readonly first = new Map<DiagnosticCode, number>();
  constructor(private readonly per: number) {
    super(per);
  }
  override add(d: Diagnostic): void {
    if (this.merged) { super.add(d); return; }
    if (!this.first.has(d.code)) this.first.set(d.code, this.at);
    const k = this.kept.length;
    super.add(d);
    if (this.kept.length > k) this.tags.push(this.at);
  }

  /**
   * Put the worker's diagnostics and this side's in the order the in-process parser adds them:
   * one made here when the worker had added `at` comes after the worker's first `at`.
   */
  merge(w: WorkerFinal): void {
    type Item = { d: Diagnostic; t: number };
    const items: Item[] = [];
    w.kept.forEach((d, i) => items.push({ d, t: w.tags[i]! }));
    this.kept.forEach((d, i) => items.push({ d, t: this.tags[i]! - 0.5 }));
    items.sort((a, b) => a.t - b.t);
    const firsts = new Map<DiagnosticCode, number>();
    for (const [c, t] of w.first) firsts.set(c, t);
    for (const [c, t] of this.first) firsts.set(c, Math.min(firsts.get(c) ?? Infinity, t - 0.5));
    const total = new Map<DiagnosticCode, number>(w.counts);
    for (const [c, n] of this.counts) total.set(c, (total.get(c) ?? 0) + n);
    this.kept.length = 0;
    const seen = new Map<DiagnosticCode, number>();
    for (const it of items) {
      const n = (seen.get(it.d.code) ?? 0) + 1;
      seen.set(it.d.code, n);
      if (n <= this.per) this.kept.push(it.d);
    }
    this.counts.clear();
    for (const [c] of [...firsts].sort((a, b) => a[1] - b[1])) this.counts.set(c, total.get(c)!);
    this.merged = true;
  }
}

function startWorker(init: WorkerInit): Worker {
  return startParseWorker('parse-worker', init, WORKER_SEMI_SPACE_MB);
}

const WORKER_SEMI_SPACE_MB = 2;

/**
 * Whether `input` is parsed in the worker: only when FOLIOLAB_PARSE_WORKER=1 asks for it, for a
 * text file named by its path (stdin and streams are read in-process), with no step budget set
 * (the fuzzer's, counted per thread), from dist/ or — under the tests' loader — from the sources.
 *
 * Not by default: measured on the bench's 1.2 M-event replay, the main thread's young
 * generation then promoted ~137 MB to the old one over the run (19 MB in-process) and peak RSS
 * rose from ~150 to ~250 MB, beyond the 200 MB the replay must stay under; the same on the
 * 100 MB parse (promoted 83 against 10 MB). What survives the scavenges is not the events: with
 * no event made at all, 69 MB still were. The texts live for at most two messages. Nor is it
 * faster yet: on a quiet host the 100 MB typed parse took 2.2–2.7 s with it against 1.9–2.1 s
 * without (CPU 2.7–3.4 s against 2.0–2.3 s), the 1.2 M-event replay 4.3–5.2 s against 3.9–5.0 s.
 */
export function workerEligible(input: unknown): input is string {
  return (
    typeof input === 'string' &&
    input !== '-' &&
    process.env.FOLIOLAB_PARSE_WORKER === '1' &&
    traceBudget.limit === Infinity &&
    parseWorkerExists('parse-worker')
  );
}

/**
 * The batches of a parse in the worker, in the order and sizes the in-process parser hands them
 * on (`batchSize` events, and what is left at the end of each slice of input); the stats once
 * done. Returns undefined, before any batch, for a trace.dat (read in-process instead).
 * With `decodeAll`, each event's payload is decoded as it is made.
 */
export async function* workerBatches(
  input: string,
  opts: TraceParseOptions,
  batchSize: number,
): AsyncGenerator<TraceEvent[], TraceStats | undefined> {
  const control = new SharedArrayBuffer(4);
  const ctl = new Int32Array(control);
  const init: WorkerInit = {
    path: input,
    file: opts.file,
    release: opts.release,
    layout: opts.layout,
    sortWindow: opts.sortWindow,
    maxLineBytes: opts.maxLineBytes,
    diagnosticsPerCode: opts.diagnosticsPerCode,
    ahead: 4,
    control,
  };
  const worker = startWorker(init);
  const queue: WorkerMessage[] = [];
  let failure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  worker.on('message', (m: WorkerMessage) => { queue.push(m); wake?.(); });
  worker.on('error', (e) => { failure = e; wake?.(); });
  worker.on('exit', (code) => {
    exited = true;
    if (code !== 0) failure ??= new Error(`parse worker exited with code ${code}`);
    wake?.();
  });
  const next = async (): Promise<WorkerMessage> => {
    for (;;) {
      const m = queue.shift();
      if (m) return m;
      if (failure) throw failure;
      if (exited) throw new Error('parse worker exited before its last message');
      await new Promise<void>((r) => { wake = r; });
      wake = undefined;
    }
  };

  const sink = new MainSink(opts.diagnosticsPerCode ?? 50);
  let table = new DecodeTable(opts.registry, opts.release, opts.layout ?? 'tracefs', sink, opts.file);
  const strings: string[] = [];
  const texts = new Map<number, string>();
  const only = opts.only;
  const wanted: number[] = []; // per string id: 1 taken, 0 not, undefined not asked yet
  const decodeAll = opts.decodeAll === true;
  try {
    for (;;) {
      const m = await next();
      if (m.fallback) return undefined;
      for (const s of m.strings!) strings.push(s);
      if (m.texts!.length > 0) {
        const bytes = Buffer.from(m.textBytes!);
        for (const [id, at, len] of m.texts!) texts.set(id, bytes.toString('utf8', at, at + len));
      }
      const F = m.F!;
      const I = m.I!;
      const n = m.n!;
      const layouts = m.layouts!;
      let li = 0;
      let curId = -1;
      let cur = '';
      // A batch is handed on when it holds `batchSize` events the consumer takes (the worker's
      // diagnostic count then is the one the last of them left the window with), and at the end
      // of the slice.
      let batch: TraceEvent[] = [];
      for (let k = 0; k < n; k++) {
        while (li < layouts.length && layouts[li]![0] <= k) {
          table = new DecodeTable(opts.registry, opts.release, layouts[li]![1], sink, opts.file);
          li++;
        }
        const io = k * COLS_I;
        const tid = I[io + 11]!;
        if (tid !== curId) {
          cur = texts.get(tid)!;
          curId = tid;
        }
        const nameId = I[io + 12]!;
        if (only) {
          let w = wanted[nameId];
          if (w === undefined) wanted[nameId] = w = only(strings[nameId]!) ? 1 : 0;
          if (w === 0) continue;
        }
        const fo = k * COLS_F;
        const tgid = I[io + 1]!;
        const e = new TraceEvent(
          cur, strings[I[io + 13]!]!, I[io]!, tgid < 0 ? undefined : tgid, I[io + 2]!, F[fo]!, strings[nameId]!, F[fo + 3]!, F[fo + 1]!, F[fo + 2]!,
          I[io + 3] as 0 | 1 | 2, I[io + 4]!, I[io + 5]!, I[io + 6]!, I[io + 7]!, I[io + 8]!, I[io + 9]!, table, I[io + 10]!,
        );
        if (decodeAll) {
          sink.at = I[io + 14]!;
          void e.fields;
        }
        batch.push(e);
        if (batch.length >= batchSize) {
          sink.at = I[io + 14]!;
          yield batch;
          batch = [];
        }
      }
      for (const id of m.released!) texts.delete(id);
      while (li < layouts.length) {
        table = new DecodeTable(opts.registry, opts.release, layouts[li]![1], sink, opts.file);
        li++;
      }
      if (m.progress! >= 0) opts.onProgress?.(m.progress!);
      if (batch.length > 0) {
        sink.at = m.endTag!;
        yield batch;
      }
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      const w = m.final;
      if (w) {
        sink.merge(w);
        return {
          truncated: w.truncated,
          complete: w.complete,
          layout: w.layout,
          layoutDetected: w.layoutDetected,
          release: opts.release,
          header: w.header,
          lines: w.lines,
          bytes: w.bytes,
          events: w.events,
          specialLines: w.specialLines,
          unparsedLines: w.unparsedLines,
          lost: w.lost,
          reordered: w.reordered,
          late: w.late,
          diagnostics: sink,
          methods: table.methods,
        };
      }
    }
  } finally {
    if (!exited) void worker.terminate();
  }
}
