/**
 * TLB flushing: arch/x86/mm/tlb.c (flush_tlb_mm_range(), native_flush_tlb_multi(),
 * flush_tlb_func(), switch_mm_irqs_off(), enter_lazy_tlb(), arch_tlbbatch_flush()) and the
 * deferred (batched) flush of mm/rmap.c (set_tlb_ubc_flush_pending, try_to_unmap_flush,
 * flush_tlb_batched_pending). x86 emits `tlb:tlb_flush`; arm64 has no such tracepoint and only
 * counts TLBIs and DSBs.
 *
 * Which CPUs a flush reaches follows each CPU's TLB state (CpuTlbState: the mm it has loaded and
 * whether it is lazy), which the scheduler's switches set (sched_switch is an input): a CPU that
 * switched to the idle task or a kernel thread keeps the mm loaded lazily (enter_lazy_tlb()), and
 * so does a task past exit_mm(); a CPU that switched to another process loads that mm.
 *
 * Model deviation: the state of a CPU is what the workload's own switches left there; a capture
 * that follows only the workload's tasks (set_event_pid) does not show what ran there after, so a
 * CPU left lazily stays lazy in the model until a workload task runs there again.
 */
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN, TLB_REMOTE_SEND_IPI, TLB_REMOTE_SHOOTDOWN, TLB_REMOTE_WRONG_CPU } from '../emit.js';
import type { CpuTlbState, Folio, Mm } from '../state.js';
import { PAGE_SHIFT } from '../state.js';
import type { Kernel } from './kernel.js';

/** tlb_single_page_flush_ceiling: above this many pages x86 flushes everything. */
export const FLUSH_CEILING = 33;
export const FLUSH_ALL = Number.POSITIVE_INFINITY;
/** HZ in trace nanoseconds: should_trim_cpumask() trims at most once a second per mm. */
const TRIM_INTERVAL_NS = 1e9;

// ---------------------------------------------------------------------------------------------
// Per-CPU TLB state and the scheduler's side of it.

/** `per_cpu(cpu_tlbstate)` of `cpu`: a CPU the trace has not shown runs some other process. */
export function cpu_tlbstate(k: Kernel, cpu: number): CpuTlbState {
  let s = k.cpuTlb.get(cpu);
  if (!s) { s = { loaded: 'other', lazy: false }; k.cpuTlb.set(cpu, s); }
  return s;
}

/**
 * switch_mm_irqs_off(): `cpu` loads `next` (a workload mm, another process's, or init_mm).
 * Switching to the mm already loaded only leaves lazy mode. Switching away from a workload mm
 * takes the CPU out of its mm_cpumask before 6.14; since 209954cbc7d0 ("x86/mm/tlb: Update
 * mm_cpumask lazily", 6.14, traits.lazyCpumask) the CPU stays there until a flush finds it on
 * another mm (flush_tlb_func()) — the only place the model's mm_cpumask shrinks then.
 */
export function switch_mm_irqs_off(k: Kernel, cpu: number, next: Mm | 'init' | 'other'): void {
  const s = cpu_tlbstate(k, cpu);
  const prev = s.loaded;
  s.lazy = false;
  if (prev === next && next !== 'other') {
    // Not actually switching mm's: the CPU never left mm_cpumask while it held the mm.
    if (typeof next === 'object') next.cpumask.add(cpu);
    return;
  }
  if (typeof prev === 'object' && !k.traits.lazyCpumask) prev.cpumask.delete(cpu);
  if (typeof next === 'object') {
    next.cpumask.add(cpu);
    next.cpumaskUncertain?.delete(cpu);
  }
  s.loaded = next;
}

/** enter_lazy_tlb(): the CPU runs a task without an mm and keeps the loaded one lazily. */
export function enter_lazy_tlb(k: Kernel, cpu: number): void {
  const s = cpu_tlbstate(k, cpu);
  if (s.loaded !== 'init') s.lazy = true;
}

/**
 * A task of `mm` runs on `cpu` (sched_switch to it, or an op it made there): context_switch() →
 * switch_mm_irqs_off(). The first time an mm runs, its cpumask trim clock starts
 * (init_new_context(): next_trim_cpumask = jiffies + HZ).
 */
