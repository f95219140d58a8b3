/**
 * Lifting: trace events → workload operations, streaming. Inputs are syscalls (mmap, munmap,
 * mremap, madvise, clone/fork, exit), user page faults (with the allocations the kernel
 * recorded right after them), sched_switch, and the workload's `fl:` markers. Kernel output
 * (tlb_flush, rss_stat, mm_page_free, mm_vmscan_reclaim_pages) is never an input: it is kept
 * as the recorded output of the op it followed, for fidelity.
 *
 * An op is complete when the next op of the workload starts (its syscall return value, the
 * allocations after a fault, and its recorded output all come before that), so ops are handed
 * on one at a time and memory does not grow with the trace.
 */
import { grepTrace, streamTrace, type FormatRegistry, type TraceEvent, type TraceStats } from '../trace/index.js';
import type { AllocFact, Op } from '../model/ops.js';
import { parseMarker, type Marker } from './markers.js';
import { PfnOrderTable } from './pfn-table.js';

export type RecordedKind = 'tlb_flush' | 'rss_stat' | 'mm_page_free' | 'mm_vmscan_reclaim_pages';
export const RECORDED_KINDS: readonly RecordedKind[] = ['tlb_flush', 'rss_stat', 'mm_page_free', 'mm_vmscan_reclaim_pages'];

/**
 * A kernel-output event the trace recorded for the workload, normalised for comparison. The
 * numbers are compared field by field; the text key (the same shape as the model's, see
 * fidelity/) is built only when a mismatch is reported.
 */
export class Recorded {
  constructor(
    readonly ev: RecordedKind,
    readonly line: number,
    readonly cpu: number,
    readonly pid: number,
    /** Numeric fields: tlb (pages, reason), rss (curr, member), free (order). */
    readonly a: number | undefined,
    readonly b: number | undefined,
    /** rss_stat: delta in bytes from the previous value of that counter (null if unknown). */
    readonly delta: number | null | undefined,
    /** mm_page_free: the pfn, and whether it belongs to the workload's recorded allocations. */
    readonly pfn: number | undefined,
    readonly ours: boolean | undefined,
    /** rss_stat: the member's name; mm_vmscan_reclaim_pages: its decoded fields. */
    private readonly detail: string | Record<string, unknown> | undefined,
  ) {}

  /** Comparison key, as emissionKey() prints the model's events. */
  get key(): string {
    switch (this.ev) {
      case 'tlb_flush':
        return `tlb_flush pages=${this.a} reason=${this.b}`;
      case 'rss_stat': {
        const d = this.delta;
        return `rss_stat curr=${this.a} ${String(this.detail)} ${d === null || d === undefined ? '?' : d > 0 ? `+${d}` : d}`;
      }
      case 'mm_page_free':
        return `mm_page_free pfn=0x${this.pfn!.toString(16)} order=${this.a}`;
      default: {
        const f = (this.detail ?? {}) as Record<string, unknown>;
        return `mm_vmscan_reclaim_pages scanned=${f.nr_scanned} reclaimed=${f.nr_reclaimed} activate_anon=${f.nr_activate0} activate_file=${f.nr_activate1} unmap_fail=${f.nr_unmap_fail} ref_keep=${f.nr_ref_keep}`;
      }
    }
  }
}

export interface LiftedOp {
  op: Op;
  recorded: Recorded[];
  /** Inside the scenario window (between `fl: begin` and `fl: end`, outside counter reads). */
  compare: boolean;
  phase: string;
  /** The syscall failed (madvise/munmap returned an error): not applied. */
  failed: boolean;
}

export interface LiftOptions {
  /** Workload process id; default: the pid of `fl: begin`, else the first task that calls mmap/madvise. */
  pid?: number;
  comm?: string;
  /** The pid that announces `fl: begin` (found by a first scan): modelling starts at its marker. */
  beginPid?: number;
}

/** Event names Lifter.feed() reads (inputs, markers, and the kernel output it keeps). */
const LIFTED = new Set(['print', 'tlb_flush', 'rss_stat', 'mm_page_free', 'mm_vmscan_reclaim_pages', 'mm_page_alloc', 'page_fault_user', 'sched_switch']);
const lifted = (name: string): boolean => LIFTED.has(name) || name.startsWith('sys_');

