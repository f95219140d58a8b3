/**
 * Lifting: trace events → workload operations, streaming. Inputs are syscalls (mmap, munmap,
 * mremap, madvise, mprotect, clone/fork, exit), user page faults (with the allocations the kernel
 * recorded right after them), sched_switch, and the workload's `fl:` markers. Kernel output
 * (tlb_flush, rss_stat, mm_page_free, mm_vmscan_reclaim_pages) is never an input: it is kept
 * as the recorded output of the op it followed, for fidelity.
 *
 * Each task of the workload has at most one open op: its events (allocations, output in its
 * context, LRU moves, migration entries) go to that op, whatever other tasks do on other CPUs
 * meanwhile. A task's op is complete when that task starts its next op (its syscall return
 * value, the allocations after a fault, and its recorded output all come before that), when it
 * exits, once it has gone to sleep outside the op and another op begins, or when it has been
 * quiet too long (see QUIET_NS). Ops are handed on in the order they were opened, as soon as
 * every op opened before them is complete, so memory does not grow with the trace.
 */
import type { ExecImage } from '../core/exec-image.js';
import { grepTrace, streamTrace, type FormatRegistry, type TraceEvent, type TraceStats } from '../trace/index.js';
import type { AllocFact, FileFaultEvent, Op, SiblingSwitch } from '../model/ops.js';
import { parseMarker, PRE_WINDOW_MISSING, SnapshotReader, type Marker } from './markers.js';
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
    /** mm_page_free: the pfn. */
    readonly pfn: number | undefined,
    /**
     * false: recorded in the workload's context but not the workload's doing — a free of a page
     * it never allocated, a flush IPI sent by another mm. Counted apart, never compared.
     */
    readonly ours: boolean | undefined,
    /** rss_stat: the member's name; mm_vmscan_reclaim_pages: its decoded fields. */
    private readonly detail: string | Record<string, unknown> | undefined,
  ) {}

  /** The same update with another delta (a preempted op's merged rss updates; null: unknown). */
  withDelta(delta: number | null): Recorded {
    return new Recorded(this.ev, this.line, this.cpu, this.pid, this.a, this.b, delta, this.pfn, this.ours, this.detail);
  }

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
  /**
   * The task was preempted during the op (switched out still runnable). zap_pte_range() stops
   * at a pending reschedule and updates the rss counters for what it cleared so far, at a PTE
   * no event shows: the op's rss updates are then compared by their sum (mergeRssUpdates()).
   */
  preempted?: boolean;
  /** How far `recorded` was scanned by outputMarks(), and the marks found up to there. */
  marksScanned?: number;
  marks?: number;
  /** How far `recorded` was scanned by ownEvents(), and the op's own events up to there. */
  ownScanned?: number;
  own?: number;
}

/**
 * The op's own recorded events so far (its task's context: a flush its IPI caused on another CPU
 * may be recorded later than it happened), which place a sibling's switch inside it (Op
 * `siblingSwitchesAt`). Scanned incrementally.
 */
function ownEvents(lo: LiftedOp): number {
  const r = lo.recorded;
  let n = lo.own ?? 0;
  for (let i = lo.ownScanned ?? 0; i < r.length; i++) {
    const x = r[i]!;
    if (x.ours !== false && x.pid === lo.op.tid) n++;
  }
  lo.ownScanned = r.length;
  lo.own = n;
  return n;
}

/**
 * The op's recorded output so far that places a point inside it: the workload's page frees and
 * the reclaim_pages() passes in the op's own task (see Op `lruAddedPos`; frees another task
 * made, filed under the op, are not points of it). Scanned incrementally.
 */
function outputMarks(lo: LiftedOp): number {
  const r = lo.recorded;
  let n = lo.marks ?? 0;
  for (let i = lo.marksScanned ?? 0; i < r.length; i++) {
    const x = r[i]!;
    if (x.pid !== lo.op.tid) continue;
    if ((x.ev === 'mm_page_free' && x.ours !== false) || x.ev === 'mm_vmscan_reclaim_pages') n++;
  }
  lo.marksScanned = r.length;
  lo.marks = n;
  return n;
}

/**
 * Consecutive rss_stat updates of one counter (same CPU, mm side and member) as one update of
 * their summed delta: how a preempted op's rss updates are compared, on both sides.
 */
export function mergeRssUpdates(recorded: Recorded[]): Recorded[] {
  const out: Recorded[] = [];
  for (const r of recorded) {
    const last = out[out.length - 1];
    if (r.ev === 'rss_stat' && last?.ev === 'rss_stat' && last.cpu === r.cpu && last.a === r.a && last.b === r.b && typeof last.delta === 'number' && typeof r.delta === 'number') {
      out[out.length - 1] = last.withDelta(last.delta + r.delta);
    } else out.push(r);
  }
  return out;
}

/** sched_switch prev_state: the task left the CPU runnable (TASK_RUNNING, "R" / "R+"). */
function stillRunnable(ps: unknown): boolean {
  if (typeof ps === 'string') return ps.startsWith('R');
  if (ps && typeof ps === 'object') {
    const { value, flags } = ps as { value?: unknown; flags?: unknown };
    if (typeof value === 'number') return (value & 0xff) === 0;
    if (Array.isArray(flags)) return flags.length === 0 || String(flags[0]).startsWith('R');
  }
  return false;
}

/** sched_switch prev_state: the task exited (EXIT_DEAD "X", EXIT_ZOMBIE "Z"). */
function exited(ps: unknown): boolean {
  if (typeof ps === 'string') return ps.startsWith('X') || ps.startsWith('Z');
  if (ps && typeof ps === 'object') {
    const { value, flags } = ps as { value?: unknown; flags?: unknown };
    if (typeof value === 'number') return (value & 0x30) !== 0;
    if (Array.isArray(flags)) return flags.some((x) => String(x).startsWith('X') || String(x).startsWith('Z'));
  }
  return false;
}

/** sched_switch prev_state: an uninterruptible sleep (TASK_UNINTERRUPTIBLE "D", killable included). */
function uninterruptible(ps: unknown): boolean {
  if (typeof ps === 'string') return ps.startsWith('D');
  if (ps && typeof ps === 'object') {
    const { value, flags } = ps as { value?: unknown; flags?: unknown };
    if (typeof value === 'number') return (value & 0x02) !== 0;
    if (Array.isArray(flags)) return flags.some((x) => String(x).startsWith('D'));
  }
  return false;
}

/** How long the task has run on a CPU, up to `now`, since the last event of its open op. */
function quietNs(s: TaskLift, now: number): number {
  if (s.off) return s.ranNs;
  return s.ranNs + now - Math.max(s.onNs, s.lastNs);
}

/**
 * elf_load()'s mappings of `img` at load bias `bias`: each PT_LOAD's file part (to the end of
 * the page its file data ends in) privately from the file, and past that page its bss
 * (vm_brk_flags()), if any.
 */
export function elfVmas(img: ExecImage, bias: number): Array<{ start: number; end: number; file: boolean; read: boolean; write: boolean }> {
  const down = (x: number): number => x - (x % PAGE_BYTES);
  const up = (x: number): number => down(x + PAGE_BYTES - 1);
  const out: Array<{ start: number; end: number; file: boolean; read: boolean; write: boolean }> = [];
  for (const s of img.load) {
    const start = bias + down(s.vaddr);
    const fileEnd = s.filesz > 0 ? bias + up(s.vaddr + s.filesz) : start;
    if (fileEnd > start) out.push({ start, end: fileEnd, file: true, read: s.read, write: s.write });
    const bssEnd = bias + up(s.vaddr + s.memsz);
    if (s.memsz > s.filesz && bssEnd > fileEnd) out.push({ start: fileEnd, end: bssEnd, file: false, read: s.read, write: s.write });
  }
  return out;
}

export interface LiftOptions {
  /** The exec'd files' layouts (settings.txt `exec-image:` lines), when the capture saved them. */
  execImages?: ExecImage[];
  /** Workload process id; default: the pid of `fl: begin`, else the first task that calls mmap/madvise. */
  pid?: number;
  comm?: string;
  /** The pid that announces `fl: begin` (found by a first scan): modelling starts at its marker. */
  beginPid?: number;
  /** The trace has no `fl: begin` marker: with --pid/--comm the whole trace is the window. */
  noMarkers?: boolean;
  /**
   * The capture records `filemap:mm_filemap_map_pages` and `filemap:mm_filemap_fault` (its event
   * list says so): the pages every file fault maps are inputs.
   */
  fileEvents?: boolean;
}

/** Event names Lifter.feed() reads (inputs, markers, and the kernel output it keeps). */
const LIFTED = new Set(['print', 'tlb_flush', 'rss_stat', 'mm_page_free', 'mm_vmscan_reclaim_pages', 'mm_page_alloc', 'mm_shrink_slab_start', 'page_fault_user', 'page_fault_kernel', 'sched_switch', 'mm_lru_insertion', 'mm_vmscan_memcg_reclaim_begin', 'set_migration_pte', 'set_migration_pmd', 'remove_migration_pte', 'sched_process_exit', 'mm_filemap_map_pages', 'mm_filemap_fault', 'mm_filemap_add_to_page_cache', 'mm_vmscan_lru_shrink_inactive']);
const lifted = (name: string): boolean => LIFTED.has(name) || name.startsWith('sys_');


/**
 * Events of each kind replay reads, over the whole trace (every task): what tells a trace that
 * lacks a kind of event from a workload that caused none.
 */
export interface LiftedKinds {
  /** Syscall entries and exits of any task. */
  syscalls: number;
  page_fault_user: number;
  /** Faults taken in kernel mode (on user or kernel addresses). */
  page_fault_kernel: number;
  mm_page_alloc: number;
  tlb_flush: number;
  rss_stat: number;
  mm_page_free: number;
  mm_vmscan_reclaim_pages: number;
  sched_switch: number;
  mm_lru_insertion: number;
  /** `fl:` markers and other trace_marker writes. */
  print: number;
}

/** What the recorded output of the workload's context held that is not the workload's (not compared). */
export interface NotTheWorkloads {
  /** tlb_flush `flush on task switch` (scheduler and ASID state, not a memory operation). */
  taskSwitchFlushes: number;
  /** Flushes done in a flush IPI's handler that no send of the workload explains: another mm's shootdown. */
  foreignIpiFlushes: number;
  /** Their first line, for the report. */
  firstForeignIpiLine: number;
  /**
   * Page frees in softirq context: RCU callbacks (page tables freed by tlb_remove_table_rcu()
   * once a grace period ends) that happened to run on the workload's CPU while it ran.
   */
  softirqFrees: number;
}

