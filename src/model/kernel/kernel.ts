/**
 * The kernel context shared by the modelled paths: state, configuration, composed hooks, and
 * what the current op produced (emissions, violations, counters, cost). Paths are plain
 * functions in files named after the kernel files they model; they take this context.
 */
import type { KernelTraits, ModelConfig } from '../config.js';
import type { Emission, UncertainFlush, UnseenDecisions, Violation, ViolationCode } from '../emit.js';
import type { HookOwners, Hooks } from '../hooks.js';
import type { Op, SiblingSwitch } from '../ops.js';
import { CostCounter } from '../cost.js';
import {
  FolioLink,
  FolioList,
  Lru,
  type DeferredSplitQueue,
  Folio,
  FolioStory,
  type Mm,
  type TaskRss,
  type TlbUbc,
  type CpuTlbState,
  PAGE_SIZE,
} from '../state.js';

export type { UnseenDecisions } from '../emit.js';

export interface LruBatches {
  /** `lru_add`: new folios waiting to enter the LRU. */
  add: Folio[];
  /** `lru_lazyfree`: folios MADV_FREE marked, waiting to move to the file LRU. */
  lazyfree: Folio[];
  /** `lru_deactivate`: active folios MADV_COLD deactivated, waiting to move to the inactive list. */
  deactivate: Folio[];
  /**
   * Another task ran on this CPU while `add` held the workload's folios: it may have filled
   * and drained the batch in its own context (seen only where the trace follows every task).
   */
  othersRan?: boolean;
}

/** A file's cached pages by page offset: the folio and the page within it. */
export type FileCache = Map<number, { folio: Folio; page: number }>;

/** Story step texts and their codes (see Kernel.storyCodes). */
export interface StoryCodes {
  steps: string[];
  codes: Map<string, number>;
}

export function newStoryCodes(): StoryCodes {
  return { steps: [], codes: new Map() };
}

/** 6.1 mm/memory.c TASK_RSS_EVENTS_THRESH: a task's rss cache is synced once its event count passes it. */
export const TASK_RSS_EVENTS_THRESH = 64;

/** Whether an address of `f` in `mm` (its anonymous or private-file mappings) falls in [lo, hi). */
function folio_in_range(mm: Mm, f: Folio, lo: number, hi: number): boolean {
  for (const vma of mm.vmas) {
    if (!vma.anon && !vma.privateFile) continue;
    const address = vma.vm_start + (f.index - vma.vm_pgoff) * PAGE_SIZE;
    const end = address + f.nr * PAGE_SIZE;
    if (end <= vma.vm_start || address >= vma.vm_end) continue;
    if (Math.max(address, vma.vm_start) < hi && Math.min(end, vma.vm_end) > lo) return true;
  }
  return false;
}