const SYSCALL_INPUTS = new Set(['mmap', 'munmap', 'mremap', 'madvise', 'brk', 'clone', 'clone3', 'fork', 'vfork', 'exit', 'exit_group']);
const CLONE_VM = 0x100;
const CLONE_THREAD = 0x10000;

export class Lifter {
  private index = 0;
  private current: LiftedOp | undefined;
  /** Tasks of the workload: tid → tgid. */
  readonly tasks = new Map<number, number>();
  private started = false;
  private inWindow = false;
  private inCounters = false;
  private phase = '';
  /** Per task, the op its pending syscall entry opened (null: an input syscall that opens none). */
  private pendingEnter = new Map<number, LiftedOp | null>();
  /** Last rss_stat value per mm_id and member, for deltas. */
  private rssLast = new Map<number, number>();
  /** Head pfn → order of every allocation made for the workload (its folios and page tables). */
  private pfnHeads = new PfnOrderTable();
  readonly notes: string[] = [];
  releaseMarker: string | undefined;
  /** Set by the first `fl: begin`: scenario and variant. */
  scenario: { id: string; variant: string } | undefined;

  constructor(
    private readonly opts: LiftOptions,
    private readonly sink: (op: LiftedOp) => void,
  ) {
    if (opts.pid !== undefined) {
      this.tasks.set(opts.pid, opts.pid);
      this.started = true;
    }
  }

  /** The workload's main pid, once known. */
  get mainPid(): number | undefined {
    for (const [tid, tgid] of this.tasks) if (tid === tgid) return tid;
    return undefined;
  }

  /** A page of one of the workload's allocations (a split folio's pages included). */
  isOurPfn(pfn: number): boolean {
    // The head of an allocation (what most frees free) needs one lookup.
    if (this.pfnHeads.has(pfn)) return true;
    for (let order = 1; order <= 10; order++) {
      const head = pfn - (pfn % 2 ** order);
      if (this.pfnHeads.get(head) === order) return true;
    }
    return false;
  }

  private released(pfn: number, order: number): void {
    if (this.pfnHeads.get(pfn) === order) this.pfnHeads.delete(pfn);
  }

  private preMmId: number | undefined;

  /**
   * Before the window, the workload's own faults are counted (not applied) for its per-task
   * rss cache, and its exec — the rss_stat of the old mm going away — resets that count.
   */
  private preWindow(e: TraceEvent): void {
    const pid = e.pid;
    if (e.name === 'page_fault_user') {
      this.open(e, pid, { kind: 'fault-count', allocs: [] });
    } else if (e.name === 'mm_page_alloc') {
      this.attachAlloc(e);
    } else if (e.name === 'rss_stat') {
      const id = Number(e.fields.mm_id);
      const curr = Number(e.fields.curr);
      if (curr === 1) {
        if (this.preMmId !== undefined && id !== this.preMmId) this.open(e, pid, { kind: 'exec' });
        this.preMmId = id;
      } else if (id === this.preMmId) {
        this.open(e, pid, { kind: 'exec' });
        this.preMmId = undefined;
      }
    }
  }

  private attachAlloc(e: TraceEvent): void {
    const cur = this.current;
    if (!cur || (cur.op.kind !== 'fault' && cur.op.kind !== 'fault-count') || cur.op.tid !== e.pid) return;
    const f = e.fields;
    const pfn = Number(f.pfn);
    const order = Number(f.order);
    const gfp = f.gfp_flags as { flags?: string[] } | undefined;
    const names = gfp?.flags ?? [];
    const user = names.some((n) => /MOVABLE|TRANSHUGE|HIGHUSER/.test(n)) || (names.length === 0 && f.migratetype === 1);
    const a: AllocFact = { pfn, order, use: user ? 'user' : 'pgtable' };
    cur.op.allocs.push(a);
    if (cur.op.kind === 'fault') this.pfnHeads.set(pfn, order);
  }