/** x86 tlb_flush reasons (arch/x86/include/asm/tlbflush.h, enum tlb_flush_reason). */
const TLB_REMOTE_SHOOTDOWN = 1;
const TLB_REMOTE_SEND_IPI = 4;
const TLB_REMOTE_WRONG_CPU = 5;
/**
 * The end of the user address space (x86-64 with 5-level paging: TASK_SIZE_MAX just under
 * 2^56; 4-level stops at 2^47): every user address, and the end of every user range, is below it.
 */
const USER_ADDRESS_END = 2 ** 56;
/** The largest order the buddy allocator hands out (MAX_PAGE_ORDER; 10 on x86-64 and arm64 4K). */
const MAX_PAGE_ORDER = 10;
/** Workload IPI sends remembered for the receivers (a send reaches each other CPU once). */
const SEND_LOG = 64;
const CLONE_VM = 0x100;
const PAGE_BYTES = 4096;
const PMD_BYTES = 2 * 1024 * 1024;
const CLONE_THREAD = 0x10000;
/**
 * How long a task may run on a CPU without an event of its open op, while ops wait behind it,
 * before the op is taken as complete. An op's output comes while its task runs it, and it
 * rarely goes long without an event: the longest stretch in the corpus is a THP fault that
 * reclaimed and zeroed its folio for 133 ms on a CPU between its allocation and its rss update
 * (6.12 s18-memcg-limit). A task that has run a second since the last event of its op has gone
 * back to user space (a fault has no end event: its end is only the task's next op), so no
 * output can still come for that op. Only time on a CPU counts: a task preempted in its op, or
 * asleep in it, goes on with the op when it runs again. A system call waiting for its return
 * is not timed (the return value is part of the op).
 */
const QUIET_NS = 1_000_000_000;
/**
 * Ops waiting behind an open op beyond which that op is taken as complete: memory stays bounded
 * while its task is kept off its CPU, or switched in and out without an event (a thread
 * computing in user space, preempted every few milliseconds, does not reach QUIET_NS). In the
 * corpus the head op waits that long only in the latter case (xz -T2: up to 3330 waiting), when
 * the op is long over. Were a task preempted in the middle of an op while this many ops of
 * others go by, the rest of its output would go with the op opened last (record()).
 */
const MAX_WAITING = 4096;

/**
 * Two updates of one rss counter this close on two CPUs may have read the counter out of
 * order (see Lifter.rssRace()): a read follows its own add by well under a microsecond, and
 * the trace's timestamps have microsecond resolution.
 */
const RSS_RACE_NS = 2_000;
/**
 * Two reads of one value on two CPUs, one right after the other: the second CPU's add came
 * before the first read (a zero delta is never traced), so each read saw both adds, however far
 * apart the trace events are — up to this, past which an update in between would show.
 */
const RSS_EQUAL_RACE_NS = 20_000;

/** The last rss_stat update of one counter (one mm's member). */
class RssCounter {
  /** Its value after the update (bytes), and before it. */
  size: number | undefined = undefined;
  prev: number | undefined = undefined;
  cpu = -1;
  ts = 0;
  /** The update, if it was the workload's, and the op it went to. */
  rec: Recorded | undefined = undefined;
  op: LiftedOp | undefined = undefined;
}

/** What the lifter follows of one task of the workload. */
class TaskLift {
  /** Its open op (at most one). */
  op: LiftedOp | undefined = undefined;
  /** Trace time of the last event of its open op. */
  lastNs = 0;
  /** Time it ran since then, up to its last switch out (see quietNs()). */
  ranNs = 0;
  /** When it was last switched in. */
  onNs = 0;
  /** Switched out (preempted or asleep): its open op is not timed. */
  off = false;
  /** It went to sleep with its op complete: the op ends once another op begins. */
  asleep = false;
}

export class Lifter {
  private index = 0;
  /** Per task of the workload (and the pre-window task), its open op. */
  private readonly perTask = new Map<number, TaskLift>();
  /** The op opened last, of any task (its compare flag stands for the window's state). */
  private lastOpened: LiftedOp | undefined;
  /**
   * Ops not yet handed on, in the order they are handed: from `qh` up to `qt` (the slots are
   * reused: no allocation per op), and beside each its task if it was opened by one (not a
   * side op).
   */
  private readonly queue: Array<LiftedOp | undefined> = [];
  private readonly queueTask: Array<TaskLift | undefined> = [];
  private qh = 0;
  private qt = 0;
  /** The task looked up last (most events come from the task of the event before). */
  private memoTid = -1;
  private memo: TaskLift | undefined;
  /** drop-caches and memcg-reclaim ops whose write(2) has begun (see syscall()). */
  private readonly dropWrites = new WeakSet<LiftedOp>();
  /** The task whose open op is the head of the queue (every other op waits for it). */
  private blocker: TaskLift | undefined;
  /** Tasks `asleep`, whose ops end at the next op of any task. */
  private asleepCount = 0;
  /** Tasks of the workload: tid → tgid. */
  readonly tasks = new Map<number, number>();
  private started = false;
  private inWindow = false;
  private inCounters = false;
  private phase = '';
  /** Per task, the op its pending syscall entry opened (null: an input syscall that opens none). */
  private pendingEnter = new Map<number, LiftedOp | null>();
  /** Last rss_stat update per mm_id and member, for deltas. */
  private rssLast = new Map<number, RssCounter>();
  /** Head pfn → order of every allocation made for the workload (its folios and page tables). */
  private pfnHeads = new PfnOrderTable();
  readonly notes: string[] = [];
  /** Memcg reclaim a fault ran for the charge of a page table not yet allocated (its event follows). */
  private memcgReclaimNext: { op: Op; n: number } | undefined;
  releaseMarker: string | undefined;
  /** Set by the first `fl: begin`: scenario and variant. */
  scenario: { id: string; variant: string } | undefined;
  readonly kinds: LiftedKinds = { syscalls: 0, page_fault_user: 0, page_fault_kernel: 0, mm_page_alloc: 0, tlb_flush: 0, rss_stat: 0, mm_page_free: 0, mm_vmscan_reclaim_pages: 0, sched_switch: 0, mm_lru_insertion: 0, print: 0 };
  readonly notOurs: NotTheWorkloads = { taskSwitchFlushes: 0, foreignIpiFlushes: 0, firstForeignIpiLine: 0, softirqFrees: 0 };
  /** Events of the workload's tasks that were lifted or kept (0: the selection matched nothing). */
  workloadEvents = 0;
  /**
   * What the workload's events broke of the trace's own protocol (an allocation of an impossible
   * order, a syscall entry without its exit, a malformed marker, …): by kind, with a count and
   * the first line. Each makes the replay partial; none is applied as if it were sound.
   */
  readonly breaches = new Map<BreachKind, { count: number; line: number }>();
  /** Workload flush-IPI sends: the sending CPUs (a ring of SEND_LOG), their count, and per receiving CPU the count it has answered. */
  private readonly sendCpus = new Int32Array(SEND_LOG);
  /** The sending thread group of each send in the ring. */
  private readonly sendTgids = new Int32Array(SEND_LOG);
  /** The op that sent each send in the ring: the flushes its IPI makes other CPUs do are its output. */
  private readonly sendOps: Array<LiftedOp | undefined> = new Array<LiftedOp | undefined>(SEND_LOG).fill(undefined);
  /** The CPUs that have answered each send in the ring. */
  private readonly sendAnswers: Array<Set<number>> = Array.from({ length: SEND_LOG }, () => new Set<number>());
  private sends = 0;
  private readonly answered: number[] = [];
  /** Tasks that have had a syscall exit (an exit before any entry is then a breach). */
  private readonly exitsSeen = new Set<number>();
  private readonly lastFault = { ts: -1, addr: -1, pid: -1, cpu: -1 };
  /** Remote flushes recorded without latency flags (their context unknown). */
  private unknownContext = 0;
  /** Per CPU, the thread group whose mm the CPU last loaded (until another process's task runs there). */
  private readonly cpuHolds: Array<number | undefined> = [];

