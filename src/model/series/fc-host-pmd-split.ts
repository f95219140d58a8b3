/**
 * Observed on 6.18.44-fc (the capture host's build), cause unknown: lazyfree PMD-mapped THPs
 * are PMD-split before unmap.
 *
 * On this build a lazyfree PMD THP under reclaim gets a PMD split (thp_split_pmd +1, a full
 * flush) and its 512 PTEs are then unmapped as one batch (a second full flush, rss −2 MiB in
 * one step, the THP freed whole, no deposited-table free); a redirtied one is split and fails
 * the batch (nr_activate_anon 512). Upstream 6.18 would discard the clean one with a single
 * flush and leave the redirtied one PMD-mapped. Evidence: traces/6.18.44-fc-v669/s2-* and
 * s4-* (kernel-model.md §9.1). This unit exists so the upstream preset is never bent to fit
 * one build.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'fc-host-pmd-split@observed',
  slug: 'fc-host-pmd-split',
  version: 'observed',
  title: '6.18.44-fc: lazyfree PMD-mapped THPs are PMD-split before unmap (observed, cause unknown)',
  author: 'foliolab (observation)',
  date: '2026-11-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'The lazyfree PMD discard is never reached: the PMD is split and the PTEs are unmapped (batched).',
  functions: ['try_to_unmap_one', 'unmap_huge_pmd_locked'],
  hooks: {
    unmap_huge_pmd_locked: () => false,
    pmd_lazyfree_failed: () => 'split',
  },
});
