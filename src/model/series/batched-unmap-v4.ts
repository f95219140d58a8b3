/**
 * mm: batched unmap lazyfree large folios during reclamation   (Barry Song, v4, 2025-02-14)
 *
 * Four patches, each its own unit here so they can be toggled separately:
 *  1/4 mm: set folio swapbacked iff folios are dirty in try_to_unmap_one
 *      An extra reference alone no longer turns a lazyfree folio swap-backed: it stays lazyfree
 *      and reclaim retries it later. Fixes: 6c8e2a256915 ("mm: fix race between MADV_FREE
 *      reclaim and blkdev direct IO read").
 *  2/4 mm: support tlbbatch flush for a range of PTEs
 *      set_tlb_ubc_flush_pending()/arch_tlbbatch_add_pending() take (start, end): arm64 issues
 *      one range TLBI; x86 ignores the range.
 *  3/4 mm: support batched unmap for lazyfree large folios during reclamation
 *      At a PTE hit on a lazyfree large folio's FIRST page, if all its PTEs follow
 *      (folio_pte_batch, dirty ignored), clear them at once, flush the range once, decide
 *      discard once, remove the rmap in one call (never partially mapped), and end the walk.
 *      v4 reads the folio_nr_pages entries from the hit without bounding them to the page
 *      table or the VMA (found by David Hildenbrand; fixed by ddd05742b45b).
 *  4/4 mm: avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap
 *      A lazyfree PMD THP that cannot be discarded is not split: the walk stops. A dirty PMD
 *      marks the folio dirty first.
 *
 * Merged in 6.15 (mm-stable for 6.15-rc1). Commits: 3/4 = 354dffd29575, verified by the
 * Fixes: tags of ddd05742b45b and of Dev Jain's 2026 fix, and Barry Song's own reference in a
 * later patch; 1/4 = faeb2831b517 and 2/4 = 2f4ab3ac10e1 precede it and 4/4 = 2f9b43d617e2
 * follows it in akpm/mm's mm-stable rev-lists (the same ids in every listing) — 4/4's id is
 * not confirmed by any upstream reference.
 * Link: https://lore.kernel.org/linux-mm/20250214093015.51024-1-21cnbao@gmail.com/
 */
import { discard_anon_folio_pmd_locked } from '../kernel/huge_memory.js';
import { folio_pte_batch } from '../kernel/pgtable.js';
import { defineSeries } from './define.js';

const common = {
  slug: 'batched-unmap',
  version: 'v4',
  author: 'Barry Song',
  date: '2025-02-14',
  mergedIn: '6.15',
  link: 'https://lore.kernel.org/linux-mm/20250214093015.51024-1-21cnbao@gmail.com/',
  seriesTitle: 'mm: batched unmap lazyfree large folios during reclamation',
  subjects: [
    'mm: batched unmap lazyfree large folios during reclamation',
    'mm: set folio swapbacked iff folios are dirty in try_to_unmap_one',
    'mm: support tlbbatch flush for a range of PTEs',
    'mm: support batched unmap for lazyfree large folios during reclamation',
    'mm: avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap',
  ],
};

export const part1 = defineSeries({
  ...common,
  id: 'batched-unmap@v4-1',
  part: '1/4',
  title: 'mm: set folio swapbacked iff folios are dirty in try_to_unmap_one',
  commits: ['faeb2831b517931f522f971e184b50ac82d29633'],
  fixes: '6c8e2a256915',
  changes: 'Lazyfree discard: dirty (and not droppable) → swap-backed and fail; extra references only → fail but stay lazyfree.',
  functions: ['try_to_unmap_one'],
  keywords: ['folio_set_swapbacked', 'ref_count', 'map_count'],
  hooks: {
    lazyfree_discard: (_k, c) => {
      if (c.dirty && !c.droppable) return 'fail-swapbacked';
      return c.refsOk ? 'discard' : 'fail-keep';
    },
  },
});

export const part2 = defineSeries({
  ...common,
  id: 'batched-unmap@v4-2',
  part: '2/4',
  title: 'mm: support tlbbatch flush for a range of PTEs',
  commits: ['2f4ab3ac10e1476abb6ed55f0b5f176cf635e776'],
  changes: 'The deferred-flush batch records [start, end) instead of one page: arm64 issues one range TLBI per batch; x86 unchanged.',
  functions: ['set_tlb_ubc_flush_pending', 'arch_tlbbatch_add_pending'],
  keywords: ['arch_tlbbatch_add_pending', 'set_tlb_ubc_flush_pending', '__flush_tlb_range_nosync'],
  hooks: { tlbbatch_range: (_k, start, end) => [start, end] },
});

export const part3 = defineSeries({
  ...common,
  id: 'batched-unmap@v4-3',
  part: '3/4',
  title: 'mm: support batched unmap for lazyfree large folios during reclamation',
  commits: ['354dffd29575cdf13154e8fb787322354aa9efc4'],
  changes: 'Unmap a whole lazyfree large folio in one batch (one flush, one rss update, one rmap call) when the hit is its first page and all its PTEs follow; v4 reads those PTEs past the page table end when the folio straddles two tables.',
  functions: ['try_to_unmap_one', 'can_batch_unmap_folio_ptes', 'folio_pte_batch'],
  keywords: ['can_batch_unmap_folio_ptes', 'folio_pte_batch', 'get_and_clear_full_ptes', 'split_deferred'],
  hooks: {
    // can_batch_unmap_folio_ptes(): lazyfree only, the hit must be the first page, and the
    // batch must cover the whole folio. The scan is not bounded to the page table.
    folio_unmap_pte_batch: (k, c) => {
      const f = c.folio;
      if (c.hwpoison || f.nr === 1 || !f.anon || f.swapbacked) return 1;
      if (c.table.page(c.idx) !== 0) return 1;
      return folio_pte_batch(k, c, f.nr, false) === f.nr ? f.nr : 1;
    },
  },
});

export const part4 = defineSeries({
  ...common,
  id: 'batched-unmap@v4-4',
  part: '4/4',
  title: 'mm: avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap',
  // From akpm/mm's mm-stable rev-lists only (unverified upstream).
  commits: ['2f9b43d617e2685728568ca609c5c77e45d6f1e8'],
  changes: 'A lazyfree PMD-mapped THP that cannot be discarded (redirtied, extra references) is left PMD-mapped: no split, no flush; a dirty PMD marks the folio dirty first.',
  functions: ['try_to_unmap_one', '__discard_anon_folio_pmd_locked'],
  keywords: ['__discard_anon_folio_pmd_locked', 'unmap_huge_pmd_locked', 'TTU_SPLIT_HUGE_PMD'],
  hooks: {
    unmap_huge_pmd_locked: (k, c) => (c.folio.anon && !c.folio.swapbacked ? discard_anon_folio_pmd_locked(k, c.mm, c, true) : false),
    pmd_lazyfree_failed: () => 'abort',
  },
});