export function mm_runs_on(k: Kernel, mm: Mm, cpu: number): void {
  if (mm.next_trim_cpumask === undefined) mm.next_trim_cpumask = (k.op?.at.tsNs ?? 0) + TRIM_INTERVAL_NS;
  switch_mm_irqs_off(k, cpu, mm);
}

/**
 * The CPUs the task ran on before the window (since its exec), at the window's opening. One it
 * last left for the idle task or a kernel thread (`lazy`) still has the mm loaded lazily
 * (enter_lazy_tlb()) and is in mm_cpumask on every release: a flush traces its `remote IPI
 * send`, a batched unmap's flush is deferred (should_defer_flush()), and the first flush that
 * frees page tables sends it to init_mm. One it left for another process has that mm loaded;
 * only from 6.14 (traits.lazyCpumask) is it still in the mask (until a trim).
 * Model deviation: as for a switch inside the window, what ran on a lazy CPU afterwards is not
 * in a capture of the workload alone, so it stays lazy.
 */
export function cpus_before_window(k: Kernel, mm: Mm, cpus: readonly number[], lazy: readonly number[]): void {
  for (const c of cpus) {
    const s = cpu_tlbstate(k, c);
    if (typeof s.loaded === 'object' && !s.lazy) continue; // a task runs there now
    if (lazy.includes(c)) {
      if (s.loaded !== 'other') continue;
      s.loaded = mm;
      s.lazy = true;
      mm.cpumask.add(c);
    } else if (k.traits.lazyCpumask) {
      mm.cpumask.add(c);
    }
  }
}

/** exit_mm(): the exiting task drops its mm but the CPU keeps it loaded, lazily. */
export function exit_mm(k: Kernel, mm: Mm, cpu: number): void {
  const s = cpu_tlbstate(k, cpu);
  if (s.loaded !== mm) switch_mm_irqs_off(k, cpu, mm);
  enter_lazy_tlb(k, cpu);
}

/** Whether a workload task is current on `cpu`: output traced there is the workload's. */
function onTask(k: Kernel, cpu: number): boolean {
  const s = cpu_tlbstate(k, cpu);
  return typeof s.loaded === 'object' && !s.lazy;
}

// ---------------------------------------------------------------------------------------------
// Flushes.

/** The parts of `struct flush_tlb_info` the model needs. */
interface FlushInfo {
  /** NULL for arch_tlbbatch_flush(): whatever each CPU has loaded is flushed in full. */
  mm: Mm | null;
  /** Entries the flush covers at its stride (-1: everything), what flush_tlb_func() traces. */
  pages: number;
  /** The range in 4 KiB pages (-1: everything), what native_flush_tlb_multi() traces. */
  sendPages: number;
  freed_tables: boolean;
  trim_cpumask: boolean;
}

/** flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables). */
export function flush_tlb_mm_range(k: Kernel, mm: Mm, start: number, end: number, strideShift = PAGE_SHIFT, freedTables = false): void {
  mm.tlb_gen++;
  const n = end === FLUSH_ALL ? Number.POSITIVE_INFINITY : Math.floor((end - start) / 2 ** strideShift);
  const full = n > FLUSH_CEILING;
  const pages = full ? -1 : n;
  if (k.config.arch === 'arm64') {
    if (full) k.cost.fullFlushes++;
    else k.cost.rangeTlbis++;
    k.cost.dsbs++;
    return;
  }
  // The sender traces the range in 4 KiB pages whatever the stride (native_flush_tlb_multi).
  const info: FlushInfo = { mm, pages, sendPages: full ? -1 : Math.floor((end - start) / 4096), freed_tables: freedTables, trim_cpumask: false };
  if (anyOtherCpu(mm.cpumask, k.cpu)) {
    if (k.traits.flushSkipsOtherMm) info.trim_cpumask = should_trim_cpumask(k, mm);
    flush_tlb_multi(k, mm.cpumask, info);
  } else {
    flush_tlb_func(k, k.cpu, info);
  }
  if (full) k.cost.fullFlushes++;
  else k.cost.invlpgPages += pages;
}

