/**
 * Fidelity: the model's predicted kernel output against what the real kernel recorded, op by
 * op. Compared: tlb_flush (pages, reason), rss_stat (counter, change, curr), mm_page_free of
 * the workload's own pages (pfn, order), mm_vmscan_reclaim_pages (counts) — in order per CPU
 * within each op. Recorded frees of pages the workload never allocated (per-CPU list drains,
 * RCU callbacks, page cache) are not the workload's and are counted apart.
 */
import { OTHERS_FOLIOS_SPLIT, SYSCALL_BESIDES_RECLAIM, type Emission, type UncertainFlush, type UnseenDecisions } from '../model/emit.js';
import { MM_FILEPAGES, MM_SHMEMPAGES, RSS_NAMES } from '../model/state.js';
import type { LiftedOp, Recorded } from '../replay/lift.js';

export interface Mismatch {
  op: number;
  line: number;
  phase: string;
  opKind: string;
  cpu: number;
  /** The first differing position, and the two sequences around it. */
  at: number;
  recorded: string[];
  predicted: string[];
}

/**
 * matched: every compared event equal, nothing outside the model, the trace read whole;
 * mismatched: at least one op differs; partial: nothing compared differs, but part of the
 * workload's recorded output could not be checked (ops outside the model, lost events, event
 * kinds the trace lacks: `reasons` says which); unchecked: nothing was compared at all.
 */
export type Verdict = 'matched' | 'mismatched' | 'partial' | 'unchecked';

/** One kind of op the model does not represent, and what the kernel recorded during those ops. */
export interface OutsideModel {
  /** `syscall mprotect`, `fault outside any anonymous mapping the model knows`, `madvise advice 3`, … */
  kind: string;
  ops: number;
  /** Recorded output events of the workload in those ops (not compared). */
  events: number;
  /** Trace line of the first such op that had recorded output (else of the first op). */
  firstLine: number;
}

/**
 * The recorded event where a mismatch starts, as the report prints it but without its line, or
 * null when nothing was recorded there (the prediction ran past the recording).
 */
export function recordedAtDivergence(m: Mismatch): string | null {
  const rec = m.recorded[m.at - Math.max(0, m.at - 2)];
  return rec === undefined ? null : rec.replace(/ \(line \d+\)$/, '');
}

export interface FidelityReport {
  verdict: Verdict;
  /** Why the verdict is not `matched` (empty when it is). */
  reasons: string[];
  /** verdict === 'matched'. */
  matched: boolean;
  /** Recorded output events of the workload that were compared. */
  compared: number;
  /**
   * Of those, reproduced in order: up to an op's first difference on a CPU, each equal to the
   * prediction at its position; past it, those in a longest common subsequence of the rest of the
   * two (see commonInOrder).
   */
  equal: number;
  /** Predicted events no recorded event took in that alignment. */
  extra: number;
  opsCompared: number;
  opsMismatched: number;
  /**
   * Of the ops that differ, those of a process whose state an unseen decision may have set apart
   * from the kernel's (Engine StepResult `unseen`, the first in `unseenFrom`): from an op with
   * such decisions that itself differs (one that reproduced shows the kernel decided alike), the
   * ops of that mm's family do not make the verdict `mismatched`.
   */
  opsUnseen: number;
  unseenFrom?: { line: number } & UnseenDecisions;
  /**
   * Every phase the compared ops were in, in the order first met, with how many of its ops
   * differ (not counting `opsUnseen`): a gap that holds from a phase on (TraceFacts
   * `phaseGaps`) excuses those of that phase and later ones only.
   */
  phaseMismatches: Array<{ phase: string; ops: number }>;
  /**
   * Of the ops that differ (and are not `opsUnseen`), those whose own output depended on what no
   * event shows (Engine StepResult `unseenOutput`): the first one's line and reason.
   */
  opsUnseenOutput: number;
  unseenOutputAt?: { line: number; why: string };
  byKind: Record<string, { recorded: number; predicted: number }>;
  /** Recorded frees of pages that were never the workload's (not compared). */
  foreignFrees: number;
  /** Recorded output inside ops the model does not represent (not compared: see outsideModel). */
  unmodelledOutput: number;
  /** The ops outside the model inside the compared window, by kind. */
  outsideModel: OutsideModel[];
  /** Recorded flushes in the workload's context that were not the workload's (not compared). */
  taskSwitchFlushes: number;
  foreignIpiFlushes: number;
  /** Recorded page frees in softirq context (RCU callbacks): not the workload's ops. */
  softirqFrees: number;
  /** Ops the task was preempted in: their rss updates compared by their sum (LiftedOp.preempted). */
  preemptedOps: number;
  /**
   * Recorded rss_stat updates of MM_FILEPAGES / MM_SHMEMPAGES while the model held no file or
   * shmem page: file-backed memory outside the model (not compared).
   */
  fileRss: number;
  /** Of those, how many by what the model lacked to predict them (the model's reason, per op). */
  fileRssWhy: Record<string, number>;
  /**
   * Predicted flushes that depend on page-table bits the trace cannot show (Emission
   * `uncertain`): matched by position to a recorded flush of the same reason, their page count
   * not compared; `uncertainAbsent` of them had no recorded flush there (the kernel found the
   * entries untouched).
   */
  uncertainFlushes: Record<UncertainFlush, number>;
  uncertainAbsent: Record<UncertainFlush, number>;
  /**
   * Predicted file rss updates whose page count is the model's guess (Emission rss_stat
   * `uncertain`: which pages of a fault-around window the page cache held uptodate before the
   * window is in no event): matched by position to a recorded update of the same counter, their
   * value counted apart — `agreed` had the recorded value, `absent` had no recorded update there.
   */
  uncertainRss: { predicted: number; agreed: number; absent: number };
  mismatches: Mismatch[];
}

