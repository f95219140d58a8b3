/**
 * TLB flushing: arch/x86/mm/tlb.c flush_tlb_mm_range() and the deferred (batched) flush of
 * mm/rmap.c (set_tlb_ubc_flush_pending, try_to_unmap_flush, flush_tlb_batched_pending).
 * x86 emits `tlb:tlb_flush`; arm64 has no such tracepoint and only counts TLBIs and DSBs.
 *
 * Model deviation: CPUs that are not running the mm but are still in mm_cpumask are treated as
 * lazy-TLB: a flush IPI reaching one traces `remote wrong CPU` (6.14+) and drops it from the
 * mask; before 6.14 CPUs leave the mask when they switch away, so they are never there.
 */
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN, TLB_REMOTE_SEND_IPI, TLB_REMOTE_SHOOTDOWN, TLB_REMOTE_WRONG_CPU } from '../emit.js';
import type { Folio, Mm } from '../state.js';
import { PAGE_SHIFT } from '../state.js';
import type { Kernel } from './kernel.js';

/** tlb_single_page_flush_ceiling: above this many pages x86 flushes everything. */
export const FLUSH_CEILING = 33;
export const FLUSH_ALL = Number.POSITIVE_INFINITY;

/** flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables). */
export function flush_tlb_mm_range(k: Kernel, mm: Mm, start: number, end: number, strideShift = PAGE_SHIFT, freedTables = false): void {
  mm.tlb_gen++;
  const n = end === FLUSH_ALL ? Number.POSITIVE_INFINITY : Math.floor((end - start) / 2 ** strideShift);
  const full = n > FLUSH_CEILING;
  const pages = full ? -1 : n;
  void freedTables;
  if (k.config.arch === 'arm64') {
    if (full) k.cost.fullFlushes++;
    else k.cost.rangeTlbis++;
    k.cost.dsbs++;
    return;
  }
  // The sender traces the range in 4 KiB pages whatever the stride (native_flush_tlb_multi).
  const sendPages = full ? -1 : Math.floor((end - start) / 4096);
  flushOnCpus(k, mm, pages, TLB_LOCAL_MM_SHOOTDOWN, sendPages);
  if (full) k.cost.fullFlushes++;
  else k.cost.invlpgPages += pages;
}

/** The cross-CPU part shared by immediate and batched flushes (x86 native_flush_tlb_multi). */
function flushOnCpus(k: Kernel, mm: Mm, pages: number, localReason: number, sendPages: number): void {
  // The common case is an mm on this CPU alone: no array (nor iterator) is built for it.
  let others: number[] | undefined;
  const mask = mm.cpumask;
  if (mask.size > 1 || (mask.size === 1 && !mask.has(k.cpu))) for (const c of mask) if (c !== k.cpu) (others ??= []).push(c);
  if (others) {
    others.sort((a, b) => a - b);
    k.emit({ ev: 'tlb_flush', cpu: k.cpu, pages: sendPages, reason: TLB_REMOTE_SEND_IPI });
    k.cost.ipis += others.length;
  }
  if (mm.cpumask.has(k.cpu) || mm.loadedOn.has(k.cpu)) k.emit({ ev: 'tlb_flush', cpu: k.cpu, pages, reason: localReason });
  if (others) for (const c of others) remoteFlush(k, [mm], c, pages);
}

/**
 * What a flush IPI does on CPU `c`: a CPU running the mm flushes (`remote shootdown`); a CPU
 * holding it lazily from idle leaves lazy mode (traced as a task-switch flush, 0 pages); a CPU
 * that moved on to another mm says `remote wrong CPU` (6.14+) and drops out of mm_cpumask.
 */
function remoteFlush(k: Kernel, mms: Mm[], c: number, pages: number): void {
  const how = k.hook('flush_tlb_multi_remote')(k);
  k.runningSeries = undefined;
  // A hypervisor flush leaves no trace on the target and no lazy-mode bookkeeping in the guest.
  if (how === 'hypercall') return;
  if (mms.some((m) => m.loadedOn.has(c))) {
    k.emit({ ev: 'tlb_flush', cpu: c, pages, reason: TLB_REMOTE_SHOOTDOWN });
    return;
  }
  if (mms.some((m) => m.lazyOn.has(c))) {
    k.emit({ ev: 'tlb_flush', cpu: c, pages: 0, reason: 0 });
    for (const m of mms) { m.lazyOn.delete(c); m.cpumask.delete(c); }
    return;
  }
  if (k.traits.lazyCpumask) {
    let onTask = false;
    for (const m of k.mms.values()) if (m.loadedOn.has(c)) { onTask = true; break; }
    k.emit({ ev: 'tlb_flush', cpu: c, pages: 0, reason: TLB_REMOTE_WRONG_CPU, offTask: !onTask });
  }
  for (const m of mms) m.cpumask.delete(c);
}

export function flush_tlb_page(k: Kernel, mm: Mm, addr: number): void {
  flush_tlb_mm_range(k, mm, addr, addr + 4096);
}

/** mm/rmap.c should_defer_flush(): only with TTU_BATCH_FLUSH, and on x86 only if another CPU may cache the mm. */
export function should_defer_flush(k: Kernel, mm: Mm, batchFlush: boolean): boolean {
  if (!batchFlush) return false;
  if (k.config.arch === 'arm64') return true;
  const mask = mm.cpumask;
  return mask.size > 1 || (mask.size === 1 && !mask.has(k.cpu));
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
    mm.tlb_gen++;
    for (const c of mm.cpumask) ubc.cpumask.add(c);
  }
  ubc.flush_required = true;
  if (dirty) ubc.writable = true;
  ubc.mms.add(mm);
  mm.tlbFlushPending = true;
  k.pendingTlb.add(folio);
}

/** mm/rmap.c try_to_unmap_flush(). */
export function try_to_unmap_flush(k: Kernel): void {
  const ubc = k.ubcOf(k.tid);
  if (!ubc.flush_required) return;
  if (k.config.arch === 'arm64') {
    k.cost.dsbs++;
  } else {
    // arch_tlbbatch_flush(): a full flush of every CPU in the batch, with mm == NULL.
    const others = [...ubc.cpumask].filter((c) => c !== k.cpu).sort((a, b) => a - b);
    if (others.length > 0) {
      k.emit({ ev: 'tlb_flush', cpu: k.cpu, pages: -1, reason: TLB_REMOTE_SEND_IPI });
      k.cost.ipis += others.length;
    }
    if (ubc.cpumask.has(k.cpu)) k.emit({ ev: 'tlb_flush', cpu: k.cpu, pages: -1, reason: TLB_LOCAL_SHOOTDOWN });
    for (const c of others) remoteFlush(k, [...ubc.mms], c, -1);
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

/** mm/rmap.c flush_tlb_batched_pending(): called under the PTL by paths that change PTEs. */
export function flush_tlb_batched_pending(k: Kernel, mm: Mm): void {
  if (!mm.tlbFlushPending) return;
  flush_tlb_mm_range(k, mm, 0, FLUSH_ALL);
  mm.tlbFlushPending = false;
}