export class Kernel {
  readonly traits: KernelTraits;
  readonly mms = new Map<number, Mm>();
  /** Every folio that is neither freed nor split away, oldest first (for invariants, stories). */
  readonly folios = new FolioList(FolioLink.All);
  /** LRU lists, least recently added first (reclaim scans from there). */
  readonly lru: FolioList[] = [0, 1, 2, 3, 4].map(() => new FolioList(FolioLink.Lru));
  readonly lruBatches = new Map<number, LruBatches>();
  /**
   * The trace records the kernel's moves from the lru_add batches (`mm_lru_insertion`): a batch
   * then drains where the record says, not only when the workload's own folios fill it.
   */
  lruObserved = false;
  /**
   * User stores and accesses to present memory are marked in the trace (`fl: store` markers in a
   * `fl: begin` window). Otherwise they leave no event, and a PTE the kernel last left clean and
   * old may have been made young or dirty since by the program.
   */
  storesVisible = false;
  /** The events the capture records for every task, not only the workload's (Op `capture`). */
  wideEvents: ReadonlySet<string> = new Set();
  /** CPUs the op under way found on another mm when its flush IPI arrived (Op `ipiLeft`). */
  ipiLeft: Set<number> | undefined;
  /** CPUs the op under way sent a flush IPI to (reset per op; see ipi_raced_switch()). */
  ipiTargets = new Set<number>();
  /** The mm those IPIs flushed. */
  ipiTargetsMm: Mm | null = null;
  /** Why the flushes being emitted are uncertain (Emission `uncertain`), if they are. */
  flushUncertain: UncertainFlush | undefined = undefined;
  /** The rss counter whose updates being emitted are uncertain (Emission rss_stat `uncertain`), if any. */
  rssUncertain: number | undefined = undefined;
  /**
   * Accesses to present memory set the accessed bit in hardware and leave no event. A workload
   * marks its own (`fl: store`/`load` in a `fl: begin` window, Kernel.storesVisible); any other
   * user code of the mm may touch anything. `accessEpoch` counts the moments such code may have
   * run (Mm.unseenAt, Folio.agedAt); `running` holds the workload's tasks on a CPU now (Op
   * `run`), by tid; `markingTids` the threads that marked stores or loads in the window.
   */
  accessEpoch = 0;
  readonly running = new Map<number, number>();
  readonly markingTids = new Set<number>();
  /** Ranges marking threads declared they read without marking each read (Op `accesses`). */
  readonly unmarkedReads = new Map<number, [number, number]>();
  /** Decisions of the op under way that depended on accessed bits no event shows (Engine StepResult `unseen`). */
  unseenDecisions: UnseenDecisions | undefined;
  /** Why the op under way's own output (not the state it leaves) depends on what no event shows (Engine StepResult `unseenOutput`). */
  unseenOutput: string | undefined;
  /** Each file's page cache: its cached pages by page offset (kernel/filemap.ts page_cache()). */
  readonly fileCaches = new Map<string, FileCache>();
  /**
   * Per file, the pages the window has shown uptodate in the page cache with no readahead mark:
   * those filemap_fault() returned (kernel/filemap.ts). Any other page's state before the window
   * is in no event.
   */
  readonly fileShownUptodate = new Map<string, Set<number>>();
  /** Files whose page cache the window showed incomplete (kernel/filemap.ts). */
  readonly filePartlyCached = new Set<string>();
  /** Unmaps that found a folio waiting in an lru_add batch while the moves were not recorded. */
  lruUnknown = 0;
  /** Unmaps that found a folio waiting in a batch another task ran beside (LruBatches.othersRan). */
  lruExposed = 0;
  readonly deferred: DeferredSplitQueue = { list: [], split_queue_len: 0, privateList: [] };
  readonly ubc = new Map<number, TlbUbc>();
  /** per_cpu(cpu_tlbstate): what each CPU the trace showed has loaded (see tlbflush.ts cpu_tlbstate()). */
  readonly cpuTlb = new Map<number, CpuTlbState>();
  /** Folios whose cleared entries wait for a batched TLB flush (for the stale-TLB invariant). */
  readonly pendingTlb = new Set<Folio>();
  /** Folios cleared into an mmu_gather that nobody finished (Lance v2): stale forever. */
  readonly staleTlb = new Set<Folio>();
  readonly counters = new Map<string, number>();
  /** Invariant checks run so far (each tags the folios it counts; see invariants.ts). */
  invariantChecks = 0;
  readonly cost = new CostCounter();
  out: Emission[] = [];
  violations: Violation[] = [];
  /** The op being applied, and the thread/CPU doing it. */
  op!: Op;
  cpu = 0;
  tid = 0;
  /** The series whose hook is running (violation attribution). */
  runningSeries: string | undefined;
  private nextFolioId = 1;
  private nextMmId = 1;
  /** Synthetic pfns for folios whose allocation the trace did not record. */
  private nextSynthPfn = 0x4000000000;

  constructor(
    readonly config: ModelConfig,
    readonly hooks: Hooks,
    readonly owners: HookOwners,
  ) {
    this.traits = config.traits;
  }

  // --------------------------------------------------------------------------------------
  // Per-folio stories (for diff): what happened to each folio over its life. A story is keyed by
  // the folio's first pfn and the op that created it, which every config shares for the folios
  // the trace allocated; a pfn reused by a later allocation starts a new story.