const NO_KINDS: ReadonlySet<string> = new Set();

/** Why file rss is set aside when the caller gave no reason. */
const FILE_RSS_OUTSIDE = 'file pages the model does not hold (the mappings execve and the loader make, and what the page cache held, are in no tracepoint)';

/** The kind under which the free of a page allocated by an op outside the model is counted. */
const FREED_OUTSIDE = 'free of a page a fault outside the model allocated';

/** Pfns the model made up for folios whose allocation the trace did not record. */
export const SYNTH_PFN = 0x4000000000;

export function emissionKey(e: Emission): string | undefined {
  switch (e.ev) {
    case 'tlb_flush':
      // Task-switch flushes are excluded on both sides (see replay/lift.ts).
      return e.reason === 0 ? undefined : `tlb_flush pages=${e.pages} reason=${e.reason}`;
    case 'rss_stat':
      return `rss_stat curr=${e.curr} ${RSS_NAMES[e.member]} ${e.delta > 0 ? `+${e.delta}` : e.delta}`;
    case 'mm_page_free':
      return e.pfn >= SYNTH_PFN ? `mm_page_free order=${e.order}` : `mm_page_free pfn=0x${e.pfn.toString(16)} order=${e.order}`;
    case 'mm_vmscan_reclaim_pages':
      return `mm_vmscan_reclaim_pages scanned=${e.nr_scanned} reclaimed=${e.nr_reclaimed} activate_anon=${e.nr_activate_anon} activate_file=${e.nr_activate_file} unmap_fail=${e.nr_unmap_fail} ref_keep=${e.nr_ref_keep}`;
    default:
      return undefined;
  }
}

/** Predicted events that take part in the comparison (task-switch flushes and slab shrinks do not). */
export function compared(e: Emission): boolean {
  return e.ev !== 'mm_shrink_slab' && !(e.ev === 'tlb_flush' && e.reason === 0);
}

/** Field-by-field equality (no strings built on the hot path). */
function same(rec: Recorded, e: Emission): boolean {
  if (rec.ev !== e.ev) return false;
  switch (e.ev) {
    case 'tlb_flush':
      return rec.a === e.pages && rec.b === e.reason;
    case 'rss_stat':
      return rec.a === e.curr && rec.b === e.member && (rec.delta === null || rec.delta === e.delta);
    case 'mm_page_free':
      return rec.a === e.order && (e.pfn >= SYNTH_PFN || rec.pfn === e.pfn);
    default:
      return rec.key === emissionKey(e);
  }
}

/**
 * Past an op's first difference on a CPU, the recorded events still counted as reproduced are a
 * longest common subsequence of the rest of the two sequences (Myers' O(ND) difference), so one
 * event the model lacks, adds or frees elsewhere in an exit of 10,000 pages does not count every
 * later one as different. The search costs about (N+M)·D steps: it gives up past MAX_EDITS
 * differences, or sooner where that would pass ALIGN_BUDGET steps (at least 64 differences are
 * always tried), and then counts a greedy common subsequence instead (each prediction takes the
 * next equal recorded event within RESYNC_WINDOW, at most 8 comparisons per event of the op on
 * average): both are common subsequences, never more than the true count. A config far from
 * the capture, whose every large op differs, so costs little more than one that matches.
 */
const MAX_EDITS = 4096;
const ALIGN_BUDGET = 1 << 16;
const RESYNC_WINDOW = 64;
/** Predictions kept past a first difference per CPU and op; those beyond are not counted. */
const TAIL_MAX = 1 << 17;

/** The length of a longest common subsequence of rec[from..to) and pred, or undefined past maxD edits. */
export function commonInOrder(rec: ReadonlyArray<Recorded | undefined>, from: number, to: number, pred: readonly Emission[], maxD = MAX_EDITS): number | undefined {
  const n = to - from;
  const m = pred.length;
  const max = Math.min(n + m, maxD);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  for (let d = 0; d <= max; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && same(rec[from + x]!, pred[y]!)) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) return (n + m - d) / 2;
    }
  }
  return undefined;
}

/** A common subsequence found greedily: each prediction takes the next equal recorded event within RESYNC_WINDOW, within `budget` comparisons. */
export function greedyInOrder(rec: ReadonlyArray<Recorded | undefined>, from: number, to: number, pred: readonly Emission[], budget = Number.POSITIVE_INFINITY): number {
  let pos = from;
  let equal = 0;
  // `budget` comparisons at most (a lower bound is still a common subsequence): linear in the op.
  for (const e of pred) {
    const end = Math.min(to, pos + RESYNC_WINDOW);
    for (let j = pos; j < end; j++) {
      if (--budget < 0) return equal;
      if (same(rec[j]!, e)) { equal++; pos = j + 1; break; }
    }
  }
  return equal;
}

