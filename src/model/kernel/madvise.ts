/**
 * mm/madvise.c: MADV_FREE (madvise_free_pte_range / madvise_free_huge_pmd), MADV_COLD and
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range), MADV_DONTNEED, and the VMA flag advices.
 * Each call gathers the TLB invalidations it makes (mmu_gather) and flushes once at the end.
 */
import { PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE, type Folio, type Mm, type PteTable, type Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { folio_maybe_mapped_shared } from './rmap.js';
import { split_folio_held } from './huge_memory.js';
import { folio_deactivate, folio_isolate_lru, folio_mark_lazyfree, lru_add_drain } from './swap.js';
import { flush_tlb_batched_pending, flush_tlb_mm_range, flush_tlb_range } from './tlbflush.js';
import { reclaim_pages } from './vmscan.js';
import { zap_range, ZapGather } from './memory.js';

/**
 * struct mmu_gather, reduced to the flush range and whether only PMDs were gathered. `maybe`
 * widens the range with entries the kernel gathers only if the program touched them since the
 * kernel last cleaned and aged them (see Kernel.storesVisible): the flush is then uncertain.
 */
class Gather {
  start = Number.POSITIVE_INFINITY;
  end = 0;
  pmdOnly = true;
  uncertain = false;
  add(start: number, end: number, pmd: boolean, maybe = false): void {
    this.start = Math.min(this.start, start);
    this.end = Math.max(this.end, end);
    if (!pmd) this.pmdOnly = false;
    if (maybe) this.uncertain = true;
  }
  finish(k: Kernel, mm: Mm): void {
    if (this.end === 0) return;
    k.flushUncertain = this.uncertain ? 'touched' : undefined;
    flush_tlb_mm_range(k, mm, this.start, this.end, this.pmdOnly ? 21 : 12);
    k.flushUncertain = undefined;
  }
}

function vmasIn(mm: Mm, start: number, end: number): Vma[] {
  return mm.vmas.filter((v) => v.vm_start < end && v.vm_end > start && v.anon).sort((a, b) => a.vm_start - b.vm_start);
}

/** Length of the run of PTEs from `idx` mapping consecutive pages of `f` (folio_pte_batch). */
function pteBatch(t: PteTable, idx: number, f: Folio, page: number, limit: number): number {
  let n = 1;
  while (n < limit && idx + n < PTRS_PER_PTE) {
    if (t.folio[idx + n] !== f || t.page(idx + n) !== page + n) break;
    n++;
  }
  return n;
}

/**
 * Split a large folio met partially by a range walk, if it is exclusive (the PTE lock dropped,
 * folio_get(), split_folio(), folio_put(), the lock retaken); false to skip it. `page`: the page
 * of the folio the PTE walk found it through — 6.1's madvise_free_pte_range() and
 * madvise_cold_or_pageout_pte_range() take their reference on that page and split_huge_page()
 * it (traits.splitHoldsSubpage). With the lock retaken the walk completes a batched flush
 * pending on the mm (flush_tlb_batched_pending(), traits.madviseSplitFlushesPending) — the
 * split's own deferred unmaps leave one.
 */
function splitForRange(k: Kernel, mm: Mm, f: Folio, page: number): boolean {
  if (folio_maybe_mapped_shared(f)) return false;
  split_folio_held(k, f, k.traits.splitHoldsSubpage ? page : 0);
  if (k.traits.madviseSplitFlushesPending) flush_tlb_batched_pending(k, mm);
  return true;
}

export function madvise_free(k: Kernel, mm: Mm, start: number, end: number): void {
  let tlb = new Gather();
  for (const vma of vmasIn(mm, start, end)) {
    // madvise_free_single_vma() drains this CPU's batches for each VMA: what a VMA left in the
    // lru_lazyfree batch moves when the next one begins.
    lru_add_drain(k);
    // Before 6.16 madvise_free_single_vma() gathers and flushes each VMA on its own.
    if (!k.traits.madviseGatherPerCall) {
      tlb.finish(k, mm);
      tlb = new Gather();
    }
    const s = Math.max(start, vma.vm_start);
    const e = Math.min(end, vma.vm_end);
    for (let addr = s; addr < e; ) {
      const pi = pmdIndex(addr);
      const next = Math.min(e, (pi + 1) * PMD_SIZE);
      const ent = mm.pmds.get(pi);
      if (!ent) { addr = next; continue; }
      if (ent.kind === 'huge') {
        const f = ent.folio;
        if (folio_maybe_mapped_shared(f)) { addr = next; continue; }
        if (next - addr < PMD_SIZE) {
          split_folio_held(k, f);
          continue; // the range is now PTE-mapped: walk it again
        }
        f.dirty = false;
        if (ent.young || ent.dirty) {
          // pmdp_invalidate() + set clean and old.
          flush_tlb_range(k, mm, pi * PMD_SIZE, (pi + 1) * PMD_SIZE);
          ent.young = false;
          ent.dirty = false;
          tlb.add(pi * PMD_SIZE, (pi + 1) * PMD_SIZE, true);
        } else if (k.accessesUnseen(mm, f) !== undefined) {
          // Left clean and old, young or dirty again if touched since: the flush is uncertain.
          k.flushUncertain = 'touched';
          flush_tlb_range(k, mm, pi * PMD_SIZE, (pi + 1) * PMD_SIZE);
          k.flushUncertain = undefined;
          tlb.add(pi * PMD_SIZE, (pi + 1) * PMD_SIZE, true, true);
        }
        k.aged(f);
        folio_mark_lazyfree(k, f);
        addr = next;
        continue;
      }
      flush_tlb_batched_pending(k, mm);
      k.cost.ptlLocks++;
      for (let a = addr; a < next; ) {
        const idx = pteIndex(a);
        const f = ent.folio[idx];
        k.cost.pteReads++;
        if (!f) { a += PAGE_SIZE; continue; }
        let nr = 1;
        if (f.nr > 1) {
          if (!k.traits.madvKeepsLargeFolios) {
            if (!splitForRange(k, mm, f, ent.page(idx))) { a += PAGE_SIZE; continue; }
            continue;
          }
          nr = pteBatch(ent, idx, f, ent.page(idx), (next - a) / PAGE_SIZE);
          if (nr < f.nr) {
            if (!splitForRange(k, mm, f, ent.page(idx))) { a += nr * PAGE_SIZE; continue; }
            continue;
          }
        }
        if (f.dirty) {
          if (f.large_mapcount !== f.nr) { a += nr * PAGE_SIZE; continue; }
          f.dirty = false;
        }
        let changed = false;
        for (let i = 0; i < nr; i++) {
          if (ent.mkcleanOld(idx + i)) changed = true;
        }
        // Entries the kernel left clean and old: young or dirty again if the program touched them.
        if (changed) tlb.add(a, a + nr * PAGE_SIZE, false);
        else if (k.accessesUnseen(mm, f) !== undefined) tlb.add(a, a + nr * PAGE_SIZE, false, true);
        k.aged(f);
        folio_mark_lazyfree(k, f);
        a += nr * PAGE_SIZE;
      }
      addr = next;
    }
  }
  tlb.finish(k, mm);
}

export function madvise_cold_or_pageout(k: Kernel, mm: Mm, start: number, end: number, pageout: boolean): void {
  let tlb = new Gather();
  for (const vma of vmasIn(mm, start, end)) {
    // madvise_cold()/madvise_pageout() drain this CPU's batches for each VMA.
    lru_add_drain(k);
    // madvise_cold()/madvise_pageout() gather and flush each VMA on its own (all releases: the
    // 6.16 one-gather-per-call change left COLD and PAGEOUT out).
    tlb.finish(k, mm);
    tlb = new Gather();
    const s = Math.max(start, vma.vm_start);
    const e = Math.min(end, vma.vm_end);
    for (let addr = s; addr < e; ) {
      const pi = pmdIndex(addr);
      const next = Math.min(e, (pi + 1) * PMD_SIZE);
      const ent = mm.pmds.get(pi);
      const list: Folio[] = [];
      if (!ent) { addr = next; continue; }
      if (ent.kind === 'huge') {
        const f = ent.folio;
        if (folio_maybe_mapped_shared(f)) { addr = next; continue; }
        if (next - addr < PMD_SIZE) {
          split_folio_held(k, f);
          continue;
        }
        if (!pageout || k.traits.pageoutAgesYoung) {
          // An entry old in the model may be young again if touched unseen: its flush is uncertain.
          const maybe = !ent.young && k.accessesUnseen(mm, f) !== undefined;
          if (ent.young || maybe) {
            // pmdp_invalidate() flushes the PMD at once — except where the release's MADV_COLD
            // leaves it to the gather (traits.coldPmdFlushDeferred).
            if (maybe) k.flushUncertain = 'touched';
            if (!k.traits.coldPmdFlushDeferred) flush_tlb_range(k, mm, pi * PMD_SIZE, (pi + 1) * PMD_SIZE);
            k.flushUncertain = undefined;
            ent.young = false;
            tlb.add(pi * PMD_SIZE, (pi + 1) * PMD_SIZE, true, maybe);
          }
          k.aged(f);
        }
        f.referenced = false;
        // MADV_PAGEOUT: reclaim_pages() clears the active flag of what it takes.
        if (pageout) {
          f.active = false;
          if (folio_isolate_lru(k, f)) list.push(f);
        } else folio_deactivate(k, f);
      } else {
        flush_tlb_batched_pending(k, mm);
        k.cost.ptlLocks++;
        for (let a = addr; a < next; ) {
          const idx = pteIndex(a);
          const f = ent.folio[idx];
          k.cost.pteReads++;
          if (!f) { a += PAGE_SIZE; continue; }
          let nr = 1;
          if (f.nr > 1) {
            if (!k.traits.madvKeepsLargeFolios) {
              if (!splitForRange(k, mm, f, ent.page(idx))) { a += PAGE_SIZE; continue; }
              continue;
            }
            nr = pteBatch(ent, idx, f, ent.page(idx), (next - a) / PAGE_SIZE);
            if (nr < f.nr) {
              if (!splitForRange(k, mm, f, ent.page(idx))) { a += nr * PAGE_SIZE; continue; }
              continue;
            }
          }
          if (f.lru === -1 || folio_maybe_mapped_shared(f)) { a += nr * PAGE_SIZE; continue; }
          // Only MADV_COLD ages the PTEs here; for MADV_PAGEOUT reclaim unmaps them anyway.
          if (!pageout || k.traits.pageoutAgesYoung) {
            let young = false;
            for (let i = 0; i < nr; i++) {
              if (ent.mkold(idx + i)) young = true;
            }
            if (young) tlb.add(a, a + nr * PAGE_SIZE, false);
            else if (k.accessesUnseen(mm, f) !== undefined) tlb.add(a, a + nr * PAGE_SIZE, false, true);
            k.aged(f);
          }
          f.referenced = false;
          if (pageout) { if (folio_isolate_lru(k, f)) list.push(f); }
          else folio_deactivate(k, f);
          a += nr * PAGE_SIZE;
        }
      }
      if (list.length > 0) reclaim_pages(k, list);
      addr = next;
    }
  }
  tlb.finish(k, mm);
}

export function madvise_dontneed(k: Kernel, mm: Mm, start: number, end: number): void {
  // zap_page_range_single() starts with lru_add_drain() where traits.unmapDrainsLruAdd says so.
  // Drained once here even when the model knows no VMA in the range: the call succeeded, so the
  // kernel found one (a thread's stack, mapped before the window) and drained this CPU's batch.
  if (k.traits.unmapDrainsLruAdd) lru_add_drain(k);
  // 6.16+: one mmu_gather for the whole call (traits.madviseGatherPerCall); before, each VMA's
  // zap has its own and flushes at its end.
  const tlb = k.traits.madviseGatherPerCall ? new ZapGather() : undefined;
  const opts = { freeTables: false, reclaimPt: k.traits.dontneedFreesEmptyPteTables };
  for (const vma of vmasIn(mm, start, end)) zap_range(k, mm, vma, Math.max(start, vma.vm_start), Math.min(end, vma.vm_end), opts, tlb);
  tlb?.finish(k, mm);
}
