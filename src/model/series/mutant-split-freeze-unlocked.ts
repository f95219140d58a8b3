/**
 * Mutant: __folio_split() freezes the refcount and unqueues without split_queue_lock
 *                                                             (race-explorer mutant)
 *
 * The kernel takes split_queue_lock before folio_ref_freeze() and unqueues the folio inside the
 * same section ("Prevent deferred_split_scan() touching ->_refcount"): the shrinker's
 * folio_try_get() runs under that lock too, so either the freeze or the try-get wins, and only
 * one of them unqueues. Without the lock, the shrinker can see the frozen folio (try-get fails:
 * "we lost race with folio_put()") and unqueue it while the split, having read list_empty()
 * false, unqueues it too: split_queue_len and nr_anon_partially_mapped drop twice.
 * Vacuity partner of scenario R7's `Never` verdicts.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-split-freeze-unlocked@m',
  slug: 'mutant-split-freeze-unlocked',
  version: 'm',
  title: 'mutant: split freezes the refcount and unqueues without split_queue_lock',
  author: 'foliolab race explorer',
  date: '2024-01-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: '__folio_split(): folio_ref_freeze() and the deferred-list unqueue run without split_queue_lock.',
  functions: ['__folio_split'],
  hooks: { split_freeze_locked: () => false },
});
