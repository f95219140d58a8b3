/**
 * Mutant: __folio_split() unqueues the folio before it freezes the refcount
 *                                                             (race-explorer mutant)
 *
 * The kernel takes the folio off the deferred split queue (and clears PG_partially_mapped)
 * only once folio_ref_freeze() has succeeded, so a split that fails leaves the folio queued for
 * the shrinker to try again. Unqueueing first loses it when the freeze then fails — the
 * shrinker's own folio_try_get() is enough to make it fail: the folio stays partially mapped
 * and no queue holds it any more.
 * Vacuity partner of scenario R7's `no_lost_deferred_split` Never.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-split-unqueue-first@m',
  slug: 'mutant-split-unqueue-first',
  version: 'm',
  title: 'mutant: split unqueues the folio before freezing its refcount',
  author: 'foliolab race explorer',
  date: '2024-01-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: '__folio_split(): list_del_init() from the deferred split queue (under split_queue_lock) before folio_ref_freeze(); a failed freeze leaves the folio off the queue.',
  functions: ['__folio_split'],
  hooks: { split_unqueue_after_freeze: () => false },
});
