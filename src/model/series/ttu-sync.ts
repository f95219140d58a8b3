/**
 * mm: hold PTL from the first PTE while reclaiming a large folio   (Barry Song, v2, 2024-03-06)
 *
 * shrink_folio_list() passes TTU_SYNC for large folios, so page_vma_mapped_walk() takes the
 * PTE-table lock before reading the first PTE. Without it the walk reads leading PTEs
 * lock-free and skips entries a concurrent break-before-make left transiently none: PTEs
 * 1..n−1 are unmapped while PTE0 returns, and reclaim fails with the folio half unmapped.
 * v2 applies it only when the folio is not on the deferred split queue; the 2024-06-30
 * follow-up ("mm/vmscan: drop checking if _deferred_list is empty before using TTU_SYNC")
 * drops that condition. Merged in 6.10 (Ryan Roberts in the thread: v2 went into v6.10-rc1).
 * Commit not pinned: akpm/mm's rev-lists show it under several ids (73bc32875ee9,
 * cc22f5831655, …, squashed with its -fix) and no upstream reference to one was found.
 * A replay follows one recorded interleaving, where no CPU rewrites a PTE mid-walk, so the
 * replay never reads the flag. The race explorer (src/race) gives it its meaning: with the
 * hook true, page_vma_mapped_walk() takes the PTE-table lock before it reads the first PTE
 * (PVMW_SYNC); without it, map_pte() reads that PTE without the lock and next_pte skips none
 * entries without it (scenarios R1, R1b).
 */
import { defineSeries } from './define.js';

const base = {
  slug: 'ttu-sync',
  title: 'mm: hold PTL from the first PTE while reclaiming a large folio',
  author: 'Barry Song',
  commits: [],
  mergedIn: '6.10',
  functions: ['shrink_folio_list', 'page_vma_mapped_walk', 'try_to_unmap_one'],
  subjects: ['mm: hold PTL from the first PTE while reclaiming a large folio'],
  keywords: ['TTU_SYNC', 'break-before-make', '_deferred_list'],
};

export const v2 = defineSeries({
  ...base,
  id: 'ttu-sync@v2',
  version: 'v2',
  date: '2024-03-06',
  changes: 'TTU_SYNC for large folios not on the deferred split queue: the walk locks the PTE table before reading the first PTE.',
  codeMarks: { present: ['TTU_SYNC', '_deferred_list'] },
  hooks: { ttu_sync: (_k, f) => !f.on_deferred_list },
});

export const final = defineSeries({
  ...base,
  id: 'ttu-sync@final',
  version: 'final',
  date: '2024-06-30',
  changes: 'TTU_SYNC for every large folio (the deferred-list condition dropped).',
  codeMarks: { present: ['TTU_SYNC'], absent: ['_deferred_list'] },
  subjects: ['mm: hold PTL from the first PTE while reclaiming a large folio', 'mm/vmscan: drop checking if _deferred_list is empty before using TTU_SYNC'],
  hooks: { ttu_sync: () => true },
});
