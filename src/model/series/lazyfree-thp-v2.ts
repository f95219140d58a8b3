/**
 * mm/vmscan: avoid split PMD-mapped THP during shrink_folio_list()   (Lance Yang, v2, 2024-04-22)
 *
 * The v2 form: shrink_folio_list() passes TTU_LAZYFREE_THP for non-swap-backed PMD-order
 * folios and try_to_unmap_one() first calls discard_trans_pmd(). It clears the PMD into a
 * local mmu_gather that is never finished: the PMD is gone but no TLB flush is issued, so a
 * CPU may keep the 2 MiB translation after the folio is freed (kernel-model.md §8.1, §6.4).
 * On failure it falls through to the old split path.
 *
 * Not merged (superseded by v3–v6): no commit.
 * Link: https://lore.kernel.org/linux-mm/20240422055213.60231-1-ioworker0@gmail.com/
 */
import { HPAGE_PMD_NR, MM_ANONPAGES } from '../state.js';
import { pmdIndex } from '../kernel/pgtable.js';
import { folio_put_refs, folio_remove_rmap_pmd, free_folio } from '../kernel/rmap.js';
import { zap_deposited_table } from '../kernel/huge_memory.js';
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'lazyfree-thp@v2',
  slug: 'lazyfree-thp',
  version: 'v2',
  title: 'Reclaim lazyfree THP without splitting (v2: discard_trans_pmd)',
  author: 'Lance Yang',
  date: '2024-04-22',
  commits: [],
  mergedIn: 'not merged',
  changes: 'Before the split, discard a clean lazyfree PMD-mapped THP whole — clearing the PMD without flushing the TLB (the gather is never finished): a stale translation survives the free.',
  functions: ['try_to_unmap_one', 'discard_trans_pmd', 'shrink_folio_list'],
  seriesTitle: 'Reclaim lazyfree THP without splitting',
  subjects: ['Reclaim lazyfree THP without splitting', 'mm/vmscan: avoid split lazyfree THP during shrink_folio_list()'],
  keywords: ['discard_trans_pmd', 'TTU_LAZYFREE_THP'],
  hooks: {
    // The discard runs where the split used to: first thing in try_to_unmap_one().
    split_pmd_before_walk: () => false,
    unmap_huge_pmd_locked: (k, c) => {
      const f = c.folio;
      if (!(f.anon && !f.swapbacked) || f.dirty || c.pmd.dirty || f.refcount !== f.large_mapcount + 1) return false;
      c.mm.pmds.delete(pmdIndex(c.addr));
      k.cost.pmdClears++;
      k.staleTlb.add(f); // tlb_remove_pmd_tlb_entry() into a gather nobody flushes
      folio_remove_rmap_pmd(k, f);
      zap_deposited_table(k, c.mm, c.addr);
      k.addMmCounter(c.mm, MM_ANONPAGES, -HPAGE_PMD_NR);
      if (folio_put_refs(k, f, 1)) free_folio(k, f);
      return true;
    },
  },
});
