/**
 * The engine: applies one op to the modelled kernel and returns what happened — the
 * tracepoint events the kernel would have emitted, violations — as data (decide, then emit).
 * Deterministic: no I/O, no clock, no randomness.
 */
import type { ModelConfig } from './config.js';
import { estimate, type CostEstimate } from './cost.js';
import { OTHERS_FOLIOS_SPLIT, SYSCALL_BESIDES_RECLAIM, type Emission, type Violation } from './emit.js';
import { BASELINE, type HookOwners, type Hooks } from './hooks.js';
import { Kernel, TASK_RSS_EVENTS_THRESH, type StoryCodes, type UnseenDecisions } from './kernel/kernel.js';
import { madvise_cold_or_pageout, madvise_dontneed, madvise_free } from './kernel/madvise.js';
import { find_vma, get_arg_page, handle_mm_fault, type FaultResult } from './kernel/memory.js';
import { do_brk, do_mmap, elf_map_image, exec_mmap, do_munmap, exit_mmap, munmap_outside_model, window_saw } from './kernel/mmap.js';
import { file_rss_known, file_rss_unknown_why } from './kernel/filemap.js';
import { dup_mmap, exit_zaps_unseen_pages, load_snapshot, output_shares_pre_window, untraced, vma_outside_model } from './kernel/fork.js';
import { madvise_update_vma } from './kernel/madvise_vma.js';
import { do_mremap } from './kernel/mremap.js';
import { do_mprotect } from './kernel/mprotect.js';
import { deferred_split_scan } from './kernel/huge_memory.js';
import { memcg_reclaim, try_charge_memcg } from './kernel/memcontrol.js';
import { shrink_calls_reset } from './kernel/vmscan.js';
import { folio_maybe_mapped_shared } from './kernel/rmap.js';
import { lru_add_observed } from './kernel/swap.js';
import { pmdIndex, pteIndex } from './kernel/pgtable.js';
import { cpu_tlbstate, cpus_before_window, enter_lazy_tlb, exit_mm, ipi_raced_switch, mm_runs_on, switch_mm_irqs_off } from './kernel/tlbflush.js';
import { MADV, type Op } from './ops.js';
import { findSeries } from './series/index.js';
import { PAGE_SIZE, PMD_SIZE, type CpuTlbState, type Folio, type Mm, type PmdEntry } from './state.js';
import { checkInvariants } from './invariants.js';

export interface StepResult {
  emitted: Emission[];
  violations: Violation[];
  /** The op touched something the model does not represent (file mappings, unknown memory). */
  unmodelled?: string;
  /** Hooks the op went through. */
  hooks: string[];
  /**
   * Decisions of the op (reclaim's reference checks) that took an entry's accessed bit as old
   * where an access no event shows may have set it (Kernel.accessesUnseen): how many, and why
   * the first was unknown. The model's state past it may not be the kernel's.
   */
  unseen?: UnseenDecisions;
  /**
   * The op's own output depends on what no event shows, the state it leaves does not (a zap's
   * gather that also took pages the model does not hold): a difference in this op only is not
   * the model's.
   */
  unseenOutput?: string;
}

export function composeHooks(seriesIds: string[]): { hooks: Hooks; owners: HookOwners } {
  const hooks: Hooks = { ...BASELINE };
  const owners: HookOwners = {};
  for (const id of seriesIds) {
    const s = findSeries(id);
    if (!s) throw new Error(`unknown series ${id}`);
    for (const [name, impl] of Object.entries(s.hooks)) {
      (hooks as unknown as Record<string, unknown>)[name] = impl;
      (owners as Record<string, string>)[name] = s.id;
    }
  }
  return { hooks, owners };
}

const NOTHING_KEPT: Emission[] = Object.freeze([]) as unknown as Emission[];

const NO_HOOKS: string[] = Object.freeze([]) as unknown as string[];

/**
 * A store to [lo, hi) of one PMD's range: the hardware sets dirty and young where it may write;
 * a load (`read`) sets young in every present entry.
 */
function storeInTable(e: PmdEntry, lo: number, hi: number, read: boolean): void {
  if (lo >= hi) return;
  if (e.kind === 'huge') {
    e.young = true;
    if (!read) e.dirty = true;
    return;
  }
  for (let a = lo - (lo % PAGE_SIZE); a < hi; a += PAGE_SIZE) {
    const j = pteIndex(a);
    if (!e.folio[j]) continue;
    if (read) e.mkyoung(j);
    else if (e.write(j)) e.touch(j);
  }
}