/** One CPU's side of a streamed comparison. */
interface Lane {
  cpu: number;
  /** This op's recorded events on the CPU: rec[0..n) (the array is reused from op to op). */
  rec: Array<Recorded | undefined>;
  n: number;
  /** The next recorded event a prediction is compared with. */
  pos: number;
  first: number;
  /** The last two predictions before `first`, and up to four from it. */
  before: Emission[];
  after: Emission[];
  /** The predictions from `first` on (at most TAIL_MAX). */
  tail: Emission[];
  /** Taken by the current op. */
  inUse: boolean;
}

/** The kinds a prediction may have once compared() let it through. */
const PRED_KINDS: ReadonlyArray<Emission['ev']> = ['tlb_flush', 'rss_stat', 'mm_page_free', 'mm_vmscan_reclaim_pages', 'mm_shrink_slab'];

function predKind(ev: Emission['ev']): number {
  switch (ev) {
    case 'tlb_flush': return 0;
    case 'rss_stat': return 1;
    case 'mm_page_free': return 2;
    case 'mm_vmscan_reclaim_pages': return 3;
    default: return 4;
  }
}

export class FidelityChecker {
  private r: FidelityReport = {
    verdict: 'matched', reasons: [], matched: true, compared: 0, equal: 0, extra: 0, opsCompared: 0, opsMismatched: 0, opsUnseen: 0, phaseMismatches: [], opsUnseenOutput: 0, byKind: {}, foreignFrees: 0,
    unmodelledOutput: 0, outsideModel: [], taskSwitchFlushes: 0, foreignIpiFlushes: 0, softirqFrees: 0, preemptedOps: 0, fileRss: 0, fileRssWhy: {}, uncertainFlushes: { touched: 0, ipi: 0, unseen: 0 }, uncertainAbsent: { touched: 0, ipi: 0, unseen: 0 }, uncertainRss: { predicted: 0, agreed: 0, absent: 0 }, mismatches: [],
  };
  private readonly outside = new Map<string, OutsideModel>();
  /**
   * Whether the op about to begin maps or unmaps only file and shmem pages the model holds: its
   * recorded MM_FILEPAGES/MM_SHMEMPAGES updates are then compared; otherwise neither they nor
   * the model's are. Asked once per op, at begin().
   */
  /**
   * Whether the op's file rss updates are the model's to predict: true, or false / what the model
   * lacks for them (named in the report).
   */
  filePages: () => boolean | string = () => false;
  private fileWhy: string | undefined;
  private fileKnown = false;

  /** `ignore`: predicted kinds the trace cannot show (not recorded): not compared. */
  constructor(private readonly maxMismatches = 50, private readonly ignore: ReadonlySet<string> = NO_KINDS) {}

  private kind(k: string): { recorded: number; predicted: number } {
    let v = this.r.byKind[k];
    if (!v) { v = { recorded: 0, predicted: 0 }; this.r.byKind[k] = v; }
    return v;
  }

  // ------------------------------------------------------------------------------------------
  // One op: begin() with its recorded output, see() each predicted event as the engine makes it,
  // end(). Each CPU's two sequences are walked in step, so a long op's predictions need not be
  // kept.

  private op: LiftedOp | undefined;
  /** The op's StepResult `unseen`, while it ends; the processes such a decision set apart. */
  private unseenDecided: UnseenDecisions | undefined;
  private readonly unseenTgids = new Set<number>();
  /** The op's predicted frees (pfns) and rss deltas by counter (curr * 8 + member; `opRssSet` says whether any). */
  private readonly opFrees: number[] = [];
  private readonly opRss = new Float64Array(16);
  private opRssSet = false;
  /** The op's StepResult `unseenOutput`, while it ends. */
  private unseenOutput: string | undefined;
  /** The report's phaseMismatches entry of each phase, and the current op's. */
  private readonly phaseAt = new Map<string, { phase: string; ops: number }>();
  private phaseCur: { phase: string; ops: number } | undefined;
  private readonly rec: Array<Recorded | undefined> = [];
  private nrec = 0;
  /** Every CPU's lane ever used (reused from op to op), and those in use by this op. */
  private readonly lanes: Array<Lane | undefined> = [];
  private readonly active: Lane[] = [];
  private npred = 0;
  /** Predicted events of this op per kind, in PRED_KINDS order. */
  private readonly predKinds = [0, 0, 0, 0, 0];
  /** Scratch of end(): recorded events per kind, and the kinds in order of first appearance. */
  private readonly recKinds = [0, 0, 0, 0, 0];
  private readonly recFirst = [0, 0, 0, 0, 0];
  private equalPending = 0;
  private extraPending = 0;
  /** Recorded events of a shared op passed over as the unknown memory's. */
  private sharedSkipped = 0;
  /** The shared op's unknown output is other processes' memory only (see ownInShared()). */
  private sharedOthersOnly = false;

  /**
   * A recorded event a shared op cannot pass over as the unknown memory's, where that memory is
   * other processes' only (drop_caches): a free of a page the workload allocated in the window,
   * or an update of the workload's own rss (curr=1: the current task's mm). Where the unknown
   * memory is the workload's own from before the window (a fork, an exit), its pages share the
   * gather's batches with the known ones, so those frees may come in another order: not so.
   */
  private ownInShared(r: Recorded): boolean {
    if (!this.sharedOthersOnly) return false;
    return r.ev === 'mm_page_free' ? r.ours === true : r.ev === 'rss_stat' && r.a === 1;
  }

