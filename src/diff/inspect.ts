/**
 * What `foliolab inspect` shows, kept compact: the trace's events as rows (columns in flat
 * arrays, strings interned, payload texts in large chunks), the lifted ops (the model's inputs
 * only: the recorded output each was compared with is not kept), and for every op what each
 * config emitted, whether they differ, and the violations.
 *
 * An inspection fills while the trace is read (startInspection): a UI draws the rows read so
 * far and is told as more come. The one pass over the trace also keeps checkpoints of both
 * engines' state every several thousand ops, so the state after any op (StateProbe) is the nearest
 * checkpoint before it plus at most that many ops — not a replay from the start.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import type { ModelConfig } from '../model/config.js';
import type { Emission, Violation } from '../model/emit.js';
import { Engine } from '../model/engine.js';
import { MADV } from '../model/ops.js';
import type { Folio, Mm, PteTable } from '../model/state.js';
import { PMD_SIZE, PTRS_PER_PTE, PAGE_SIZE, RSS_NAMES } from '../model/state.js';
import type { LiftedOp, LiftOptions } from '../replay/lift.js';
import type { FormatRegistry, TraceEvent } from '../trace/index.js';
import { deserialize, serialize } from 'node:v8';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import { compared, emissionKey } from '../fidelity/compare.js';
import { EngineCheckpoint, Growable } from './checkpoint.js';
import { outputsAlike } from './diff.js';
import { divergenceCause } from './policy.js';
import { replayTrace, type ConfigRun } from './run.js';

/**
 * One column of the rows: numbers in fixed chunks of 64 Ki rows, so that it grows without
 * copying and without spare room beyond the last chunk. Read with `at(r)`.
 */
export class Column {
  private readonly chunks: Array<Float64Array | Int32Array> = [];
  private n = 0;
  static readonly SHIFT = 16;
  private static readonly MASK = (1 << Column.SHIFT) - 1;

  constructor(private readonly make: (n: number) => Float64Array | Int32Array) {}

  get length(): number {
    return this.n;
  }

  at(r: number): number {
    return this.chunks[r >>> Column.SHIFT]![r & Column.MASK]!;
  }

  set(r: number, v: number): void {
    this.chunks[r >>> Column.SHIFT]![r & Column.MASK] = v;
  }

  push(v: number): void {
    const i = this.n & Column.MASK;
    if (i === 0) this.chunks.push(this.make(1 << Column.SHIFT));
    this.chunks[this.chunks.length - 1]![i] = v;
    this.n++;
  }

  /** The last chunk cut to the rows it holds (once no more come). */
  trim(): void {
    const last = this.chunks.length - 1;
    const used = this.n & Column.MASK;
    if (last >= 0 && used !== 0) this.chunks[last] = this.chunks[last]!.slice(0, used);
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let r = 0; r < this.n; r++) yield this.at(r);
  }
}

/**
 * The trace's events as columns. While the inspection loads, `count` grows (the columns may
 * hold rows past it already: read only below `count`).
 */
export interface Rows {
  count: number;
  ts: Column;
  cpu: Column;
  pid: Column;
  line: Column;
  comm: Column;
  name: Column;
  /** Index of the op this row's event started, or -1. */
  op: Column;
  /** The event's payload text (kept in large flat chunks, cut out on demand). */
  payload: PayloadStore;
  /** Interned task and event names. */
  strings: string[];
}

/** An op as the inspector keeps it: what the engines are fed (the recorded output is not kept). */
export type KeptOp = Pick<LiftedOp, 'op' | 'failed'>;

/**
 * Bytes kept deflated: handed to zlib's thread pool at once and read from memory until that is
 * done, so the thread that reads the trace does not wait for it. Read back whole.
 */
export class DeflatedBlock {
  private raw: Buffer | undefined;
  private z: Buffer | undefined;

  constructor(raw: Buffer) {
    this.raw = raw;
    deflateRaw(raw, { level: 1 }, (err, z) => {
      if (err) return;
      // A small result may be a view of zlib's larger output chunk: kept as a copy of its own.
      this.z = z.byteLength * 2 < z.buffer.byteLength ? Buffer.from(z) : z;
      this.raw = undefined;
    });
  }

  read(): Buffer {
    return this.raw ?? inflateRawSync(this.z!);
  }
}

/**
 * The kept ops, a block of 256 at a time serialized (a few hundred bytes each instead of a tree
 * of objects per op) and deflated, read back a block at a time (the last block read is cached).
 */
export class OpStore {
  private readonly blocks: DeflatedBlock[] = [];
  private cur: KeptOp[] = [];
  private cache: { b: number; ops: KeptOp[] } | undefined;
  static readonly BLOCK = 256;

  push(lo: KeptOp): void {
    this.cur.push(lo);
    if (this.cur.length === OpStore.BLOCK) {
      this.blocks.push(new DeflatedBlock(serialize(this.cur)));
      this.cur = [];
    }
  }

  get(i: number): KeptOp {
    const b = Math.floor(i / OpStore.BLOCK);
    if (b === this.blocks.length) return this.cur[i % OpStore.BLOCK]!;
    if (this.cache?.b !== b) this.cache = { b, ops: deserialize(this.blocks[b]!.read()) as KeptOp[] };
    return this.cache.ops[i % OpStore.BLOCK]!;
  }
}

/** One kept op: where it starts in the rows, its number as `diff` prints it, and the op itself (read back on demand). */
export class OpInfo {
  constructor(
    private readonly store: OpStore,
    private readonly i: number,
    /** The row of the event that started it (-1: none). */
    readonly row: number,
    /** The op's number in the lifted stream (`op.at.index`), as `diff` numbers ops. */
    readonly index: number,
  ) {}

  get lo(): KeptOp {
    return this.store.get(this.i);
  }
}

/**
 * The kept ops: where each starts in the rows and its number as `diff` prints it, in columns,
 * and the ops themselves in an OpStore (read back on demand).
 */
export class OpList {
  private readonly rows = new Column(i32);
  private readonly indices = new Column(i32);
  private readonly store = new OpStore();

  get length(): number {
    return this.rows.length;
  }

  push(lo: KeptOp, row: number): void {
    this.store.push(lo);
    this.rows.push(row);
    this.indices.push(lo.op.at.index);
  }