/** Whether the page mapped at `addr` in `mm` is a folio another mm may map too (copy-on-write after a fork). */
function page_shared(mm: Mm, addr: number): boolean {
  const e = mm.pmds.get(pmdIndex(addr));
  if (!e) return false;
  const f = e.kind === 'huge' ? e.folio : e.folio[pteIndex(addr)];
  return f !== undefined && f !== null && folio_maybe_mapped_shared(f);
}

export class Engine {
  readonly k: Kernel;
  private index = 0;
  /** Check invariants after each op (cost: a walk of the live state). */
  checkEvery: boolean;

  constructor(readonly config: ModelConfig, opts: { checkInvariants?: boolean; stories?: boolean; storyCodes?: StoryCodes } = {}) {
    const { hooks, owners } = composeHooks(config.series);
    this.k = new Kernel(config, hooks, owners);
    if (opts.stories) this.k.stories = true;
    if (opts.storyCodes) this.k.storyCodes = opts.storyCodes;
    this.checkEvery = opts.checkInvariants ?? true;
  }

  mmOf(tgid: number): Mm {
    return this.k.mms.get(tgid) ?? this.k.newMm(tgid);
  }

  /** Head pfns of data folios allocated in faults left outside the model (not its pages). */
  private readonly outsidePfns = new Set<number>();

  /**
   * A page a fault outside the model allocated (a copy-on-write of memory from before the
   * window, a file page): its free, whenever the kernel records it, is not the model's output.
   */
  readonly allocatedOutside = (pfn: number): boolean => this.outsidePfns.size > 0 && this.outsidePfns.has(pfn);

  /** Threads switched out (sched_switch) and not yet switched back in: the CPU they left. */
  private readonly switchedOut = new Map<number, { cpu: number; idle: boolean; ours: boolean }>();