  constructor(
    private readonly opts: LiftOptions,
    private readonly sink: (op: LiftedOp) => void,
  ) {
    if (opts.pid !== undefined) {
      this.tasks.set(opts.pid, opts.pid);
      this.started = true;
      if (opts.noMarkers) this.inWindow = true;
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

  /** Every page of [pfn, pfn + 2^order) was free: no allocation the workload held covers any of it now. */
  private forgetRange(pfn: number, order: number): void {
    const end = pfn + 2 ** order;
    // Entries inside the range, any order; then one containing it (released() splits it).
    for (let p = pfn; p < end; p++) {
      const o = this.pfnHeads.get(p);
      if (o !== undefined) {
        this.pfnHeads.delete(p);
        p += 2 ** o - 1;
      }
    }
    if (this.isOurPfn(pfn)) this.released(pfn, order);
  }

  private released(pfn: number, order: number): void {
    if (this.pfnHeads.get(pfn) === order) {
      this.pfnHeads.delete(pfn);
      return;
    }
    // A page of a larger allocation freed on its own: the folio was split, and its other
    // pages are still the workload's, each its own folio now.
    for (let o = order + 1; o <= MAX_PAGE_ORDER; o++) {
      const head = pfn - (pfn % 2 ** o);
      if (this.pfnHeads.get(head) !== o) continue;
      this.pfnHeads.delete(head);
      for (let p = head; p < head + 2 ** o; p += 2 ** order) if (p !== pfn) this.pfnHeads.set(p, order);
      return;
    }
  }


  private preMmId: number | undefined;
  /**
   * The CPUs the workload's task ran on before the window, since its exec: each had its mm
   * loaded, and from 6.14 stays in mm_cpumask after switching away until a trim (handed on with
   * the `prewindow` op).
   */
  private preCpus = new Set<number>();
  /**
   * The CPUs of preCpus the task last left for the idle task or a kernel thread (its last
   * recorded switch there): each still holds the mm lazily, as far as a capture of the workload
   * shows (handed on with the `prewindow` op).
   */
  private preLazy = new Set<number>();

  /**
   * Before the window, the workload's own faults are counted (not applied) for its per-task
   * rss cache, and its exec — the rss_stat of the old mm going away — resets that count.
   */
  private preWindow(e: TraceEvent): void {
    const pid = e.pid;
    if (e.name === 'page_fault_user' || (e.name === 'page_fault_kernel' && Number(e.fields.address) < USER_ADDRESS_END)) {
      this.open(e, pid, { kind: 'fault-count', allocs: [] });
    } else if (e.name === 'mm_page_alloc') {
      this.attachAlloc(e);
    } else if (e.name === 'rss_stat') {
      const id = Number(e.fields.mm_id);
      const curr = Number(e.fields.curr);
      if (curr === 1) {
        if (this.preMmId !== undefined && id !== this.preMmId) this.execBeforeWindow(e, pid);
        this.preMmId = id;
      } else if (id === this.preMmId) {
        this.execBeforeWindow(e, pid);
        this.preMmId = undefined;
      }
    }
  }

  /**
   * A switch before the window on a CPU the workload's task ran on: leaving for the idle task or
   * a kernel thread keeps its mm there lazily (enter_lazy_tlb()); leaving for another process,
   * or another process following the idle task there (a capture of every task shows it), loads
   * that process's mm; the task coming back loads its own.
   */
  private preWindowSwitch(e: TraceEvent, pid: number): void {
    const f = e.fields;
    const prev = Number(f.prev_pid);
    const next = Number(f.next_pid);
    const toKernel = next === 0 || isKernelThread(String(f.next_comm ?? ''));
    if (next === pid) this.preLazy.delete(e.cpu);
    else if (prev === pid && toKernel) this.preLazy.add(e.cpu);
    else if (!toKernel) this.preLazy.delete(e.cpu);
  }

  /** An exec before the window: a new mm, loaded only on the CPU the task runs on. */
  private execBeforeWindow(e: TraceEvent, pid: number): void {
    this.open(e, pid, { kind: 'exec' });
    this.preCpus = new Set([e.cpu]);
    this.preLazy.clear();
  }

  /**
   * Reclaim a charge ran over memory.max (try_charge_memcg() → try_to_free_mem_cgroup_pages()):
   * an input, like the allocation it belongs to. In a fault, the folio just allocated is the one
   * being charged. In any other op of the workload (a write(2) whose socket buffer is charged,
   * an mmap's vma) the charge is the op's own, of memory the model does not hold: the op runs
   * that reclaim (Op `chargeReclaim`). A memcg-reclaim op (memory.reclaim, force_empty)
   * brackets its own.
   */
  private memcgReclaimBegin(e: TraceEvent): void {
    const cur = this.openOf(e);
    if (!cur || cur.op.kind === 'memcg-reclaim') return;
    if (cur.op.kind !== 'fault') {
      if (CHARGE_RECLAIM_OPS.has(cur.op.kind)) cur.op.chargeReclaim = (cur.op.chargeReclaim ?? 0) + 1;
      else this.notes.push(`memcg reclaim at line ${e.line} ran in a ${cur.op.kind} op, which the model does not apply: not modelled`);
      return;
    }
    // A data folio is charged after its mm_page_alloc (mem_cgroup_charge()); a page table is
    // charged inside the allocator, before its event (__memcg_kmem_charge_page()). Before the
    // fault's data folio, the reclaim is the charge of the page table that comes next.
    // Model deviation: after a PMD THP's allocation it is taken as the THP's charge, though
    // the deposited table's (allocated next) could have run it too; the tracepoint does not
    // say which charge it serves.
    const allocs = cur.op.allocs;
    const a = allocs && allocs.some((x) => x.use === 'user') ? allocs[allocs.length - 1] : undefined;
    if (a) a.memcgReclaim = (a.memcgReclaim ?? 0) + 1;
    else this.memcgReclaimNext = { op: cur.op, n: (this.memcgReclaimNext?.op === cur.op ? this.memcgReclaimNext.n : 0) + 1 };
  }

  /** The open op of the event's task (its last event is then this one), or undefined. */
  private openOf(e: TraceEvent): LiftedOp | undefined {
    const s = this.taskOf(e.pid);
    if (s === undefined || s.op === undefined) return undefined;
    s.lastNs = e.tsNs;
    s.ranNs = 0;
    return s.op;
  }

  /** Attaches a fault's (or mremap's) allocation to its op; false when the allocation is not one the model holds. */
  private attachAlloc(e: TraceEvent): boolean {
    const cur = this.openOf(e);
    if (cur && cur.op.kind === 'syscall' && cur.op.name === 'execve') return this.execArgPage(e, cur);
    if (!cur || (cur.op.kind !== 'fault' && cur.op.kind !== 'fault-count' && cur.op.kind !== 'mremap')) return false;
    const f = e.fields;
    const pfn = Number(f.pfn);
    const order = Number(f.order);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order) || !Number.isSafeInteger(pfn) || pfn < 0 || pfn % (1 << order) !== 0) {
      // No buddy allocation has this order or an unaligned head: the event is damaged.
      this.breach('bad_alloc', e.line);
      return true;
    }
    const gfp = f.gfp_flags as { flags?: string[] } | undefined;
    const names = gfp?.flags ?? [];
    // A fault's folio is allocated as user memory: GFP_HIGHUSER_MOVABLE (zeroed, or a COW copy)
    // or GFP_TRANSHUGE*. What the task allocates after the fault in calls that are not lifted —
    // a buffered write()'s page cache (__GFP_WRITE, or a filesystem's GFP_NOFS mask), readahead
    // (__GFP_NORETRY) — is not the fault's, nor the workload's memory: its free, at truncation
    // or reclaim, is the page cache's.
    const huge = names.some((n) => n.startsWith('GFP_TRANSHUGE'));
    if (names.some((n) => n === '__GFP_WRITE' || n === 'GFP_NOFS' || n === 'GFP_NOIO') || (!huge && names.includes('__GFP_NORETRY'))) return false;
    const user = huge || names.includes('GFP_HIGHUSER_MOVABLE') || (names.length === 0 && f.migratetype === 1);
    // Page tables (GFP_PGTABLE_USER) and the huge zero folio are allocated zeroed: another
    // kernel allocation in the task (slab, a pipe or socket buffer) is not the fault's.
    if (!user && names.length > 0 && !names.includes('__GFP_ZERO')) return false;
    const a: AllocFact = { pfn, order, use: user ? 'user' : 'pgtable' };
    if (user && (huge || names.includes('__GFP_ZERO'))) a.anonFault = true;
    else if (user && order === 0 && names.includes('GFP_HIGHUSER_MOVABLE')) a.copy = true;
    if (this.memcgReclaimNext?.op === cur.op) {
      a.memcgReclaim = this.memcgReclaimNext.n;
      this.memcgReclaimNext = undefined;
    }
    (cur.op.allocs ??= []).push(a);
    if (cur.op.kind === 'fault' || cur.op.kind === 'mremap') this.pfnHeads.set(pfn, order);
    return true;
  }

  /**
   * `mm_filemap_map_pages` / `mm_filemap_fault` / `mm_filemap_add_to_page_cache` in a fault of
   * the same task: which file pages the fault's fault-around (filemap_map_pages()) walked, which
   * page filemap_fault() got, and which pages its readahead added to the page cache. Inputs of
   * that fault; in any other op (a read() of the file) they are not the workload's mapping.
   */
  private fileFaultEvent(e: TraceEvent, name: string): void {
    const cur = this.openOf(e);
    if (!cur || cur.op.kind !== 'fault') return;
    const f = e.fields;
    const mapPages = name === 'mm_filemap_map_pages';
    const added = name === 'mm_filemap_add_to_page_cache';
    // dev=%d:%d ino=%lx ofs=…: the decoder names the unnamed print arguments by position.
    const file = `${f.dev ?? f.arg0}:${f.arg1 ?? ''}:${f.i_ino}`;
    const ofs = Number(f.ofs);
    const end = mapPages ? Number(f.arg4) : added ? ofs + PAGE_BYTES * 2 ** Number(f.order) - 1 : NaN;
    if (!Number.isSafeInteger(ofs) || ofs < 0 || ofs % PAGE_BYTES !== 0 || (!Number.isNaN(end) && !(Number.isSafeInteger(end) && (end + 1) % PAGE_BYTES === 0 && end > ofs))) {
      this.breach('bad_file_event', e.line);
      return;
    }
    const ev: FileFaultEvent = { file, first: ofs / PAGE_BYTES };
    if (!Number.isNaN(end)) ev.last = (end + 1) / PAGE_BYTES - 1;
    if (added) ev.added = true;
    (cur.op.file ??= []).push(ev);
  }

  /** Images of the capture's `exec-image:` lines already placed (each exec places its own). */
  private placedImages = new Set<ExecImage>();

  /**
   * elf_load()'s padzero(): the kernel's write to the last file page of a segment with a bss,
   * at load bias + p_vaddr + p_filesz. The first image (the program, then its interpreter)
   * with such a segment at a page-aligned bias from this address is the one being loaded: its
   * mappings are handed on before the fault.
   */
  private elfLoad(e: TraceEvent, tgid: number, addr: number): void {
    for (const img of this.opts.execImages!) {
      if (this.placedImages.has(img)) continue;
      for (const s of img.load) {
        if (s.memsz <= s.filesz || s.filesz === 0) continue;
        const bias = addr - (s.vaddr + s.filesz);
        if (bias % PAGE_BYTES !== 0 || bias < 0 || (img.type === 'exec' && bias !== 0)) continue;
        this.placedImages.add(img);
        this.side(e, tgid, { kind: 'exec-image', vmas: elfVmas(img, bias), ...(this.opts.fileEvents ? { fileEvents: true } : {}) }, e.pid);
        return;
      }
    }
  }