  /**
   * `shared`: the op's recorded output also covers memory the model does not know (named): the
   * predictions are looked for in order among the recorded events, and the recorded events
   * between and after them are counted outside the model under that name.
   */
  begin(lo: LiftedOp, shared?: string, allocatedOutside?: (pfn: number) => boolean, freesUnordered = false): void {
    this.op = lo.compare ? lo : undefined;
    if (!this.op) return;
    this.opFrees.length = 0;
    if (this.opRssSet) {
      this.opRss.fill(0);
      this.opRssSet = false;
    }
    if (this.phaseCur?.phase !== lo.phase) {
      let cur = this.phaseAt.get(lo.phase);
      if (!cur) {
        cur = { phase: lo.phase, ops: 0 };
        this.phaseAt.set(lo.phase, cur);
        this.r.phaseMismatches.push(cur);
      }
      this.phaseCur = cur;
    }
    this.shared = shared;
    this.sharedOthersOnly = shared === OTHERS_FOLIOS_SPLIT || shared === SYSCALL_BESIDES_RECLAIM;
    this.freesUnordered = shared !== undefined && freesUnordered;
    if (this.consumed.size > 0) this.consumed.clear();
    this.mergeRss = lo.preempted === true;
    const fp = this.filePages();
    this.fileKnown = fp === true;
    this.fileWhy = typeof fp === 'string' ? fp : undefined;
    if (this.mergeRss) this.r.preemptedOps++;
    this.pendingRss = undefined;
    // The lists are reused from op to op, refilled from the start (a mismatch report copies
    // what it shows).
    // After a long op (a reclaim pass) the lists are dropped instead, not to keep its events.
    if (this.nrec > 1024) this.rec.length = 0;
    this.nrec = 0;
    for (const l of this.active) {
      if (l.n > 1024) l.rec = [];
      l.n = 0;
      l.pos = 0;
      l.first = -1;
      l.before.length = 0;
      l.after.length = 0;
      if (l.tail.length > 1024) l.tail = [];
      else l.tail.length = 0;
      l.inUse = false;
    }
    this.active.length = 0;
    this.npred = 0;
    const pk = this.predKinds;
    for (let i = 0; i < pk.length; i++) pk[i] = 0;
    this.equalPending = 0;
    this.extraPending = 0;
    const recorded = lo.recorded;
    for (let i = 0; i < recorded.length; i++) {
      const x = recorded[i]!;
      if (x.ours === false) { if (x.ev === 'mm_page_free') this.r.foreignFrees++; continue; }
      if (x.ev === 'rss_stat' && (x.b === MM_FILEPAGES || x.b === MM_SHMEMPAGES) && !this.fileKnown) {
        this.r.fileRss++;
        const why = this.fileWhy ?? FILE_RSS_OUTSIDE;
        this.r.fileRssWhy[why] = (this.r.fileRssWhy[why] ?? 0) + 1;
        continue;
      }
      if (allocatedOutside !== undefined && x.ev === 'mm_page_free' && x.pfn !== undefined && allocatedOutside(x.pfn)) { this.outsideEvent(FREED_OUTSIDE, lo.op.at.line); continue; }
      const l = this.lane(x.cpu);
      // A preempted op's rss updates of one counter compare by their sum: the lifter merged
      // those next to each other; those a set-aside file update stood between merge here.
      const last = l.n > 0 ? l.rec[l.n - 1] : undefined;
      if (this.mergeRss && last && x.ev === 'rss_stat' && last.ev === 'rss_stat' && last.a === x.a && last.b === x.b && typeof last.delta === 'number' && typeof x.delta === 'number') {
        const merged = last.withDelta(last.delta + x.delta);
        l.rec[l.n - 1] = merged;
        this.rec[this.nrec - 1] = merged;
        continue;
      }
      this.rec[this.nrec++] = x;
      l.rec[l.n++] = x;
    }
  }

  private lane(cpu: number): Lane {
    // Lanes by CPU number in an array (a Map lookup per event was a visible share of begin()).
    let l = this.lanes[cpu];
    if (!l) {
      l = { cpu, rec: [], n: 0, pos: 0, first: -1, before: [], after: [], tail: [], inUse: false };
      this.lanes[cpu] = l;
    }
    if (!l.inUse) {
      l.inUse = true;
      this.active.push(l);
    }
    return l;
  }

  private shared: string | undefined;
  /**
   * A shared op whose frees come in gather batches freed in reverse (6.1 release_pages()) that
   * also hold pages the model does not know: where a batch ends is not knowable, so its
   * predicted frees are matched as a set (each to one recorded free, `consumed`).
   */
  private freesUnordered = false;
  private readonly consumed = new Set<Recorded>();

  /** A preempted op: consecutive rss updates of one counter are compared by their sum (as the lifter merged the recorded ones). */
  private mergeRss = false;
  private pendingRss: Extract<Emission, { ev: 'rss_stat' }> | undefined;