/** cpumask_any_but(mask, cpu) < nr_cpu_ids. */
function anyOtherCpu(mask: Set<number>, cpu: number): boolean {
  return mask.size > 1 || (mask.size === 1 && !mask.has(cpu));
}

/**
 * should_trim_cpumask() (6db2526c1d69, 6.14): once a second per mm a flush also reaches the CPUs
 * of mm_cpumask that run another mm, which then leave the mask.
 * Model deviation: jiffies are the trace's clock (no HZ rounding); the clock starts at the mm's
 * first op in the trace, not at its exec.
 */
function should_trim_cpumask(k: Kernel, mm: Mm): boolean {
  const now = k.op?.at.tsNs;
  if (now === undefined || mm.next_trim_cpumask === undefined) return false;
  if (now > mm.next_trim_cpumask) {
    mm.next_trim_cpumask = now + TRIM_INTERVAL_NS;
    return true;
  }
  return false;
}

/**
 * Whether native_flush_tlb_multi() sends `cpu` the flush. Without freed page tables a lazy CPU
 * is skipped (it flushes at its next switch): tlb_is_not_lazy() before 6.14. Since 6.14
 * (should_flush_tlb(), traits.flushSkipsOtherMm) a CPU running another mm is skipped too unless
 * the mask is due for trimming; a flush with no mm (the batched one) reaches every CPU not lazy.
 * With freed page tables every CPU of the mask gets it (on_each_cpu_mask()).
 */
function should_flush_tlb(k: Kernel, cpu: number, info: FlushInfo): boolean {
  if (cpu === k.cpu) return true;
  const s = cpu_tlbstate(k, cpu);
  // The record shows this op's IPI reached the CPU on another mm (Op `ipiLeft`: the trim the
  // model's clock for next_trim_cpumask, which starts at the trace, may place elsewhere). A CPU
  // the model still has on this mm (lazily, after its task went idle) had left it for init_mm
  // on an earlier flush the model did not see reach it.
  if (info.mm && k.ipiLeft?.delete(cpu)) {
    if (s.loaded === info.mm) {
      s.loaded = 'init';
      s.lazy = false;
    }
    return true;
  }
  if (info.freed_tables) return true;
  if (s.lazy) return false;
  if (!k.traits.flushSkipsOtherMm || !info.mm) return true;
  if (s.loaded === info.mm) return true;
  return info.trim_cpumask;
}

/**
 * A workload task on `cpu` switched to another process while an op of the mm on another CPU was
 * in flight (Op `overlaps`): if that op's flush IPI reached `cpu` (`ipiTargets`), 6.14+ cannot
 * tell whether the CPU flushed before the switch and stayed in mm_cpumask, or found the other
 * mm loaded and left it (flush_tlb_func()). Before 6.14 the switch itself takes it out.
 */
export function ipi_raced_switch(k: Kernel, mm: Mm, cpu: number, ipiTargets: ReadonlySet<number>): void {
  if (!k.traits.lazyCpumask || k.ipiTargetsMm !== mm || !ipiTargets.has(cpu) || !mm.cpumask.has(cpu)) return;
  // A capture of every task's flushes shows a late arrival (`remote wrong CPU` in the other
  // process, Op `ipiLeft`); without one the IPI was handled before the switch.
  if (k.wideEvents.has('tlb:tlb_flush')) return;
  (mm.cpumaskUncertain ??= new Set()).add(cpu);
}

/**
 * flush_tlb_multi() → native_flush_tlb_multi(): traces `remote IPI send` with the range, then
 * runs flush_tlb_func() on every CPU of the mask the condition selects — this one included. On
 * a paravirt guest whose remote flushes go to the hypervisor (hook flush_tlb_multi_remote) the
 * other CPUs run nothing and trace nothing.
 */