  /**
   * A zeroed order-0 user page allocated inside execve() itself (not in a fault of its own):
   * copy_strings() → get_arg_page() → get_user_pages_remote() faulting in an argument page of
   * the new mm's stack. Handed on after the execve op, which builds the new mm.
   */
  private execArgPage(e: TraceEvent, cur: LiftedOp): boolean {
    const f = e.fields;
    const names = (f.gfp_flags as { flags?: string[] } | undefined)?.flags ?? [];
    const pfn = Number(f.pfn);
    if (Number(f.order) !== 0 || !Number.isSafeInteger(pfn) || !names.includes('GFP_HIGHUSER_MOVABLE') || !names.includes('__GFP_ZERO')) return false;
    this.side(e, cur.op.tgid, { kind: 'exec-arg-page', pfn }, cur.op.tid);
    this.pfnHeads.set(pfn, 0);
    return true;
  }

  feed(e: TraceEvent): void {
    const name = e.name;
    this.count(e, name);
    if (name === 'print' && this.wide === undefined) this.headerNote(e);
    if (!this.started) {
      if (this.opts.beginPid !== undefined && e.pid === this.opts.beginPid) this.preCpus.add(e.cpu);
      if (name === 'sched_switch' && this.opts.beginPid !== undefined) this.preWindowSwitch(e, this.opts.beginPid);
      if (this.opts.beginPid !== undefined && e.pid === this.opts.beginPid && name !== 'print') {
        this.preWindow(e);
        return;
      }
      if (!this.tryStart(e)) return;
    }
    const tgid = this.tasks.get(e.pid);
    if (name === 'sched_process_exit') {
      // do_exit() began: whatever op the task was in is over (a thread killed by a sibling's
      // exit_group() leaves its fault or its user code). What it does next (the last thread
      // tears the mm down) is the output of the exit op under way.
      const s = this.taskOf(e.pid);
      if (s !== undefined && s.op !== undefined && s.op.op.kind !== 'exit') this.close(s);
      return;
    }
    if (tgid !== undefined) this.workloadEvents++;
    // An op waits behind the head of the queue, whose task has been on a CPU with nothing of
    // its op for QUIET_NS: that op is complete (see QUIET_NS).
    const b = this.blocker;
    if (b !== undefined && this.qt - this.qh > 1 && quietNs(b, e.tsNs) > QUIET_NS && !this.awaitsReturn(b)) this.close(b);
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
      if (!this.attachAlloc(e)) {
        // Allocated for something the model does not hold (an mmu_gather batch page, slab, a
        // buffer): the page was free, so whatever the workload held there before — a page table
        // whose RCU free was not recorded — is gone, and its coming free is not the workload's.
        const pfn = Number(e.fields.pfn);
        const order = Number(e.fields.order);
        if (Number.isSafeInteger(pfn) && order >= 0 && order <= MAX_PAGE_ORDER) this.forgetRange(pfn, order);
      }
      return;
    }
    if (name === 'mm_shrink_slab_start') {
      // The deferred-split shrinker called by the workload's reclaim (memcg reclaim, a charge's
      // reclaim): its scan budget is an input (see Op `shrinks`).
      if (tgid === undefined) return;
      const f = e.fields;
      if (typeof f.shrink !== 'string' || !f.shrink.startsWith('deferred_split_scan')) return;
      const cur = this.openOf(e);
      const priority = Number(f.priority);
      const totalScan = Number(f.total_scan);
      if (cur && Number.isSafeInteger(priority) && Number.isSafeInteger(totalScan)) (cur.op.shrinks ??= []).push({ priority, totalScan });
      return;
    }
    if (name === 'mm_vmscan_lru_shrink_inactive') {
      // A reclaim pass in the workload's context: what its reference checks found (see Op
      // `inactivePasses`).
      if (tgid === undefined) return;
      const cur = this.openOf(e);
      const scanned = Number(e.fields.nr_scanned);
      const refKeep = Number(e.fields.nr_ref_keep);
      if (cur && Number.isSafeInteger(scanned) && Number.isSafeInteger(refKeep)) (cur.op.inactivePasses ??= []).push({ scanned, refKeep });
      return;
    }
    if (name === 'mm_vmscan_memcg_reclaim_begin') {
      if (tgid !== undefined) this.memcgReclaimBegin(e);
      return;
    }
    if (name === 'page_fault_user' || name === 'page_fault_kernel') {
      if (tgid === undefined) return;
      const f = e.fields;
      const code = Number(f.error_code);
      const addr = Number(f.address);
      // A fault the kernel takes on user memory (copy_to_user() into a buffer not yet touched)
      // is handled like the task's own: handle_mm_fault() on its mm. Faults on kernel addresses
      // (vmalloc, kernel data) are not the workload's memory.
      if (name === 'page_fault_kernel' && !(addr < USER_ADDRESS_END)) return;
      if (!Number.isSafeInteger(addr) || addr < 0 || addr >= USER_ADDRESS_END) {
        this.breach('bad_address', e.line);
        return;
      }
      // The same fault twice at the same instant: a duplicated line (a retried fault is a
      // second event at a later time).
      if (e.tsNs === this.lastFault.ts && addr === this.lastFault.addr && e.pid === this.lastFault.pid && e.cpu === this.lastFault.cpu) {
        this.breach('duplicate_event', e.line);
        return;
      }
      this.lastFault.ts = e.tsNs; this.lastFault.addr = addr; this.lastFault.pid = e.pid; this.lastFault.cpu = e.cpu;
      if (name === 'page_fault_kernel' && this.opts.execImages && String(f.ip).startsWith('elf_load')) this.elfLoad(e, tgid, addr);
      // x86 error code: bit 0 (X86_PF_PROT) set means a protection fault on a present entry.
      const lo = this.open(e, tgid, { kind: 'fault', addr, write: (code & 2) !== 0, present: Number.isInteger(code) ? (code & 1) !== 0 : undefined, allocs: [] });
      this.faultRaces(lo, e.pid, addr);
      return;
    }
    if (name === 'mm_lru_insertion') {
      this.lruInsertion(e, tgid);
      return;
    }
    if (name === 'mm_filemap_map_pages' || name === 'mm_filemap_fault' || name === 'mm_filemap_add_to_page_cache') {
      if (tgid !== undefined) this.fileFaultEvent(e, name);
      return;
    }
    if (name === 'set_migration_pte' || name === 'set_migration_pmd' || name === 'remove_migration_pte') {
      this.migration(e, name);
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
      const toKernel = next === 0 || isKernelThread(String(f.next_comm ?? ''));
      if (pt !== undefined) this.switchedOut(prev, f.prev_state, e.tsNs);
      // A switch placed inside a sibling's system call (Op siblingSwitchesAt) has its effect
      // there: its own op stays after that call (`placed`), and raced no IPI of it.
      const placedOut = pt !== undefined && this.siblingSwitch(e.cpu, prev, { on: false, idle: toKernel, ours: nt !== undefined });
      if (pt !== undefined) {
        const cur = this.lastOpened;
        const overlaps = !placedOut && cur !== undefined && this.isOpen(cur) && cur.op.tid !== prev && cur.op.cpu !== e.cpu && this.tasks.get(cur.op.tid) === pt;
        this.side(e, pt, { kind: 'run', on: false, idle: toKernel, ours: nt !== undefined, ...(overlaps ? { overlaps } : {}), ...(placedOut ? { placed: true } : {}) }, prev);
      }
      if (nt !== undefined) {
        const placedIn = this.siblingSwitch(e.cpu, next, { on: true });
        const s = this.taskOf(next);
        if (s !== undefined) { s.off = false; s.onNs = e.tsNs; }
        this.side(e, nt, { kind: 'run', on: true, ...(placedIn ? { placed: true } : {}) }, next);
        this.cpuHolds[e.cpu] = nt;
      } else if (!toKernel) {
        // Another process's task loads its own mm: a CPU that held the workload's lazily (its
        // task had left for the idle task or a kernel thread) lets it go.
        const held = this.cpuHolds[e.cpu];
        if (pt === undefined && held !== undefined) this.side(e, held, { kind: 'switch-other' }, held);
        this.cpuHolds[e.cpu] = undefined;
      }
      return;
    }
    if (e.syscall !== 0 && tgid !== undefined) this.syscall(e, tgid);
  }

  /**
   * `set_migration_pte`/`set_migration_pmd` and `remove_migration_pte` in the op under way of the
   * same task: the entries a folio split unmapped and those it restored to their own page. A
   * split (6.12+) maps a zero-filled page to the shared zero page instead and frees it; page
   * contents (user stores) are in no event, and the restore that did not happen is where the
   * trace shows them.
   */
  private migration(e: TraceEvent, name: string): void {
    const cur = this.openOf(e);
    if (!cur) return;
    const addr = Number(e.fields.addr);
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= USER_ADDRESS_END) return;
    const page = addr - (addr % PAGE_BYTES);
    if (name === 'remove_migration_pte') (cur.op.restored ??= []).push(page);
    else if (name === 'set_migration_pte') (cur.op.migrated ??= []).push(page);
    else {
      const m = (cur.op.migrated ??= []);
      const base = addr - (addr % PMD_BYTES);
      for (let a = base; a < base + PMD_BYTES; a += PAGE_BYTES) m.push(a);
    }
  }

  /** The trace records lru_add batch moves (the first `mm_lru_insertion` was handed on). */
  private lruSeen = false;

  /**
   * `mm_lru_insertion`: a folio left a per-CPU lru_add batch for the LRU. For the workload's
   * folios it is an input — the batch is shared by every task on the CPU, so when it fills is
   * not knowable from the workload — attached to the op of the task it happened in, or, in
   * another task's context (the batch filled by that task, lru_add_drain_all()'s work), as an
   * op of its own, applied after the ops opened before it (ops keep their lifted order). The first one
   * of the trace tells the model the moves are recorded.
   */
  private lruInsertion(e: TraceEvent, tgid: number | undefined): void {
    if (!this.lruSeen) {
      const main = this.mainPid;
      if (main === undefined) return;
      this.lruSeen = true;
      this.side(e, this.tasks.get(main) ?? main, { kind: 'lru-drain', pfns: [] }, main);
    }
    const pfn = Number(e.fields.pfn);
    if (!Number.isSafeInteger(pfn) || !this.isOurPfn(pfn)) return;
    const main = this.mainPid;
    if (main === undefined) return;
    const cur = tgid !== undefined ? this.openOf(e) : undefined;
    if (cur) {
      if (cur.op.lruAdded === undefined) cur.op.lruAddedAt = (cur.op as { allocs?: unknown[] }).allocs?.length ?? 0;
      (cur.op.lruAdded ??= []).push(pfn);
      (cur.op.lruAddedPos ??= []).push(outputMarks(cur));
      return;
    }
    // Another task on a CPU where a workload task was switched out in the middle of its op (a
    // preempted zap): that drain falls inside the op.
    const midway = tgid === undefined ? this.preemptedOn(e.cpu) : undefined;
    if (midway) {
      (midway.op.lruDrainedMidway ??= []).push(pfn);
      return;
    }
    this.side(e, this.tasks.get(main) ?? main, { kind: 'lru-drain', pfns: [pfn] }, main);
  }

  /**
   * A task of the workload switched in or out on `cpu` while another thread of its process is in
   * the middle of a system call on another CPU (a reclaim, a zap): the mm's state on `cpu`
   * changes at that point of the call, which the model places by the call's recorded events so
   * far (Op.siblingSwitchesAt).
   */
  private siblingSwitch(cpu: number, tid: number, sw: Omit<SiblingSwitch, 'cpu' | 'at' | 'tid'>): boolean {
    const tgid = this.tasks.get(tid);
    let placed = false;
    for (const s of this.perTask.values()) {
      const lo = s.op;
      if (lo === undefined || s.asleep || lo.op.tid === tid || lo.op.tgid !== tgid || lo.op.cpu === cpu || !this.awaitsReturn(s)) continue;
      (lo.op.siblingSwitchesAt ??= []).push({ cpu, at: ownEvents(lo), tid, ...sw });
      placed = true;
    }
    return placed;
  }

  /**
   * A fault of task `tid` on the page of `addr` while another workload task, switched out
   * runnable, still has a fault on that page open (preempted in it): both are marked (Op fault
   * `racedWith`), the earlier one still unhanded since its op is open.
   */
  private faultRaces(lo: LiftedOp, tid: number, addr: number): void {
    const page = Math.floor(addr / 4096);
    for (const s of this.perTask.values()) {
      const other = s.op;
      if (other === undefined || other === lo || other.op.kind !== 'fault' || other.op.tid === tid || !s.off || s.asleep) continue;
      if (Math.floor(other.op.addr / 4096) !== page) continue;
      if (other.op.racedWith === undefined) {
        other.op.racedWith = lo.op.at.line;
        other.op.racedTgid = lo.op.tgid;
      }
      if (lo.op.kind === 'fault' && lo.op.racedWith === undefined) {
        lo.op.racedWith = other.op.at.line;
        lo.op.racedTgid = other.op.tgid;
      }
    }
  }

  /**
   * The open op of a workload task switched out while still runnable on `cpu` in the middle of a
   * system call that has not returned (a preempted munmap/madvise/mremap zap), if any.
   */
  private preemptedOn(cpu: number): LiftedOp | undefined {
    for (const s of this.perTask.values()) {
      const lo = s.op;
      if (lo === undefined || !s.off || s.asleep || lo.op.cpu !== cpu || !lo.preempted || !this.awaitsReturn(s)) continue;
      return lo;
    }
    return undefined;
  }

  private count(e: TraceEvent, name: string): void {
    const k = this.kinds;
    if (e.syscall !== 0) { k.syscalls++; return; }
    switch (name) {
      case 'page_fault_user': k.page_fault_user++; break;
      case 'page_fault_kernel': k.page_fault_kernel++; break;
      case 'mm_page_alloc': k.mm_page_alloc++; break;
      case 'tlb_flush': k.tlb_flush++; break;
      case 'rss_stat': k.rss_stat++; break;
      case 'mm_page_free': k.mm_page_free++; break;
      case 'mm_vmscan_reclaim_pages': k.mm_vmscan_reclaim_pages++; break;
      case 'sched_switch': k.sched_switch++; break;
      case 'mm_lru_insertion': k.mm_lru_insertion++; break;
      case 'print': k.print++; break;
      default: break;
    }
  }

  private tryStart(e: TraceEvent): boolean {
    if (this.opts.comm !== undefined) {
      if (e.comm !== this.opts.comm) return false;
      this.tasks.set(e.pid, e.pid);
      this.started = true;
      if (this.opts.noMarkers) this.inWindow = true;
      return true;
    }
    if (e.name === 'print') {
      const m = parseMarker(String(e.fields.buf ?? ''));
      if (m && m.verb === 'begin' && markerProblem(m)) { this.breach('bad_marker', e.line); return false; }
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
    let s = this.taskOf(tid);
    if (s === undefined) {
      s = new TaskLift();
      this.perTask.set(tid, s);
    }
    // The task's previous op is complete; so are those of tasks that went to sleep after theirs.
    if (s.op !== undefined) this.close(s);
    if (this.asleepCount > 0) {
      for (const t of this.perTask.values()) if (t.asleep) this.close(t);
    }
    if (!this.wideSent && this.wide !== undefined && this.wide.length > 0) {
      this.wideSent = true;
      const main = this.mainPid ?? tgid;
      this.side(e, main, { kind: 'capture', wide: this.wide }, main);
    }
    if (this.inWindow && !this.preWindowSent) {
      // The workload ran before the window: its mm already held memory no event showed mapped.
      this.preWindowSent = true;
      const main = this.mainPid ?? tgid;
      const lazy = [...this.preLazy].filter((c) => this.preCpus.has(c)).sort((a, b) => a - b);
      this.side(e, main, { kind: 'prewindow', missing: PRE_WINDOW_MISSING, cpus: [...this.preCpus].sort((a, b) => a - b), ...(lazy.length > 0 ? { lazy } : {}) }, main);
    }
    // An op that acts on memory before the snapshot is complete: the snapshot would describe
    // the address space after it, not at the window's opening.
    if (this.inWindow && !this.snapDone && this.snapOpenedAfter === 0 && !SNAP_NEUTRAL.has(body.kind as string)) this.snapOpenedAfter = e.line;
    const op = this.stamp(e, tgid, body, tid);
    const lo: LiftedOp = { op, recorded: [], compare: this.inWindow && !this.inCounters, phase: this.phase, failed: false };
    s.op = lo;
    s.lastNs = e.tsNs;
    s.ranNs = 0;
    this.lastOpened = lo;
    this.push(lo, s);
    return lo;
  }

  private taskOf(tid: number): TaskLift | undefined {
    if (tid === this.memoTid) return this.memo;
    const s = this.perTask.get(tid);
    if (s !== undefined) {
      this.memoTid = tid;
      this.memo = s;
    }
    return s;
  }

  /** Whether `lo` is the open op of its task (output of that task can still come for it). */
  private isOpen(lo: LiftedOp): boolean {
    return this.taskOf(lo.op.tid)?.op === lo;
  }

  /** The task's system call is still to return (its return value belongs to the op). */
  private awaitsReturn(s: TaskLift): boolean {
    const lo = s.op;
    return lo !== undefined && this.pendingEnter.get(lo.op.tid) === lo;
  }

  /**
   * A workload task switched out. Still runnable: preempted in the middle of its op (see
   * LiftedOp.preempted), which stays open for the task's later events. Exited: its op is over,
   * except an exit, which ends once another op begins (see below). Asleep: the op goes on if
   * the task sleeps inside it — a system call not yet returned, an exit tearing its mm down, a
   * fault waiting uninterruptibly (a page lock, I/O, reclaim) — and is otherwise complete,
   * ended once another op begins (the task slept in a call the trace does not follow, a futex
   * wait, or in one outside the model).
   */
  private switchedOut(tid: number, state: unknown, ns: number): void {
    const s = this.taskOf(tid);
    if (s === undefined) return;
    s.ranNs = quietNs(s, ns);
    s.off = true;
    const lo = s.op;
    if (lo === undefined) return;
    if (stillRunnable(state)) {
      lo.preempted = true;
      return;
    }
    const k = lo.op.kind;
    // An exit's output may go on after its task is gone: the last thread of the group to exit
    // tears the mm down (exit_mm() → mmput()), in its own context, with no op of its own.
    if (exited(state) && k !== 'exit') {
      this.close(s);
      return;
    }
    if (s.asleep) return;
    const pending = this.pendingEnter.get(tid) === lo;
    if ((pending && k !== 'syscall') || (k === 'exit' && !exited(state)) || (uninterruptible(state) && (pending || k === 'fault' || k === 'fault-count'))) return;
    s.asleep = true;
    this.asleepCount++;
  }

  /** The task's open op is complete. */
  private close(s: TaskLift): void {
    const lo = s.op;
    if (lo === undefined) return;
    s.op = undefined;
    if (s.asleep) {
      s.asleep = false;
      this.asleepCount--;
    }
    if (lo.preempted) lo.recorded = mergeRssUpdates(lo.recorded);
    if (this.queue[this.qh] === lo) this.drain();
  }

  /**
   * Queue an op behind those not yet handed on: the open op of `task`, or a complete side op
   * (handed on at once if none waits).
   */
  private push(lo: LiftedOp, task: TaskLift | undefined): void {
    if (this.qh === this.qt) {
      if (task === undefined) {
        this.sink(lo);
        return;
      }
      this.blocker = task;
    }
    this.queue[this.qt] = lo;
    this.queueTask[this.qt++] = task;
    // A task kept off its CPU in the middle of an op holds every op after it (see MAX_WAITING).
    if (this.qt - this.qh > MAX_WAITING && this.blocker !== undefined) this.close(this.blocker);
  }

  /** Hand on the ops at the head of the queue that are complete (up to the first open one). */
  private drain(): void {
    const q = this.queue;
    const qtask = this.queueTask;
    const t = this.qt;
    let h = this.qh;
    let blocker: TaskLift | undefined;
    while (h < t) {
      const lo = q[h]!;
      const s = qtask[h];
      if (s !== undefined && s.op === lo) {
        blocker = s;
        break;
      }
      q[h] = undefined;
      qtask[h] = undefined;
      h++;
      this.sink(lo);
    }
    this.blocker = blocker;
    if (h === t) {
      this.qh = this.qt = 0;
    } else if (h >= 1024) {
      q.copyWithin(0, h, t);
      qtask.copyWithin(0, h, t);
      q.fill(undefined, t - h, t);
      qtask.fill(undefined, t - h, t);
      this.qh = 0;
      this.qt = t - h;
    } else this.qh = h;
  }

  /**
   * An op of its own (a task switch, an lru_add drain, the pre-window memory): applied after
   * every op opened before it, even one still open — the model applies an op whole — except a
   * switch on another CPU in the first half of a system call (see syscallReturned()).
   */
  private side(e: TraceEvent, tgid: number, body: Record<string, unknown>, tid: number): void {
    this.push({ op: this.stamp(e, tgid, body, tid), recorded: [], compare: false, phase: this.phase, failed: false }, undefined);
  }

  /** The workload's `prewindow` op was handed on (at the window's first op). */
  private preWindowSent = false;

  /**
   * What `record`'s header marker (`fl: note release=… wide=EVENTS`, written by the recorder
   * before the command starts) says the capture records for every task: handed on as a
   * `capture` op before the first op.
   */
  private wide: string[] | undefined;
  private wideSent = false;

  private headerNote(e: TraceEvent): void {
    const buf = String(e.fields.buf ?? '');
    if (!buf.startsWith('fl: note release=')) return;
    const m = / wide=(\S+)/.exec(buf);
    this.wide = m ? m[1]!.split(',').filter(Boolean) : [];
  }

  /**
   * The open op `cur`'s system call returned at `endNs`. Its flushes are taken to happen at the
   * middle of the call: a switch on another CPU before that (the other thread went idle, or
   * woke) that came right after the op opened is applied before the op, a later one after it;
   * the op's own task being preempted or sleeping in the call is applied after it.
   * Model deviation: when in the call a flush reaches another CPU is not an input; a switch
   * close to it may fall on the wrong side.
   */
  private syscallReturned(cur: LiftedOp, endNs: number): void {
    const startNs = cur.op.at.tsNs;
    const q = this.queue;
    const qtask = this.queueTask;
    const t = this.qt;
    if (q[t - 1] === cur || startNs === undefined) return;
    let p = t - 2;
    while (p >= this.qh && q[p] !== cur) p--;
    if (p < this.qh) return;
    const mid = startNs + (endNs - startNs) / 2;
    let j = p + 1;
    for (; j < t; j++) {
      const lo = q[j]!;
      if (lo.op.cpu === cur.op.cpu || (lo.op.at.tsNs ?? mid) >= mid || (lo.op.kind !== 'run' && lo.op.kind !== 'switch-other') || (lo.op.kind === 'run' && lo.op.placed)) break;
    }
    if (j === p + 1) return;
    // The switches (side ops) move before the op.
    const task = qtask[p];
    for (let k = p; k < j - 1; k++) {
      q[k] = q[k + 1];
      qtask[k] = qtask[k + 1];
    }
    q[j - 1] = cur;
    qtask[j - 1] = task;
    if (p === this.qh) this.drain();
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

  /** Hand every op on: each task's open op is taken as complete. */
  flush(): void {
    for (const s of this.perTask.values()) {
      if (s.op === undefined) continue;
      if (s.asleep) {
        s.asleep = false;
        this.asleepCount--;
      }
      if (s.op.preempted) s.op.recorded = mergeRssUpdates(s.op.recorded);
      s.op = undefined;
    }
    this.drain();
  }

  private marker(e: TraceEvent, tgid: number, m: Marker): void {
    const bad = markerProblem(m);
    if (bad) { this.breach('bad_marker', e.line); return; }
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
        const addr = Number(m.kv.addr);
        const len = Number(m.kv.len ?? 1);
        const count = Number(m.kv.count ?? 1);
        const stride = Number(m.kv.stride ?? 0);
        this.open(e, tgid, { kind: 'store', addr, len, stride, count, ...(m.verb === 'load' ? { read: true } : {}) });
        return;
      }
      case 'reclaim':
        this.open(e, tgid, { kind: 'memcg-reclaim', bytes: Number(m.kv.bytes ?? 0), how: m.kv.how ?? '' });
        return;
      case 'thread': {
        const tid = Number(m.kv.tid);
        if (Number.isFinite(tid) && !this.tasks.has(tid)) this.tasks.set(tid, tgid);
        // A thread that announces itself follows the marker convention (Op `accesses`).
        if (Number.isSafeInteger(tid) && tid > 0) this.side(e, tgid, { kind: 'accesses' }, tid);
        return;
      }
      case 'snap':
      case 'snap-end':
        this.snapMarker(e, tgid, m);
        return;
      case 'note': {
        if (m.kv.role === 'reader') {
          // The writing thread reads [addr, addr + len) from now on without marking each read.
          const addr = Number(m.kv.addr);
          const len = Number(m.kv.len);
          if (Number.isSafeInteger(addr) && Number.isSafeInteger(len) && len > 0) this.side(e, tgid, { kind: 'accesses', reads: [addr, len] }, e.pid);
        }
        if (m.kv.action === 'drop_caches') this.open(e, tgid, { kind: 'drop-caches', value: Number(m.kv.value ?? 3) });
        if (m.kv.release) this.releaseMarker = m.kv.release;
        return;
      }
      default:
        this.breach('bad_marker', e.line);
        return;
    }
  }

  /**
   * `fl: snap` / `fl: snap-end` (markers.ts): the address space at `fl: begin`, read by the
   * window's task right after its begin marker. Complete and consistent, it becomes a `snapshot`
   * op; a malformed or misplaced line is a breach, noted with what is wrong, and the snapshot
   * is dropped (the mm keeps memory the model never saw, as without one).
   */
  private snapMarker(e: TraceEvent, tgid: number, m: Marker): void {
    const problem = (what: string): void => {
      this.breach('bad_marker', e.line);
      this.notes.push(`fl: snap at line ${e.line}: ${what}; the address-space snapshot is not used`);
      this.snap = null;
    };
    if (this.snap === null) return;
    if (!this.inWindow || e.pid !== tgid || this.snapDone) { problem('outside the window\'s opening'); return; }
    if (this.snapOpenedAfter > 0) { problem(`after the window's first op (line ${this.snapOpenedAfter})`); return; }
    this.snap ??= new SnapshotReader(USER_ADDRESS_END);
    if (m.verb === 'snap') {
      const p = this.snap.add(m);
      if (p) problem(p);
      return;
    }
    const vmas = this.snap.end(m);
    if (typeof vmas === 'string') { problem(vmas); return; }
    this.snapDone = true;
    this.snap = undefined;
    // Its anonymous folios are the workload's: their frees (a copy-on-write's old page, the
    // exit's zap) are its output.
    for (const v of vmas) {
      for (let i = 0; i < v.runs.length; i++) {
        const r = v.runs[i]!;
        if (r.what !== 'anon' || r.compound === 'tail') continue;
        if (r.compound !== 'head') { for (let j = 0; j < r.n; j++) this.pfnHeads.set(r.pfn + j, 0); continue; }
        let nr = r.n;
        for (let j = i + 1; j < v.runs.length && v.runs[j]!.compound === 'tail'; j++) nr += v.runs[j]!.n;
        let order = 0;
        while (1 << order < nr) order++;
        this.pfnHeads.set(r.pfn, order);
      }
    }
    this.open(e, tgid, { kind: 'snapshot', vmas });
  }

  /** The `fl: snap` markers read so far; null once one was malformed (the rest are ignored). */
  private snap: SnapshotReader | null | undefined;
  private snapDone = false;
  /** Line of the first op of the window that changes memory, while no snapshot was complete (0: none). */
  private snapOpenedAfter = 0;

  private syscall(e: TraceEvent, tgid: number): void {
    const isEnter = e.syscall === 1;
    const sc = e.name.slice(isEnter ? 10 : 9);
    const f = e.fields;
    if (isEnter) {
      // A task makes one system call at a time: an entry while another waits for its exit
      // means an exit was lost or the line is a duplicate. exit and exit_group never return.
      const pending = this.pendingEnter.get(e.pid);
      if (pending !== undefined && !(pending && pending.op.kind === 'exit')) this.breach('entry_without_exit', e.line);
      if (!argsDecoded(sc, f)) {
        // An argument the model needs is not a number: the payload was not read as the format
        // says. Applying it would replay something else than what ran.
        this.breach('undecoded_syscall', e.line);
        this.pendingEnter.set(e.pid, null);
        return;
      }
      // The write that performs a drop_caches or a memcg reclaim the workload announced (`fl:
      // note action=drop_caches`, `fl: reclaim how=…`: a write to /proc/sys/vm/drop_caches,
      // memory.force_empty, memory.reclaim) is that op: the shrinkers and reclaim run inside it.
      const cur = this.taskOf(e.pid)?.op;
      if (sc === 'write' && cur !== undefined && (cur.op.kind === 'drop-caches' || cur.op.kind === 'memcg-reclaim') && !this.dropWrites.has(cur) && writesTheRequest(cur.op, Number(f.count))) {
        this.dropWrites.add(cur);
        this.pendingEnter.set(e.pid, cur);
        return;
      }
      let lo: LiftedOp | undefined;
      switch (sc) {
        case 'mmap':
          lo = this.open(e, tgid, { kind: 'mmap', addr: 0, len: Number(f.len), prot: Number(f.prot), flags: Number(f.flags), anon: (Number(f.flags) & 0x20) !== 0 && (Number(f.flags) & 0x01) === 0 });
          if (lo && (Number(f.flags) & 0x20) === 0 && lo.op.kind === 'mmap') {
            const off = Number(f.off ?? f.pgoff);
            if (Number.isSafeInteger(off) && off >= 0) lo.op.off = off;
            if (this.opts.fileEvents) lo.op.fileEvents = true;
          }
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
        case 'mprotect':
          lo = this.open(e, tgid, { kind: 'mprotect', addr: Number(f.start), len: Number(f.len), prot: Number(f.prot) });
          break;
        case 'brk':
          lo = this.open(e, tgid, { kind: 'brk', brk: Number(f.brk) });
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
          // Any other system call of the workload is an op of its own, outside the model: what
          // the kernel emits during it (a brk()'s flush, a read()'s kernel-mode faults on
          // user memory) is then reported as such instead of landing in the op before it.
          lo = this.open(e, tgid, { kind: 'syscall', name: sc });
          break;
      }
      this.pendingEnter.set(e.pid, lo ?? null);
      return;
    }
    const ret = Number(f.ret);
    const op = this.pendingEnter.get(e.pid);
    if (op === undefined) {
      // An exit with no entry: the entry was lost, or this line is a duplicate. A task's first
      // exit may follow an entry made before the trace began (its window starts mid-call).
      if (this.exitsSeen.has(e.pid)) this.breach('exit_without_entry', e.line);
      this.exitsSeen.add(e.pid);
      return;
    }
    this.exitsSeen.add(e.pid);
    this.pendingEnter.delete(e.pid);
    if (op && this.isOpen(op)) this.syscallReturned(op, e.tsNs);
    if (op) {
      // A drop_caches or memcg reclaim write that returns an error still did its work
      // (memory.reclaim returns -EAGAIN when it reclaimed less than asked).
      if (ret < 0 && ret > -4096) { if (!this.dropWrites.has(op)) op.failed = true; }
      else if (op.op.kind === 'mmap') op.op.addr = ret;
      else if (op.op.kind === 'brk' && Number.isSafeInteger(ret) && ret >= 0 && ret < USER_ADDRESS_END) op.op.result = ret;
      else if (op.op.kind === 'mremap') {
        if (Number.isSafeInteger(ret) && ret >= 0 && ret < USER_ADDRESS_END) op.op.newAddr = ret;
        else { op.failed = true; this.breach('undecoded_syscall', e.line); }
      }
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
    // others only for the workload's tasks, but for the flush IPIs the workload sent that other
    // processes answered (recorded by record's second instance).
    if (tgid === undefined && ev === 'tlb_flush') {
      this.otherAnswer(e);
      return;
    }
    if (tgid === undefined && ev !== 'rss_stat') return;
    const f = e.fields;
    if (ev === 'rss_stat') {
      const member = (f.member as { value: number; name: string }) ?? { value: -1, name: '?' };
      // mm_id is a 32-bit hash and member a small enum: one number keys the pair.
      const key = Number(f.mm_id) * 16 + member.value + 1;
      const size = Number(f.size);
      let c = this.rssLast.get(key);
      if (c === undefined) {
        c = new RssCounter();
        this.rssLast.set(key, c);
      }
      const last = c.rec;
      const lastOp = c.op;
      // A fork's child mm starts with every counter at zero (mm_init()): its first update in the
      // fork is from 0, whatever an earlier mm with the same hashed mm_id left.
      const forking = Number(f.curr) === 0 && tgid !== undefined ? this.taskOf(e.pid)?.op : undefined;
      const prev = forking !== undefined && forking.op.kind === 'fork' && lastOp !== forking ? 0 : c.size;
      const before = c.prev;
      c.prev = prev;
      c.size = size;
      c.rec = undefined;
      c.op = undefined;
      if (tgid === undefined) return;
      const curr = Number(f.curr);
      if (last !== undefined && lastOp !== undefined && prev !== undefined && before !== undefined && c.cpu !== e.cpu && (e.tsNs - c.ts <= RSS_RACE_NS || (size === prev && e.tsNs - c.ts <= RSS_EQUAL_RACE_NS)) && this.isOpen(lastOp)) {
        if (this.rssRace(e, c, last, lastOp, before, prev, size, curr, member)) return;
      }
      const rec = new Recorded(ev, e.line, e.cpu, e.pid, curr, member.value, prev === undefined ? null : size - prev, undefined, undefined, member.name);
      c.op = this.record(e, rec);
      c.rec = rec;
      c.cpu = e.cpu;
      c.ts = e.tsNs;
      return;
    }
    if (ev === 'tlb_flush') {
      const r = f.reason as { value: number };
      const reason = r?.value;
      // `flush on task switch` depends on the scheduler and ASID state, not on the workload's
      // memory operations: not an output of the modelled paths.
      if (reason === 0) { if (this.lastOpened?.compare) this.notOurs.taskSwitchFlushes++; return; }
      let ours: boolean | undefined;
      if (reason === TLB_REMOTE_SEND_IPI) {
        // The send is traced in the sender's context, in its op.
        this.sendOps[this.sends % SEND_LOG] = this.openOf(e);
        this.sendTgids[this.sends % SEND_LOG] = tgid ?? -1;
        this.sendAnswers[this.sends % SEND_LOG]!.clear();
        this.sendCpus[this.sends++ % SEND_LOG] = e.cpu;
      } else if ((reason === TLB_REMOTE_SHOOTDOWN || reason === TLB_REMOTE_WRONG_CPU) && e.lat === '') {
        // Without the latency flags (trace-cmd report without -l) a flush done in an IPI's
        // handler cannot be told from one the task did itself: compared as the workload's.
        if (this.unknownContext++ === 0) this.notes.push('the trace has no latency flags: a flush done in a flush IPI cannot be told from the workload\'s own, so another mm\'s shootdowns landing here would be compared as the workload\'s (trace-cmd report -l keeps the flags)');
      } else if ((reason === TLB_REMOTE_SHOOTDOWN || reason === TLB_REMOTE_WRONG_CPU) && inHardirq(e.lat)) {
        // Done in a flush IPI's handler (flush_tlb_func() called by the IPI): it is the
        // workload's only if one of its tasks on another CPU traced the send first
        // (native_flush_tlb_multi() traces TLB_REMOTE_SEND_IPI before it sends, and waits for
        // every target) and this CPU has not yet answered that send. Otherwise the IPI came from
        // another mm and merely landed while the workload ran here.
        // `remote wrong CPU` means the IPI named an mm this CPU does not have loaded: never the
        // mm of the task it interrupted, which is running here with its own mm loaded.
        const slot = this.answerSend(e.cpu, reason === TLB_REMOTE_WRONG_CPU ? tgid : undefined);
        if (slot < 0) {
          if (this.lastOpened?.compare && this.notOurs.foreignIpiFlushes++ === 0) this.notOurs.firstForeignIpiLine = e.line;
          return;
        }
        ours = true;
        // The flush is the output of the op that sent the IPI: its sender waits in it for every
        // target's flush (native_flush_tlb_multi()), so that op is still open.
        const sender = this.sendOps[slot];
        if (sender !== undefined && this.isOpen(sender)) {
          sender.recorded.push(new Recorded(ev, e.line, e.cpu, e.pid, Number(f.pages), reason, undefined, undefined, ours, undefined));
          return;
        }
      }
      const rec = new Recorded(ev, e.line, e.cpu, e.pid, Number(f.pages), reason, undefined, undefined, ours, undefined);
      // A flush another CPU asked for, in the interrupted task's context: not that task's op's.
      if (reason === TLB_REMOTE_SHOOTDOWN || reason === TLB_REMOTE_WRONG_CPU) {
        const lo = this.lastOpened;
        if (lo !== undefined && this.isOpen(lo)) lo.recorded.push(rec);
      } else this.record(e, rec);
      return;
    }
    if (ev === 'mm_page_free') {
      const pfn = Number(f.pfn);
      const ours = this.isOurPfn(pfn);
      // No path the workload runs frees a page in softirq: an RCU callback that ran here (the
      // page tables 6.14+ free after a grace period, whenever it ends) or another subsystem's.
      if (inSoftirq(e.lat)) {
        if (ours) this.released(pfn, Number(f.order));
        if (this.lastOpened?.compare) this.notOurs.softirqFrees++;
        return;
      }
      // Once freed, a page may be reused by anyone: it stops being the workload's.
      if (ours) this.released(pfn, Number(f.order));
      this.record(e, new Recorded(ev, e.line, e.cpu, e.pid, Number(f.order), undefined, undefined, pfn, ours, undefined));
      return;
    }
    this.record(e, new Recorded(ev, e.line, e.cpu, e.pid, undefined, undefined, undefined, undefined, undefined, f as Record<string, unknown>));
  }

  /**
   * A flush done in a flush IPI's handler in another process's context. If a workload send from
   * another CPU is unanswered by this CPU, this is its answer: `remote wrong CPU` says the IPI
   * found the other process's mm loaded and the CPU left the workload's mm_cpumask — an input
   * of the op that sent it (Op `ipiLeft`), whose later flushes no longer reach the CPU.
   */
  private otherAnswer(e: TraceEvent): void {
    const reason = (e.fields.reason as { value: number } | undefined)?.value;
    // A `remote shootdown` there flushed the mm that process has loaded (flush_tlb_func() traces
    // one only when the IPI's mm is the loaded one): never the workload's.
    if (reason !== TLB_REMOTE_WRONG_CPU || !inHardirq(e.lat)) return;
    const slot = this.answerSend(e.cpu);
    if (slot < 0) return;
    const sender = this.sendOps[slot];
    if (sender !== undefined && this.isOpen(sender)) (sender.op.ipiLeft ??= []).push(e.cpu);
  }

  private breach(kind: BreachKind, line: number): void {
    const b = this.breaches.get(kind);
    if (b) b.count++;
    else this.breaches.set(kind, { count: 1, line });
  }

  /**
   * A workload send from another CPU still unanswered by `cpu` (now answered): its slot in the
   * ring, or -1. The send answered is the latest one whose op is still open (its sender waits
   * in it for this flush), else the oldest: a send answered in another process's context (not
   * traced here) stays in the ring unanswered.
   */
  private answerSend(cpu: number, notFrom?: number): number {
    const from = Math.max(this.answered[cpu] ?? 0, this.sends - SEND_LOG);
    let oldest = -1;
    let live = -1;
    for (let i = this.sends - 1; i >= from; i--) {
      const slot = i % SEND_LOG;
      if (this.sendCpus[slot] === cpu || this.sendAnswers[slot]!.has(cpu)) continue;
      // A send of the interrupted task's own mm stays for that mm's flush to answer.
      if (notFrom !== undefined && this.sendTgids[slot] === notFrom) continue;
      oldest = i;
      if (live < 0) {
        const lo = this.sendOps[slot];
        if (lo !== undefined && this.isOpen(lo)) live = i;
      }
    }
    const i = live >= 0 ? live : oldest;
    if (i < 0) return -1;
    const slot = i % SEND_LOG;
    this.sendAnswers[slot]!.add(cpu);
    if (i === from) this.answered[cpu] = i + 1;
    return slot;
  }

  /**
   * Output in a workload task's context is its open op's. A task with none (its op ended
   * when it went to sleep) is in a call the trace does not follow: its output goes with the op
   * opened last, if still open, as a single-threaded workload's does.
   */
  private record(e: TraceEvent, r: Recorded): LiftedOp | undefined {
    const own = this.openOf(e);
    if (own !== undefined) {
      // The task's first output on another CPU than the op began on: it slept or was preempted
      // in the op and resumed there, where the kernel went on (its flushes are that CPU's).
      // Output that is not the workload's (a page-cache page readahead freed before the task
      // slept) does not hold the op to its first CPU.
      if (e.cpu !== own.op.cpu && r.ours !== false && !own.recorded.some((x) => x.ours !== false)) own.op.cpu = e.cpu;
      // An rss update made with a reschedule pending (need-resched in its flags): zap_pte_range()
      // stops at a pending reschedule and updates rss for what it cleared so far, whether or not
      // a switch follows, so the op's rss updates compare by their sum as a preempted op's.
      if (r.ev === 'rss_stat' && needResched(e.lat)) own.preempted = true;
      own.recorded.push(r);
      return own;
    }
    const lo = this.lastOpened;
    if (lo === undefined || !this.isOpen(lo)) return undefined;
    lo.recorded.push(r);
    return lo;
  }

  /**
   * Two updates of one rss counter on two CPUs at once: each CPU adds its own pages, then reads
   * the counter (add_mm_counter() → trace_rss_stat()); a read may come after the other CPU's
   * add, and the two events may land in the trace in the other order than the adds. `last`
   * (in `lastOp`, still open: its task is still in it) moved the counter from `before` to
   * `prev`; the update `e` reads `size`.
   * - Both reads at one value: each saw both adds, and how the sum splits is not in the trace:
   *   both deltas are unknown.
   * - The second read between `before` and the first read: it came before the first CPU's
   *   add, and the deltas are taken in that order (the counter's last value is the first read).
   * Returns whether the update was recorded here (else it is an ordinary one).
   */
  private rssRace(e: TraceEvent, c: RssCounter, last: Recorded, lastOp: LiftedOp, before: number, prev: number, size: number, curr: number, member: { value: number; name: string }): boolean {
    const first = prev - before;
    const second = size - before;
    const equal = size === prev;
    if (!equal && !(first !== 0 && Math.sign(second) === Math.sign(first) && Math.abs(second) < Math.abs(first))) return false;
    const i = lastOp.recorded.lastIndexOf(last);
    if (i < 0) return false;
    const fixed = last.withDelta(equal ? null : prev - size);
    lastOp.recorded[i] = fixed;
    const rec = new Recorded('rss_stat', e.line, e.cpu, e.pid, curr, member.value, equal ? null : second, undefined, undefined, member.name);
    const op = this.record(e, rec);
    if (equal) {
      c.op = op;
      c.rec = rec;
      c.cpu = e.cpu;
      c.ts = e.tsNs;
    } else {
      c.size = prev;
      c.prev = size;
      c.rec = fixed;
      c.op = lastOp;
    }
    return true;
  }

  /** The end of the trace: every op handed on. */
  end(): void {
    this.flush();
  }
}