  /**
   * Off unless a consumer asks (diff). A story lives on its folio while the folio lives and is
   * handed on through `endedStories` when it ends; the kernel keeps no index of them.
   */
  stories = false;
  /**
   * The distinct step texts; a story holds indices into `steps`. Engines compared by a diff share
   * one table, so that equal stories are equal arrays of codes.
   */
  storyCodes: StoryCodes = newStoryCodes();
  get storySteps(): readonly string[] {
    return this.storyCodes.steps;
  }

  story(f: Folio, step: string, addr?: number): void {
    if (!this.stories) return;
    let s = f.story;
    if (!s) {
      s = new FolioStory(f.pfn, this.op.at.index, undefined, f.order, addr ?? 0);
      f.story = s;
    }
    if (addr !== undefined && s.addr === 0) s.addr = addr;
    const t = this.storyCodes;
    let code = t.codes.get(step);
    if (code === undefined) {
      code = t.steps.length;
      t.steps.push(step);
      t.codes.set(step, code);
    }
    s.add(code);
  }

  /**
   * Page `i` of `parent`, now a folio of its own after a split: its story is keyed after the
   * parent's, so the same piece pairs across configs whenever each split it.
   */
  storySplit(parent: Folio, piece: Folio, i: number): void {
    if (!this.stories || !parent.story) return;
    const s = new FolioStory(0, 0, `${parent.story.key}+${i}`, piece.order, parent.story.addr ? parent.story.addr + i * 4096 : 0);
    piece.story = s;
    this.story(piece, 'split off');
  }

  /** Stories whose folio ended (freed, or split into new folios) since the consumer last took them. */
  endedStories: FolioStory[] = [];

  /** The folio is gone (freed or split): its story is complete. */
  storyEnd(f: Folio): void {
    if (this.stories && f.story) this.endedStories.push(f.story);
  }

  /** Stories of the folios still live. */
  *liveStories(): Iterable<FolioStory> {
    for (const f of this.folios) if (f.story) yield f.story;
  }

  // --------------------------------------------------------------------------------------
  // Emission and accounting.

  /** A consumer that sees each emission as it happens (streamed fidelity, tallies). */
  emitSink: ((e: Emission) => void) | undefined;
  /** Keep the op's emissions in `out` (observers, inspectors); off when they are only streamed. */
  keepOut = true;

  /**
   * Switch-ins of the workload's other tasks due inside the op under way (Op.siblingRunsAt),
   * placed by how many events the op has emitted: the record's count of the op's own events
   * before the switch is the model's best clock inside one op.
   */
  siblingRuns: { runs: readonly SiblingSwitch[]; next: number; n: number; apply: (s: SiblingSwitch) => void } | undefined;

  /**
   * Page frees and reclaim_pages() passes emitted in the op under way: where in it the op is, as
   * the lifter counts the recorded ones (Op `lruAddedPos`).
   */
  opMarks = 0;

  /** Whether thread `tid` of process `tgid` marks its accesses (see accessEpoch). */
  accessesMarked(tid: number, tgid: number): boolean {
    return this.storesVisible && (tid === tgid || this.markingTids.has(tid));
  }

  /**
   * Thread `tid` of `mm` ran user code whose accesses no event shows, up to trace line `line`
   * (on `cpu`, or -1: before its call there): bits aged before now are unknown. The epoch is
   * the mm's: a reader's declared range is told apart only while it runs (accessedMeanwhile()).
   */
  accessesRan(mm: Mm, tid: number, line: number, cpu: number): void {
    if (this.accessesMarked(tid, mm.tgid) && !this.unmarkedReads.has(tid)) return;
    mm.unseenAt = ++this.accessEpoch;
    mm.unseenTid = tid;
    mm.unseenLine = line;
    mm.unseenCpu = cpu;
  }

  /** The kernel made entries of `f` old now (see accessEpoch). */
  aged(f: Folio): void {
    f.agedAt = this.accessEpoch;
  }