  /** The row of the event that started op `i` (-1: none). */
  row(i: number): number {
    return this.rows.at(i);
  }

  /** Op `i`'s number in the lifted stream (`op.at.index`), as `diff` numbers ops. */
  index(i: number): number {
    return this.indices.at(i);
  }

  /** Op `i` itself, read back. */
  lo(i: number): KeptOp {
    return this.store.get(i);
  }

  at(i: number): OpInfo {
    return new OpInfo(this.store, i, this.rows.at(i), this.indices.at(i));
  }

  findIndex(pred: (o: OpInfo, i: number) => boolean): number {
    for (let i = 0; i < this.length; i++) if (pred(this.at(i), i)) return i;
    return -1;
  }

  trim(): void {
    this.rows.trim();
    this.indices.trim();
  }
}

export interface InspectViolation {
  op: number;
  config: number;
  code: string;
  message: string;
}

export type InspectOptions = LiftOptions & {
  registry: FormatRegistry;
  release?: string;
  onProgress?: (bytes: number) => void;
  /** Ops between two checkpoints of the engines' state, to begin with (default 8192: a copy of both engines costs ~30 ms). */
  checkpointEvery?: number;
};

/** Where the loading of an inspection stands. */
export interface LoadState {
  /** Until the whole trace is read, replayed and summed up. */
  loading: boolean;
  /** Bytes of the trace read so far. */
  bytes: number;
  /** Why the load stopped short (the trace could not be read), once it has. */
  error?: string;
  /** Settles when the load ends (rejects with the reason it could not finish). */
  done: Promise<void>;
  /** Called (with no arguments) as rows and ops come in and when the load ends; returns an unsubscribe. */
  subscribe(fn: () => void): () => void;
}

export interface Inspection {
  trace: string;
  configs: ModelConfig[];
  rows: Rows;
  ops: OpList;
  /** Per config, per op: what it emitted, as one short line (`emitted[c].at(op)`). */
  emitted: PayloadStore[];
  /** Per op: 1 where the configs' outputs differ (grows with `ops` while loading). */
  diverges: Uint8Array;
  divergentOps: number[];
  violations: InspectViolation[];
  /** The hooks each config went through at the first divergent op (for naming its cause). */
  firstDivergenceHooks: string[][];
  /** The series (in one config only) whose hooks ran at the first divergent op: its cause. */
  firstDivergenceCause: string[];
  /** Each config's run as a whole (counters, cost, fidelity): empty until the load ends. */
  runs: ConfigRun[];
  events: number;
  lostEvents: number;
  diagnostics: Diagnostic[];
  /** How the load goes; absent in an inspection made whole at once. */
  load?: LoadState;
  /** Both engines' state every few thousand ops, taken as the trace was replayed. */
  checkpoints?: Checkpoints;
  /** What the trace was read with (a re-run under other configs reads it again). */
  options?: InspectOptions;
}

/** A fresh, flat copy of a string (a slice would keep its whole input chunk alive). */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Payload texts of a million rows without a million string objects: appended to chunk strings
 * of 8 Ki rows, each deflated when it closes (which also lets go of the input lines its texts
 * were cut from), read back by offset; the chunks read last are kept inflated.
 */
export class PayloadStore {
  private chunks: DeflatedBlock[] = [];
  private cur = '';
  private starts = new Int32Array(1024);
  private n = 0;
  /** Inflated chunks by index, the most recently read last. */
  private readonly cache = new Map<number, string>();
  static readonly ROWS = 8192;
  private static readonly CACHED = 4;

  push(s: string): void {
    if (this.n === this.starts.length) {
      const b = new Int32Array(this.n * 2);
      b.set(this.starts);
      this.starts = b;
    }
    this.starts[this.n] = this.cur.length;
    this.cur += s;
    this.n++;
    if (this.n % PayloadStore.ROWS === 0) this.close();
  }

  private close(): void {
    this.chunks.push(new DeflatedBlock(Buffer.from(this.cur, 'utf8')));
    this.cur = '';
  }

  finish(): this {
    if (this.n % PayloadStore.ROWS !== 0 || this.n === 0) this.close();
    if (this.starts.length > this.n) this.starts = this.starts.slice(0, this.n);
    return this;
  }

  get length(): number {
    return this.n;
  }

  private chunk(c: number): string {
    // The chunk still being filled (while the trace loads) is read where it is.
    if (c >= this.chunks.length) return this.cur;
    let t = this.cache.get(c);
    if (t !== undefined) {
      this.cache.delete(c);
    } else {
      t = this.chunks[c]!.read().toString('utf8');
      if (this.cache.size >= PayloadStore.CACHED) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(c, t);
    return t;
  }

  at(r: number): string {
    const chunk = this.chunk(Math.floor(r / PayloadStore.ROWS));
    const start = this.starts[r]!;
    const end = (r + 1) % PayloadStore.ROWS === 0 || r + 1 === this.n ? chunk.length : this.starts[r + 1]!;
    return chunk.slice(start, end);
  }
}

/** At most this many events are spelled out per op and config (the rest are counted). */
const TEXT_EVENTS = 24;

export function emissionText(all: Emission[]): string {
  const em = all.length > TEXT_EVENTS ? all.slice(0, TEXT_EVENTS) : all;
  const more = all.length > TEXT_EVENTS ? ` | … ${all.length} events in all` : '';
  return em
    .map((e) => {
      switch (e.ev) {
        case 'tlb_flush':
          return `tlb_flush pages=${e.pages} reason=${e.reason}${e.cpu ? ` cpu${e.cpu}` : ''}`;
        case 'rss_stat':
          return `rss_stat ${RSS_NAMES[e.member]} ${e.delta > 0 ? '+' : ''}${e.delta / 1024}K`;
        case 'mm_page_free':
          return `mm_page_free pfn=0x${e.pfn.toString(16)} order=${e.order}${e.what === 'pgtable' ? ' (table)' : ''}`;
        case 'mm_vmscan_reclaim_pages':
          return `reclaim_pages ${e.nr_reclaimed}/${e.nr_scanned}`;
        case 'mm_shrink_slab':
          return `shrink_slab ret=${e.retval}`;
        default:
          return '';
      }
    })
    .join(' | ') + more;
}


const f64 = (n: number) => new Float64Array(n);
const i32 = (n: number) => new Int32Array(n);
const u8 = (n: number) => new Uint8Array(n);

/**
 * Numbers to numbers as a Map<number, number> keeps them (set overwrites, size counts keys), in
 * typed arrays for up to 2^17 int32 keys: a table the collector neither copies nor promotes.
 * Keys that are not int32 go to a Map beside it.
 */
const INTMAP_BITS = 18;
const INTMAP_SLOTS = 1 << INTMAP_BITS;

export class IntMap {
  private readonly keys = new Int32Array(INTMAP_SLOTS);
  private readonly vals = new Float64Array(INTMAP_SLOTS);
  private readonly used = new Uint8Array(INTMAP_SLOTS);
  private readonly other = new Map<number, number>();
  private n = 0;