  step(op: Op): StepResult {
    const k = this.k;
    k.op = op;
    shrink_calls_reset(k);
    k.cpu = op.cpu;
    k.tid = op.tid;
    // Streamed emissions are not kept: every step then shares one empty list.
    k.out = k.keepOut ? [] : NOTHING_KEPT;
    k.violations = [];
    k.opMarks = 0;
    k.unseenDecisions = undefined;
    k.unseenOutput = undefined;
    // Set.clear() allocates a new backing table even when the set is empty: most ops call no
    // hook, and an unconditional clear was ~7 % of the time past the parser (CPU profile).
    if (k.hooksUsed.size > 0) k.hooksUsed.clear();
    k.ipiLeft = op.ipiLeft ? new Set(op.ipiLeft) : undefined;
    // The IPIs of the last op that could send any: a switch the lifter placed after it reads them.
    if (op.kind !== 'run' && op.kind !== 'switch-other' && op.kind !== 'lru-drain' && op.kind !== 'marker' && op.kind !== 'prewindow' && op.kind !== 'snapshot' && op.kind !== 'capture' && k.ipiTargets.size > 0) k.ipiTargets.clear();
    this.index++;
    let unmodelled: string | undefined;
    // Where the mm runs. The pre-window bookkeeping (fault-count, exec) is the task's rss cache
    // before the workload's mm existed or was watched: the old mm of an exec'ing task ran on
    // CPUs the new one never did (taskset pins, then execs on the new CPU).
    // An op is handed on once its output is complete, so a task switch that came in the middle
    // of it or right after it (a fault preempted, the task then sleeping) has already been
    // applied: the task ran the op with its mm loaded, so that CPU's state is set for the op and
    // put back as the switch left it afterwards.
    if (op.kind === 'switch-other') {
      switch_mm_irqs_off(k, op.cpu, 'other');
      return { emitted: k.out, violations: k.violations, unmodelled: undefined, hooks: NO_HOOKS };
    }
    if (op.kind === 'accesses') {
      k.markingTids.add(op.tid);
      if (op.reads) k.unmarkedReads.set(op.tid, op.reads);
      return { emitted: k.out, violations: k.violations, unmodelled: undefined, hooks: NO_HOOKS };
    }
    const mm = this.mmOf(op.tgid);
    mm.threads.add(op.tid);
    let after: { idle: boolean; ours: boolean } | undefined;
    let afterLoaded: CpuTlbState['loaded'] = 'other';
    if (op.kind !== 'marker' && op.kind !== 'run' && op.kind !== 'fault-count' && op.kind !== 'exec' && op.kind !== 'exec-arg-page' && op.kind !== 'exec-image' && op.kind !== 'lru-drain' && op.kind !== 'prewindow' && op.kind !== 'snapshot' && op.kind !== 'capture') {
      const out = this.switchedOut.get(op.tid);
      if (out?.cpu === op.cpu) { after = out; afterLoaded = cpu_tlbstate(k, op.cpu).loaded; }
      mm_runs_on(k, mm, op.cpu);
    }
    if (op.kind === 'store') k.markingTids.add(op.tid);
    // The task ran user code before this call (or marker): what it accessed is unseen unless it
    // marks its accesses.
    if (op.kind !== 'run' && op.kind !== 'fault-count' && op.kind !== 'exec' && op.kind !== 'exec-arg-page' && op.kind !== 'exec-image' && op.kind !== 'lru-drain' && op.kind !== 'prewindow' && op.kind !== 'snapshot' && op.kind !== 'capture') {
      k.accessesRan(mm, op.tid, op.at.line, -1);
    }
    k.siblingRuns = undefined;
    if (op.siblingSwitchesAt) {
      // A sibling's switch inside the op, as its own `run` op would apply it; the op's record
      // places it, so no IPI of the op raced it (ipi_raced_switch() is for switches placed after).
      k.siblingRunsDue({
        runs: op.siblingSwitchesAt, next: 0, n: 0,
        apply: (s) => {
          if (s.on) mm_runs_on(k, mm, s.cpu);
          else if (s.idle) enter_lazy_tlb(k, s.cpu);
          else if (!s.ours) switch_mm_irqs_off(k, s.cpu, 'other');
        },
      });
    }
    if (op.lruDrainedMidway) {
      // Another task's drain of this CPU's batch while the op's task was preempted: for the
      // folios already waiting there it came before the rest of the op (a zap's gather then
      // frees what the batch let go). What that drain freed was freed in the other task's
      // context, which this op's record does not hold.
      k.lruObserved = true;
      const drained = op.lruDrainedMidway;
      untraced(k, () => lru_add_observed(k, drained));
    }
    // A charge of the op's own kernel memory that ran reclaim over memory.max.
    if (op.chargeReclaim) try_charge_memcg(k, op.chargeReclaim);
    switch (op.kind) {
      case 'mmap':
        do_mmap(k, mm, op.addr, op.len, op.prot, op.flags, op.anon ? undefined : { off: op.off, events: op.fileEvents === true });
        // A private file mapping is modelled (its anonymous copies; its file pages are not).
        if (!op.anon && (op.flags & 0x01) !== 0) unmodelled = 'shared mapping';
        break;
      case 'munmap':
        unmodelled = munmap_outside_model(mm, op.addr, op.len);
        do_munmap(k, mm, op.addr, op.len);
        break;
      case 'mremap':
        window_saw(mm, op.addr, op.addr + op.oldLen);
        window_saw(mm, op.newAddr, op.newAddr + op.newLen);
        do_mremap(k, mm, op.addr, op.oldLen, op.newLen, op.newAddr, op.allocs);
        break;
      case 'madvise':
        if (!this.madvise(mm, op.addr, op.len, typeof op.advice === 'number' ? op.advice : MADV[op.advice])) unmodelled = `madvise advice ${typeof op.advice === 'number' ? op.advice : op.advice}`;
        break;
      case 'mprotect':
        unmodelled = do_mprotect(k, mm, op.addr, op.len, op.prot);
        break;
      case 'syscall':
        if (op.name === 'execve') {
          // The old image goes (exec_mmap()); its file-backed pages, and the new image's stack
          // and ELF mappings that execve() builds, are outside the model: so is this op's output.
          exec_mmap(k, mm, op.tid);
          unmodelled = 'execve (the old image\'s file-backed pages and the new image\'s stack and ELF mappings are outside the model)';
        } else if (!op.chargeReclaim) unmodelled = `syscall ${op.name}`;
        // Otherwise its charge's reclaim is the call's output in the model, and the rest of what
        // it did is not (sharesUnknownOutput()).
        break;
      case 'fault': {
        // After a fork shared it, memory mapped before the window is copy-on-write in both: a
        // fault there copies, reuses or maps pages the model never saw.
        if (mm.preWindow?.forked && vma_outside_model(mm, find_vma(mm, op.addr))) {
          unmodelled = `fault on ${mm.preWindow.missing}, shared by a fork`;
          // 6.1: the fault still counts toward the task's rss-cache sync (check_sync_rss_stat()),
          // and what it adds to the cache is unknown.
          if (!k.traits.rssEveryUpdate) {
            k.checkSyncRss(mm);
            k.taskRssOf(op.tid).unknown = true;
          }
          break;
        }
        // Two threads of one mm, or a page two mms share copy-on-write: the order decides.
        if (op.racedWith !== undefined && (op.racedTgid === op.tgid || page_shared(mm, op.addr))) {
          const page = op.addr - (op.addr % PAGE_SIZE);
          k.unseenDecision('order', `the faults at lines ${Math.min(op.at.line, op.racedWith)} and ${Math.max(op.at.line, op.racedWith)} on page 0x${page.toString(16)} overlapped, one task switched out in the middle of its fault`, mm);
        }
        const r: FaultResult = handle_mm_fault(k, mm, op.addr, op.write, op.allocs, op.present);
        if (r === 'unmodelled') unmodelled = 'fault outside any anonymous mapping the model knows';
        break;
      }
      case 'store':
        this.store(mm, op.addr, op.len, op.stride, op.count, op.read === true);
        break;
      case 'fork':
        if (op.child > 0) {
          k.newTaskRss(op.child);
          dup_mmap(k, mm, op.child);
        }
        break;
      case 'thread':
        k.newTaskRss(op.child);
        this.k.mms.set(op.child, mm);
        mm.threads.add(op.child);
        break;
      case 'exit':
        k.running.delete(op.tid);
        k.exitTaskRss(mm, op.tid);
        mm.threads.delete(op.tid);
        exit_mm(k, mm, op.cpu);
        if (op.tid === op.tgid || mm.threads.size === 0) {
          // The group's other tasks run do_exit() too (their exits are not always recorded).
          for (const t of [...mm.threads]) k.exitTaskRss(mm, t);
          exit_mmap(k, mm);
          // The pid may be reused (or the trace repeats the workload): a later op starts a new mm.
          for (const [t, m] of k.mms) if (m === mm) k.mms.delete(t);
        }
        break;
      case 'exec':
        k.taskRss.delete(op.tid);
        break;
      case 'exec-arg-page':
        get_arg_page(k, mm, op.pfn);
        break;
      case 'exec-image':
        elf_map_image(mm, op.vmas, op.fileEvents === true);
        break;
      case 'prewindow':
        mm.preWindow = { missing: op.missing, forked: false };
        cpus_before_window(k, mm, op.cpus ?? [], op.lazy ?? []);
        break;
      case 'snapshot':
        load_snapshot(k, mm, op.vmas, op.tid);
        break;
      case 'fault-count': {
        // Counted, not applied: the task's rss cache sees the fault and its anon page.
        if (!k.traits.rssEveryUpdate) {
          const t = k.taskRssOf(op.tid);
          // A sync empties the cache into the mm (its rss_stat lies before the window).
          if (k.rssEventDue(op.tid)) { t.events = 0; t.cache = [0, 0, 0, 0]; }
          const user = op.allocs.find((a) => a.use === 'user');
          if (user && user.order === 0) t.cache[1]! += 1;
        }
        break;
      }
      case 'run':
        if (op.on) k.running.set(op.tid, op.cpu);
        else {
          k.running.delete(op.tid);
          k.accessesRan(mm, op.tid, op.at.line, op.cpu);
        }
        if (op.on) {
          this.switchedOut.delete(op.tid);
          mm_runs_on(k, mm, op.cpu);
        } else {
          this.switchedOut.set(op.tid, { cpu: op.cpu, idle: op.idle === true, ours: op.ours === true });
          // Whoever runs here next shares this CPU's lru_add batch with the workload's folios.
          const lb = k.lruBatches.get(op.cpu);
          if (lb && lb.add.length > 0 && !op.ours) lb.othersRan = true;
          // To a task without an mm (idle, a kernel thread) the CPU keeps this mm lazily; to
          // another process's task it loads that mm; to a workload task, that task's switch-in
          // (the next op) loads its mm.
          if (op.idle) enter_lazy_tlb(k, op.cpu);
          else if (!op.ours) {
            if (op.overlaps) ipi_raced_switch(k, mm, op.cpu, k.ipiTargets);
            switch_mm_irqs_off(k, op.cpu, 'other');
          }
        }
        break;
      case 'lru-drain':
        k.lruObserved = true;
        break;
      case 'capture':
        k.wideEvents = new Set(op.wide);
        break;
      case 'memcg-reclaim':
        memcg_reclaim(k, op.bytes, op.how);
        break;
      case 'drop-caches':
        // drop_slab(): shrink_slab() until a pass frees little; each deferred_split_scan()
        // call takes up to the shrinker's batch.
        // A pass that splits takes at least one folio off the queue, so the queue bounds it.
        if (op.value & 2) {
          while (k.deferred.list.length > 0 && deferred_split_scan(k, k.traits.deferredScanBatch) > 0);
        }
        break;
      case 'marker':
        // Inside a `fl: begin` window the workload marks its stores to present memory.
        if (op.verb === 'begin') k.storesVisible = true;
        else if (op.verb === 'end') k.storesVisible = false;
        break;
      case 'brk':
        do_brk(k, mm, op.brk, op.result);
        break;
      case 'mremap' as never:
        break;
    }
    if (op.kind === 'fault' && op.allocs.length > 0) {
      for (const a of op.allocs) {
        if (a.use !== 'user') continue;
        if (unmodelled !== undefined) this.outsidePfns.add(a.pfn);
        else this.outsidePfns.delete(a.pfn);
      }
    }
    if (op.lruAdded) {
      k.lruObserved = true;
      lru_add_observed(k, op.lruAdded);
    } else if (op.kind === 'lru-drain') lru_add_observed(k, op.pfns);
    // The midway drain also moved folios this op itself put in the batch before it.
    if (op.lruDrainedMidway) lru_add_observed(k, op.lruDrainedMidway);
    k.siblingRuns = undefined;
    if (after) {
      if (after.idle) enter_lazy_tlb(k, op.cpu);
      else switch_mm_irqs_off(k, op.cpu, after.ours ? afterLoaded : 'other');
    }
    if (this.checkEvery) checkInvariants(k);
    const res: StepResult = { emitted: k.out, violations: k.violations, unmodelled, hooks: k.hooksUsed.size ? [...k.hooksUsed] : NO_HOOKS };
    if (k.unseenDecisions) res.unseen = k.unseenDecisions;
    if (k.unseenOutput) res.unseenOutput = k.unseenOutput;
    return res;
  }