export type BreachKind = 'bad_alloc' | 'bad_address' | 'undecoded_syscall' | 'entry_without_exit' | 'exit_without_entry' | 'duplicate_event' | 'bad_marker' | 'bad_file_event';

/** Each breach in words (the count and first line go before and after). */
export const BREACH_TEXT: Record<BreachKind, string> = {
  bad_alloc: 'mm_page_alloc events of the workload with an impossible order or pfn were ignored',
  bad_address: 'user page faults at an address outside the user address space (damaged) were ignored',
  undecoded_syscall: 'syscalls of the workload whose arguments did not decode, or lie outside the address space, were not replayed',
  entry_without_exit: 'syscall entries came while the task was still in another call (an exit lost, or a duplicated line)',
  exit_without_entry: 'syscall exits came with no entry (an entry lost, or a duplicated line)',
  duplicate_event: 'events repeat the one before them exactly (duplicated lines) and were skipped',
  bad_file_event: 'filemap events of the workload with an offset that is no page boundary (damaged) were ignored: the faults they belong to are not modelled whole',
  bad_marker: 'fl: markers were malformed (an unknown verb, a missing or non-numeric value, a range beyond the address space) and were ignored',
};

const num = (v: string | undefined): number => (v === undefined || v === '' ? NaN : Number(v));