  /**
   * Why an entry of `f` in `mm` the model holds old may be young in the kernel, if it may: a
   * task of the mm that does not mark its accesses runs on another CPU during the op under way,
   * or ran user code since the kernel last aged the folio.
   */
  accessesUnseen(mm: Mm, f: Folio): string | undefined {
    const why = this.accessedMeanwhile(mm, f);
    if (why !== undefined) return why;
    if (mm.unseenAt !== undefined && mm.unseenAt > f.agedAt) {
      const where = mm.unseenCpu! < 0 ? `before line ${mm.unseenLine}` : `on CPU ${mm.unseenCpu} (until line ${mm.unseenLine})`;
      return `thread ${mm.unseenTid} of pid ${mm.tgid} ran unmarked user code ${where}`;
    }
    return undefined;
  }

  /**
   * A cheap first look, before the mms mapping `f` are walked: whether any task other than the
   * op's runs now, or (`sinceAged`) any mm ran unmarked code since `f` was aged.
   */
  mayBeUnseen(f: Folio, sinceAged: boolean): boolean {
    if (this.siblingRuns !== undefined) return true;
    // A task that marks its accesses and reads nothing unmarked touches nothing unseen.
    for (const tid of this.running.keys()) if (tid !== this.tid && (!this.storesVisible || !this.markingTids.has(tid) || this.unmarkedReads.has(tid))) return true;
    return sinceAged && this.accessEpoch > f.agedAt;
  }

  /** Why a task of `mm` may touch `f` unseen during the op under way (on another CPU), if it may. */
  accessedMeanwhile(mm: Mm, f: Folio): string | undefined {
    for (const [tid, cpu] of this.running) {
      const why = this.siblingUnseen(mm, f, tid, cpu, 'was running during the call on');
      if (why !== undefined) return why;
    }
    const runs = this.siblingRuns?.runs;
    if (runs) {
      for (const s of runs) {
        const why = s.on ? this.siblingUnseen(mm, f, s.tid, s.cpu, 'switched in during the call on') : undefined;
        if (why !== undefined) return why;
      }
    }
    return undefined;
  }

  /** Why thread `tid`, on `cpu` during the op under way, may have accessed `f` unseen, if it may. */
  private siblingUnseen(mm: Mm, f: Folio, tid: number, cpu: number, how: string): string | undefined {
    if (tid === this.tid || !mm.threads.has(tid)) return undefined;
    if (!this.accessesMarked(tid, mm.tgid)) return `thread ${tid} of pid ${mm.tgid} ${how} CPU ${cpu}`;
    const r = this.unmarkedReads.get(tid);
    if (!r || !folio_in_range(mm, f, r[0], r[0] + r[1])) return undefined;
    return `thread ${tid} of pid ${mm.tgid}, which reads 0x${r[0].toString(16)}+0x${r[1].toString(16)} without marking each read, ${how} CPU ${cpu}`;
  }

  /** A decision of the op under way took an entry's accessed bit that `why` leaves unknown. */
  unseenDecision(what: UnseenDecisions['what'], why: string, mm: Mm): void {
    if (this.unseenDecisions) {
      this.unseenDecisions.n++;
      return;
    }
    const tgids = new Set<number>();
    for (const m of this.mms.values()) if (m.anonRoot === mm.anonRoot) tgids.add(m.tgid);
    this.unseenDecisions = { n: 1, what, why, tgids: [...tgids] };
  }

  emit(e: Emission): void {
    if (this.flushUncertain && e.ev === 'tlb_flush') e.uncertain ??= this.flushUncertain;
    if (this.rssUncertain !== undefined && e.ev === 'rss_stat' && e.member === this.rssUncertain) e.uncertain = 'fileCache';
    if (this.emitSink) this.emitSink(e);
    if (this.keepOut) this.out.push(e);
    // Counted in the op's own events only, as the lifter counts them (not what its IPIs did on
    // other CPUs). Inside a multi-CPU flush the switch waits for its end (siblingRunsHeld): the
    // sender waits for every target, so the record shows the targets' flushes before the switch.
    // Output of untraced work (fork.ts untraced(), another task's drain, a sync of unknown
    // counts) is no event of the op's record: it moves neither count.
    const traced = this.keepOut || this.emitSink !== undefined;
    const s = this.siblingRuns;
    if (s !== undefined && traced && e.cpu === this.cpu && ++s.n >= s.runs[s.next]!.at && !this.siblingRunsHeld) this.siblingRunsDue(s);
    if ((e.ev === 'mm_page_free' || e.ev === 'mm_vmscan_reclaim_pages') && traced) this.opMarks++;
  }

