/**
 * mm/rmap.c: mapping counts, deferred-split queueing on partial unmap, and the reclaim unmap
 * (try_to_unmap → try_to_unmap_one over page_vma_mapped_walk). The places the modelled series
 * change are hooks (model/hooks.ts); the code here is the baseline around them.
 */
import { HPAGE_PMD_ORDER, MM_ANONPAGES, PAGE_SIZE, PMD_SIZE, PTE_PAGE_MASK, PTRS_PER_PTE, type Folio, type HugePmd, type Mm, type PteTable, type Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import type { PteBatchCtx } from '../hooks.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { flush_tlb_page, flush_tlb_range, set_tlb_ubc_flush_pending, should_defer_flush } from './tlbflush.js';
import { split_huge_pmd_locked } from './huge_memory.js';

export const TTU_SPLIT_HUGE_PMD = 1;
export const TTU_SYNC = 2;
export const TTU_BATCH_FLUSH = 4;
export const TTU_HWPOISON = 8;

// ---------------------------------------------------------------------------------------------
// Mapping counts.

/** folio_add_new_anon_rmap / folio_add_anon_rmap_ptes: `nr` PTEs now map pages page..page+nr-1. */
export function folio_add_rmap_ptes(k: Kernel, f: Folio, page: number, nr: number): void {
  for (let i = page; i < page + nr; i++) {
    if (f.page_mapcount[i]!++ === 0) f.nr_pages_mapped++;
  }
  f.large_mapcount += nr;
  k.cost.rmapCalls++;
  k.cost.rmapPages += nr;
}

/**
 * folio_remove_rmap_ptes(): drop `nr` PTE mappings. A large anon folio that is left mapped
 * only in part is queued for deferred split — after the first of many single-PTE unmaps of a
 * fully mapped folio, never when all its PTEs go in one call.
 */
export function folio_remove_rmap_ptes(k: Kernel, f: Folio, page: number, nr: number): void {
  let unmapped = 0;
  for (let i = page; i < page + nr; i++) {
    if (--f.page_mapcount[i]! === 0) {
      f.nr_pages_mapped--;
      unmapped++;
    }
  }
  f.large_mapcount -= nr;
  k.cost.rmapCalls++;
  k.cost.rmapPages += nr;
  const partially = f.nr > 1 && unmapped > 0 && f.nr_pages_mapped > 0 && f.entire_mapcount === 0;
  if (partially && f.anon) deferred_split_folio(k, f, true);
}

/** folio_remove_rmap_pmd(): drop a PMD mapping; pages still mapped by PTEs make it partial. */
export function folio_remove_rmap_pmd(k: Kernel, f: Folio): void {
  f.entire_mapcount--;
  f.large_mapcount--;
  k.cost.rmapCalls++;
  k.cost.rmapPages += f.nr;
  if (f.entire_mapcount === 0 && f.nr_pages_mapped > 0 && f.nr_pages_mapped < f.nr && f.anon) deferred_split_folio(k, f, true);
}

export function folio_mapped(f: Folio): boolean {
  return f.large_mapcount > 0;
}

/** folio_maybe_mapped_shared() (6.1: folio_mapcount() != 1 for PMD, page mapcount > 1 for PTEs). */
export function folio_maybe_mapped_shared(f: Folio): boolean {
  if (f.entire_mapcount > 1) return true;
  return f.large_mapcount > f.nr || (f.entire_mapcount === 1 && f.large_mapcount > 1);
}

// ---------------------------------------------------------------------------------------------
// Deferred split queue (mm/huge_memory.c, called from rmap).

export function deferred_split_folio(k: Kernel, f: Folio, partially_mapped: boolean): void {
  if (f.order <= 1) return;
  const q = k.deferred;
  if (partially_mapped) {
    if (k.traits.partiallyMappedFlag) {
      if (!f.partially_mapped) {
        f.partially_mapped = true;
        if (f.order === HPAGE_PMD_ORDER) k.count('thp_deferred_split_page');
        k.count(k.mthpCounter(f.order, 'split_deferred'));
        k.story(f, 'queued for deferred split');
        k.count(k.mthpCounter(f.order, 'nr_anon_partially_mapped'));
      }
    } else if (!f.on_deferred_list) {
      // Before PG_partially_mapped (6.1–6.11) the counter counts new queue entries.
      if (f.order === HPAGE_PMD_ORDER) k.count('thp_deferred_split_page');
      if (k.traits.mthpSplitStats) k.count(k.mthpCounter(f.order, 'split_deferred'));
      k.story(f, 'queued for deferred split');
    }
  } else if (f.on_deferred_list) return;
  if (!f.on_deferred_list) {
    f.on_deferred_list = true;
    q.list.push(f);
    q.split_queue_len++;
    k.cost.splitQueueLockOps++;
    k.cost.listMoves++;
  }
}

/** folio_unqueue_deferred_split(): on free, or when a split removes it. */
export function folio_unqueue_deferred_split(k: Kernel, f: Folio): void {
  if (!f.on_deferred_list) return;
  const q = k.deferred;
  const i = q.list.indexOf(f);
  if (i >= 0) q.list.splice(i, 1);
  else {
    const j = q.privateList.indexOf(f);
    if (j >= 0) q.privateList.splice(j, 1);
  }
  f.on_deferred_list = false;
  q.split_queue_len--;
  k.cost.splitQueueLockOps++;
  if (f.partially_mapped) {
    f.partially_mapped = false;
    k.count(k.mthpCounter(f.order, 'nr_anon_partially_mapped'), -1);
  }
}

/** Free a folio whose last reference went: mm_page_free with its order. */
export function free_folio(k: Kernel, f: Folio): void {
  if (f.freed) return;
  if (k.pendingTlb.has(f) || k.staleTlb.has(f)) {
    k.violate('no_stale_tlb_for_freed_page', `folio pfn 0x${f.pfn.toString(16)} (order ${f.order}) freed while a cleared mapping of it was not yet flushed from the TLB`, { folio: f.id, pfn: f.pfn });
  }
  folio_unqueue_deferred_split(k, f);
  f.freed = true;
  k.lruDel(f);
  k.folios.delete(f);
  k.count('pgfree', f.nr);
  if (f.order >= 2 && k.traits.mthp) k.count(k.mthpCounter(f.order, 'nr_anon'), -1);
  if (f.order === HPAGE_PMD_ORDER) k.count('nr_anon_transparent_hugepages', -1);
  k.cost.foliosFreed++;
  k.story(f, 'freed');
  k.storyEnd(f);
  k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: f.pfn, order: f.order, what: 'folio' });
}

