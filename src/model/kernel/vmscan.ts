/**
 * mm/vmscan.c: shrink_folio_list() for anonymous and lazyfree folios, reclaim_pages() (the
 * MADV_PAGEOUT entry, one mm_vmscan_reclaim_pages per call on 6.13+), and the LRU scan of
 * memcg reclaim, try_to_free_mem_cgroup_pages(): do_try_to_free_pages() walks the priorities
 * from DEF_PRIORITY down; each pass scans the workload's memcg lruvec either the classic way
 * (shrink_lruvec() → shrink_inactive_list(): size >> priority pages, SWAP_CLUSTER_MAX at a
 * time, so a small memcg is scanned in batches that grow as the priority drops) or, with the
 * multi-gen LRU, lru_gen_shrink_lruvec() → evict_folios() (MIN_LRU_BATCH pages per eviction).
 * Model deviation: there is no swap (as on every capture host): a swap-backed folio cannot be
 * paged out; a large one is split by the swap-out fallback and its pieces activated. With no
 * swap get_scan_count() scans the file lists only (SCAN_FILE), which is where lazyfree folios
 * are. The memcg holds the workload's folios only (the captures' cgroups hold nothing else
 * that reclaim could free); shrink_slab() and the active file list are not scanned.
 */
import { HPAGE_PMD_ORDER, Lru, PAGE_SIZE, PMD_SIZE, type Folio, type Mm } from '../state.js';
import type { Kernel } from './kernel.js';
import { deferred_split_scan, split_folio } from './huge_memory.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { folio_mapped, folio_mappings, folio_unqueue_deferred_split, free_folio, try_to_unmap, TTU_BATCH_FLUSH, TTU_SPLIT_HUGE_PMD, TTU_SYNC } from './rmap.js';
import { folio_isolate_lru, folio_putback_lru, folio_putback_lru_batched, lru_add_drain } from './swap.js';
import { flush_tlb_range, try_to_unmap_flush } from './tlbflush.js';

/** include/linux/swap.h: the unit of LRU scanning and of a reclaim request's floor. */
export const SWAP_CLUSTER_MAX = 32;
/** mm/vmscan.c: the first (gentlest) scan priority; a pass scans lru_size >> priority. */
export const DEF_PRIORITY = 12;
/** include/linux/mmzone.h: scan_folios() stops once it isolated MIN_LRU_BATCH (BITS_PER_LONG) pages. */
export const MIN_LRU_BATCH = 64;
/** include/linux/mmzone.h: … or after MAX_LRU_BATCH (MIN_LRU_BATCH * 64) folios. */
export const MAX_LRU_BATCH = MIN_LRU_BATCH * 64;

export interface ReclaimStat {
  nr_scanned: number;
  nr_reclaimed: number;
  nr_activate: [number, number];
  nr_unmap_fail: number;
  nr_lazyfree_fail: number;
  nr_ref_keep: number;
}

/**
 * mm/rmap.c: folio_referenced(): the number of the folio's page-table entries found young,
 * whose young bit it clears (folio_referenced_one(): ptep_clear_flush_young_notify() per PTE —
 * x86 clears a PTE's accessed bit without a flush; pmdp_clear_flush_young_notify() for a PMD,
 * which x86 flushes over the PMD's range when it was young).
 */
export function folio_referenced(k: Kernel, f: Folio): number {
  let referenced = 0;
  for (const { mm, vma, address } of folio_mappings(k, f)) {
    const lo = Math.max(vma.vm_start, address);
    const hi = Math.min(vma.vm_end, address + f.nr * PAGE_SIZE);
    for (let addr = lo; addr < hi; ) {
      const e = mm.pmds.get(pmdIndex(addr));
      const next = Math.min(hi, (pmdIndex(addr) + 1) * PMD_SIZE);
      if (e?.kind === 'huge') {
        if (e.folio === f && e.young) {
          e.young = false;
          referenced++;
          const haddr = pmdIndex(addr) * PMD_SIZE;
          flush_tlb_range(k, mm, haddr, haddr + PMD_SIZE);
        }
      } else if (e) {
        for (let i = pteIndex(addr), end = i + (next - addr) / PAGE_SIZE; i < end; i++) {
          if (e.folio[i] === f && e.mkold(i)) referenced++;
        }
      }
      addr = next;
    }
  }
  return referenced;
}