  get size(): number {
    return this.n + this.other.size;
  }

  private slot(k: number): number {
    let i = Math.imul(k, 0x9e3779b1) >>> (32 - INTMAP_BITS);
    while (this.used[i] && this.keys[i] !== k) i = (i + 1) & (INTMAP_SLOTS - 1);
    return i;
  }

  set(k: number, v: number): this {
    if ((k | 0) === k) {
      const i = this.slot(k);
      if (this.used[i]) {
        this.vals[i] = v;
        return this;
      }
      // Past half full the probes grow long: further keys go to the Map.
      if (this.n < INTMAP_SLOTS >> 1) {
        this.used[i] = 1;
        this.keys[i] = k;
        this.vals[i] = v;
        this.n++;
        return this;
      }
    }
    this.other.set(k, v);
    return this;
  }

  get(k: number): number | undefined {
    if ((k | 0) === k) {
      const i = this.slot(k);
      if (this.used[i]) return this.vals[i];
    }
    return this.other.size ? this.other.get(k) : undefined;
  }

  clear(): this {
    this.used.fill(0);
    this.other.clear();
    this.n = 0;
    return this;
  }
}

/**
 * Both engines' state at every `interval` ops of the replay (the state after `at` ops: the
 * engines to restore, one per config). Past 64 checkpoints every other one goes and the interval
 * doubles, so a trace of any length keeps at most 16 copies of the state, and reaching any op
 * replays at most 1/16 of the ops after the nearest one.
 */
export class Checkpoints {
  readonly list: Array<{ at: number; engines: EngineCheckpoint[] }> = [];
  interval: number;
  /** A restored checkpoint replayed to other output than the load saw: not used again. */
  broken = false;
  static readonly MAX = 16;

  constructor(interval = 8192) {
    this.interval = interval;
  }

  /** After op `applied - 1`: keep a checkpoint if one falls due. */
  maybeTake(applied: number, engines: Engine[]): void {
    if (applied % this.interval !== 0) return;
    this.list.push({ at: applied, engines: engines.map((e) => EngineCheckpoint.take(e)) });
    if (this.list.length > Checkpoints.MAX) {
      this.interval *= 2;
      for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]!.at % this.interval !== 0) this.list.splice(i, 1);
    }
  }

  /** The last checkpoint at or before `applied` ops. */
  before(applied: number): { at: number; engines: EngineCheckpoint[] } | undefined {
    if (this.broken) return undefined;
    let lo = 0;
    let hi = this.list.length - 1;
    let best: { at: number; engines: EngineCheckpoint[] } | undefined;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (this.list[m]!.at <= applied) {
        best = this.list[m];
        lo = m + 1;
      } else hi = m - 1;
    }
    return best;
  }
}

/** What the inspector keeps of each op under each config: emissions as text, divergence, violations. */
class OpRecorder {
  private readonly diverges = new Growable(new Uint8Array(1024), u8);
  private firstHooks: string[][] = [];

  constructor(private readonly ins: Inspection) {
    ins.emitted = ins.configs.map(() => new PayloadStore());
    ins.diverges = this.diverges.done();
    ins.divergentOps = [];
    ins.violations = [];
    ins.firstDivergenceHooks = [];
    ins.firstDivergenceCause = [];
  }

  record(i: number, per: Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }>): void {
    const ins = this.ins;
    per.forEach((p, c) => ins.emitted[c]!.push(p.emitted.length ? emissionText(p.emitted) : ''));
    // The test `diff` counts divergent ops by, so both number the same ops.
    const differ = per.some((p) => !outputsAlike(per[0]!, p));
    this.diverges.push(differ ? 1 : 0);
    if (differ) {
      ins.divergentOps.push(i);
      if (!this.firstHooks.length) {
        this.firstHooks = per.map((p) => p.hooks);
        const h = this.firstHooks;
        const cfgs = ins.configs;
        ins.firstDivergenceHooks = h;
        ins.firstDivergenceCause = h.length >= 2 && cfgs.length >= 2 ? divergenceCause(cfgs[0]!.series, cfgs[1]!.series, h[0]!, h[1]!) : [];
      }
    }
    per.forEach((p, c) => {
      for (const v of p.violations) if (ins.violations.length < 10000) ins.violations.push({ op: i, config: c, code: v.code, message: v.message });
    });
  }

  /** Makes what was recorded so far visible through the inspection. */
  publish(): void {
    this.ins.diverges = this.diverges.done();
  }

  finish(): void {
    this.ins.diverges = this.diverges.trim();
    for (const e of this.ins.emitted) e.finish();
  }
}

/**
 * An inspection that fills as the trace is read, returned at once: its rows, ops and divergences
 * grow, `load.subscribe` tells when, and `load.done` settles at the end (when the runs as a
 * whole, the event count and the diagnostics are set). Reading yields to the event loop between
 * chunks of the trace, so a UI drawing it stays live.
 */