  see(e: Emission): void {
    if (!this.op || !compared(e) || (this.ignore.size > 0 && this.ignore.has(e.ev))) return;
    // A flush traced in another task's context (a flush IPI's handler on a CPU running someone
    // else) is never among the recorded output: the lifter keeps the workload's tasks' events.
    if (e.ev === 'tlb_flush' && e.offTask) return;
    // The model's own file rss updates where the recorded ones are set aside (the op may map or
    // unmap file pages it does not hold): neither side is compared.
    if (e.ev === 'rss_stat' && (e.member === MM_FILEPAGES || e.member === MM_SHMEMPAGES) && !this.fileKnown) return;
    // Recorded updates summed across a resched point (a preempted op) mix the model's pages with
    // the unknown memory's: such an rss update cannot be told apart, so it is not compared —
    // but where that memory is other processes' only, the workload's own rss is all the model's.
    if (this.shared !== undefined && this.mergeRss && e.ev === 'rss_stat' && !(this.sharedOthersOnly && e.curr === 1)) return;
    if (e.ev === 'mm_page_free') this.opFrees.push(e.pfn);
    else if (e.ev === 'rss_stat' && e.curr >= 0 && e.curr < 2 && e.member >= 0 && e.member < 8) {
      this.opRss[e.curr * 8 + e.member]! += e.delta;
      this.opRssSet = true;
    }
    if (e.ev === 'rss_stat' && e.uncertain) {
      const p = this.pendingRss;
      if (p) {
        this.pendingRss = undefined;
        this.seeOne(p);
      }
      this.seeUncertainRss(e);
      return;
    }
    if (this.mergeRss) {
      const p = this.pendingRss;
      if (e.ev === 'rss_stat') {
        if (p && p.cpu === e.cpu && p.curr === e.curr && p.member === e.member) this.pendingRss = { ...p, delta: p.delta + e.delta };
        else {
          if (p) this.seeOne(p);
          this.pendingRss = e;
        }
        return;
      }
      if (p) {
        this.pendingRss = undefined;
        this.seeOne(p);
      }
    }
    this.seeOne(e);
  }

  private seeOne(e: Emission): void {
    if (e.ev === 'tlb_flush' && e.uncertain) {
      this.seeUncertain(e);
      return;
    }
    this.npred++;
    this.predKinds[predKind(e.ev)]!++;
    const l = this.lane(e.cpu);
    if (this.shared !== undefined && l.first < 0) {
      const used = this.consumed;
      if (this.freesUnordered && e.ev === 'mm_page_free') {
        for (let j = l.pos; j < l.n; j++) {
          const r = l.rec[j]!;
          if (!used.has(r) && same(r, e)) {
            used.add(r);
            this.equalPending++;
            return;
          }
        }
      } else {
        // The recorded events before the next equal one are the unknown memory's.
        let j = l.pos;
        let skipped = 0;
        while (j < l.n && (used.has(l.rec[j]!) || !same(l.rec[j]!, e))) {
          if (!used.has(l.rec[j]!)) {
            // The workload's own event is never the unknown memory's: it is compared here.
            if (this.ownInShared(l.rec[j]!)) break;
            skipped++;
          }
          j++;
        }
        if (j < l.n) {
          this.sharedSkipped += skipped;
          l.pos = j;
        }
      }
    }
    const a = l.pos < l.n ? l.rec[l.pos] : undefined;
    if (l.first < 0) {
      if (a && same(a, e)) {
        this.equalPending++;
        // The two predictions before a first difference, for its report.
        l.before.push(e);
        if (l.before.length > 2) l.before.shift();
        l.pos++;
        return;
      }
      l.first = l.pos;
    }
    // Past the first difference the predictions are kept (up to TAIL_MAX) and aligned with the
    // rest of the recorded sequence at end().
    if (l.after.length < 4) l.after.push(e);
    if (l.tail.length < TAIL_MAX) l.tail.push(e);
  }

  /**
   * A flush the kernel makes only if the program touched the entries (see Emission
   * `uncertain`): it takes a recorded flush of the same reason at its position, whatever its
   * range, or else stands for no flush.
   */
  private seeUncertain(e: Extract<Emission, { ev: 'tlb_flush' }>): void {
    this.r.uncertainFlushes[e.uncertain!]++;
    const l = this.lane(e.cpu);
    if (l.first >= 0) return;
    const a = l.pos < l.n ? l.rec[l.pos] : undefined;
    if (a && a.ev === 'tlb_flush' && a.b === e.reason) {
      this.npred++;
      this.predKinds[predKind(e.ev)]!++;
      this.equalPending++;
      l.before.push(e);
      if (l.before.length > 2) l.before.shift();
      l.pos++;
      return;
    }
    this.r.uncertainAbsent[e.uncertain!]++;
  }

  /**
   * A file rss update whose value is the model's guess (see Emission rss_stat `uncertain`): it
   * takes a recorded update of the same counter at its position, whatever its value, or else
   * stands for none (the kernel mapped or unmapped no page of that counter there).
   */
  private seeUncertainRss(e: Extract<Emission, { ev: 'rss_stat' }>): void {
    const u = this.r.uncertainRss;
    u.predicted++;
    const l = this.lane(e.cpu);
    if (l.first >= 0) return;
    const a = l.pos < l.n ? l.rec[l.pos] : undefined;
    if (a && a.ev === 'rss_stat' && a.a === e.curr && a.b === e.member) {
      const agreed = same(a, e);
      if (agreed) u.agreed++;
      this.npred++;
      this.predKinds[predKind(e.ev)]!++;
      if (agreed) this.equalPending++;
      l.before.push(e);
      if (l.before.length > 2) l.before.shift();
      l.pos++;
      return;
    }
    u.absent++;
  }