/** Whether `mm` maps `f` (a PMD or a PTE of it) in its range at `address` within [start, end). */
function maps_folio(mm: Mm, start: number, end: number, address: number, f: Folio): boolean {
  const lo = Math.max(start, address);
  const hi = Math.min(end, address + f.nr * PAGE_SIZE);
  for (let addr = lo; addr < hi; ) {
    const e = mm.pmds.get(pmdIndex(addr));
    const next = Math.min(hi, (pmdIndex(addr) + 1) * PMD_SIZE);
    if (e?.kind === 'huge') {
      if (e.folio === f) return true;
    } else if (e) {
      for (let i = pteIndex(addr), last = i + (next - addr) / PAGE_SIZE; i < last; i++) if (e.folio[i] === f) return true;
    }
    addr = next;
  }
  return false;
}

const enum FolioRef { Reclaim, ReclaimClean, Keep, Activate }

/**
 * mm/vmscan.c: folio_check_references() (6.1–6.18, both LRU flavours): the young entries are
 * counted and cleared, PG_referenced tested and cleared. "All mapped folios start out with page
 * table references from the instantiating fault, so we need to look twice if a mapped file/anon
 * folio is used more than once": one young entry and no PG_referenced keeps the folio (it is
 * marked referenced and goes round the inactive list again); more, or a second time, activates.
 */
function folio_check_references(k: Kernel, f: Folio, found?: boolean): FolioRef {
  const young = folio_referenced(k, f);
  // Entries found old that an access no event shows may have made young: the kernel may have
  // kept or activated the folio here (the recorded pass's outcome, when it has one, decides).
  if (young === 0 && found === undefined && k.mayBeUnseen(f, true)) {
    for (const { mm, vma, address } of folio_mappings(k, f)) {
      // Only an mm whose page table maps the folio can make its entries young.
      if (!maps_folio(mm, vma.vm_start, vma.vm_end, address, f)) continue;
      const why = k.accessesUnseen(mm, f);
      if (why !== undefined) { k.unseenDecision('accessed', why, mm); break; }
    }
  }
  k.aged(f);
  // The recorded pass kept every page it looked at (Op `inactivePasses`): FOLIOREF_KEEP.
  if (found === true) {
    f.referenced = true;
    return FolioRef.Keep;
  }
  // It kept none: no young entry found.
  const referenced_ptes = found === false ? 0 : young;
  // Multi-gen LRU after the workingset rework: lru_gen_set_refs() decides, PG_referenced is
  // not consumed here. Model deviation: PG_workingset is not modelled, so a folio activated
  // once starts over at "first young entry" when it is kept again.
  if (k.traits.lruGen && k.traits.lruGenRefsRework) {
    if (!referenced_ptes) return FolioRef.Reclaim;
    if (!f.referenced) {
      f.referenced = true;
      return FolioRef.Keep;
    }
    f.referenced = false;
    return FolioRef.Activate;
  }
  const referenced_folio = f.referenced;
  f.referenced = false;
  if (referenced_ptes) {
    f.referenced = true;
    if (referenced_folio || referenced_ptes > 1) return FolioRef.Activate;
    return FolioRef.Keep;
  }
  // A lazyfree folio is on the file LRU: PG_referenced alone reclaims it (clean).
  if (referenced_folio && !f.swapbacked) return FolioRef.ReclaimClean;
  return FolioRef.Reclaim;
}

/**
 * shrink_folio_list(): folios are isolated (one reference each). Returns the folios to put back.
 */