/** What is wrong with a marker the lifter would act on, or undefined. */
function markerProblem(m: Marker): string | undefined {
  const kv = m.kv;
  const need = (k: string, lo = 0, hi = USER_ADDRESS_END): string | undefined => {
    const v = num(kv[k]);
    return Number.isSafeInteger(v) && v >= lo && v <= hi ? undefined : `${k}=${kv[k] ?? ''}`;
  };
  const opt = (k: string, lo = 0, hi = USER_ADDRESS_END): string | undefined => (kv[k] === undefined ? undefined : need(k, lo, hi));
  switch (m.verb) {
    case 'begin': return opt('pid', 1, 2 ** 22);
    case 'thread': return need('tid', 1, 2 ** 22);
    case 'store': {
      const p = need('addr') ?? opt('len', 1) ?? opt('stride') ?? opt('count', 1, 2 ** 20);
      if (p) return p;
      // The whole strided range must lie in the address space.
      const end = num(kv.addr) + (num(kv.stride ?? '0') * (num(kv.count ?? '1') - 1)) + num(kv.len ?? '1');
      return end <= USER_ADDRESS_END ? undefined : 'range beyond the address space';
    }
    case 'reclaim': return opt('bytes', 0, 2 ** 50);
    case 'note': return kv.action === 'drop_caches' ? opt('value', 0, 7) : undefined;
    default: return undefined;
  }
}

