/**
 * mm/vmscan: avoid split lazyfree THP during shrink_folio_list()   (Lance Yang, v6, 2024-05-21)
 *
 * When a PMD-mapped lazyfree THP is reclaimed, unmap it whole instead of splitting the PMD and
 * unmapping 512 PTEs one by one. 1/3 renames exit labels; 2/3 moves the PMD split into the
 * page_vma_mapped_walk loop of try_to_unmap_one() (and checks VM_LOCKED before splitting);
 * 3/3 adds unmap_huge_pmd_locked() → __discard_anon_folio_pmd_locked(): if the folio and the
 * PMD are clean and only reclaim holds an extra reference, clear the PMD and flush, drop the
 * rmap, free the deposited page table, rss −512, done. Otherwise (dirty: now swap-backed)
 * fall back to the split.
 *
 * Merged in 6.11 (mm-stable for 6.11-rc1). 3/3 = 735ecdfaf4e8 (verified: Barry Song's later
 * patch cites it with this subject); 1/3 = 26d21b18d971 and 2/3 = 29e847d2ade3 precede it in
 * akpm/mm's mm-stable rev-lists.
 * Link: https://lore.kernel.org/linux-mm/20240521040244.48760-1-ioworker0@gmail.com/
 */
import { discard_anon_folio_pmd_locked } from '../kernel/huge_memory.js';
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'lazyfree-thp@v6',
  slug: 'lazyfree-thp',
  version: 'v6',
  title: 'Reclaim lazyfree THP without splitting',
  author: 'Lance Yang',
  date: '2024-05-21',
  commits: ['26d21b18d971c8ba3343240ca22cfd03daad4926', '29e847d2ade3cdff36afe095fdbeb9b5f71a197a', '735ecdfaf4e802209caf34b7ac45adf448c54ccc'],
  mergedIn: '6.11',
  changes: 'try_to_unmap_one(): the PMD split moves into the walk (2/3); a clean lazyfree PMD-mapped THP is discarded whole with one PMD clear and flush (3/3); a dirty one becomes swap-backed and is split as before.',
  functions: ['try_to_unmap_one', 'unmap_huge_pmd_locked', '__discard_anon_folio_pmd_locked', 'split_huge_pmd_locked', 'shrink_folio_list'],
  seriesTitle: 'Reclaim lazyfree THP without splitting',
  subjects: [
    'Reclaim lazyfree THP without splitting',
    'mm/rmap: remove duplicated exit code in pagewalk loop',
    'mm/rmap: integrate PMD-mapped folio splitting into pagewalk loop',
    'mm/vmscan: avoid split lazyfree THP during shrink_folio_list()',
  ],
  keywords: ['unmap_huge_pmd_locked', '__discard_anon_folio_pmd_locked', 'split_huge_pmd_locked', 'pmdp_huge_clear_flush', 'TTU_SPLIT_HUGE_PMD'],
  hooks: {
    split_pmd_before_walk: () => false,
    unmap_huge_pmd_locked: (k, c) => (c.folio.anon && !c.folio.swapbacked ? discard_anon_folio_pmd_locked(k, c.mm, c, false) : false),
  },
});