function flush_tlb_multi(k: Kernel, mask: Set<number>, info: FlushInfo): void {
  // Whether the send happens at all is uncertain when every other CPU of the mask may have left it.
  const maybe = info.mm?.cpumaskUncertain;
  let uncertain = false;
  if (maybe && maybe.size > 0) {
    uncertain = true;
    for (const c of mask) if (c !== k.cpu && !maybe.has(c)) { uncertain = false; break; }
  }
  k.emit({ ev: 'tlb_flush', cpu: k.cpu, pages: info.sendPages, reason: TLB_REMOTE_SEND_IPI, ...(uncertain ? { uncertain: 'ipi' as const } : {}) });
  // This CPU first: the IPIs are sent, the local flush runs, then the sender waits for the others.
  const targets = [...mask].sort((a, b) => a - b);
  if (!mask.has(k.cpu)) targets.unshift(k.cpu);
  else { targets.splice(targets.indexOf(k.cpu), 1); targets.unshift(k.cpu); }
  const how = k.hook('flush_tlb_multi_remote')(k);
  k.runningSeries = undefined;
  const held = k.siblingRunsHeld;
  k.siblingRunsHeld = true;
  for (const c of targets) {
    if (!should_flush_tlb(k, c, info)) continue;
    if (c !== k.cpu) {
      k.ipiTargets.add(c);
      k.ipiTargetsMm = info.mm;
      k.cost.ipis++;
      if (how === 'hypercall') continue;
    }
    flush_tlb_func(k, c, info);
  }
  k.siblingRunsHeld = held;
  const s = k.siblingRuns;
  if (!held && s !== undefined && s.n >= s.runs[s.next]!.at) k.siblingRunsDue(s);
}

/**
 * flush_tlb_func() on `cpu` (this CPU directly, another through the IPI). The CPU running the op
 * has the op's mm loaded whatever switch the trace shows around the op: it is executing it.
 *   - 6.14+: the flush names an mm this CPU does not have loaded → it leaves that mm_cpumask,
 *     traced `remote wrong CPU` (pages 0);
 *   - init_mm loaded: nothing to flush;
 *   - lazy: switch to init_mm instead of flushing (traced as a task-switch flush; before 6.14
 *     the CPU then leaves the old mm's mask);
 *   - else a flush, traced `local MM shootdown` (this CPU, an mm), `local shootdown` (this CPU,
 *     the batched flush) or `remote shootdown`.
 */
function flush_tlb_func(k: Kernel, cpu: number, info: FlushInfo): void {
  const local = cpu === k.cpu;
  const s = cpu_tlbstate(k, cpu);
  const loaded = local && info.mm && !s.lazy ? info.mm : s.loaded;
  if (k.traits.lazyCpumask && info.mm && info.mm !== loaded) {
    info.mm.cpumask.delete(cpu);
    info.mm.cpumaskUncertain?.delete(cpu);
    k.emit({ ev: 'tlb_flush', cpu, pages: 0, reason: TLB_REMOTE_WRONG_CPU, offTask: !local && !onTask(k, cpu) });
    return;
  }
  if (loaded === 'init') return;
  if (s.lazy && (!local || loaded === s.loaded)) {
    switch_mm_irqs_off(k, cpu, 'init');
    k.emit({ ev: 'tlb_flush', cpu, pages: -1, reason: 0, offTask: true });
    return;
  }
  if (local) k.emit({ ev: 'tlb_flush', cpu, pages: info.pages, reason: info.mm ? TLB_LOCAL_MM_SHOOTDOWN : TLB_LOCAL_SHOOTDOWN });
  else k.emit({ ev: 'tlb_flush', cpu, pages: info.pages, reason: TLB_REMOTE_SHOOTDOWN, offTask: !onTask(k, cpu) });
}

/**
 * flush_tlb_page(): one page, freed_tables false — a lazy CPU is not sent it (it flushes when it
 * switches back). ptep_clear_flush() (wp_page_copy, try_to_migrate_one) flushes this way.
 */
export function flush_tlb_page(k: Kernel, mm: Mm, addr: number): void {
  flush_tlb_mm_range(k, mm, addr, addr + 4096);
}

