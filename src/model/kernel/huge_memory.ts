/**
 * mm/huge_memory.c: the huge zero PMD (read fault, write fault, split), PMD split, folio split
 * (to order 0, through migration entries), the lazyfree PMD discard used by the Lance Yang
 * series, and the deferred-split shrinker.
 */
import { Folio, HPAGE_PMD_NR, HPAGE_PMD_ORDER, MM_ANONPAGES, PAGE_SIZE, PMD_SIZE, PTE_PAGE_MASK, PteTable, type HugePmd, type Mm, type Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import type { Op } from '../ops.js';
import { pmdIndex } from './pgtable.js';
import { deferred_split_folio, folio_mappings, folio_put_refs, folio_remove_rmap_pmd, folio_unqueue_deferred_split, free_folio, folio_remove_rmap_ptes } from './rmap.js';
import { folio_add_lru } from './swap.js';
import { flush_tlb_page, flush_tlb_range, set_tlb_ubc_flush_pending, should_defer_flush, try_to_unmap_flush } from './tlbflush.js';

// ---------------------------------------------------------------------------------------------
// The huge zero folio.

/**
 * The huge zero folio every huge zero PMD maps (huge_zero_folio): one per system, allocated at
 * the first use (the trace's order-9 allocation in a read fault, thp_zero_page_alloc) and never
 * freed while an mm holds it. It is not one of the kernel's live folios (never on k.folios, an
 * LRU or the deferred queue). Its mapcounts say "mapped by many": folio_maybe_mapped_shared()
 * is true, so the MADV_FREE / COLD / PAGEOUT huge-PMD branches skip it, as their
 * is_huge_zero_pmd() checks do.
 * Model deviation: its pfn is not tracked (nothing the model emits names it), and it is never
 * freed — the kernel's huge-zero shrinker frees it once no mm holds it, in whatever task runs
 * the shrinker, which is not the workload's output.
 */
export const HUGE_ZERO_FOLIO: Folio = (() => {
  const f = new Folio(-1, HPAGE_PMD_ORDER, HPAGE_PMD_NR, 0, 0, -1);
  f.anon = false;
  f.exclusive = false;
  f.entire_mapcount = 1 << 30;
  f.large_mapcount = 1 << 30;
  f.refcount = 1 << 30;
  return f;
})();

/**
 * do_huge_pmd_anonymous_page() for a read fault with use_zero_page (set_huge_zero_folio()): the
 * deposited page table (allocated first, pte_alloc_one) and a read-only PMD mapping the huge
 * zero folio. No rss, no rmap, no LRU. `zeroAllocated`: this fault allocated the huge zero
 * folio itself (mm_get_huge_zero_folio()'s first use system-wide).
 */
export function set_huge_zero_folio(k: Kernel, mm: Mm, haddr: number, depositPfn: number, zeroAllocated: boolean): void {
  if (zeroAllocated) k.count('thp_zero_page_alloc');
  k.deposit(mm, haddr, depositPfn);
  mm.pmds.set(pmdIndex(haddr), { kind: 'huge', folio: HUGE_ZERO_FOLIO, zero: true, write: false, dirty: false, young: true });
}

/**
 * do_huge_zero_wp_pmd() (6.13+, traits.hugeZeroWpAllocatesThp): a write fault on the huge zero
 * PMD allocates a PMD THP (already zeroed), clears the zero PMD and flushes it
 * (pmdp_huge_clear_flush: 2 MiB at 4 KiB stride, a full flush on x86), then maps the THP
 * (map_anon_folio_pmd: rmap, lru_add, writable dirty PMD, +2 MiB rss in one update). The
 * deposited table stays deposited for the new PMD.
 */
export function do_huge_zero_wp_pmd(k: Kernel, mm: Mm, vma: Vma, haddr: number, pfn: number | undefined): void {
  const f = k.newFolio(HPAGE_PMD_ORDER, pfn, vma.vm_pgoff + (haddr - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
  mm.pmds.delete(pmdIndex(haddr));
  k.cost.pmdClears++;
  flush_tlb_range(k, mm, haddr, haddr + PMD_SIZE);
  f.entire_mapcount = 1;
  f.large_mapcount = 1;
  f.refcount = 1;
  k.story(f, 'faulted in over the huge zero page (PMD)', haddr);
  folio_add_lru(k, f);
  mm.pmds.set(pmdIndex(haddr), { kind: 'huge', folio: f, write: vma.write, dirty: true, young: true });
  k.addMmCounter(mm, MM_ANONPAGES, HPAGE_PMD_NR);
  k.count('thp_fault_alloc');
  k.count('nr_anon_transparent_hugepages');
  k.count(k.mthpCounter(HPAGE_PMD_ORDER, 'anon_fault_alloc'));
  if (k.traits.mthp) k.count(k.mthpCounter(HPAGE_PMD_ORDER, 'nr_anon'));
  if (k.traits.hugeZeroWpQueuesThp) deferred_split_folio(k, f, false);
}

/**
 * __split_huge_zero_page_pmd(): the zero PMD is cleared and flushed (pmdp_huge_clear_flush: a
 * full flush on x86), and the deposited table comes back filled with 512 zero-page PTEs. No
 * folio is involved; thp_split_pmd counts it (__split_huge_pmd_locked counts every PMD split).
 */
function split_huge_zero_pmd(k: Kernel, mm: Mm, haddr: number): PteTable {
  k.count('thp_split_pmd');
  k.cost.pmdSplits++;
  flush_tlb_range(k, mm, haddr, haddr + PMD_SIZE);
  const table = new PteTable(k.withdraw(mm, haddr));
  table.used = HPAGE_PMD_NR;
  // x86 page protections carry the accessed bit: the entries are made young.
  for (let i = 0; i < HPAGE_PMD_NR; i++) table.setZero(i, true);
  mm.pmds.set(pmdIndex(haddr), table);
  return table;
}

/**
 * The deposited page-table page, filled with 512 entries mapping the PMD's folio page by page
 * with the PMD's bits, installed in place of the PMD (the folio's counts are the caller's).
 */
function tableFromPmd(k: Kernel, mm: Mm, haddr: number, pmd: HugePmd, dirty = pmd.dirty): PteTable {
  const table = new PteTable(k.withdraw(mm, haddr));
  table.used = HPAGE_PMD_NR;
  for (let i = 0; i < HPAGE_PMD_NR; i++) table.set(i, pmd.folio, i, pmd.write, dirty, pmd.young);
  mm.pmds.set(pmdIndex(haddr), table);
  return table;
}

/**
 * __split_huge_pmd_locked(): the deposited table becomes a PTE table of 512 entries copying the
 * PMD's bits; the PMD invalidation is flushed (x86: a 2 MiB range at 4 KiB stride → full flush).
 * A dirty PMD marks the folio dirty; its PTEs are dirty too only where traits.pmdSplitPtesDirty.
 */
export function split_huge_pmd_locked(k: Kernel, mm: Mm, _vma: Vma, haddr: number, pmd: HugePmd): PteTable {
  if (pmd.zero) return split_huge_zero_pmd(k, mm, haddr);
  const f = pmd.folio;
  k.count('thp_split_pmd');
  k.cost.pmdSplits++;
  k.story(f, 'PMD split', haddr);
  flush_tlb_range(k, mm, haddr, haddr + PMD_SIZE);
  if (pmd.dirty) f.dirty = true;
  const table = tableFromPmd(k, mm, haddr, pmd, pmd.dirty && k.traits.pmdSplitPtesDirty);
  for (let i = 0; i < HPAGE_PMD_NR; i++) f.page_mapcount[i]!++;
  f.nr_pages_mapped = HPAGE_PMD_NR;
  f.large_mapcount += HPAGE_PMD_NR;
  f.refcount += HPAGE_PMD_NR - 1;
  folio_remove_rmap_pmd(k, f);
  // The PMD's own reference became one of the PTEs' (folio_remove_rmap_pmd does not put it).
  return table;
}

/**
 * __discard_anon_folio_pmd_locked() (Lance Yang v6 3/3, with Barry Song v4 4/4's dirty
 * handling when `markDirtyFirst`): unmap a lazyfree PMD-mapped THP whole, or refuse.
 */
export function discard_anon_folio_pmd_locked(k: Kernel, mm: Mm, c: { folio: Folio; pmd: HugePmd; addr: number; vma: Vma }, markDirtyFirst: boolean): boolean {
  const f = c.folio;
  const pmd = c.pmd;
  if (markDirtyFirst && pmd.dirty) f.dirty = true;
  // A dirty folio or PMD means the user wrote after MADV_FREE: keep it, now swap-backed.
  if ((f.dirty || pmd.dirty) && !c.vma.droppable) {
    f.swapbacked = true;
    k.story(f, 'redirtied PMD: kept, now swap-backed', c.addr);
    return false;
  }
  // pmdp_huge_clear_flush(): clear and flush now.
  mm.pmds.delete(pmdIndex(c.addr));
  k.cost.pmdClears++;
  flush_tlb_range(k, mm, c.addr, c.addr + PMD_SIZE);
  const refsOk = f.refcount === 1 + f.large_mapcount;
  if (pmd.dirty || (f.dirty && !c.vma.droppable) || !refsOk) {
    if (f.dirty || pmd.dirty) f.swapbacked = true;
    mm.pmds.set(pmdIndex(c.addr), pmd);
    k.cost.pteRestores++;
    return false;
  }
  folio_remove_rmap_pmd(k, f);
  zap_deposited_table(k, mm, c.addr);
  k.story(f, 'PMD discarded whole (one flush)', c.addr);
  k.addMmCounter(mm, MM_ANONPAGES, -HPAGE_PMD_NR);
  if (folio_put_refs(k, f, 1)) free_folio(k, f);
  return true;
}

/**
 * zap_deposited_table(): withdraw a deposited table and free it (pte_free: at once, in the
 * task — 6.12 traces show the order-0 free between the flush and the rss update).
 */
export function zap_deposited_table(k: Kernel, mm: Mm, haddr: number): void {
  const pfn = k.withdraw(mm, haddr);
  if (pfn) k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn, order: 0, what: 'pgtable' });
}

/**
 * split_folio() to order 0 for an anon folio: unmap every mapping to migration entries
 * (one flush per PTE; a PMD mapping becomes a PMD migration entry: one full flush), split,
 * map the pieces back, and free the pages no entry maps. The references the caller holds
 * (isolation, shrinker's folio_try_get) stay with the head. `toList`: split_folio_to_list() of
 * reclaim — lru_add_split_folio() takes a reference on each other piece for the caller's list
 * (isolated), so a piece no entry maps any more (a zero-filled page now mapped by the zero page)
 * is not freed by the split but where the list's reference goes. `held`: the page of the folio
 * the caller's references are on (split_huge_page_to_list()'s `page`, the head for a folio
 * caller); __split_huge_page() puts every other piece, first to last, and leaves that one to
 * the caller.
 */
export function split_folio(k: Kernel, f: Folio, toList = false, held = 0): Folio[] {
  if (f.nr === 1 || f.freed) return [f];
  k.cost.folioLocks++;
  /** An entry turned into a migration entry: where, and its value (page in the folio, bits). */
  type Slot = { mm: Mm; table: PteTable; idx: number; bits: number; addr: number; locked: boolean; pmd?: boolean };
  const slots: Slot[] = [];
  let mappingRefs = 0;
  for (const m of folio_mappings(k, f)) {
    const { mm } = m;
    const e = mm.pmds.get(pmdIndex(Math.max(m.address, m.vma.vm_start)));
    if (e && e.kind === 'huge' && e.folio === f) {
      // set_pmd_migration_entry(): pmdp_invalidate flushes the 2 MiB range; the migration PMD
      // is split into PTE migration entries when the folio is split.
      const haddr = pmdIndex(m.address) * PMD_SIZE;
      flush_tlb_range(k, mm, haddr, haddr + PMD_SIZE);
      k.count('thp_split_pmd');
      k.cost.pmdSplits++;
      const table = tableFromPmd(k, mm, haddr, e);
      if (e.dirty) f.dirty = true;
      f.entire_mapcount--;
      f.large_mapcount--;
      mappingRefs++;
      for (let i = 0; i < HPAGE_PMD_NR; i++) slots.push({ mm, table, idx: i, bits: table.bits[i]!, addr: haddr + i * PAGE_SIZE, locked: m.vma.locked, pmd: true });
      // 6.1 __split_huge_pmd_locked(freeze): the first page_remove_rmap() of a subpage leaves
      // the THP partly mapped (traits.freezeSplitQueuesDeferred).
      if (k.traits.freezeSplitQueuesDeferred && f.anon) deferred_split_folio(k, f, true);
      continue;
    }
    // PTE mappings: try_to_migrate_one() per PTE, flushing each — or, with TTU_BATCH_FLUSH
    // (traits.splitBatchFlush) and another CPU in mm_cpumask, deferring them all to the batched
    // flush before the split (try_to_unmap_flush()).
    const lo = Math.max(m.vma.vm_start, m.address);
    const hi = Math.min(m.vma.vm_end, m.address + f.nr * PAGE_SIZE);
    for (let a = lo; a < hi; a += PAGE_SIZE) {
      const t = mm.pmds.get(pmdIndex(a));
      if (!t || t.kind !== 'table') continue;
      const idx = Math.floor(a / PAGE_SIZE) % 512;
      if (t.folio[idx] !== f) continue;
      const bits = t.bits[idx]!;
      const page = t.page(idx);
      const dirty = t.dirty(idx);
      t.clear(idx);
      k.cost.pteClears++;
      if (should_defer_flush(k, mm, k.traits.splitBatchFlush)) set_tlb_ubc_flush_pending(k, mm, a, a + PAGE_SIZE, dirty, f);
      else flush_tlb_page(k, mm, a);
      if (dirty) f.dirty = true;
      folio_remove_rmap_ptes(k, f, page, 1);
      mappingRefs++;
      slots.push({ mm, table: t, idx, bits, addr: a, locked: m.vma.locked });
    }
  }
  try_to_unmap_flush(k);
  // The split itself.
  if (k.stories) k.story(f, `split to order 0 (${slots.length} entries remapped)`);
  k.storyEnd(f);
  folio_unqueue_deferred_split(k, f);
  k.count(k.mthpCounter(f.order, 'split'));
  if (f.order === HPAGE_PMD_ORDER) {
    k.count('thp_split_page');
    k.count('nr_anon_transparent_hugepages', -1);
  }
  if (k.traits.mthp) k.count(k.mthpCounter(f.order, 'nr_anon'), -1);
  const pieces: Folio[] = [];
  const heldRefs = f.refcount - mappingRefs; // references that are not mappings (isolation, batch, shrinker)
  const wasOnLru = f.lru;
  k.lruDel(f);
  k.folios.delete(f);
  f.freed = true;
  for (let i = 0; i < f.nr; i++) {
    const p = k.newFolio(0, f.pfn + i, f.index + i, f.anonRoot);
    p.swapbacked = f.swapbacked;
    p.dirty = f.dirty;
    p.active = f.active;
    p.agedAt = f.agedAt;
    p.isolated = f.isolated;
    // The held page keeps the caller's references; the others start with none but their
    // mappings (and the list's, for reclaim).
    p.refcount = i === held ? Math.max(0, heldRefs) : toList ? 1 : 0;
    if (i !== held && toList) p.isolated = true;
    k.storySplit(f, p, i);
    pieces.push(p);
  }
  const zeroFilled = k.traits.splitRemapsZeroPages && f.anon ? zeroFilledPages(k.op, slots) : undefined;
  for (const s of slots) {
    const p = pieces[s.bits & PTE_PAGE_MASK]!;
    // try_to_map_unused_to_zeropage(): a zero-filled page (not in a VM_LOCKED mapping) is
    // mapped as the zero page, read-only; its piece keeps no mapping and is freed below.
    if (zeroFilled?.has(s.addr) && !s.locked) {
      s.table.setZero(s.idx, true);
      k.addMmCounter(s.mm, MM_ANONPAGES, -1);
      continue;
    }
    // The entry now maps page 0 of the piece, with the bits it had.
    s.table.setRaw(s.idx, p, s.bits & ~PTE_PAGE_MASK);
    p.page_mapcount[0]!++;
    p.nr_pages_mapped = 1;
    p.large_mapcount++;
    p.refcount++;
  }
  const out: Folio[] = [];
  for (const p of pieces) {
    if (p.refcount === 0) {
      free_folio(k, p);
      continue;
    }
    if (wasOnLru !== -1 && !p.isolated) k.lruAdd(p, wasOnLru);
    out.push(p);
  }
  return out;
}

/**
 * A caller's split: folio_get() (or the shrinker's folio_try_get()) and folio_lock() first,
 * split_folio(), then folio_unlock() and folio_put(). The reference stays with the piece of
 * page `held` (the head for a folio caller; see traits.splitHoldsSubpage), so that piece, if
 * no entry maps it any more (zapped before, or zero-filled), is freed by that put, after the
 * pieces the split itself freed. Returns the pieces still allocated.
 */
export function split_folio_held(k: Kernel, f: Folio, held = 0): Folio[] {
  f.refcount++;
  const pieces = split_folio(k, f, false, held);
  const i = pieces.findIndex((p) => p.pfn === f.pfn + held);
  const mine = pieces[i];
  if (mine && folio_put_refs(k, mine, 1)) {
    free_folio(k, mine);
    pieces.splice(i, 1);
  }
  return pieces;
}

/**
 * The pages the op's split found zero-filled: unmapped to a migration entry and never restored
 * (see Op.migrated). A PMD mapping is frozen into migration entries by
 * __split_huge_pmd_locked(freeze), which traces no set_migration_pte: where the op shows the
 * capture records migration events (a restore or a set), its PMD-mapped pages were unmapped too.
 * Without the migration events every page is taken as holding data.
 */
function zeroFilledPages(op: Op | undefined, slots: ReadonlyArray<{ addr: number; pmd?: boolean }>): Set<number> | undefined {
  if (!op?.migrated && !op?.restored) return undefined;
  const zero = new Set(op.migrated ?? []);
  for (const s of slots) if (s.pmd) zero.add(s.addr);
  if (op.restored) for (const a of op.restored) zero.delete(a);
  return zero.size > 0 ? zero : undefined;
}

/** The page whose struct page holds a THP's deferred_list in 6.1 (page_deferred_list(): page[2]). */
const DEFERRED_LIST_PAGE = 2;

/**
 * deferred_split_scan(): the shrinker. 6.12–6.18 (e66f3185fa04 form): move folios to a private
 * list (list_move: the private list is in reverse order), split the partially mapped ones,
 * splice the rest back. 6.19 (folio_batch): take up to a folio batch (PAGEVEC_SIZE, 31) from the head, in order, off the queue.
 * Model deviation: "underused" THPs (mostly zero pages) are never detected; workloads write
 * the memory they map, so a fully mapped THP is never underused here.
 */
export function deferred_split_scan(k: Kernel, nrToScan: number): number {
  const q = k.deferred;
  let split = 0;
  if (k.hook('deferred_split_scan_mode')(k) === 'folio-batch') {
    k.runningSeries = undefined;
    let budget = nrToScan;
    while (budget > 0 && q.list.length > 0) {
      const batch = q.list.splice(0, Math.min(k.traits.folioBatch, budget));
      budget -= batch.length;
      for (const f of batch) { f.on_deferred_list = false; q.split_queue_len--; }
      k.cost.splitQueueLockOps += 2;
      // Taken off the queue: a folio that is not partially mapped (and not underused) stays off.
      for (const f of batch) {
        if (f.freed) continue;
        if (f.partially_mapped || !k.traits.partiallyMappedFlag) {
          split_folio_held(k, f);
          split++;
        }
      }
    }
    return split;
  }
  k.runningSeries = undefined;
  const taken = q.list.splice(0, Math.min(nrToScan, q.list.length));
  // list_move() adds at the head of the private list: it is built in reverse.
  q.privateList = taken.reverse();
  k.cost.splitQueueLockOps += 2;
  let removed = 0;
  for (const f of [...q.privateList]) {
    if (f.freed) continue;
    if (f.partially_mapped || !k.traits.partiallyMappedFlag) {
      // folio_try_get() … folio_put(); 6.1 splits and puts the page that links the THP into the
      // queue (traits.splitHoldsSubpage).
      split_folio_held(k, f, k.traits.splitHoldsSubpage ? DEFERRED_LIST_PAGE : 0);
      split++;
    } else {
      // Not partially mapped and not underused: dropped from the queue.
      const i = q.privateList.indexOf(f);
      if (i >= 0) q.privateList.splice(i, 1);
      f.on_deferred_list = false;
      removed++;
    }
  }
  q.list.push(...q.privateList);
  q.privateList = [];
  q.split_queue_len -= removed;
  return split;
}