  /** A multi-CPU flush is under way: switches that come due wait for its end (flush_tlb_multi()). */
  siblingRunsHeld = false;

  /** Applies the switch-ins whose place in the op has come (none re-entered while applying). */
  siblingRunsDue(s: NonNullable<Kernel['siblingRuns']>): void {
    this.siblingRuns = undefined;
    while (s.next < s.runs.length && s.runs[s.next]!.at <= s.n) s.apply(s.runs[s.next++]!);
    if (s.next < s.runs.length) this.siblingRuns = s;
  }

  count(name: string, n = 1): void {
    // Per-size mTHP stats (hugepages-<size>kB/stats) do not exist before mTHP.
    if (!this.traits.mthp && name.charCodeAt(0) <= 57 && name.includes('kB/')) return;
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  private readonly mthpNames: Array<Map<string, string>> = [];

  /** mTHP per-size counter name, `hugepages-64kB/split_deferred` style (made once per name). */
  mthpCounter(order: number, what: string): string {
    const byWhat = (this.mthpNames[order] ??= new Map());
    let name = byWhat.get(what);
    if (name === undefined) {
      name = `${4 << order}kB/${what}`;
      byWhat.set(what, name);
    }
    return name;
  }

  violate(code: ViolationCode, message: string, extra: Partial<Violation> = {}): void {
    this.violations.push({ code, at: this.op.at, message, series: this.runningSeries, ...extra });
  }

  /** Call a hook, attributing any violation it records to the series that installed it. */
  hook<K extends keyof Hooks>(name: K): Hooks[K] {
    this.runningSeries = this.owners[name];
    this.hooksUsed.add(name);
    return this.hooks[name];
  }

  /** Hooks called while applying the current op (for naming the cause of a divergence). */
  hooksUsed = new Set<keyof Hooks>();

  // --------------------------------------------------------------------------------------
  // Allocation.

  newMm(tgid: number, anonRoot?: number): Mm {
    const id = this.nextMmId++;
    const mm: Mm = {
      id, tgid, anonRoot: anonRoot ?? id, vmas: [], pmds: new Map(), rss: [0, 0, 0, 0], cpumask: new Set(),
      tlb_gen: 0, tlbFlushPending: false, threads: new Set([tgid]), exited: false, deposits: new Map(), upperTables: new Map(),
    };
    this.mms.set(tgid, mm);
    return mm;
  }

  newFolio(order: number, pfn: number | undefined, index: number, anonRoot: number): Folio {
    const nr = 1 << order;
    const f = new Folio(this.nextFolioId++, order, nr, pfn ?? this.synthPfn(nr), index, anonRoot);
    // No access before it existed matters (see accessEpoch).
    f.agedAt = this.accessEpoch;
    this.folios.add(f);
    return f;
  }

  private synthPfn(nr: number): number {
    const p = Math.ceil(this.nextSynthPfn / nr) * nr;
    this.nextSynthPfn = p + nr;
    return p;
  }

  /** Whether any mm holds file or shmem pages (whose rss updates the model then predicts). */
  holdsFilePages(): boolean {
    for (const mm of this.mms.values()) if (mm.rss[0] !== 0 || mm.rss[3] !== 0) return true;
    return false;
  }

  batches(cpu: number): LruBatches {
    let b = this.lruBatches.get(cpu);
    if (!b) {
      b = { add: [], lazyfree: [], deactivate: [] };
      this.lruBatches.set(cpu, b);
    }
    return b;
  }

  ubcOf(tid: number): TlbUbc {
    let u = this.ubc.get(tid);
    if (!u) {
      u = { flush_required: false, writable: false, cpumask: new Set(), ranges: [], mms: new Set() };
      this.ubc.set(tid, u);
    }
    return u;
  }

  /**
   * pgtable_trans_huge_deposit(): the deposited tables of one PMD page form a circular list
   * whose head is the newest; a new one is inserted right after the head and becomes head.
   */
  deposit(mm: Mm, haddr: number, pfn: number): void {
    const key = Math.floor(haddr / 2 ** 30);
    let d = mm.deposits.get(key);
    if (!d) { d = { ring: [], head: -1 }; mm.deposits.set(key, d); }
    if (d.head < 0) { d.ring = [pfn]; d.head = 0; return; }
    d.ring.splice(d.head + 1, 0, pfn);
    d.head++;
  }

  /**
   * pgtable_trans_huge_withdraw(): take the head; the entry after it becomes the head — so
   * withdrawals go newest, then oldest, then in deposit order.
   */
  withdraw(mm: Mm, haddr: number): number {
    const d = mm.deposits.get(Math.floor(haddr / 2 ** 30));
    if (!d || d.head < 0) return 0;
    const pfn = d.ring[d.head]!;
    d.ring.splice(d.head, 1);
    if (d.ring.length === 0) d.head = -1;
    else d.head = d.head % d.ring.length;
    return pfn;
  }

  // --------------------------------------------------------------------------------------
  // LRU list membership.

  lruAdd(f: Folio, list: Lru): void {
    if (f.lru !== Lru.None) this.lru[f.lru]!.delete(f);
    f.lru = list;
    this.lru[list]!.add(f);
    this.cost.listMoves++;
  }

  lruDel(f: Folio): void {
    if (f.lru === Lru.None) return;
    this.lru[f.lru]!.delete(f);
    f.lru = Lru.None;
    this.cost.listMoves++;
  }

  // --------------------------------------------------------------------------------------
  // rss accounting: include/linux/mm.h add_mm_counter() and, where traits.rssEveryUpdate is
  // false (6.1, SPLIT_RSS_COUNTING), the per-task cache `current->rss_stat` of mm/memory.c.
  //
  // Every 6.1 update of an mm's rss goes one of three ways, and only these methods touch it:
  //  - cached (addMmCounterFast, add_mm_counter_fast()): do_anonymous_page(), wp_page_copy(),
  //    do_swap_page(), do_set_pte(), insert_page() — when the faulting task's own mm is the one
  //    updated (current->mm == mm); another task's update (GUP of a remote mm) is atomic;
  //  - atomic (addMmCounter, add_mm_counter()): the PMD paths (__do_huge_pmd_anonymous_page(),
  //    zap_huge_pmd(), copy_huge_pmd()), try_to_unmap_one() (reclaim, MADV_PAGEOUT, lazyfree
  //    discard), khugepaged, fork's copy_pte_range() of the child (add_mm_rss_vec() of an mm
  //    that is not current's, so without a sync);
  //  - a batch (addMmRssVec, add_mm_rss_vec()): zap_pte_range() (munmap, exit, MADV_DONTNEED,
  //    mremap's unmap of the old range), which first syncs current's cache when current->mm
  //    is the mm zapped.
  // The cache is folded into the mm (syncMmRss, sync_mm_rss()) at:
  //  - check_sync_rss_stat() at the start of every handle_mm_fault() of the task (user or
  //    kernel mode, GUP included): once the count of faults since the last sync passed
  //    TASK_RSS_EVENTS_THRESH, into the task's own mm (task->mm), whichever mm faulted;
  //  - add_mm_rss_vec() as above;
  //  - do_exit() of each task, while tsk->mm is still set (its rss_stat says curr=1), before
  //    exit_mm(); and exec_mmap() for the old mm (the engine's `exec` op);
  // and copy_process() starts a new task (fork child or thread) with an empty cache. mremap's
  // move_page_tables() moves entries without touching rss.

  /**
   * add_mm_counter(): an atomic update, traced as one rss_stat with the new total. `traceZero`:
   * the caller adds whatever it counted, 0 included (add_mm_counter() traces that too).
   */
  addMmCounter(mm: Mm, member: number, pages: number, traceZero = false): void {
    if (pages === 0 && !traceZero) return;
    mm.rss[member]! += pages;
    this.cost.rssUpdates++;
    this.emit({
      ev: 'rss_stat', cpu: this.cpu, mm: mm.id, curr: mm.threads.has(this.tid) ? 1 : 0, member,
      size: mm.rss[member]! * 4096, delta: pages * 4096,
    });
  }

  readonly taskRss = new Map<number, TaskRss>();

  taskRssOf(tid: number): TaskRss {
    let t = this.taskRss.get(tid);
    if (!t) {
      t = { cache: [0, 0, 0, 0], events: 0 };
      this.taskRss.set(tid, t);
    }
    return t;
  }

  /**
   * add_mm_counter_fast(): 6.1 caches a fault-path update in the current task when it updates
   * its own mm (SPLIT_RSS_COUNTING); 6.2+ traces every update.
   */
  addMmCounterFast(mm: Mm, member: number, pages: number): void {
    if (this.traits.rssEveryUpdate || !mm.threads.has(this.tid)) {
      this.addMmCounter(mm, member, pages);
      return;
    }
    this.taskRssOf(this.tid).cache[member]! += pages;
  }

  /**
   * add_mm_rss_vec(): a zap's per-table deltas, each one atomic update; on 6.1 the zapping
   * task's cache is synced into the mm first when the mm is its own (current->mm == mm) and it
   * has not exited.
   */
  addMmRssVec(mm: Mm, rss: readonly number[]): void {
    if (!this.traits.rssEveryUpdate && mm.threads.has(this.tid) && !mm.exited) this.syncMmRss(mm, this.tid);
    for (let i = 0; i < rss.length; i++) if (rss[i]) this.addMmCounter(mm, i, rss[i]!);
  }

  /**
   * check_sync_rss_stat(current) at the start of each handle_mm_fault(): counts the fault for
   * the current task and syncs its cache into its own mm (task->mm) when due — the faulted mm
   * (`mm`) only when it is that one.
   */
  checkSyncRss(mm: Mm): void {
    if (this.traits.rssEveryUpdate) return;
    const own = mm.threads.has(this.tid) ? mm : this.mms.get(this.tid);
    if (this.rssEventDue(this.tid) && own) this.syncMmRss(own, this.tid);
  }

  /**
   * check_sync_rss_stat()'s test (6.1 mm/memory.c): counts one event of the task and says
   * whether its cache is due for sync_mm_rss() — once the count before this one passed
   * TASK_RSS_EVENTS_THRESH.
   */
  rssEventDue(tid: number): boolean {
    return this.taskRssOf(tid).events++ > TASK_RSS_EVENTS_THRESH;
  }

  /**
   * do_exit() of task `tid` (6.1 kernel/exit.c: sync_mm_rss(tsk->mm) before exit_mm()): its
   * cache goes into the mm while it is still one of the mm's tasks; the task's cache is gone.
   */
  exitTaskRss(mm: Mm, tid: number): void {
    if (!this.traits.rssEveryUpdate && this.taskRss.has(tid)) {
      const cur = this.tid;
      // The exiting task is current: its rss_stat events say curr=1.
      this.tid = tid;
      this.syncMmRss(mm, tid);
      this.tid = cur;
    }
    this.taskRss.delete(tid);
  }

  /** copy_process(): a new task (fork child, thread) starts with an empty rss cache. */
  newTaskRss(tid: number): void {
    this.taskRss.delete(tid);
  }

  /** sync_mm_rss(): fold a task's cache into the mm (one rss_stat per counter that moved). */
  syncMmRss(mm: Mm, tid: number): void {
    const t = this.taskRssOf(tid);
    // A cache holding counts of faults outside the model syncs totals the model cannot know:
    // its own part is applied untraced (the recorded updates are outside the model).
    const sink = this.emitSink;
    const keep = this.keepOut;
    if (t.unknown) { this.emitSink = undefined; this.keepOut = false; }
    for (let i = 0; i < 4; i++) {
      const v = t.cache[i]!;
      if (v !== 0) {
        t.cache[i] = 0;
        this.addMmCounter(mm, i, v);
      }
    }
    if (t.unknown) { t.unknown = false; this.emitSink = sink; this.keepOut = keep; }
    t.events = 0;
  }
}