  /**
   * Where `op`'s recorded output also covers memory the model never saw mapped (a fork's copy or
   * an exit's zap of an mm holding memory from before the window; reclaim once a fork shared
   * it), what that memory lacks: the
   * prediction is then compared as the in-order part of the record that is the model's own.
   */
  /** Whether `op`'s file and shmem rss updates are predicted (kernel/filemap.ts file_rss_known()); asked before the op. */
  fileRssKnown(op: Op): boolean {
    return file_rss_known(this.k, this.k.mms.get(op.tgid), op);
  }

  /** What keeps `op`'s file rss from being predicted, if anything (filemap.ts FILE_RSS_*). */
  fileRssUnknownWhy(op: Op): string | undefined {
    return file_rss_unknown_why(this.k, this.k.mms.get(op.tgid), op);
  }

  sharesUnknownOutput(op: Op): string | undefined {
    if (op.kind === 'memcg-reclaim' || op.kind === 'drop-caches' || op.chargeReclaim) {
      // Copy-on-write of a large folio from before the window queues it for deferred split,
      // and reclaim scans such pages too: folios the model never saw.
      for (const m of this.k.mms.values()) if (m.preWindow?.forked) return `reclaim and deferred split of ${m.preWindow.missing}, shared by a fork`;
      // drop_slab() runs deferred_split_scan() over every memcg's queue: other processes'
      // partially mapped large folios are split here too (their split's migration entries and
      // flushes are their mms', in the workload's context). Which large folios they hold is in
      // no event and not in the THP settings either: a folio allocated under an earlier
      // setting (or in a range another process madvised) stays queued until it is split.
      if (op.kind === 'drop-caches' && (op.value & 2) !== 0) return OTHERS_FOLIOS_SPLIT;
      if (op.kind === 'syscall' && op.name !== 'execve') return SYSCALL_BESIDES_RECLAIM;
      if (op.kind === 'memcg-reclaim' || op.kind === 'drop-caches') return undefined;
    }
    const mm = this.k.mms.get(op.tgid);
    if (mm && !mm.preWindow && op.kind === 'exit' && this.k.traits.zapFreesReversed && (op.tid === op.tgid || [...mm.threads].every((t) => t === op.tid))) {
      const unseen = exit_zaps_unseen_pages(mm);
      if (unseen) return unseen;
    }
    if (!mm?.preWindow) return undefined;
    if (op.kind === 'fork' || op.kind === 'exit') {
      const last = op.kind === 'exit' && (op.tid === op.tgid || [...mm.threads].every((t) => t === op.tid));
      const whole = output_shares_pre_window(mm, op.kind, last);
      if (whole) return whole;
    }
    // 6.1: a task's cache holding counts of faults outside the model syncs in this op (a due
    // check_sync_rss_stat() at a fault, add_mm_rss_vec() at a zap of its own mm, do_exit()).
    const t = this.k.traits.rssEveryUpdate ? undefined : this.k.taskRss.get(op.tid);
    if (t?.unknown && ((op.kind === 'fault' && t.events > TASK_RSS_EVENTS_THRESH) || op.kind === 'munmap' || op.kind === 'madvise' || op.kind === 'mremap' || op.kind === 'exit')) {
      return `6.1 rss cache sync of faults on ${mm.preWindow.missing}`;
    }
    return undefined;
  }


