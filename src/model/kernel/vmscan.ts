/**
 * mm/vmscan.c: shrink_folio_list() for anonymous and lazyfree folios, reclaim_pages() (the
 * MADV_PAGEOUT entry, one mm_vmscan_reclaim_pages per call on 6.13+), and memcg reclaim of
 * the workload's own cgroup (memory.reclaim / memory.force_empty).
 * Model deviation: there is no swap (as on every capture host): a swap-backed folio cannot be
 * paged out; a large one is split by the swap-out fallback and its pieces activated.
 */
import { HPAGE_PMD_ORDER, Lru, PTRS_PER_PTE, type Folio } from '../state.js';
import type { Kernel } from './kernel.js';
import { split_folio } from './huge_memory.js';
import { folio_mapped, folio_unqueue_deferred_split, free_folio, try_to_unmap, TTU_BATCH_FLUSH, TTU_SPLIT_HUGE_PMD, TTU_SYNC } from './rmap.js';
import { folio_isolate_lru, folio_putback_lru, folio_putback_lru_batched, lru_add_drain_all } from './swap.js';
import { try_to_unmap_flush } from './tlbflush.js';

export interface ReclaimStat {
  nr_scanned: number;
  nr_reclaimed: number;
  nr_activate: [number, number];
  nr_unmap_fail: number;
  nr_lazyfree_fail: number;
  nr_ref_keep: number;
}

function anyYoung(k: Kernel, f: Folio): boolean {
  for (const mm of k.mms.values()) {
    if (mm.anonRoot !== f.anonRoot) continue;
    for (const e of mm.pmds.values()) {
      if (e.kind === 'huge') { if (e.folio === f && e.young) return true; continue; }
      for (let i = 0; i < PTRS_PER_PTE; i++) if (e.folio[i] === f && e.young(i)) return true;
    }
  }
  return false;
}

/**
 * shrink_folio_list(): folios are isolated (one reference each). Returns the folios to put back.
 */
export function shrink_folio_list(k: Kernel, list: Folio[], ignoreReferences: boolean, stat: ReclaimStat): Folio[] {
  const ret: Folio[] = [];
  let freeBatch: Folio[] = [];
  const batchMax = k.traits.release === '6.1' ? Number.POSITIVE_INFINITY : 31;
  const flushFree = (): void => {
    try_to_unmap_flush(k);
    for (const f of freeBatch) free_folio(k, f);
    freeBatch = [];
  };
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    if (f.freed) continue;
    k.cost.folioLocks++;
    stat.nr_scanned += f.nr;
    const activateFolio = (x: Folio): void => {
      if (k.stories) k.story(x, `activated (${x.swapbacked ? 'anon' : 'file'} LRU)`);
      if (!x.mlocked) {
        x.active = true;
        stat.nr_activate[x.swapbacked ? 0 : 1] += x.nr;
        k.count('pgactivate', x.nr);
      }
      ret.push(x);
    };
    const activate = (): void => activateFolio(f);
    if (!ignoreReferences && anyYoung(k, f)) {
      activate();
      continue;
    }
    if (f.anon && f.swapbacked) {
      // No swap: folio_alloc_swap() fails. Large folios are split and retried as order 0.
      if (f.nr > 1) {
        k.count(k.mthpCounter(f.order, 'swpout_fallback'));
        if (f.order === HPAGE_PMD_ORDER) k.count('thp_swpout_fallback');
        const nr = f.nr;
        const pieces = split_folio(k, f);
        const head = pieces[0]?.pfn === f.pfn ? pieces[0] : undefined;
        for (const p of pieces) if (p !== head) { p.isolated = true; p.refcount++; }
        // The head retries the swap allocation at once, fails again (activate_locked_split),
        // and is counted as one page: nr_scanned is fixed up by nr - 1. split_folio_to_list()
        // queued the tails where the scan takes its next folio from, so they are scanned next,
        // the last page first — each fails the same way and is activated (the order in which
        // 6.18 put them back: head, then pages 15…1 of a 64 KiB folio, folio after folio).
        stat.nr_scanned -= nr - 1;
        if (head) activateFolio(head);
        const tails = pieces.filter((p) => p !== head).sort((a, b) => b.pfn - a.pfn);
        for (const t of tails) {
          k.cost.folioLocks++;
          stat.nr_scanned += t.nr;
          activateFolio(t);
        }
        continue;
      }
      activate();
      continue;
    }
    if (folio_mapped(f)) {
      let flags = TTU_BATCH_FLUSH;
      if (f.order === HPAGE_PMD_ORDER) flags |= TTU_SPLIT_HUGE_PMD;
      // TTU_SYNC makes page_vma_mapped_walk() take the PTL before the first PTE. A replay
      // follows one recorded interleaving, where no other CPU rewrites a PTE mid-walk, so the
      // walk does not read the flag: it matters only when paths interleave (foliolab race).
      if (f.nr > 1 && k.hook('ttu_sync')(k, f)) flags |= TTU_SYNC;
      k.runningSeries = undefined;
      const wasSwapbacked = f.swapbacked;
      if (!try_to_unmap(k, f, flags)) {
        stat.nr_unmap_fail += f.nr;
        if (!wasSwapbacked && f.swapbacked) stat.nr_lazyfree_fail += f.nr;
        activate();
        continue;
      }
    }
    if (f.anon && !f.swapbacked) {
      // folio_ref_freeze(folio, 1): only the isolation reference may remain.
      if (f.refcount !== 1) {
        ret.push(f);
        continue;
      }
      k.count('pglazyfreed', f.nr);
    }
    stat.nr_reclaimed += f.nr;
    folio_unqueue_deferred_split(k, f);
    f.isolated = false;
    f.refcount = 0;
    freeBatch.push(f);
    if (freeBatch.length >= batchMax) flushFree();
  }
  flushFree();
  return ret;
}