  feed(e: TraceEvent): void {
    const name = e.name;
    if (!this.started) {
      if (this.opts.beginPid !== undefined && e.pid === this.opts.beginPid && name !== 'print') {
        this.preWindow(e);
        return;
      }
      if (!this.tryStart(e)) return;
    }
    const tgid = this.tasks.get(e.pid);
    if (name === 'print') {
      if (tgid === undefined) return;
      const buf = String(e.fields.buf ?? '');
      const m = parseMarker(buf);
      if (m) this.marker(e, tgid, m);
      return;
    }
    if (name === 'tlb_flush' || name === 'rss_stat' || name === 'mm_page_free' || name === 'mm_vmscan_reclaim_pages') {
      this.output(e, tgid);
      return;
    }
    if (name === 'mm_page_alloc') {
      if (tgid === undefined) return;
      this.attachAlloc(e);
      return;
    }
    if (name === 'page_fault_user') {
      if (tgid === undefined) return;
      const f = e.fields;
      const code = Number(f.error_code);
      this.open(e, tgid, { kind: 'fault', addr: Number(f.address), write: (code & 2) !== 0, allocs: [] });
      return;
    }
    if (name === 'sched_switch') {
      const f = e.fields;
      const prev = Number(f.prev_pid);
      const next = Number(f.next_pid);
      const pt = this.tasks.get(prev);
      const nt = this.tasks.get(next);
      // A task switch can fall in the middle of an op (a preempted fault): it is applied at
      // once, without ending the op whose output is still to come.
      if (pt !== undefined) this.side(e, pt, { kind: 'run', on: false, idle: next === 0 }, prev);
      if (nt !== undefined) this.side(e, nt, { kind: 'run', on: true }, next);
      return;
    }
    if (e.syscall !== 0 && tgid !== undefined) this.syscall(e, tgid);
  }

  private tryStart(e: TraceEvent): boolean {
    if (this.opts.comm !== undefined) {
      if (e.comm !== this.opts.comm) return false;
      this.tasks.set(e.pid, e.pid);
      this.started = true;
      return true;
    }
    if (e.name === 'print') {
      const m = parseMarker(String(e.fields.buf ?? ''));
      if (m && m.verb === 'begin' && (this.opts.beginPid === undefined || Number(m.kv.pid ?? e.pid) === this.opts.beginPid)) {
        const pid = Number(m.kv.pid ?? e.pid);
        this.tasks.set(pid, pid);
        this.started = true;
        return true;
      }
      return false;
    }
    if (this.opts.beginPid === undefined && e.syscall === 1 && (e.name === 'sys_enter_madvise' || e.name === 'sys_enter_mmap')) {
      this.tasks.set(e.pid, e.pid);
      this.started = true;
      this.inWindow = true;
      this.notes.push(`no \`fl: begin\` marker: the workload is ${e.comm}-${e.pid}, from line ${e.line}`);
      return true;
    }
    return false;
  }

  private open(e: TraceEvent, tgid: number, body: Record<string, unknown>, tid = e.pid): LiftedOp {
    this.flush();
    const op = this.stamp(e, tgid, body, tid);
    const lo: LiftedOp = { op, recorded: [], compare: this.inWindow && !this.inCounters, phase: this.phase, failed: false };
    this.current = lo;
    return lo;
  }

  private side(e: TraceEvent, tgid: number, body: Record<string, unknown>, tid: number): void {
    this.sink({ op: this.stamp(e, tgid, body, tid), recorded: [], compare: false, phase: this.phase, failed: false });
  }

  /** The op of `body` (a fresh literal, completed in place: a spread copy cost ~7 % of a replay). */
  private stamp(e: TraceEvent, tgid: number, body: Record<string, unknown>, tid: number): Op {
    const op = body as unknown as Op;
    op.tid = tid;
    op.tgid = tgid;
    op.cpu = e.cpu;
    op.at = { index: this.index++, line: e.line, tsNs: e.tsNs };
    return op;
  }

  /** Hand the current op on. */
  flush(): void {
    if (this.current) {
      const c = this.current;
      this.current = undefined;
      this.sink(c);
    }
  }