export function startInspection(trace: string, configs: ModelConfig[], opts: InspectOptions): Inspection {
  const ts = new Column(f64);
  const cpu = new Column(i32);
  const pid = new Column(i32);
  const line = new Column(i32);
  const comm = new Column(i32);
  const name = new Column(i32);
  const opOf = new Column(i32);
  const payload = new PayloadStore();
  const strings: string[] = [];
  const rows: Rows = { count: 0, ts, cpu, pid, line, comm, name, op: opOf, payload, strings };
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const fn of [...listeners]) fn();
  };
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const load: LoadState = {
    loading: true,
    bytes: 0,
    done,
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  const checkpoints = new Checkpoints(opts.checkpointEvery);
  const ins: Inspection = {
    trace,
    configs,
    rows,
    ops: new OpList(),
    emitted: [],
    diverges: new Uint8Array(0),
    divergentOps: [],
    violations: [],
    firstDivergenceHooks: [],
    firstDivergenceCause: [],
    runs: [],
    events: 0,
    lostEvents: 0,
    diagnostics: [],
    load,
    checkpoints,
    options: opts,
  };
  const rec = new OpRecorder(ins);
  /** The columns as they stand, through the inspection. */
  const publish = (): void => {
    rows.count = ts.length;
    rec.publish();
  };
  const interned = new Map<string, number>();
  const intern = (s: string): number => {
    let i = interned.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(own(s));
      interned.set(s, i);
    }
    return i;
  };
  // Rows of recent lines, for placing each op at the row of the event that started it.
  let recent = new IntMap();
  let older = new IntMap();
  const onEvent = (e: TraceEvent): void => {
    const r = ts.length;
    ts.push(e.tsNs / 1e9);
    cpu.push(e.cpu);
    pid.push(e.pid);
    line.push(e.line);
    comm.push(intern(e.comm));
    name.push(intern(e.name));
    opOf.push(-1);
    payload.push(e.payload);
    recent.set(e.line, r);
    if (recent.size > 65536) {
      const t = older;
      older = recent;
      recent = t.clear();
    }
  };
  let engines: Engine[] = [];
  // Told at most every so many milliseconds (and at the end): a UI redraws on it.
  let lastNotice = performance.now();
  const progress = (bytes: number): void => {
    load.bytes = bytes;
    opts.onProgress?.(bytes);
    const now = performance.now();
    if (now - lastNotice >= 250) {
      lastNotice = now;
      publish();
      notify();
    }
  };
  void (async () => {
    try {
      const r = await replayTrace(trace, configs, {
        ...opts,
        onProgress: progress,
        onEvent,
        onEngines: (e) => {
          engines = e;
        },
        observe: (lo, per) => {
          const i = ins.ops.length;
          const row = recent.get(lo.op.at.line) ?? older.get(lo.op.at.line) ?? -1;
          ins.ops.push({ op: lo.op, failed: lo.failed }, row);
          if (row >= 0 && opOf.at(row) === -1) opOf.set(row, i);
          rec.record(i, per);
          checkpoints.maybeTake(i + 1, engines);
        },
      });
      for (const g of [ts, cpu, pid, line, comm, name, opOf]) g.trim();
      ins.ops.trim();
      publish();
      payload.finish();
      rec.finish();
      ins.runs = r.runs;
      ins.events = r.events;
      ins.lostEvents = r.lostEvents;
      ins.diagnostics = r.diagnostics;
      load.loading = false;
      resolveDone();
    } catch (e) {
      publish();
      load.loading = false;
      load.error = e instanceof Error ? e.message : String(e);
      rejectDone(e);
    }
    notify();
  })();
  // A caller that only draws (and reads `load.error`) need not handle the rejection.
  done.catch(() => {});
  return ins;
}

/** The whole inspection, once the trace is read. */
export async function loadInspection(trace: string, configs: ModelConfig[], opts: InspectOptions): Promise<Inspection> {
  const ins = startInspection(trace, configs, opts);
  await ins.load!.done;
  return ins;
}

/**
 * The same trace under other configs (`c` in the UI): read again, as at the start, since the
 * recorded output the fidelity of each run is measured against is not kept per op.
 */
export function rerunInspection(ins: Inspection, configs: ModelConfig[]): Inspection {
  if (!ins.options) throw new Error('this inspection does not say how its trace was read');
  return startInspection(ins.trace, configs, ins.options);
}

// ---------------------------------------------------------------------------------------------
// State after an op.

export interface EntryView {
  addr: number;
  /** `table 0x… [idx]` or `pmd`. */
  where: string;
  text: string;
  /** This slot is past the end of the folio's first page table (a straddling folio). */
  nextTable: boolean;
}

export interface FolioView {
  id: number;
  pfn: number;
  order: number;
  flags: string[];
  refcount: number;
  mapcount: number;
  entireMapcount: number;
  pagesMapped: number;
  lru: string;
  deferredSplit: boolean;
  partiallyMapped: boolean;
  pendingTlbFlush: boolean;
  freed: boolean;
}

export interface StateView {
  config: string;
  op: number;
  opText: string;
  addr?: number;
  vmas: Array<{ start: number; end: number; flags: string; here: boolean }>;
  folio?: FolioView;
  /** The folio's page-table entries after the op, and as they were just before it. */
  entries: EntryView[];
  entriesBefore: EntryView[];
  note?: string;
  rssPages: number;
  deferredQueue: number;
  tlbBatchPending: boolean;
  mmFlushPending: boolean;
}

const MADV_NAMES = new Map(Object.entries(MADV).map(([k, v]) => [v as number, k]));

const LRU_NAMES = ['inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable'];

export function opText(lo: KeptOp): string {
  const o = lo.op as unknown as Record<string, unknown>;
  const hex = (v: unknown) => (typeof v === 'number' ? `0x${v.toString(16)}` : String(v));
  switch (lo.op.kind) {
    case 'fault':
      return `fault ${lo.op.write ? 'write' : 'read'} ${hex(lo.op.addr)}${lo.op.allocs.length ? ` (order ${lo.op.allocs[0]!.order})` : ''}`;
    case 'madvise':
      return `madvise ${hex(lo.op.addr)}+${hex(lo.op.len)} ${typeof lo.op.advice === 'string' ? lo.op.advice : (MADV_NAMES.get(lo.op.advice) ?? lo.op.advice)}`;
    case 'mmap':
    case 'munmap':
    case 'store':
      return `${lo.op.kind} ${hex(lo.op.addr)}+${hex(o.len)}`;
    case 'mremap':
      return `mremap ${hex(lo.op.addr)}+${hex(lo.op.oldLen)} → ${hex(lo.op.newAddr)}+${hex(lo.op.newLen)}`;
    case 'marker':
      return `marker ${lo.op.verb} ${lo.op.text}`;
    case 'memcg-reclaim':
      return `memcg reclaim ${lo.op.how} ${lo.op.bytes} bytes`;
    default:
      return lo.op.kind;
  }
}