  /** One recorded event counted under an outside-the-model kind. */
  private outsideEvent(kind: string, line: number): void {
    this.r.unmodelledOutput++;
    let o = this.outside.get(kind);
    if (!o) { o = { kind, ops: 0, events: 0, firstLine: line }; this.outside.set(kind, o); }
    if (o.events === 0) o.firstLine = line;
    o.ops++;
    o.events++;
  }

  /**
   * Ends the op; `unmodelled` names what the model could not represent in it, `unseen` the
   * decisions in it that took accessed bits no event shows.
   */
  end(unmodelled?: string, unseen?: UnseenDecisions, unseenOutput?: string): void {
    this.unseenDecided = unseen;
    this.unseenOutput = unseenOutput;
    if (this.pendingRss) {
      const p = this.pendingRss;
      this.pendingRss = undefined;
      this.seeOne(p);
    }
    const lo = this.op;
    this.op = undefined;
    if (!lo) return;
    const rec = this.rec;
    const nrec = this.nrec;
    const shared = this.shared;
    this.shared = undefined;
    const skipped = this.sharedSkipped;
    this.sharedSkipped = 0;
    if (unmodelled !== undefined) {
      // Nothing is predicted for what the model does not represent: its recorded output is
      // counted under its kind, never compared (it would read as a mismatch of the model).
      this.r.unmodelledOutput += nrec;
      let o = this.outside.get(unmodelled);
      if (!o) { o = { kind: unmodelled, ops: 0, events: 0, firstLine: lo.op.at.line }; this.outside.set(unmodelled, o); }
      if (o.events === 0 && nrec > 0) o.firstLine = lo.op.at.line;
      o.ops++;
      o.events += nrec;
      return;
    }
    let rest = 0;
    if (shared !== undefined) {
      // What no prediction took on a lane whose predictions all matched is the unknown memory's.
      rest = skipped;
      for (const l of this.active) {
        if (l.first >= 0) continue;
        let own = -1;
        for (let j = l.pos; j < l.n; j++) {
          const r = l.rec[j]!;
          if (this.consumed.has(r)) continue;
          if (own < 0 && this.ownInShared(r)) own = j;
          else if (own < 0) rest++;
        }
        // The workload's own event no prediction took: the op differs there.
        if (own >= 0) { l.first = own; l.pos = own; } else l.pos = l.n;
      }
      if (rest > 0) {
        this.r.unmodelledOutput += rest;
        let o = this.outside.get(shared);
        if (!o) { o = { kind: shared, ops: 0, events: 0, firstLine: lo.op.at.line }; this.outside.set(shared, o); }
        if (o.events === 0) o.firstLine = lo.op.at.line;
        o.ops++;
        o.events += rest;
      }
    }
    if (nrec === 0 && this.npred === 0) return;
    this.r.opsCompared++;
    // Recorded events per kind, the kinds entered in order of first appearance (the report's
    // key order); one byKind lookup per kind, not per event.
    const counts = this.recKinds;
    const first = this.recFirst;
    let seen = 0;
    let nf = 0;
    for (let i = 0; i < counts.length; i++) counts[i] = 0;
    for (let i = 0; i < nrec; i++) {
      const kd = predKind(rec[i]!.ev);
      if (!(seen & (1 << kd))) { seen |= 1 << kd; first[nf++] = kd; }
      counts[kd]!++;
    }
    for (let j = 0; j < nf; j++) this.kind(PRED_KINDS[first[j]!]!).recorded += counts[first[j]!]!;
    PRED_KINDS.forEach((ev, i) => { if (this.predKinds[i]) this.kind(ev).predicted += this.predKinds[i]!; });
    for (const l of this.active) {
      if (l.first < 0) continue;
      // Recorded frees a prediction already took as a set (freesUnordered) are not aligned again.
      let rec: ReadonlyArray<Recorded | undefined> = l.rec;
      let from = l.first;
      let to = l.n;
      if (this.consumed.size > 0) {
        rec = l.rec.slice(l.first, l.n).filter((r) => !this.consumed.has(r!));
        from = 0;
        to = rec.length;
      }
      const size = to - from + l.tail.length;
      const maxD = Math.min(MAX_EDITS, Math.max(64, Math.floor(ALIGN_BUDGET / Math.max(1, size))));
      const common = commonInOrder(rec, from, to, l.tail, maxD) ?? greedyInOrder(rec, from, to, l.tail, 8 * size + 256);
      this.equalPending += common;
      this.extraPending += l.tail.length - common;
    }
    this.r.compared += nrec - rest;
    this.r.equal += this.equalPending;
    this.r.extra += this.extraPending;
    let bad = false;
    const lanes = this.active.length > 1 ? [...this.active].sort((a, b) => a.cpu - b.cpu) : this.active;
    for (const l of lanes) {
      const cpu = l.cpu;
      // Recorded events no prediction reached: the first of them differs.
      if (l.first < 0 && l.pos < l.n) l.first = l.pos;
      if (l.first < 0) continue;
      bad = true;
      if (this.r.mismatches.length < this.maxMismatches) {
        const lo0 = Math.max(0, l.first - 2);
        const ps = [...l.before.slice(l.before.length - (l.first - lo0)), ...l.after];
        this.r.mismatches.push({
          op: lo.op.at.index, line: lo.op.at.line, phase: lo.phase, opKind: lo.op.kind, cpu, at: l.first,
          recorded: l.rec.slice(lo0, Math.min(l.first + 4, l.n)).map((x) => `${x!.key} (line ${x!.line})`),
          predicted: ps.map((p) => emissionKey(p) ?? p.ev),
        });
      }
    }
    if (bad) {
      const u = this.unseenDecided;
      if (u) {
        this.r.unseenFrom ??= { line: lo.op.at.line, ...u };
        for (const t of u.tgids) this.unseenTgids.add(t);
      }
      this.r.opsMismatched++;
      if (this.unseenTgids.has(lo.op.tgid)) this.r.opsUnseen++;
      else if (this.unseenOutput !== undefined && this.sameFreesAndRss(nrec)) {
        this.r.opsUnseenOutput++;
        this.r.unseenOutputAt ??= { line: lo.op.at.line, why: this.unseenOutput };
      } else if (this.phaseCur) this.phaseCur.ops++;
    }
  }