  /**
   * 6.1 release_pages() frees each mmu_gather batch in reverse; an exit that also zaps memory
   * the model does not know moves where the batches end: its frees' order is not predictable.
   */
  zapFreeOrderUnknown(op: Op): boolean {
    return op.kind === 'exit' && this.k.traits.zapFreesReversed && this.sharesUnknownOutput(op) !== undefined;
  }

  /** Applies one advice; false for an advice the model does not represent. */
  private madvise(mm: Mm, start: number, len: number, advice: number): boolean {
    const end = start + len;
    const k = this.k;
    switch (advice) {
      case MADV.MADV_FREE: madvise_free(k, mm, start, end); return true;
      case MADV.MADV_PAGEOUT: madvise_cold_or_pageout(k, mm, start, end, true); return true;
      case MADV.MADV_COLD: madvise_cold_or_pageout(k, mm, start, end, false); return true;
      case MADV.MADV_DONTNEED: madvise_dontneed(k, mm, start, end); return true;
      case MADV.MADV_HUGEPAGE: madvise_update_vma(k, mm, start, end, 'hugepage'); return true;
      case MADV.MADV_NOHUGEPAGE: madvise_update_vma(k, mm, start, end, 'nohugepage'); return true;
      case MADV.MADV_DONTFORK: madvise_update_vma(k, mm, start, end, 'dontfork'); return true;
      case MADV.MADV_DOFORK: madvise_update_vma(k, mm, start, end, 'dofork'); return true;
      case MADV.MADV_DONTDUMP: madvise_update_vma(k, mm, start, end, 'dontdump'); return true;
      case MADV.MADV_DODUMP: madvise_update_vma(k, mm, start, end, 'dodump'); return true;
      // RANDOM/SEQUENTIAL change what reclaim does with young entries: outside the model.
      case MADV.MADV_NORMAL:
        return true;
      default: return false;
    }
  }