/**
 * x86 flush_tlb_range(vma, start, end): 4 KiB stride and freed_tables true, since 3ef938c35035
 * ("x86/mm: Fix flush_tlb_range() when used for zapping normal PMDs", 6.15, and the stable
 * releases of April 2025 on — every kernel the presets model): the range may have held a page
 * table, so lazy CPUs of mm_cpumask get the IPI too and leave the mm for init_mm. x86 has no
 * flush_pmd_tlb_range() of its own, so a PMD's flush (pmdp_invalidate(),
 * pmdp_huge_clear_flush(), pmdp_clear_flush_young(), move_huge_pmd()) is this one as well.
 */
export function flush_tlb_range(k: Kernel, mm: Mm, start: number, end: number): void {
  flush_tlb_mm_range(k, mm, start, end, PAGE_SHIFT, true);
}

/** mm/rmap.c should_defer_flush(): only with TTU_BATCH_FLUSH, and on x86 only if another CPU may cache the mm. */
export function should_defer_flush(k: Kernel, mm: Mm, batchFlush: boolean): boolean {
  if (!batchFlush) return false;
  if (k.config.arch === 'arm64') return true;
  return anyOtherCpu(mm.cpumask, k.cpu);
}

/** mm/rmap.c set_tlb_ubc_flush_pending(). */
export function set_tlb_ubc_flush_pending(k: Kernel, mm: Mm, start: number, end: number, dirty: boolean, folio: Folio): void {
  const ubc = k.ubcOf(k.tid);
  const [s, e] = k.hook('tlbbatch_range')(k, start, end);
  k.runningSeries = undefined;
  if (k.config.arch === 'arm64') {
    ubc.ranges.push([s, e]);
    k.cost.tlbiOps += (e - s) / 4096 > 1 ? 0 : 1;
    k.cost.rangeTlbis += (e - s) / 4096 > 1 ? 1 : 0;
  } else {
    // arch_tlbbatch_add_pending(): inc_mm_tlb_gen() and the mm's cpumask into the batch's.
    mm.tlb_gen++;
    for (const c of mm.cpumask) ubc.cpumask.add(c);
  }
  ubc.flush_required = true;
  if (dirty) ubc.writable = true;
  ubc.mms.add(mm);
  mm.tlbFlushPending = true;
  k.pendingTlb.add(folio);
}

/**
 * mm/rmap.c try_to_unmap_flush() → arch_tlbbatch_flush(): a full flush with no mm of every CPU
 * in the batch's cpumask (native_flush_tlb_multi() when another CPU is in it, else this CPU's
 * flush_tlb_func() if it is).
 */
export function try_to_unmap_flush(k: Kernel): void {
  const ubc = k.ubcOf(k.tid);
  if (!ubc.flush_required) return;
  if (k.config.arch === 'arm64') {
    k.cost.dsbs++;
  } else {
    const info: FlushInfo = { mm: null, pages: -1, sendPages: -1, freed_tables: false, trim_cpumask: false };
    if (anyOtherCpu(ubc.cpumask, k.cpu)) flush_tlb_multi(k, ubc.cpumask, info);
    else if (ubc.cpumask.has(k.cpu)) flush_tlb_func(k, k.cpu, info);
    k.cost.fullFlushes++;
  }
  // The mms keep their pending mark: arch_tlbbatch_flush() does not know them, so the next
  // flush_tlb_batched_pending() on each still flushes it in full.
  ubc.flush_required = false;
  ubc.writable = false;
  ubc.cpumask.clear();
  ubc.ranges = [];
  ubc.mms.clear();
  k.pendingTlb.clear();
}

/**
 * mm/rmap.c flush_tlb_batched_pending(): called under the PTL by paths that change PTEs. x86's
 * flush_tlb_mm() is a full flush that counts as freeing page tables (freed_tables = true), so
 * it reaches lazy CPUs and, since 6.14, CPUs left in the mask on another mm.
 */
export function flush_tlb_batched_pending(k: Kernel, mm: Mm): void {
  if (!mm.tlbFlushPending) return;
  flush_tlb_mm_range(k, mm, 0, FLUSH_ALL, PAGE_SHIFT, true);
  mm.tlbFlushPending = false;
}