/** folio_put_refs(); returns true when that was the last reference (the caller frees). */
export function folio_put_refs(k: Kernel, f: Folio, n: number): boolean {
  f.refcount -= n;
  k.cost.refAtomics++;
  if (f.refcount < 0) {
    k.violate('refcount_covers_references', `folio pfn 0x${f.pfn.toString(16)} refcount went to ${f.refcount}`, { folio: f.id, pfn: f.pfn });
  }
  return f.refcount <= 0;
}

// ---------------------------------------------------------------------------------------------
// Reverse map walk and try_to_unmap_one().

export interface MappingVma {
  mm: Mm;
  vma: Vma;
  /** Address of the folio's first page in this VMA (may lie outside it after a partial move). */
  address: number;
}

/**
 * rmap_walk_anon(): every VMA of the folio's anon_vma family whose range holds part of it, once
 * (k.mms has an entry per task, so a multi-threaded process's mm is listed once per thread).
 */
export function folio_mappings(k: Kernel, f: Folio): MappingVma[] {
  const out: MappingVma[] = [];
  for (const mm of new Set(k.mms.values())) {
    if (mm.anonRoot !== f.anonRoot || mm.exited) continue;
    for (const vma of mm.vmas) {
      if (!vma.anon && !vma.privateFile) continue;
      const address = vma.vm_start + (f.index - vma.vm_pgoff) * PAGE_SIZE;
      const end = address + f.nr * PAGE_SIZE;
      if (end <= vma.vm_start || address >= vma.vm_end) continue;
      out.push({ mm, vma, address });
    }
  }
  return out;
}

/** try_to_unmap(): unmap every mapping; true if the folio ended unmapped. */
export function try_to_unmap(k: Kernel, f: Folio, flags: number): boolean {
  for (const m of folio_mappings(k, f)) {
    if (!folio_mapped(f)) break;
    if (!try_to_unmap_one(k, f, m, flags)) break;
  }
  return !folio_mapped(f);
}

/**
 * try_to_unmap_one(): walk the folio's entries in one VMA (page_vma_mapped_walk) and unmap
 * them. Per hit: PMD → hooks (split / discard); PTE → clear `nr` entries (hook: batch), flush
 * now or defer, and for a lazyfree folio decide discard vs restore (hook).
 */