  private marker(e: TraceEvent, tgid: number, m: Marker): void {
    switch (m.verb) {
      case 'begin':
        this.inWindow = true;
        this.scenario = { id: m.kv.scenario ?? '?', variant: m.kv.variant ?? '?' };
        this.open(e, tgid, { kind: 'marker', verb: 'begin', text: m.text });
        return;
      case 'end':
        this.open(e, tgid, { kind: 'marker', verb: 'end', text: m.text });
        this.inWindow = false;
        return;
      case 'counters-begin':
        this.inCounters = true;
        this.open(e, tgid, { kind: 'marker', verb: 'counters-begin', text: m.text });
        return;
      case 'counters-end':
        this.inCounters = false;
        this.open(e, tgid, { kind: 'marker', verb: 'counters-end', text: m.text });
        return;
      case 'phase':
        this.phase = m.kv.name ?? '';
        this.open(e, tgid, { kind: 'marker', verb: 'phase', text: m.text });
        return;
      case 'store':
      case 'load': {
        if (m.verb === 'load') return;
        const addr = Number(m.kv.addr);
        const len = Number(m.kv.len ?? 1);
        const count = Number(m.kv.count ?? 1);
        const stride = Number(m.kv.stride ?? 0);
        this.open(e, tgid, { kind: 'store', addr, len, stride, count });
        return;
      }
      case 'reclaim':
        this.open(e, tgid, { kind: 'memcg-reclaim', bytes: Number(m.kv.bytes ?? 0), how: m.kv.how ?? '' });
        return;
      case 'thread': {
        const tid = Number(m.kv.tid);
        if (Number.isFinite(tid) && !this.tasks.has(tid)) this.tasks.set(tid, tgid);
        return;
      }
      case 'note': {
        if (m.kv.action === 'drop_caches') this.open(e, tgid, { kind: 'drop-caches', value: Number(m.kv.value ?? 3) });
        if (m.kv.release) this.releaseMarker = m.kv.release;
        return;
      }
      default:
        return;
    }
  }

  private syscall(e: TraceEvent, tgid: number): void {
    const isEnter = e.syscall === 1;
    const sc = e.name.slice(isEnter ? 10 : 9);
    if (!SYSCALL_INPUTS.has(sc)) return;
    const f = e.fields;
    if (isEnter) {
      let lo: LiftedOp | undefined;
      switch (sc) {
        case 'mmap':
          lo = this.open(e, tgid, { kind: 'mmap', addr: 0, len: Number(f.len), prot: Number(f.prot), flags: Number(f.flags), anon: (Number(f.flags) & 0x20) !== 0 && (Number(f.flags) & 0x01) === 0 });
          break;
        case 'munmap':
          lo = this.open(e, tgid, { kind: 'munmap', addr: Number(f.addr), len: Number(f.len) });
          break;
        case 'mremap':
          lo = this.open(e, tgid, { kind: 'mremap', addr: Number(f.addr), oldLen: Number(f.old_len), newLen: Number(f.new_len), flags: Number(f.flags), newAddr: Number(f.new_addr) });
          break;
        case 'madvise':
          lo = this.open(e, tgid, { kind: 'madvise', addr: Number(f.start), len: Number(f.len_in), advice: Number(f.behavior) });
          break;
        case 'exit':
        case 'exit_group':
          this.open(e, tgid, { kind: 'exit' });
          break;
        case 'clone':
        case 'clone3':
        case 'fork':
        case 'vfork': {
          // Opened at entry so the copying's output (child rss, flushes) belongs to it; the child
          // id comes with the return value. clone3's flags are behind a pointer: glibc uses it
          // for threads (Model deviation: a clone3 child is taken to be a thread).
          const flags = sc === 'clone' ? Number(f.clone_flags ?? 0) : sc === 'clone3' ? CLONE_VM | CLONE_THREAD : 0;
          lo = this.open(e, tgid, flags & CLONE_VM ? { kind: 'thread', child: -1 } : { kind: 'fork', child: -1 });
          break;
        }
        default:
          break;
      }
      this.pendingEnter.set(e.pid, lo ?? null);
      return;
    }
    const ret = Number(f.ret);
    const op = this.pendingEnter.get(e.pid);
    if (op === undefined) return;
    this.pendingEnter.delete(e.pid);
    if (op) {
      if (ret < 0 && ret > -4096) op.failed = true;
      else if (op.op.kind === 'mmap') op.op.addr = ret;
      else if (op.op.kind === 'mremap') op.op.newAddr = ret;
    }
    if (op && (op.op.kind === 'fork' || op.op.kind === 'thread')) {
      if (ret > 0) {
        op.op.child = ret;
        this.tasks.set(ret, op.op.kind === 'thread' ? tgid : ret);
      } else op.failed = true;
    }
  }

