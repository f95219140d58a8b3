/**
 * mm/rmap: fix potential out-of-bounds page table access during batched unmap
 *                                                    (Lance Yang, v4, 2025-07-01)
 *
 * folio_unmap_pte_batch() replaces can_batch_unmap_folio_ptes(): the batch is bounded by the
 * end of the PMD (the page table) and of the VMA; partial batches are allowed and the walk
 * continues with the rest of the folio, across the table boundary. A folio whose first page
 * sits on the last PTE of a table is unmapped in two batches (1 + 15 for 64 KiB).
 *
 * Fixes: 354dffd29575 ("mm: support batched unmap for lazyfree large folios during reclamation")
 * Reported-by: David Hildenbrand. Commit ddd05742b45b, 6.16 (mm-hotfixes), Cc stable; verified
 * by the patchwork bot's merge notice for v4 and CVE-2025-38447, which names it and its
 * stable backport 510fe9c15d07.
 */
import { PAGE_SIZE, PMD_SIZE } from '../state.js';
import { defineSeries } from './define.js';
import { folio_pte_batch } from '../kernel/pgtable.js';

export default defineSeries({
  id: 'oob-fix@v4',
  slug: 'oob-fix',
  version: 'v4',
  title: 'mm/rmap: fix potential out-of-bounds page table access during batched unmap',
  author: 'Lance Yang',
  date: '2025-07-01',
  commits: ['ddd05742b45b083975a0855ef6ebbf88cf1f532a'],
  mergedIn: '6.16',
  fixes: '354dffd29575',
  requires: 'batched-unmap@*-3',
  changes: 'Batched unmap bounded to the page table and the VMA; partial batches allowed, the walk continues with the rest of the folio.',
  functions: ['try_to_unmap_one', 'folio_unmap_pte_batch'],
  keywords: ['folio_unmap_pte_batch', 'pmd_addr_end', 'out-of-bounds'],
  hooks: {
    folio_unmap_pte_batch: (k, c) => {
      const f = c.folio;
      if (c.hwpoison || f.nr === 1 || !f.anon || f.swapbacked) return 1;
      // We may only batch within a single VMA and a single page table.
      const pmdEnd = (Math.floor(c.addr / PMD_SIZE) + 1) * PMD_SIZE;
      const end = Math.min(pmdEnd, c.vma.vm_end);
      const maxNr = Math.min((end - c.addr) / PAGE_SIZE, f.nr);
      return folio_pte_batch(k, c, maxNr, true);
    },
  },
});
