/**
 * The seams: each hook is called by the core at the exact place a modelled patch changes the
 * kernel (the `rmap_walk_control` / `#ifdef CONFIG_… #else stub` shape). The core carries the
 * baseline behaviour in BASELINE; a series replaces one or more hooks, and presets apply
 * series in order (a later series replaces what an earlier one installed, as a later patch
 * rewrites a function an earlier one introduced).
 */
import type { Kernel } from './kernel/kernel.js';
import type { Folio, HugePmd, Mm, PteTable, Vma } from './state.js';

export interface PteBatchCtx {
  mm: Mm;
  vma: Vma;
  folio: Folio;
  table: PteTable;
  /** Index of the hit PTE in `table`. */
  idx: number;
  addr: number;
  /** TTU_HWPOISON set. */
  hwpoison: boolean;
}

export interface DiscardCtx {
  folio: Folio;
  /** Folio dirty after merging the dirty bits of the entries just cleared. */
  dirty: boolean;
  /** ref_count == 1 + map_count, counted before the rmap is removed. */
  refsOk: boolean;
  droppable: boolean;
}

/** What happens to a lazyfree folio at the PTE-level discard check. */
export type DiscardVerdict = 'discard' | 'fail-swapbacked' | 'fail-keep';

export interface PmdHitCtx {
  mm: Mm;
  vma: Vma;
  folio: Folio;
  pmd: HugePmd;
  addr: number;
}

export interface Hooks {
  /**
   * mm/rmap.c try_to_unmap_one(): with TTU_SPLIT_HUGE_PMD, split the PMD before walking
   * (6.1–6.10) rather than at the PMD hit inside the walk (Lance Yang v6 2/3).
   */
  split_pmd_before_walk(k: Kernel): boolean;
  /**
   * mm/rmap.c try_to_unmap_one() at a PMD hit: try to unmap the whole PMD-mapped folio
   * (`unmap_huge_pmd_locked`). true = unmapped (walk done); false = not unmapped.
   */
  unmap_huge_pmd_locked(k: Kernel, c: PmdHitCtx): boolean;
  /** After unmap_huge_pmd_locked() failed for a lazyfree folio: split and walk the PTEs, or abort. */
  pmd_lazyfree_failed(k: Kernel, c: PmdHitCtx): 'split' | 'abort';
  /** mm/rmap.c: how many PTEs from this hit to unmap at once (`folio_unmap_pte_batch`). */
  folio_unmap_pte_batch(k: Kernel, c: PteBatchCtx): number;
  /** mm/rmap.c: the lazyfree discard decision at PTE level. */
  lazyfree_discard(k: Kernel, c: DiscardCtx): DiscardVerdict;
  /** mm/vmscan.c shrink_folio_list(): set TTU_SYNC for this folio. */
  ttu_sync(k: Kernel, folio: Folio): boolean;
  /** mm/huge_memory.c deferred_split_scan(): the scanning scheme. */
  deferred_split_scan_mode(k: Kernel): 'private-list' | 'folio-batch';
  /** mm/rmap.c set_tlb_ubc_flush_pending(): the range queued for a batched flush (arm64 TLBI). */
  tlbbatch_range(k: Kernel, start: number, end: number): [number, number];
  /**
   * arch/x86 flush_tlb_multi(): how the other CPUs of a flush are reached. `ipi`: each runs
   * flush_tlb_func() (traced `remote shootdown`, lazy CPUs leave the mask); `hypercall`: a
   * paravirt guest asks the hypervisor to flush the vCPUs, nothing runs or traces on them.
   */
  flush_tlb_multi_remote(k: Kernel): 'ipi' | 'hypercall';
  // Orders and locks that matter only when paths interleave: the race explorer (src/race)
  // reads them; a replay follows one recorded interleaving and never calls them.
  /** mm/rmap.c try_to_unmap_one(): the lazyfree check reads ref_count before the dirty flag (6c8e2a256915). */
  lazyfree_discard_read_order(k: Kernel): 'ref-first' | 'dirty-first';
  /** mm/huge_memory.c __folio_split(): the refcount freeze and the unqueue under split_queue_lock. */
  split_freeze_locked(k: Kernel): boolean;
  /** __folio_split(): unqueue only once the refcount is frozen (false: unqueue first, then freeze). */
  split_unqueue_after_freeze(k: Kernel): boolean;
  /** deferred_split_scan() (private-list form): keep the previous kept folio pinned across an unlocked list_del_init() (e66f3185fa04). */
  deferred_split_scan_pins_prev(k: Kernel): boolean;
  /** deferred_split_scan() (folio_batch form): re-queue a folio only if list_empty(&folio->_deferred_list). */
  deferred_split_requeue_guard(k: Kernel): boolean;
}

/** Which series installed each hook (for violation attribution and `foliolab series`). */
export type HookOwners = Partial<Record<keyof Hooks, string>>;

export const BASELINE: Hooks = {
  split_pmd_before_walk: () => true,
  unmap_huge_pmd_locked: () => false,
  pmd_lazyfree_failed: () => 'split',
  folio_unmap_pte_batch: () => 1,
  lazyfree_discard: (k, c) => {
    // 6.1–6.10: refs_ok && !dirty, else set swapbacked. 6.11–6.14: VM_DROPPABLE tolerates dirty.
    if (k.traits.droppable) {
      if (c.refsOk && (!c.dirty || c.droppable)) return 'discard';
      return c.droppable ? 'fail-keep' : 'fail-swapbacked';
    }
    return c.refsOk && !c.dirty ? 'discard' : 'fail-swapbacked';
  },
  ttu_sync: () => false,
  deferred_split_scan_mode: () => 'private-list',
  tlbbatch_range: (_k, start) => [start, start + 4096],
  flush_tlb_multi_remote: () => 'ipi',
  lazyfree_discard_read_order: () => 'ref-first',
  split_freeze_locked: () => true,
  split_unqueue_after_freeze: () => true,
  deferred_split_scan_pins_prev: () => true,
  deferred_split_requeue_guard: () => true,
};