function opAddr(lo: KeptOp): number | undefined {
  const o = lo.op as unknown as { addr?: number };
  return typeof o.addr === 'number' ? o.addr : undefined;
}

function folioAt(mm: Mm | undefined, addr: number): { folio: Folio; base: number } | undefined {
  if (!mm) return undefined;
  const e = mm.pmds.get(Math.floor(addr / PMD_SIZE));
  if (!e) return undefined;
  if (e.kind === 'huge') return { folio: e.folio, base: Math.floor(addr / PMD_SIZE) * PMD_SIZE };
  const idx = Math.floor(addr / PAGE_SIZE) % PTRS_PER_PTE;
  const f = e.folio[idx];
  return f ? { folio: f, base: addr - (addr % PAGE_SIZE) - e.page(idx) * PAGE_SIZE } : undefined;
}

/** Where a folio is mapped in an mm now (its first page's address), by walking the tables. */
function whereMapped(mm: Mm, f: Folio, hint: number | undefined): number | undefined {
  if (hint !== undefined) {
    const at = folioAt(mm, hint);
    if (at?.folio === f) return at.base;
  }
  for (const [key, e] of mm.pmds) {
    if (e.kind === 'huge') {
      if (e.folio === f) return key * PMD_SIZE;
      continue;
    }
    for (let i = 0; i < PTRS_PER_PTE; i++) {
      if (e.folio[i] === f) return key * PMD_SIZE + (i - e.page(i)) * PAGE_SIZE;
    }
  }
  return undefined;
}