/** reclaim_pages(): MADV_PAGEOUT's per-range reclaim; the tracepoint reports the stat. */
export function reclaim_pages(k: Kernel, list: Folio[]): void {
  const stat: ReclaimStat = { nr_scanned: 0, nr_reclaimed: 0, nr_activate: [0, 0], nr_unmap_fail: 0, nr_lazyfree_fail: 0, nr_ref_keep: 0 };
  const back = shrink_folio_list(k, list, true, stat);
  for (const f of back) folio_putback_lru_batched(k, f);
  if (k.traits.reclaimPagesTracepoint) {
    k.emit({
      ev: 'mm_vmscan_reclaim_pages', cpu: k.cpu, nid: 0, nr_scanned: stat.nr_scanned, nr_reclaimed: stat.nr_reclaimed,
      nr_dirty: 0, nr_writeback: 0, nr_congested: 0, nr_immediate: 0, nr_activate_anon: stat.nr_activate[0],
      nr_activate_file: stat.nr_activate[1], nr_ref_keep: stat.nr_ref_keep, nr_unmap_fail: stat.nr_unmap_fail,
    });
  }
}

/**
 * try_to_free_mem_cgroup_pages() for the workload's own memcg: LRU scanning from the tail of
 * the inactive lists (oldest first), references checked. Without swap the anon lists are not
 * scanned. Only the workload's folios are in the model's memcg.
 * [T] On a small memcg the scan runs at high priority with tiny scan counts: each
 * shrink_folio_list() call gets one folio (a folio is freed before the next is unmapped).
 */
export function memcg_reclaim(k: Kernel, bytes: number, how: string): void {
  lru_add_drain_all(k);
  // Each pass reclaims at least one page or ends the loop, so the target bounds it.
  let target = Math.ceil(bytes / 4096);
  while (target > 0) {
    // isolate_lru_folios(): up to SWAP_CLUSTER_MAX folios per batch for memory.reclaim; v1
    // memory.force_empty reclaims one page's worth per call, so each batch is one folio [T].
    const max = how === 'memcg-force-empty' ? 1 : 32;
    const candidates = [...k.lru[Lru.InactiveFile]!].slice(0, max);
    if (candidates.length === 0) break;
    const list: Folio[] = [];
    for (const f of candidates) if (folio_isolate_lru(k, f)) list.push(f);
    const stat: ReclaimStat = { nr_scanned: 0, nr_reclaimed: 0, nr_activate: [0, 0], nr_unmap_fail: 0, nr_lazyfree_fail: 0, nr_ref_keep: 0 };
    const back = shrink_folio_list(k, list, false, stat);
    k.count('pgscan_file', stat.nr_scanned);
    k.count('pgsteal_file', stat.nr_reclaimed);
    for (const f of back) if (!f.freed) folio_putback_lru(k, f);
    target -= stat.nr_reclaimed;
    if (stat.nr_reclaimed === 0) break;
  }
}
