/**
 * mm/memcontrol.c (and mm/memcontrol-v1.c): what makes the workload's memcg reclaim.
 *
 * - memory_reclaim() (cgroup v2 `memory.reclaim`): asks try_to_free_mem_cgroup_pages() for the
 *   request in rounds (the whole remainder on 6.1; a quarter of it, at least SWAP_CLUSTER_MAX,
 *   from 6.9), up to MAX_RECLAIM_RETRIES rounds without progress.
 * - mem_cgroup_force_empty() (cgroup v1 `memory.force_empty`): lru_add_drain_all(), then
 *   reclaim requests of one page each (SWAP_CLUSTER_MAX after rounding up) while the memcg is
 *   charged — in practice until MAX_RECLAIM_RETRIES requests freed nothing, since kernel memory
 *   charged to it is not reclaimable.
 * - try_charge_memcg() over memory.max: a charge that allows blocking runs
 *   try_to_free_mem_cgroup_pages() for the charged folio's pages; one that does not (an mTHP
 *   allocation's GFP_TRANSHUGE_LIGHT) fails, and alloc_anon_folio() frees the folio and falls
 *   back to the next smaller order.
 *
 * Model deviation: the memcg's usage and limit are not modelled (kernel memory — slab, page
 * tables, the per-CPU charge stock — is charged to it too and is not in the trace). Whether a
 * charge failed is read from the record instead: the fault allocated again (mm_page_alloc)
 * after a folio, so that folio's charge failed; reclaim ran inside the charge
 * (mm_vmscan_memcg_reclaim_begin). What reclaim then does is the model's.
 */
import type { AllocFact } from '../ops.js';
import type { Kernel } from './kernel.js';
import { lru_add_drain_all } from './swap.js';
import { SWAP_CLUSTER_MAX, try_to_free_mem_cgroup_pages } from './vmscan.js';
import { HPAGE_PMD_ORDER, PAGE_SIZE } from '../state.js';

/** include/linux/swap.h MAX_RECLAIM_RETRIES. */
export const MAX_RECLAIM_RETRIES = 16;

/**
 * mm/memcontrol.c: memory_reclaim(). "This is the final attempt, drain percpu lru caches in the
 * hope of introducing more evictable pages": lru_add_drain_all() only before the last retry.
 */
export function memory_reclaim(k: Kernel, bytes: number): void {
  const nr_to_reclaim = Math.floor(bytes / PAGE_SIZE);
  let nr_reclaimed = 0;
  let nr_retries = MAX_RECLAIM_RETRIES;
  while (nr_reclaimed < nr_to_reclaim) {
    if (!nr_retries) lru_add_drain_all(k);
    const remaining = nr_to_reclaim - nr_reclaimed;
    const batch = k.traits.memoryReclaimQuarterBatch ? Math.max(SWAP_CLUSTER_MAX, Math.floor(remaining / 4)) : remaining;
    const reclaimed = try_to_free_mem_cgroup_pages(k, batch);
    if (!reclaimed && !nr_retries--) break;
    nr_reclaimed += reclaimed;
  }
}

/** mm/memcontrol-v1.c: mem_cgroup_force_empty(). */
export function mem_cgroup_force_empty(k: Kernel): void {
  lru_add_drain_all(k);
  let nr_retries = MAX_RECLAIM_RETRIES;
  while (nr_retries) {
    if (!try_to_free_mem_cgroup_pages(k, 1)) nr_retries--;
  }
}

/** The workload's `fl: reclaim how=memcg-reclaim|memcg-force-empty` request. */
export function memcg_reclaim(k: Kernel, bytes: number, how: string): void {
  if (how === 'memcg-force-empty') mem_cgroup_force_empty(k);
  else memory_reclaim(k, bytes);
}

/**
 * mm/memcontrol.c: try_charge_memcg() over memory.max for a charge that is none of the model's
 * folios — a slab object or socket buffer charged with __GFP_ACCOUNT (obj_cgroup_charge() →
 * obj_cgroup_charge_pages()) in a system call, or a vma or page table of it. Each time the record
 * shows the charge ran reclaim, try_to_free_mem_cgroup_pages() for the charge's pages.
 *
 * Model deviation: the charge's size is in no event; it is taken as one page. Any charge below
 * SWAP_CLUSTER_MAX pages reclaims the same (try_to_free_mem_cgroup_pages() asks for at least
 * SWAP_CLUSTER_MAX), and the kernel's own objects are that small (a socket buffer's head, a
 * vma). The reclaim runs before the op's own work, where the charge of what the call allocates
 * first is made; a charge made later in the op (a fork's page tables) is placed there too.
 */
export function try_charge_memcg(k: Kernel, reclaims: number): void {
  for (let n = reclaims; n > 0; n--) try_to_free_mem_cgroup_pages(k, 1);
}

/**
 * The charges of one fault's allocations, in the order the kernel made them
 * (mem_cgroup_charge() → try_charge_memcg()): an allocation the record shows reclaim ran for
 * (`memcgReclaim`) reclaims the folio's pages from the memcg; a data folio followed by a
 * smaller one allocated the fallback way (`anonFault`) in the same fault failed its charge —
 * alloc_anon_folio() (or the PMD fault, count THP_FAULT_FALLBACK_CHARGE) puts it, freeing it,
 * and tries the next order down. Data allocations after that chain are not the fault's (the
 * page cache of a read() whose copy faulted). Returns the allocation the fault maps (the last
 * folio of the chain).
 */
export function mem_cgroup_charge_allocs(k: Kernel, allocs: readonly AllocFact[]): AllocFact | undefined {
  let lastUser = -1;
  for (let i = 0; i < allocs.length; i++) {
    const a = allocs[i]!;
    if (a.use !== 'user') continue;
    if (lastUser >= 0 && !(a.anonFault && a.order < allocs[lastUser]!.order)) break;
    lastUser = i;
  }
  let inChain = lastUser >= 0;
  for (let i = 0; i < allocs.length; i++) {
    const a = allocs[i]!;
    for (let n = a.memcgReclaim ?? 0; n > 0; n--) try_to_free_mem_cgroup_pages(k, 1 << a.order);
    if (i === lastUser) inChain = false;
    if (a.use !== 'user' || !inChain) continue;
    k.count(k.mthpCounter(a.order, 'anon_fault_fallback'));
    k.count(k.mthpCounter(a.order, 'anon_fault_fallback_charge'));
    if (a.order === HPAGE_PMD_ORDER) {
      k.count('thp_fault_fallback');
      k.count('thp_fault_fallback_charge');
    }
    k.count('pgfree', 1 << a.order);
    k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: a.pfn, order: a.order, what: 'folio' });
  }
  return lastUser >= 0 ? allocs[lastUser] : undefined;
}