  /**
   * Whether the op's recorded output frees the pages the model's does and moves each rss
   * counter by the same total: then a difference is where batches ended (a forced flush, an rss
   * update split there), not what the op did. Where the op's output also covers memory the
   * model does not know (`shared`), the model's frees must be among the recorded ones and each
   * counter move at least the model's, the same way.
   */
  private sameFreesAndRss(nrec: number): boolean {
    const frees: number[] = [];
    const rss = new Float64Array(16);
    for (let i = 0; i < nrec; i++) {
      const r = this.rec[i]!;
      if (r.ev === 'mm_page_free' && r.ours !== false) frees.push(r.pfn!);
      else if (r.ev === 'rss_stat') {
        if (typeof r.delta !== 'number' || !(r.a! >= 0 && r.a! < 2 && r.b! >= 0 && r.b! < 8)) return false;
        rss[r.a! * 8 + r.b!]! += r.delta;
      }
    }
    const within = this.shared !== undefined;
    const pred = this.opFrees;
    if (within ? frees.length < pred.length : frees.length !== pred.length) return false;
    if (!pred.some((p) => p >= SYNTH_PFN)) {
      const left = new Map<number, number>();
      for (const p of frees) left.set(p, (left.get(p) ?? 0) + 1);
      for (const p of pred) {
        const n = left.get(p) ?? 0;
        if (n === 0) return false;
        left.set(p, n - 1);
      }
    }
    for (let key = 0; key < 16; key++) {
      const r = rss[key]!;
      const p = this.opRss[key]!;
      if (within ? Math.sign(r) !== Math.sign(p) || Math.abs(r) < Math.abs(p) : r !== p) return false;
    }
    return true;
  }

  /** Flushes the lifter found in the workload's context but not of its doing. */
  notTheWorkloads(taskSwitch: number, foreignIpi: number, softirqFrees = 0): void {
    this.r.taskSwitchFlushes = taskSwitch;
    this.r.foreignIpiFlushes = foreignIpi;
    this.r.softirqFrees = softirqFrees;
  }