export function try_to_unmap_one(k: Kernel, f: Folio, m: MappingVma, flags: number): boolean {
  const { mm, vma } = m;
  const lo = Math.max(vma.vm_start, m.address);
  const hi = Math.min(vma.vm_end, m.address + f.nr * PAGE_SIZE);
  // 6.1–6.10: split a PMD mapping first, before the walk (split_huge_pmd_address).
  if (flags & TTU_SPLIT_HUGE_PMD && k.hook('split_pmd_before_walk')(k)) {
    k.runningSeries = undefined;
    const e = mm.pmds.get(pmdIndex(lo));
    if (e && e.kind === 'huge' && e.folio === f) split_huge_pmd_locked(k, mm, vma, lo, e);
  }
  k.runningSeries = undefined;
  k.cost.ptlLocks++;
  let addr = lo;
  let ret = true;
  let batch: PteBatchCtx | undefined;
  while (addr < hi) {
    const pi = pmdIndex(addr);
    const e = mm.pmds.get(pi);
    if (!e) {
      addr = (pi + 1) * PMD_SIZE;
      continue;
    }
    if (e.kind === 'huge') {
      if (e.folio !== f) { addr = (pi + 1) * PMD_SIZE; continue; }
      k.cost.pmdLocks++;
      const r = pmdHit(k, mm, vma, f, e, pi * PMD_SIZE, flags);
      if (r === 'done') return true;
      if (r === 'abort') return false;
      // split: page_vma_mapped_walk_restart() at PTE level from the folio's first address.
      addr = lo;
      continue;
    }
    const table = e;
    const idx = pteIndex(addr);
    k.cost.pteReads++;
    if (table.folio[idx] !== f) {
      addr += PAGE_SIZE;
      continue;
    }
    // VM_LOCKED: the folio must stay; mlock it instead.
    if (vma.locked) {
      f.mlocked = true;
      return false;
    }
    // One context per walk, moved along with it (a per-PTE literal was a large share of what a
    // page-by-page unmap allocated).
    if (batch === undefined) batch = { mm, vma, folio: f, table, idx, addr, hwpoison: (flags & TTU_HWPOISON) !== 0 };
    else {
      batch.table = table;
      batch.idx = idx;
      batch.addr = addr;
    }
    const nr = Math.max(1, k.hook('folio_unmap_pte_batch')(k, batch));
    k.runningSeries = undefined;
    const r = unmapPtes(k, mm, vma, f, table, idx, nr, addr, flags);
    if (r === 'abort') { ret = false; break; }
    if (r === 'done') break;
    addr += nr * PAGE_SIZE;
  }
  return ret;
}

function pmdHit(k: Kernel, mm: Mm, vma: Vma, f: Folio, pmd: HugePmd, haddr: number, flags: number): 'done' | 'abort' | 'split' {
  if (vma.locked) {
    f.mlocked = true;
    return 'abort';
  }
  if (!(flags & TTU_SPLIT_HUGE_PMD)) return 'abort';
  const c = { mm, vma, folio: f, pmd, addr: haddr };
  const wasLazyfree = f.anon && !f.swapbacked;
  const unmapped = k.hook('unmap_huge_pmd_locked')(k, c);
  k.runningSeries = undefined;
  if (unmapped) return 'done';
  if (wasLazyfree) {
    const next = k.hook('pmd_lazyfree_failed')(k, c);
    k.runningSeries = undefined;
    if (next === 'abort') return 'abort';
  }
  split_huge_pmd_locked(k, mm, vma, haddr, pmd);
  return 'split';
}

/**
 * Clear `nr` PTEs from `idx` (all mapping `f`), flush or defer, then discard (lazyfree) or give
 * up and restore. Returns `done` when the whole folio went in this call.
 */