/** The arguments each lifted syscall reads; those that are addresses or lengths must fit the address space. */
const SYSCALL_ARGS: Record<string, readonly string[]> = {
  mmap: ['len', 'prot', 'flags'],
  munmap: ['addr', 'len'],
  mremap: ['addr', 'old_len', 'new_len', 'flags'],
  madvise: ['start', 'len_in', 'behavior'],
  mprotect: ['start', 'len', 'prot'],
};
const RANGE_ARGS = new Set(['len', 'addr', 'old_len', 'new_len', 'start', 'len_in']);

function argsDecoded(sc: string, f: Record<string, unknown>): boolean {
  const names = SYSCALL_ARGS[sc];
  if (!names) return true;
  for (const n of names) {
    const v = f[n];
    if (typeof v !== 'number' && !(typeof v === 'string' && v !== '' && Number.isFinite(Number(v)))) return false;
    if (RANGE_ARGS.has(n)) {
      const x = Number(v);
      if (!Number.isSafeInteger(x) || x < 0 || x > USER_ADDRESS_END) return false;
    }
  }
  return true;
}

/**
 * Kernel threads run without an mm of their own (the CPU keeps the previous one lazily), as the
 * idle task does. sched_switch names only the task: the kernel's own threads are told by their
 * names. Model deviation: a user task named like one of them is taken for a kernel thread.
 */