  report(): FidelityReport {
    const r = this.r;
    r.outsideModel = [...this.outside.values()].sort((a, b) => b.events - a.events || b.ops - a.ops);
    const reasons: string[] = [];
    const silent = r.outsideModel.filter((o) => o.events > 0);
    if (r.fileRss) {
      const whys = Object.entries(r.fileRssWhy).sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n}: ${why}`);
      reasons.push(`${r.fileRss} recorded rss_stat update${r.fileRss === 1 ? '' : 's'} of file or shmem pages (MM_FILEPAGES/MM_SHMEMPAGES) not compared, by what the model lacked to predict them (${whys.join('; ')})`);
    }
    const ut = r.uncertainFlushes.touched;
    const ui = r.uncertainFlushes.ipi;
    if (ut) reasons.push(`${ut} predicted flush${ut === 1 ? '' : 'es'} depend${ut === 1 ? 's' : ''} on whether the program touched memory the kernel had left clean and old (a store or access to present memory leaves no event; MADV_FREE over lazyfree pages): matched by position, range not compared; ${r.uncertainAbsent.touched} had no recorded flush (the entries were untouched)`);
    const uu = r.uncertainFlushes.unseen;
    if (uu) reasons.push(`${uu} predicted flush${uu === 1 ? '' : 'es'} of a zap over file-backed or shared mappings depend${uu === 1 ? 's' : ''} on which of their pages were mapped (a file fault maps its neighbours too, as far as the page cache holds them; no event shows which): matched by position, range not compared; ${r.uncertainAbsent.unseen} had no recorded flush`);
    const ur = r.uncertainRss;
    if (ur.predicted > ur.agreed) reasons.push(`${ur.predicted} predicted file rss update${ur.predicted === 1 ? '' : 's'} depend${ur.predicted === 1 ? 's' : ''} on which pages the page cache held uptodate before the window (filemap_map_pages() skips a page not uptodate, locked or marked for readahead; mm_filemap_map_pages names the range asked, not the pages mapped): matched by position, value not compared; ${ur.agreed} agreed, ${ur.absent} had no recorded update`);
    if (ui) reasons.push(`${ui} predicted flush-IPI send${ui === 1 ? '' : 's'} depend${ui === 1 ? 's' : ''} on whether an earlier flush IPI reached a CPU before or after its task switched to another process (6.14+: after it, the CPU leaves mm_cpumask; the capture shows that only in the other process's events): matched by position; ${r.uncertainAbsent.ipi} had no recorded send`);
    const uf = r.unseenFrom;
    if (uf && r.opsUnseen > 0) {
      const ops = `${r.opsUnseen} op${r.opsUnseen === 1 ? '' : 's'} differ${r.opsUnseen === 1 ? 's' : ''} at or after line ${uf.line}, where reclaim`;
      const n = `${uf.n} folio${uf.n === 1 ? '' : 's'}`;
      if (uf.what === 'order') {
        reasons.push(`${r.opsUnseen} op${r.opsUnseen === 1 ? '' : 's'} differ${r.opsUnseen === 1 ? 's' : ''} at or after line ${uf.line}, where ${uf.why}: which took the page-table lock first after deciding (to copy or to reuse) decides the outcome, and the trace orders their starts only; the model applies each fault whole in that order, and from there on its state may not be the kernel's`);
      } else {
        const decided = uf.what === 'accessed'
          ? `${ops} found ${n} unreferenced whose accessed bits an access no event shows may have set (${uf.why}; a read or write of present memory leaves no event)`
          : `${ops} discarded ${n} that a thread touching them meanwhile may have held a reference to (${uf.why}; a fault on a folio's migration entries during its split, or in progress on it, takes one: folio_ref_freeze() then fails and that thread's put frees the folio later)`;
        reasons.push(`${decided}: the kernel may have kept ${uf.n === 1 ? 'it' : 'some'}, and from there on the model's state may not be the kernel's`);
      }
    }
    if (silent.length) reasons.push(`${r.unmodelledOutput} recorded event${r.unmodelledOutput === 1 ? '' : 's'} in ops outside the model (${silent.map((o) => `${o.kind}: ${o.events} in ${o.ops} op${o.ops === 1 ? '' : 's'}, first at line ${o.firstLine}`).join('; ')})`);
    r.reasons = reasons;
    const uo = r.unseenOutputAt;
    if (uo && r.opsUnseenOutput > 0) reasons.push(`${r.opsUnseenOutput} op${r.opsUnseenOutput === 1 ? '' : 's'} differ${r.opsUnseenOutput === 1 ? 's' : ''} in output that depends on what no event shows (first at line ${uo.line}: ${uo.why})`);
    r.verdict = r.opsMismatched > r.opsUnseen + r.opsUnseenOutput ? 'mismatched' : r.compared === 0 && r.opsCompared === 0 ? 'unchecked' : reasons.length ? 'partial' : 'matched';
    r.matched = r.verdict === 'matched';
    return r;
  }
}

/** What the trace as a whole tells about how far the comparison can be trusted. */
export interface TraceFacts {
  /** Diagnostics of the read that mean events may be missing or out of order (code → count). */
  readProblems: Record<string, number>;
  /** Output kinds the trace does not record (absent from its event list, or from the trace). */
  notRecorded: string[];
  /** Inputs the trace lacks or could not decode, in words. */
  inputGaps: string[];
  /** Inputs the trace lacks from the start of a phase on (khugepaged's collapses), in words. */
  phaseGaps?: Array<{ phase: string; why: string }>;
  /** The capture's phases in the order it ran them (its saved counter deltas), to place a gap in a phase no compared op was in. */
  phaseOrder?: string[];
}

/**
 * The verdict once what the trace could not show is known: a comparison over a trace with lost
 * events, output kinds it never recorded or inputs it lacks is at best `partial`.
 */
export function withTraceFacts(r: FidelityReport, facts: TraceFacts): FidelityReport {
  const reasons = [...r.reasons];
  const problems = Object.entries(facts.readProblems);
  if (problems.length) reasons.unshift(`the trace was not read whole or in order (${problems.map(([c, n]) => `${c} ×${n}`).join(', ')}): events may be missing`);
  for (const k of facts.notRecorded) reasons.push(`${k} is not recorded in this trace: not compared`);
  for (const g of facts.inputGaps) reasons.push(g);
  const phaseGaps = facts.phaseGaps ?? [];
  for (const g of phaseGaps) reasons.push(g.why);
  let verdict = r.verdict;
  if (verdict === 'matched' && reasons.length) verdict = 'partial';
  // A kind the trace never recorded makes every prediction of it look like a mismatch.
  if (verdict === 'mismatched' && (facts.notRecorded.length || facts.inputGaps.length)) verdict = 'partial';
  // A gap from a phase on excuses the ops that differ in that phase and after it, not before.
  if (verdict === 'mismatched' && phaseGaps.length > 0) {
    // Each phase's position: in the order the comparison met them, or else in the capture's.
    const met = r.phaseMismatches.map((p) => p.phase);
    const ran = facts.phaseOrder ?? [];
    const order = phaseGaps.every((g) => met.includes(g.phase)) ? met : ran;
    const from = Math.min(...phaseGaps.map((g) => order.indexOf(g.phase)));
    // A gap in a phase neither order knows: where it began is unknown, so it covers everything.
    const before = from < 0 ? 0 : r.phaseMismatches.reduce((n, p) => {
      const at = order.indexOf(p.phase);
      return at >= 0 && at >= from ? n : n + p.ops;
    }, 0);
    if (before === 0) verdict = 'partial';
  }
  return { ...r, verdict, reasons, matched: verdict === 'matched' };
}