function unmapPtes(k: Kernel, mm: Mm, vma: Vma, f: Folio, table: PteTable, idx: number, nr: number, addr: number, flags: number): 'continue' | 'done' | 'abort' {
  // The values of the entries cleared, for a restore: each entry's bits and folio (sized for
  // the batch up front; `n` counts those actually cleared).
  const saved = new Array<number>(nr);
  const savedFolios = new Array<Folio | null>(nr);
  let n = 0;
  let dirty = false;
  let young = false;
  // get_and_clear_full_ptes(): the batch may run into the next table when the hook allowed it
  // (Barry v4 3/4 without the fix): those writes land outside this table.
  for (let i = 0; i < nr; i++) {
    const j = idx + i;
    let t = table;
    let jj = j;
    if (j >= PTRS_PER_PTE) {
      k.violate('pte_access_within_table', `write of PTE index ${j} of the table at 0x${(addr - idx * PAGE_SIZE).toString(16)}: past its 512 entries (batched clear without that table's lock)`, { addr: addr + i * PAGE_SIZE, folio: f.id, pfn: f.pfn, series: k.owners.folio_unmap_pte_batch });
      const next = mm.pmds.get(pmdIndex(addr + i * PAGE_SIZE));
      if (!next || next.kind !== 'table') break;
      t = next;
      jj = j % PTRS_PER_PTE;
    }
    saved[n] = t.bits[jj]!;
    savedFolios[n] = t.folio[jj] ?? null;
    n++;
    dirty ||= t.dirty(jj);
    young ||= t.young(jj);
    t.clear(jj);
    t.used--;
    k.cost.pteClears++;
  }
  const end = addr + n * PAGE_SIZE;
  const deferred = should_defer_flush(k, mm, (flags & TTU_BATCH_FLUSH) !== 0);
  if (k.stories) k.story(f, unmapStep(n, deferred), addr - (saved[0]! & PTE_PAGE_MASK) * PAGE_SIZE);
  if (deferred) set_tlb_ubc_flush_pending(k, mm, addr, end, dirty, f);
  // ptep_clear_flush() (flush_tlb_page) before the batched unmap; flush_tlb_range() of the batch with it.
  else if (k.owners.folio_unmap_pte_batch) flush_tlb_range(k, mm, addr, end);
  else flush_tlb_page(k, mm, addr);
  if (dirty) f.dirty = true;

  if (f.anon && !f.swapbacked) {
    // Refs and mapcount both still count the entries just cleared.
    const refsOk = f.refcount === 1 + f.large_mapcount;
    const verdict = k.hook('lazyfree_discard')(k, { folio: f, dirty: f.dirty, refsOk, droppable: vma.droppable });
    k.runningSeries = undefined;
    if (verdict !== 'discard') {
      k.story(f, verdict === 'fail-swapbacked' ? 'redirtied: restored, now swap-backed' : 'extra reference: restored, still lazyfree');
      restore(k, table, idx, addr, mm, saved, savedFolios, n);
      if (verdict === 'fail-swapbacked') f.swapbacked = true;
      return 'abort';
    }
    k.addMmCounter(mm, MM_ANONPAGES, -n);
  } else if (f.anon) {
    // Swapbacked but not in the swap cache (there is no swap): a folio a PMD discard made
    // swapbacked ends here: restore and fail.
    restore(k, table, idx, addr, mm, saved, savedFolios, n);
    return 'abort';
  }
  folio_remove_rmap_ptes(k, f, saved[0]! & PTE_PAGE_MASK, n);
  if (folio_put_refs(k, f, n)) free_folio(k, f);
  return n === f.nr ? 'done' : 'continue';
}

const unmapSteps = new Map<number, string>();
/** The story step of an unmap of `n` PTEs (texts made once per size). */
function unmapStep(n: number, deferred: boolean): string {
  const key = n * 2 + (deferred ? 1 : 0);
  let t = unmapSteps.get(key);
  if (t === undefined) {
    t = n === 1 ? (deferred ? 'single-PTE unmap (flush deferred)' : 'single-PTE unmap (flushed now)') : `batched unmap of ${n} PTEs (${deferred ? 'flush deferred' : `one ${n}-page flush`})`;
    unmapSteps.set(key, t);
  }
  return t;
}

function restore(k: Kernel, table: PteTable, idx: number, addr: number, mm: Mm, saved: number[], savedFolios: Array<Folio | null>, n: number): void {
  for (let i = 0; i < n; i++) {
    const j = idx + i;
    let t = table;
    let jj = j;
    if (j >= PTRS_PER_PTE) {
      const next = mm.pmds.get(pmdIndex(addr + i * PAGE_SIZE));
      if (!next || next.kind !== 'table') break;
      t = next;
      jj = j % PTRS_PER_PTE;
    }
    t.setRaw(jj, savedFolios[i]!, saved[i]!);
    t.used++;
    k.cost.pteRestores++;
  }
}