const KTHREAD_NAME = /^(swapper|kworker\/|ksoftirqd\/|rcu_|rcuc\/|rcuo|migration\/|cpuhp\/|idle_inject\/|kthreadd$|kswapd|kcompactd|khugepaged$|watchdog|irq\/|kauditd$|oom_reaper$|writeback$|kblockd$|jbd2\/|kdevtmpfs$|khungtaskd$|ksmd$|kintegrityd$|kthrotld$|scsi_|ext4-|xfs|btrfs|napi\/|psimon$|pr\/|card\d|hwrng$|kstrp$|zswap|ipv6_addrconf$|mm_percpu_wq$|netns$|inet_frag_wq$|blkcg_punt_bio$|tpm_dev_wq$|md$|edac-poller$|devfreq_wq$|charger_manager$|acpi_thermal_pm$|kmpath|nvme|ata_sff$|kaluad)/;

export function isKernelThread(comm: string): boolean {
  return KTHREAD_NAME.test(comm);
}

/**
 * A write(2) of the length the announced request takes: drop_caches' one digit (and a newline),
 * the byte count a memcg reclaim writes in decimal (fl.h's fl_memcg_reclaim()).
 */
function writesTheRequest(op: Op, count: number): boolean {
  if (op.kind === 'drop-caches') return count >= 1 && count <= 2;
  if (op.kind === 'memcg-reclaim') return count === String(op.bytes).length || count === String(op.bytes).length + 1;
  return false;
}

/** The flags' need-resched column shows TIF_NEED_RESCHED set (N, n, B, b; not the lazy-only L, l or p). */
function needResched(lat: string): boolean {
  const c = lat.charCodeAt(1);
  return c === 0x4e /* N */ || c === 0x6e /* n */ || c === 0x42 /* B */ || c === 0x62 /* b */;
}

function inSoftirq(lat: string): boolean {
  return lat.charCodeAt(2) === 0x73 /* s */;
}

/**
 * Whether the latency flags say hardirq context (`d.h1.`: the third column is `h`, or `H` for a
 * hardirq inside a softirq). Without the column (a layout that lacks it) nothing is known.
 */
function inHardirq(lat: string): boolean {
  const c = lat.charCodeAt(2);
  return c === 0x68 /* h */ || c === 0x48 /* H */;
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
  // With --pid/--comm the scan only tells whether the trace has markers at all: without them the
  // whole trace is the compared window.
  const found = await findBeginPid(input, opts);
  const selected = opts.pid !== undefined || opts.comm !== undefined;
  const lifter = new Lifter({ ...opts, beginPid: selected ? undefined : found, noMarkers: found === undefined }, sink);
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
  lifter.end();
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
    if (m && m.verb === 'begin' && !markerProblem(m)) return Number(m.kv.pid ?? e.pid);
  }
  return undefined;
}

/**
 * Ops whose memcg charges the engine reclaims for (Op `chargeReclaim`): every op of the window
 * a task runs in the kernel; not the pre-window bookkeeping (fault-count, exec) nor the window's
 * structure (prewindow, snapshot, capture), which the model does not apply as kernel work.
 */
const CHARGE_RECLAIM_OPS: ReadonlySet<string> = new Set(['syscall', 'mmap', 'munmap', 'mremap', 'madvise', 'mprotect', 'brk', 'fork', 'thread', 'exit', 'marker', 'store', 'drop-caches']);

/** Ops that change no memory: the snapshot's lines may come after them (its own marker writes, the window's structure). */
const SNAP_NEUTRAL: ReadonlySet<string> = new Set(['marker', 'prewindow', 'capture', 'snapshot', 'run', 'syscall', 'switch-other', 'lru-drain']);
