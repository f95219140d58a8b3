/**
 * Mutant: the lazyfree check reads the dirty flag before the refcount   (race-explorer mutant)
 *
 * try_to_unmap_one() must read ref_count (after the PTE clear and smp_mb()) before the folio's
 * dirty flag (smp_rmb() between them, as __remove_mapping() does): a GUP user marks the folio
 * dirty before it drops its pin, so a reader that sees the pin gone also sees dirty. Reading
 * dirty first lets reclaim see "clean" before the unpinner dirties the folio and "no extra
 * reference" after it unpins: the folio is discarded with the DMA data in it.
 * Vacuity partner of scenario R4's `Never` verdicts.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-dirty-before-ref@m',
  slug: 'mutant-dirty-before-ref',
  version: 'm',
  title: 'mutant: lazyfree discard check reads dirty before the refcount',
  author: 'foliolab race explorer',
  date: '2022-01-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'try_to_unmap_one(): the lazyfree check reads the dirty flag, then ref_count and mapcount (the kernel reads them the other way round).',
  functions: ['try_to_unmap_one'],
  hooks: { lazyfree_discard_read_order: () => 'dirty-first' },
});