  /** A user store (or load) to mapped memory: the hardware sets dirty and young (young) in present entries. */
  private store(mm: Mm, addr: number, len: number, stride: number, count: number, read: boolean): void {
    for (let i = 0; i < count; i++) {
      const a0 = addr + i * stride;
      const end = a0 + len;
      // A range wider than the page tables the mm has: visit those tables, not every PMD slot
      // of the range (a store over the whole address space is a marker, not a loop of 2^36).
      if (pmdIndex(end - 1) - pmdIndex(a0) + 1 > mm.pmds.size) {
        for (const [pi, e] of mm.pmds) storeInTable(e, Math.max(a0, pi * PMD_SIZE), Math.min(end, (pi + 1) * PMD_SIZE), read);
        continue;
      }
      // One page-table lookup per table the range crosses, not per page.
      for (let a = a0; a < end; ) {
        const pi = pmdIndex(a);
        const next = Math.min(end, (pi + 1) * PMD_SIZE);
        const e = mm.pmds.get(pi);
        if (e) storeInTable(e, a, next, read);
        a = next;
      }
    }
  }

  counters(): Record<string, number> {
    return Object.fromEntries([...this.k.counters].filter(([, v]) => v !== 0).sort((a, b) => a[0].localeCompare(b[0])));
  }

  cost(): CostEstimate {
    return estimate(this.k.cost, this.config.arch);
  }

  /** Live folios (for inspectors and tests). */
  folios(): Folio[] {
    return [...this.k.folios];
  }
}