export function shrink_folio_list(k: Kernel, list: Folio[], ignoreReferences: boolean, stat: ReclaimStat, found?: boolean): Folio[] {
  const ret: Folio[] = [];
  let freeBatch: Folio[] = [];
  // Before 6.9 the order-0 folios wait on a list built head-first (freed last to first after
  // the final flush) and a large folio is freed on the spot; after, a folio_batch of 31.
  const listFree = k.traits.shrinkFreeList;
  const batchMax = listFree ? Number.POSITIVE_INFINITY : 31;
  const flushFree = (): void => {
    try_to_unmap_flush(k);
    if (listFree) freeBatch.reverse();
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
    // "folio_update_gen() tried to promote this page?" (multi-gen LRU, 6.1–6.13): a mapped
    // folio marked referenced is kept without looking at its references again. isolate_folio()
    // cleared the flag, so only an accessed bit found while the folio was isolated sets it.
    // Model deviation: lru_gen_look_around() (folio_referenced_one() on a young PTE marks the
    // folios mapped around it, isolated ones included) is not modelled; nothing sets it here.
    if (k.traits.lruGen && !k.traits.lruGenRefsRework && !ignoreReferences && folio_mapped(f) && f.referenced) {
      ret.push(f);
      continue;
    }
    if (!ignoreReferences) {
      const references = folio_check_references(k, f, found);
      if (references === FolioRef.Activate) {
        activate();
        continue;
      }
      if (references === FolioRef.Keep) {
        stat.nr_ref_keep += f.nr;
        ret.push(f);
        continue;
      }
    }
    if (f.anon && f.swapbacked) {
      // No swap: folio_alloc_swap() fails. Large folios are split and retried as order 0.
      if (f.nr > 1) {
        k.count(k.mthpCounter(f.order, 'swpout_fallback'));
        if (f.order === HPAGE_PMD_ORDER) k.count('thp_swpout_fallback');
        const nr = f.nr;
        const pieces = split_folio(k, f, true);
        const head = pieces[0]?.pfn === f.pfn ? pieces[0] : undefined;
        // The head retries the swap allocation at once, fails again (activate_locked_split),
        // and is counted as one page: nr_scanned is fixed up by nr - 1. split_folio_to_list()
        // queued the tails where the scan takes its next folio from, so they are scanned next —
        // each fails the same way and is activated, put back after the head in the order of
        // traits.splitTailsCreatedLastFirst (6.18: pages 15…1 of a 64 KiB folio; 6.12: 1…15).
        stat.nr_scanned -= nr - 1;
        if (head) activateFolio(head);
        const tails = pieces.filter((p) => p !== head).sort((a, b) => (k.traits.splitTailsCreatedLastFirst ? a.pfn - b.pfn : b.pfn - a.pfn));
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
      // A thread touching it on another CPU meanwhile may be in a fault on it (its migration
      // entries during the split, a fault in progress), which holds a reference.
      if (k.mayBeUnseen(f, false)) for (const { mm } of folio_mappings(k, f)) {
        const why = k.accessedMeanwhile(mm, f);
        if (why !== undefined) { k.unseenDecision('reference', why, mm); break; }
      }
      k.count('pglazyfreed', f.nr);
    }
    stat.nr_reclaimed += f.nr;
    folio_unqueue_deferred_split(k, f);
    f.isolated = false;
    f.refcount = 0;
    if (listFree && f.nr > 1) {
      // destroy_large_folio() at free_it, after the deferred flush on kernels with the stable
      // fix (traits.shrinkFlushesBeforeLargeFree), before it on older ones.
      if (k.traits.shrinkFlushesBeforeLargeFree) try_to_unmap_flush(k);
      free_folio(k, f);
      continue;
    }
    freeBatch.push(f);
    if (freeBatch.length >= batchMax) flushFree();
  }
  flushFree();
  return ret;
}

/**
 * reclaim_pages(): MADV_PAGEOUT's per-range reclaim; the tracepoint reports the stat. Before
 * 6.10 it checks references (the madvise walk aged the entries just before: an access since
 * makes the folio referenced); from 6.10 it ignores them (traits.pageoutAgesYoung).
 */
export function reclaim_pages(k: Kernel, list: Folio[]): void {
  const stat: ReclaimStat = { nr_scanned: 0, nr_reclaimed: 0, nr_activate: [0, 0], nr_unmap_fail: 0, nr_lazyfree_fail: 0, nr_ref_keep: 0 };
  const back = shrink_folio_list(k, list, !k.traits.pageoutAgesYoung, stat);
  for (const f of back) folio_putback_lru_batched(k, f);
  if (k.traits.reclaimPagesTracepoint) {
    k.emit({
      ev: 'mm_vmscan_reclaim_pages', cpu: k.cpu, nid: 0, nr_scanned: stat.nr_scanned, nr_reclaimed: stat.nr_reclaimed,
      nr_dirty: 0, nr_writeback: 0, nr_congested: 0, nr_immediate: 0, nr_activate_anon: stat.nr_activate[0],
      nr_activate_file: stat.nr_activate[1], nr_ref_keep: stat.nr_ref_keep, nr_unmap_fail: stat.nr_unmap_fail,
    });
  }
}


/** struct scan_control: the part memcg reclaim reads. */
export interface ScanControl {
  /** max(the request, SWAP_CLUSTER_MAX): try_to_free_mem_cgroup_pages(). */
  nr_to_reclaim: number;
  nr_reclaimed: number;
  priority: number;
}

function newStat(): ReclaimStat {
  return { nr_scanned: 0, nr_reclaimed: 0, nr_activate: [0, 0], nr_unmap_fail: 0, nr_lazyfree_fail: 0, nr_ref_keep: 0 };
}

/** lruvec_lru_size(): pages on one LRU list of the memcg. */
function lruvec_lru_size(k: Kernel, lru: Lru): number {
  let pages = 0;
  k.lru[lru]!.forEach((f) => { pages += f.nr; });
  return pages;
}

/**
 * isolate_lru_folios(): from the tail of the inactive file list (the oldest folio: the head of
 * the model's list) until `nr_to_scan` pages were looked at — "account all pages in a folio",
 * so one PMD THP satisfies any request up to 512.
 */
function isolate_lru_folios(k: Kernel, nr_to_scan: number, lru: Lru): Folio[] {
  const list: Folio[] = [];
  let scan = 0;
  for (const f of k.lru[lru]!) {
    if (scan >= nr_to_scan) break;
    scan += f.nr;
    if (folio_isolate_lru(k, f)) list.push(f);
  }
  return list;
}

/**
 * Put back what shrink_folio_list() returned (move_folios_to_lru()): each folio straight onto
 * the list its flags now select, newest end; PG_active set by activation picks the active list.
 */
function move_folios_to_lru(k: Kernel, back: Folio[]): void {
  for (const f of back) if (!f.freed) folio_putback_lru(k, f);
}

/**
 * shrink_inactive_list(): lru_add_drain() of this CPU's batches first (so folios still waiting
 * in a batch join the list only now, after get_scan_count() sized the pass without them), then
 * isolate, shrink_folio_list() (frees in batches after a TLB flush), put the rest back.
 */
function shrink_inactive_list(k: Kernel, nr_to_scan: number): number {
  lru_add_drain(k);
  const list = isolate_lru_folios(k, nr_to_scan, Lru.InactiveFile);
  if (list.length === 0) return 0;
  const stat = newStat();
  const back = shrink_folio_list(k, list, false, stat, recorded_references(k, list));
  k.count('pgscan_file', stat.nr_scanned);
  k.count('pgsteal_file', stat.nr_reclaimed);
  move_folios_to_lru(k, back);
  return stat.nr_reclaimed;
}

/**
 * shrink_lruvec() (classic LRU): get_scan_count() gives each evictable list size >> priority —
 * without swap only the file lists (SCAN_FILE) — and the lists are scanned SWAP_CLUSTER_MAX
 * pages at a time until that count is used up or this lruvec gave nr_to_reclaim (memcg reclaim
 * is never proportional: with no anon to balance against, reaching the target stops the loop).
 * Model deviation: the active file list is not aged (shrink_active_list()); only lazyfree
 * folios that reclaim activated could be on it.
 */
function shrink_lruvec(k: Kernel, sc: ScanControl): void {
  let nr = lruvec_lru_size(k, Lru.InactiveFile) >> sc.priority;
  let nr_reclaimed = 0;
  while (nr > 0) {
    const nr_to_scan = Math.min(nr, SWAP_CLUSTER_MAX);
    nr -= nr_to_scan;
    nr_reclaimed += shrink_inactive_list(k, nr_to_scan);
    if (nr_reclaimed >= sc.nr_to_reclaim) break;
  }
  sc.nr_reclaimed += nr_reclaimed;
}

/**
 * isolate_folio() (multi-gen LRU): takes the folio off its generation; before the workingset
 * rework (traits.lruGenRefsRework) it also clears PG_referenced "for shrink_folio_list()", so a
 * folio an earlier eviction kept for one young entry has its references checked afresh.
 */
function isolate_folio(k: Kernel, f: Folio): boolean {
  if (!folio_isolate_lru(k, f)) return false;
  if (!k.traits.lruGenRefsRework) f.referenced = false;
  return true;
}

/**
 * evict_folios() (multi-gen LRU): scan_folios() takes folios from the oldest generation until it
 * isolated MIN_LRU_BATCH pages (or looked at MAX_LRU_BATCH folios), then shrink_folio_list();
 * rejected folios go back to the youngest generation. Returns the pages scanned; adds the pages
 * reclaimed to `sc`.
 * Model deviation: generations are not modelled — the file folios form one list in the order
 * they entered the LRU (oldest first), and a folio put back goes to its newest end; aging
 * (try_to_inc_max_seq()) and tiers do not reorder it.
 */
function evict_folios(k: Kernel, sc: ScanControl): number {
  const list: Folio[] = [];
  let isolated = 0;
  let scanned = 0;
  let remaining = MAX_LRU_BATCH;
  for (const f of k.lru[Lru.InactiveFile]!) {
    scanned += f.nr;
    if (isolate_folio(k, f)) {
      list.push(f);
      isolated += f.nr;
    }
    if (!--remaining || isolated >= MIN_LRU_BATCH) break;
  }
  if (list.length === 0) return 0;
  const stat = newStat();
  const back = shrink_folio_list(k, list, false, stat, recorded_references(k, list));
  k.count('pgscan_file', stat.nr_scanned);
  k.count('pgsteal_file', stat.nr_reclaimed);
  move_folios_to_lru(k, back);
  sc.nr_reclaimed += stat.nr_reclaimed;
  return scanned;
}

/**
 * lru_gen_shrink_lruvec() → try_to_shrink_lruvec() for memcg reclaim: lru_add_drain() first,
 * then evictions until get_nr_to_scan()'s count (the memcg's evictable pages >> priority; file
 * only without swap) is scanned. should_abort_scan() never stops memcg reclaim ("don't abort
 * memcg reclaim to ensure fairness"), so a pass scans its whole count.
 */
function lru_gen_shrink_lruvec(k: Kernel, sc: ScanControl): void {
  lru_add_drain(k);
  let scanned = 0;
  for (;;) {
    const nr_to_scan = (lruvec_lru_size(k, Lru.InactiveFile) + lruvec_lru_size(k, Lru.ActiveFile)) >> sc.priority;
    if (nr_to_scan <= 0) break;
    const delta = evict_folios(k, sc);
    if (!delta) break;
    scanned += delta;
    if (scanned >= nr_to_scan) break;
  }
}

/**
 * do_try_to_free_pages(): passes at falling priority until the request is met; each pass scans
 * the memcg's lruvec (shrink_node() → shrink_node_memcgs() → shrink_lruvec(), which hands over to
 * lru_gen_shrink_lruvec() when the multi-gen LRU is on).
 */
function do_try_to_free_pages(k: Kernel, sc: ScanControl): void {
  do {
    if (k.traits.lruGen) lru_gen_shrink_lruvec(k, sc);
    else shrink_lruvec(k, sc);
    shrink_slab_deferred_split(k, sc.priority);
    if (sc.nr_reclaimed >= sc.nr_to_reclaim) break;
  } while (--sc.priority >= 0);
}

/**
 * Per kernel, how many of the current op's recorded deferred-split shrinker calls (Op `shrinks`)
 * its reclaim has consumed: engines stepping the same op (a diff's two configs, the inspector's
 * replays) each walk the list from its start.
 */
const passCursor = new WeakMap<Kernel, { op: object; next: number }>();

/**
 * What the reference checks of this inactive-list pass found, from the op's recorded pass of
 * the same rank (Op `inactivePasses`) when it looked at the same number of pages: every page
 * kept as referenced (true) or none (false). A pass that kept some of its folios does not say
 * which, and one of another size is not this pass: the model's own accessed bits decide then.
 */
function recorded_references(k: Kernel, list: readonly Folio[]): boolean | undefined {
  const passes = k.op?.inactivePasses;
  if (!passes) return undefined;
  let cur = passCursor.get(k);
  if (!cur || cur.op !== k.op) {
    cur = { op: k.op, next: 0 };
    passCursor.set(k, cur);
  }
  const pass = passes[cur.next++];
  if (!pass) return undefined;
  let pages = 0;
  for (const f of list) pages += f.nr;
  if (pass.scanned !== pages) return undefined;
  if (pass.refKeep === pages) return true;
  if (pass.refKeep === 0) return false;
  return undefined;
}

const shrinkCursor = new WeakMap<Kernel, { op: object; next: number }>();

/** A new op begins on this kernel (Engine.step()): its recorded shrinker calls start over, even if it is the op just stepped (an inspector replaying from a checkpoint). */
export function shrink_calls_reset(k: Kernel): void {
  shrinkCursor.delete(k);
  passCursor.delete(k);
}

function shrink_slab_deferred_split(k: Kernel, priority: number): void {
  const calls = k.op?.shrinks;
  if (!calls) return;
  let cur = shrinkCursor.get(k);
  if (!cur || cur.op !== k.op) {
    cur = { op: k.op, next: 0 };
    shrinkCursor.set(k, cur);
  }
  const call = calls[cur.next];
  if (!call || call.priority !== priority) return;
  cur.next++;
  let total = call.totalScan;
  const batch = k.traits.deferredScanBatch;
  // count_objects() once, before the loop (do_shrink_slab()'s `freeable`).
  const freeable = k.deferred.split_queue_len;
  if (freeable === 0) return;
  while (total >= batch || total >= freeable) {
    const n = Math.min(batch, total);
    // SHRINK_STOP: nothing split and the queue empty.
    if (deferred_split_scan(k, n) === 0 && k.deferred.list.length === 0) break;
    total -= n;
  }
}

/**
 * try_to_free_mem_cgroup_pages(): reclaim at least `nr_pages` (never asked for less than
 * SWAP_CLUSTER_MAX) from the workload's memcg; returns the pages reclaimed. The
 * mm_vmscan_memcg_reclaim_begin/end tracepoints bracket it.
 */
export function try_to_free_mem_cgroup_pages(k: Kernel, nr_pages: number): number {
  const sc: ScanControl = { nr_to_reclaim: Math.max(nr_pages, SWAP_CLUSTER_MAX), nr_reclaimed: 0, priority: DEF_PRIORITY };
  do_try_to_free_pages(k, sc);
  return sc.nr_reclaimed;
}