  private output(e: TraceEvent, tgid: number | undefined): void {
    const ev = e.name as RecordedKind;
    // rss_stat is read for every mm (the last value of each counter gives the next delta); the
    // others only for the workload's tasks.
    if (tgid === undefined && ev !== 'rss_stat') return;
    const f = e.fields;
    if (ev === 'rss_stat') {
      const member = (f.member as { value: number; name: string }) ?? { value: -1, name: '?' };
      // mm_id is a 32-bit hash and member a small enum: one number keys the pair.
      const key = Number(f.mm_id) * 16 + member.value + 1;
      const size = Number(f.size);
      const prev = this.rssLast.get(key);
      this.rssLast.set(key, size);
      if (tgid === undefined) return;
      const delta = prev === undefined ? null : size - prev;
      this.record(new Recorded(ev, e.line, e.cpu, e.pid, Number(f.curr), member.value, delta, undefined, undefined, member.name));
      return;
    }
    if (ev === 'tlb_flush') {
      const r = f.reason as { value: number };
      // `flush on task switch` depends on the scheduler and ASID state, not on the workload's
      // memory operations: not an output of the modelled paths.
      if (r?.value === 0) return;
      this.record(new Recorded(ev, e.line, e.cpu, e.pid, Number(f.pages), r?.value, undefined, undefined, undefined, undefined));
      return;
    }
    if (ev === 'mm_page_free') {
      const pfn = Number(f.pfn);
      const ours = this.isOurPfn(pfn);
      // Once freed, a page may be reused by anyone: it stops being the workload's.
      if (ours) this.released(pfn, Number(f.order));
      this.record(new Recorded(ev, e.line, e.cpu, e.pid, Number(f.order), undefined, undefined, pfn, ours, undefined));
      return;
    }
    this.record(new Recorded(ev, e.line, e.cpu, e.pid, undefined, undefined, undefined, undefined, undefined, f as Record<string, unknown>));
  }

  private record(r: Recorded): void {
    if (this.current) this.current.recorded.push(r);
  }
}

/** Read a trace and lift it, handing each op on as it completes (streaming). */
export async function liftTrace(
  input: string,
  opts: LiftOptions & {
    registry: FormatRegistry;
    release?: string;
    onProgress?: (bytes: number) => void;
    onEvent?: (e: TraceEvent) => void;
    /**
     * Decode each handed-on event's payload in the parser, before lifting sees it (for the
     * benchmark: `consumeMs` is then lifting and the sink alone, not the decoding they ask for).
     */
    decodeInParser?: boolean;
  },
  sink: (op: LiftedOp) => void,
): Promise<{ lifter: Lifter; stats: TraceStats; events: number; consumeMs: number }> {
  // Without --pid/--comm, the workload is the process that announces `fl: begin`: find it
  // first (the scan stops at the marker), so unrelated processes in an unfiltered capture
  // are not taken for it.
  let beginPid: number | undefined;
  if (opts.pid === undefined && opts.comm === undefined) beginPid = await findBeginPid(input, opts);
  const lifter = new Lifter({ ...opts, beginPid }, sink);
  // Time spent past the parser (lifting and whatever the sink does with the ops), measured per
  // batch so that parse and replay throughput can be told apart.
  let consumeMs = 0;
  // Unless every event is tapped (the inspector's timeline), the parser hands on only what
  // lifting reads.
  const only = opts.onEvent ? undefined : lifted;
  const onEvent = opts.onEvent;
  const stats = await streamTrace(input, { file: input, registry: opts.registry, release: opts.release, onProgress: opts.onProgress, only, decodeAll: opts.decodeInParser }, (batch) => {
    const t0 = performance.now();
    if (onEvent) for (const e of batch) onEvent(e);
    for (const e of batch) lifter.feed(e);
    consumeMs += performance.now() - t0;
  });
  const t1 = performance.now();
  lifter.flush();
  consumeMs += performance.now() - t1;
  // Every event of the trace, not only those handed on.
  return { lifter, stats, events: stats.events, consumeMs };
}

async function findBeginPid(input: string, opts: { registry: FormatRegistry; release?: string }): Promise<number | undefined> {
  // Only the lines that hold the markers' prefix are parsed (a trace without markers is read,
  // not parsed); the first begin marker names the workload.
  for await (const e of grepTrace(input, 'fl:', { registry: opts.registry, release: opts.release })) {
    if (e.name !== 'print') continue;
    const m = parseMarker(String(e.fields.buf ?? ''));
    if (m && m.verb === 'begin') return Number(m.kv.pid ?? e.pid);
  }
  return undefined;
}
