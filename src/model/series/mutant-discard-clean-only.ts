/**
 * Mutant: the lazyfree discard decision on "clean" alone   (race-explorer mutant, not upstream)
 *
 * try_to_unmap_one() discards a lazyfree PTE when the folio is clean, without comparing the
 * refcount with the mapcount — the check as it stood before 6c8e2a256915 ("mm: fix race between
 * MADV_FREE reclaim and blkdev direct IO read", 5.18). A GUP pin taken before the PTE clear is
 * then invisible to reclaim: the direct-I/O data lands in a folio no PTE maps any more.
 * Vacuity partner of scenario R4's `Never` verdicts.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-discard-clean-only@m',
  slug: 'mutant-discard-clean-only',
  version: 'm',
  title: 'mutant: lazyfree discard on a clean folio regardless of extra references',
  author: 'foliolab race explorer',
  date: '2022-01-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'Lazyfree discard: clean → discard, whatever the refcount; dirty → swap-backed and fail (the check before 6c8e2a256915).',
  functions: ['try_to_unmap_one'],
  hooks: {
    lazyfree_discard: (_k, c) => (c.dirty && !c.droppable ? 'fail-swapbacked' : 'discard'),
  },
});