/** A folio's page-table entries from `base` (its first page's address): the PMD, or one slot per page. */
function entriesOf(mm: Mm, f: Folio, base: number): EntryView[] {
  const out: EntryView[] = [];
  const pmd = mm.pmds.get(Math.floor(base / PMD_SIZE));
  if (pmd?.kind === 'huge' && pmd.folio === f) {
    out.push({ addr: base, where: 'pmd', text: `huge pfn 0x${f.pfn.toString(16)}${pmd.write ? ' W' : ''}${pmd.dirty ? ' D' : ''}${pmd.young ? ' Y' : ''}`, nextTable: false });
    return out;
  }
  const firstTable = Math.floor(base / PMD_SIZE);
  for (let p = 0; p < f.nr; p++) {
    const a = base + p * PAGE_SIZE;
    const key = Math.floor(a / PMD_SIZE);
    const t = mm.pmds.get(key);
    const idx = Math.floor(a / PAGE_SIZE) % PTRS_PER_PTE;
    let text: string;
    if (!t) text = 'no page table';
    else if (t.kind === 'huge') text = `huge pmd (folio ${t.folio.id})`;
    else {
      const pte = (t as PteTable).get(idx);
      text = !pte ? 'none' : pte.folio === f ? `pfn 0x${(f.pfn + pte.page).toString(16)}${pte.write ? ' W' : ''}${pte.dirty ? ' D' : ''}${pte.young ? ' Y' : ''}` : `other folio #${pte.folio.id}`;
    }
    out.push({ addr: a, where: `table 0x${(key * PMD_SIZE).toString(16)}[${idx}]`, text, nextTable: key !== firstTable });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What happened to each folio during one op, under each config.

/** One folio's steps through an op under each config (texts, in order). */
export interface FolioOpStory {
  pfn: number;
  order: number;
  steps: string[][];
}

/** Folios whose steps through the op read alike under every config, as one. */
export interface StoryGroup {
  count: number;
  order: number;
  /** The folios' pfns, lowest first. */
  pfns: number[];
  steps: string[][];
  /** The configs' steps are not all the same. */
  differs: boolean;
}

export interface OpStory {
  /** Index into Inspection.ops. */
  op: number;
  /** Groups whose steps differ first (largest first), then the rest (largest first). */
  groups: StoryGroup[];
  /** Folios whose steps differ between the configs. */
  differing: number;
  /** tlb_flush events each config emitted in the op. */
  flushes: number[];
  /** Counters whose change over the op differs between the configs: the change under each. */
  counters: Array<{ name: string; deltas: number[] }>;
  /** Series (in one config only) whose hooks ran in this op. */
  cause: string[];
  /** The first compared event where the configs' outputs part (each config's, `nothing` past the end). */
  firstEvents?: string[];
  /** One line: the cause and what changed (set when the configs' outputs differ here). */
  headline?: string;
}

const UNMAP_RE = /^(?:single-PTE unmap|batched unmap of (\d+) PTEs) \((flushed now|flush deferred|one \d+-page flush)\)$/;
const stepTexts = new Map<string, string>();

/** A kernel story step in the inspector's words: what was cleared and what rmap lost. */
function stepText(step: string): string {
  let t = stepTexts.get(step);
  if (t === undefined) {
    const m = UNMAP_RE.exec(step);
    if (m) {
      const n = m[1] ? Number(m[1]) : 1;
      t = `${n === 1 ? 'PTE cleared' : `${n} PTEs cleared at once`} (rmap −${n})${m[2] === 'flush deferred' ? ', flush deferred' : ''}`;
    } else t = step;
    stepTexts.set(step, t);
  }
  return t;
}

/** How many PTEs each unmap step cleared. */
function unmapSizes(steps: string[]): number[] {
  const out: number[] = [];
  for (const s of steps) {
    const m = /^(?:(\d+) PTEs cleared at once|PTE cleared) \(rmap/.exec(s);
    if (m) out.push(m[1] ? Number(m[1]) : 1);
  }
  return out;
}

/** What a folio's steps amount to, as a verb and how (undefined: nothing to say in short). */
export function storyGist(steps: string[]): { verb: string; how: string } | undefined {
  if (steps.some((s) => s.startsWith('PMD discarded whole'))) return { verb: 'discarded', how: 'whole at the PMD (no split)' };
  if (steps.some((s) => s.startsWith('PMD split'))) return { verb: 'unmapped', how: 'after a PMD split' };
  const u = unmapSizes(steps);
  if (u.length === 1 && u[0]! > 1) return { verb: 'unmapped', how: 'in one batch' };
  if (u.length > 1 && u.every((n) => n === 1)) return { verb: 'unmapped', how: 'per page' };
  if (u.length > 1) return { verb: 'unmapped', how: `in ${u.length} batches` };
  if (steps.some((s) => s.startsWith('split to order 0'))) return { verb: 'split', how: 'to order 0' };
  return undefined;
}

/** The first step where two step lists part (each side's text, `nothing` past the end). */
function firstDifference(a: string[], b: string[]): [string, string] {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [a[i] ?? 'nothing', b[i] ?? 'nothing'];
}

/** `64kB/split_deferred` → `split_deferred` when no other size of it changed. */
function shortCounter(name: string, all: string[]): string {
  const m = /^\d+kB\/(.+)$/.exec(name);
  if (!m) return name;
  return all.filter((n) => n.endsWith(`/${m[1]}`)).length === 1 ? m[1]! : name;
}

/** The one-line statement of a divergent op: its cause, what the folios did instead, flushes and counters. */
export function storyHeadline(st: Omit<OpStory, 'headline'>): string {
  const parts: string[] = [];
  const top = st.groups.find((g) => g.differs);
  if (top) {
    const [b, w] = [top.steps[0]!, top.steps[top.steps.length - 1]!];
    const gb = storyGist(b);
    const gw = storyGist(w);
    const n = `${top.count} folio${top.count === 1 ? '' : 's'}`;
    if (gb && gw && gb.verb === gw.verb && gb.how !== gw.how) parts.push(`${n} ${gw.verb} ${gw.how} instead of ${gb.how}`);
    else if (gb && gw && gb.verb !== gw.verb) parts.push(`${n} ${gw.verb} ${gw.how} instead of ${gb.verb} ${gb.how}`);
    else {
      const [x, y] = firstDifference(b, w);
      parts.push(`${n}: ${y} instead of ${x}`);
    }
    const rest = st.differing - top.count;
    if (rest > 0) parts[0] += ` (and ${rest} more folio${rest === 1 ? '' : 's'} whose steps differ)`;
  }
  const f = st.flushes;
  if (f.length >= 2 && f[0] !== f[f.length - 1]) parts.push(`flushes ${f[0]} → ${f[f.length - 1]}`);
  const names = st.counters.map((c) => c.name);
  for (const c of st.counters.slice(0, 3)) parts.push(`${shortCounter(c.name, names)} ${c.deltas[0]} → ${c.deltas[c.deltas.length - 1]}`);
  if (st.counters.length > 3) parts.push(`… ${st.counters.length - 3} more counters`);
  if (!top && st.firstEvents) parts.unshift(`${st.firstEvents[st.firstEvents.length - 1]} instead of ${st.firstEvents[0]}`);
  if (!parts.length) parts.push('the events emitted differ, but no folio\'s steps, flush count or counter does');
  const cause = st.cause.length ? st.cause.join(', ') : 'no series hook ran here in one config only (a release trait, or an earlier state change)';
  return `${cause}: ${parts.join('; ')}`;
}

/**
 * Records one engine's steps of every folio through one op: the kernel's story steps, and the
 * events it emitted, each given to the folio being worked on when it was emitted (a batched
 * flush to every folio it covers). Installed on the probe's own engines for that op only.
 */
class OpCapture {
  readonly steps = new Map<Folio, string[]>();
  flushes = 0;
  private cur: Folio | undefined;
  private curFreed = false;
  private readonly wasQueued: Set<Folio>;
  private readonly counters: Map<string, number>;

  constructor(private readonly eng: Engine) {
    const k = eng.k;
    this.wasQueued = new Set(k.deferred.list);
    for (const f of k.deferred.privateList) this.wasQueued.add(f);
    this.counters = new Map(k.counters);
    const self = this;
    // Own properties over the prototype's methods, removed again by finish().
    const kk = k as unknown as Record<string, unknown>;
    kk.stories = true;
    kk.story = (f: Folio, step: string): void => self.onStory(f, step);
    kk.storySplit = (): void => {};
    k.emitSink = (e: Emission): void => self.onEmit(e);
  }

  private push(f: Folio, t: string): void {
    let l = this.steps.get(f);
    if (!l) this.steps.set(f, (l = []));
    l.push(t);
  }

  private onStory(f: Folio, step: string): void {
    if (step === 'queued for deferred split') this.wasQueued.add(f);
    if ((step === 'freed' || step.startsWith('split to order')) && this.wasQueued.has(f)) this.push(f, 'unqueued from deferred split');
    this.push(f, stepText(step));
    this.cur = f;
    this.curFreed = step === 'freed';
  }

  private onEmit(e: Emission): void {
    const k = this.eng.k;
    if (e.ev === 'tlb_flush') {
      if (e.reason === 0) return;
      this.flushes++;
      const t = `tlb_flush pages=${e.pages}`;
      if (k.pendingTlb.size > 0 && e.pages === -1) {
        // The deferred batch: one flush for every folio whose cleared entries it covers.
        for (const f of k.pendingTlb) this.push(f, `${t} (batched, deferred)`);
      } else if (this.cur && !this.curFreed) this.push(this.cur, t);
    } else if (e.ev === 'rss_stat') {
      if (this.cur && !this.curFreed) this.push(this.cur, `rss_stat ${RSS_NAMES[e.member]!.replace(/^MM_/, '').toLowerCase()} ${e.delta > 0 ? '+' : '−'}${Math.abs(e.delta) / 1024}K`);
    } else if (e.ev === 'mm_page_free' && e.what === 'folio') {
      if (this.cur && this.cur.pfn === e.pfn) this.push(this.cur, `mm_page_free order=${e.order}`);
    }
  }

  /** Uninstalls itself; the change of every counter over the op. */
  finish(): Map<string, number> {
    const k = this.eng.k;
    const kk = k as unknown as Record<string, unknown>;
    delete kk.story;
    delete kk.storySplit;
    kk.stories = false;
    k.emitSink = undefined;
    const d = new Map<string, number>();
    for (const [n, v] of k.counters) if (v !== (this.counters.get(n) ?? 0)) d.set(n, v - (this.counters.get(n) ?? 0));
    for (const [n, v] of this.counters) if (!k.counters.has(n)) d.set(n, -v);
    return d;
  }
}

/** The configs' captures of one op, paired by pfn and grouped by the steps they tell. */
/** The first event fidelity compares where two configs' outputs part, as text. */
function firstEventDifference(a: Emission[], b: Emission[]): string[] | undefined {
  const x = a.filter(compared);
  const y = b.filter(compared);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ? emissionKey(x[i]!) : undefined;
    const q = y[i] ? emissionKey(y[i]!) : undefined;
    if (p !== q) return [p ?? 'nothing', q ?? 'nothing'];
  }
  return undefined;
}

function opStory(op: number, caps: OpCapture[], deltas: Array<Map<string, number>>, cause: string[], diverges: boolean, emitted: Emission[][]): OpStory {
  const byPfn = new Map<number, FolioOpStory>();
  caps.forEach((c, i) => {
    for (const [f, steps] of c.steps) {
      let s = byPfn.get(f.pfn);
      if (!s) byPfn.set(f.pfn, (s = { pfn: f.pfn, order: f.order, steps: caps.map(() => []) }));
      s.steps[i] = steps;
    }
  });
  const groups = new Map<string, StoryGroup>();
  for (const s of [...byPfn.values()].sort((a, b) => a.pfn - b.pfn)) {
    const key = `${s.order}\u0001${s.steps.map((x) => x.join('\u0002')).join('\u0003')}`;
    let g = groups.get(key);
    if (!g) {
      const differs = s.steps.some((x) => x.length !== s.steps[0]!.length || x.some((t, i) => t !== s.steps[0]![i]));
      groups.set(key, (g = { count: 0, order: s.order, pfns: [], steps: s.steps, differs }));
    }
    g.count++;
    g.pfns.push(s.pfn);
  }
  const list = [...groups.values()].sort((a, b) => Number(b.differs) - Number(a.differs) || b.count - a.count);
  const names = [...new Set(deltas.flatMap((d) => [...d.keys()]))].sort();
  const counters = names
    .map((name) => ({ name, deltas: deltas.map((d) => d.get(name) ?? 0) }))
    .filter((c) => c.deltas.some((x) => x !== c.deltas[0]))
    .sort((a, b) => Math.abs(b.deltas[0]! - b.deltas[b.deltas.length - 1]!) - Math.abs(a.deltas[0]! - a.deltas[a.deltas.length - 1]!));
  const st: OpStory = { op, groups: list, differing: list.filter((g) => g.differs).reduce((a, g) => a + g.count, 0), flushes: caps.map((c) => c.flushes), counters, cause };
  if (emitted.length >= 2) st.firstEvents = firstEventDifference(emitted[0]!, emitted[emitted.length - 1]!);
  if (diverges) st.headline = storyHeadline(st);
  return st;
}

class CheckpointMismatch extends Error {}

/** What the probe computes at an op: each config's state view, and the folios' steps through it. */
export interface ProbeResult {
  views: StateView[];
  story: OpStory;
}

export class StateProbe {
  private engines: Engine[] = [];
  private pos = 0;
  /** The engines were restored from a checkpoint: each op replayed is checked against the load's. */
  private fromCheckpoint = false;
  /** Folios picked before the op was applied (per config), for the view after it. */
  private picked: Array<{ folio?: Folio; base?: number }> = [];

  constructor(private readonly ins: Inspection) {
    this.reset();
  }

  private reset(): void {
    this.engines = this.ins.configs.map((c) => new Engine(c, { checkInvariants: false }));
    this.pos = 0;
    this.fromCheckpoint = false;
  }

  /** To the state after `applied` ops at the latest: the nearest checkpoint, or the start. */
  private rewind(applied: number): void {
    const cp = this.ins.checkpoints?.before(applied);
    if (!cp) return this.reset();
    this.engines = cp.engines.map((e) => e.restore());
    this.pos = cp.at;
    this.fromCheckpoint = true;
  }

  private apply(i: number): void {
    const lo = this.ins.ops.lo(i);
    if (!lo.failed) {
      this.engines.forEach((e, c) => {
        const r = e.step(lo.op);
        // A restored state must replay to what the load's engines emitted; if it does not, the
        // checkpoints are not used again and the op is reached from the start.
        if (this.fromCheckpoint && (r.emitted.length ? emissionText(r.emitted) : '') !== this.ins.emitted[c]!.at(i)) throw new CheckpointMismatch();
      });
    }
    this.pos = i + 1;
  }

  /**
   * Steps to just after op `target`, yielding after each slice of `slice` ops so a caller can
   * stop (a newer request) or let the UI breathe; returns the views under each config.
   */
  *viewAfter(target: number, focusPfn?: number, slice = 4000): Generator<number, ProbeResult, void> {
    // The view needs the state just before `target`: from a checkpoint nearer than where the
    // engines stand (or the start, when they are past it).
    const cp = this.ins.checkpoints?.before(target);
    if (target < this.pos || (cp && cp.at > this.pos)) this.rewind(target);
    let n = 0;
    while (this.pos < target) {
      try {
        this.apply(this.pos);
      } catch (e) {
        if (!(e instanceof CheckpointMismatch)) throw e;
        this.ins.checkpoints!.broken = true;
        this.reset();
        continue;
      }
      if (++n % slice === 0) yield this.pos;
    }
    const lo = this.ins.ops.lo(target);
    const addr = opAddr(lo);
    // Pick each config's folio before the op: the one asked for, the one at its address, or
    // the first it frees.
    this.picked = this.engines.map((e) => {
      const mm = e.k.mms.get(lo.op.tgid);
      if (focusPfn !== undefined) {
        for (const f of e.k.folios) {
          if (f.pfn !== focusPfn) continue;
          const base = mm ? whereMapped(mm, f, undefined) : undefined;
          return base === undefined ? { folio: f } : { folio: f, base };
        }
        // Not there before the op: the op makes it (looked up after it).
        return {};
      }
      if (addr !== undefined) {
        const at = folioAt(mm, addr);
        if (at) return at;
      }
      return {};
    });
    const before = this.engines.map((e) => new Map([...e.k.folios].map((f) => [f.pfn, f] as const)));
    // The entries as they stand before the op: of the picked folio, or (no address) of every
    // folio the op's mm maps, since which one it frees is known only afterwards.
    const snaps = this.engines.map((e, c) => {
      const m = new Map<Folio, EntryView[]>();
      const mm = e.k.mms.get(lo.op.tgid);
      if (!mm) return m;
      const pk = this.picked[c]!;
      if (pk.folio && pk.base !== undefined) m.set(pk.folio, entriesOf(mm, pk.folio, pk.base));
      else if (addr === undefined) {
        let budget = 200_000;
        for (const [key, t] of mm.pmds) {
          if (t.kind === 'huge') {
            if (!m.has(t.folio)) m.set(t.folio, entriesOf(mm, t.folio, key * PMD_SIZE));
            continue;
          }
          for (let i = 0; i < PTRS_PER_PTE && budget > 0; i++, budget--) {
            const f = t.folio[i];
            if (f && !m.has(f)) m.set(f, entriesOf(mm, f, key * PMD_SIZE + (i - t.page(i)) * PAGE_SIZE));
          }
        }
      }
      return m;
    });
    const emitted: Emission[][] = [];
    const caps: OpCapture[] = [];
    const deltas: Array<Map<string, number>> = [];
    const hooks: string[][] = [];
    for (const e of this.engines) {
      const cap = new OpCapture(e);
      let r: { emitted: Emission[]; hooks: string[] } = { emitted: [], hooks: [] };
      try {
        if (!lo.failed) r = e.step(lo.op);
      } finally {
        deltas.push(cap.finish());
      }
      caps.push(cap);
      emitted.push(r.emitted);
      hooks.push(r.hooks);
    }
    this.pos = target + 1;
    const cfgs = this.ins.configs;
    const cause = cfgs.length >= 2 ? divergenceCause(cfgs[0]!.series, cfgs[cfgs.length - 1]!.series, hooks[0]!, hooks[hooks.length - 1]!) : [];
    const story = opStory(target, caps, deltas, cause, this.ins.diverges[target] === 1, emitted);
    const views = this.engines.map((e, c) => {
      let pick = this.picked[c]!;
      if (!pick.folio && focusPfn !== undefined) {
        for (const f of e.k.folios) {
          if (f.pfn === focusPfn) {
            pick = { folio: f };
            break;
          }
        }
      }
      if (!pick.folio && addr !== undefined) {
        // Nothing there before (a fault): the folio the op mapped.
        const now = folioAt(e.k.mms.get(lo.op.tgid), addr);
        if (now) pick = now;
      }
      if (!pick.folio) {
        const freed = emitted[c]?.find((x): x is Extract<Emission, { ev: 'mm_page_free' }> => x.ev === 'mm_page_free' && x.what === 'folio');
        if (freed) pick = { folio: before[c]!.get(freed.pfn) };
      }
      return this.view(e, c, target, lo, addr, pick, snaps[c]!);
    });
    return { views, story };
  }

  private view(e: Engine, c: number, i: number, lo: KeptOp, addr: number | undefined, pick: { folio?: Folio; base?: number }, snaps: Map<Folio, EntryView[]>): StateView {
    const k = e.k;
    const f0 = pick.folio;
    const mm = k.mms.get(lo.op.tgid);
    const v: StateView = {
      config: this.ins.configs[c]!.name,
      op: i,
      opText: opText(lo),
      addr,
      vmas: [],
      entries: [],
      entriesBefore: f0 ? (snaps.get(f0) ?? []) : [],
      rssPages: mm ? mm.rss.reduce((a, b) => a + b, 0) : 0,
      deferredQueue: k.deferred.split_queue_len,
      tlbBatchPending: k.ubcOf(lo.op.tid).flush_required,
      mmFlushPending: mm?.tlbFlushPending ?? false,
    };
    if (mm) {
      const vmas = [...mm.vmas].sort((a, b) => a.vm_start - b.vm_start);
      const focus = addr ?? pick.base;
      let at = focus === undefined ? 0 : vmas.findIndex((x) => x.vm_end > focus);
      if (at < 0) at = vmas.length - 1;
      for (const x of vmas.slice(Math.max(0, at - 2), at + 3)) {
        const flags = `${x.read ? 'r' : '-'}${x.write ? 'w' : '-'}${x.anon ? ' anon' : ''}${x.hugepage ? ' hugepage' : ''}${x.nohugepage ? ' nohugepage' : ''}${x.locked ? ' locked' : ''}${x.implicit ? ' (pre-window)' : ''}`;
        v.vmas.push({ start: x.vm_start, end: x.vm_end, flags, here: focus !== undefined && x.vm_start <= focus && focus < x.vm_end });
      }
    }
    const f = pick.folio;
    if (!f) {
      v.note = addr !== undefined ? `nothing mapped at 0x${addr.toString(16)}` : 'this op names no address and freed no folio';
      return v;
    }
    v.folio = {
      id: f.id,
      pfn: f.pfn,
      order: f.order,
      flags: [f.anon ? 'anon' : 'file', f.swapbacked ? 'swapbacked' : 'lazyfree', f.dirty && 'dirty', f.referenced && 'referenced', f.active && 'active', f.mlocked && 'mlocked', f.isolated && 'isolated', f.exclusive && 'exclusive'].filter((x): x is string => !!x),
      refcount: f.refcount,
      mapcount: f.large_mapcount,
      entireMapcount: f.entire_mapcount,
      pagesMapped: f.nr_pages_mapped,
      lru: f.lru < 0 ? (f.in_lru_batch ? 'in an LRU batch' : 'none') : LRU_NAMES[f.lru] ?? String(f.lru),
      deferredSplit: f.on_deferred_list,
      partiallyMapped: f.partially_mapped,
      pendingTlbFlush: k.pendingTlb.has(f),
      freed: f.freed,
    };
    if (!mm) return v;
    const mapped = whereMapped(mm, f, pick.base);
    const base = mapped ?? pick.base ?? v.entriesBefore[0]?.addr;
    if (mapped === undefined) v.note = f.freed ? 'the folio was freed by this op' : 'the folio is no longer mapped here';
    if (base !== undefined) v.entries = entriesOf(mm, f, base);
    return v;
  }
}

