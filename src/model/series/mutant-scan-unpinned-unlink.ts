/**
 * Mutant: the 6.12-rc deferred_split_scan() that unlinks from its private list without the lock
 *                                                             (race-explorer mutant)
 *
 * The underused-THP series (6.12-rc1) made deferred_split_scan() list_del_init() a folio that
 * is not partially mapped from the scanner's private list without split_queue_lock, and drop
 * each folio's reference as soon as it was done with it. The folio before it on that list could
 * then be freed by its last user, whose folio_unqueue_deferred_split() unlinks it under the
 * lock — writing the same list pointers the unlocked unlink writes. Hugh Dickins' e66f3185fa04
 * ("mm/thp: fix deferred split queue not partially_mapped") keeps one kept folio pinned before
 * any unlocked unlink ("separated from any earlier folios left on the list ... by one safe folio
 * with refcount still raised").
 * Vacuity partner of scenario R5's `Never` verdicts.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-scan-unpinned-unlink@m',
  slug: 'mutant-scan-unpinned-unlink',
  version: 'm',
  title: 'mutant: 6.12-rc deferred_split_scan() unlinks without the lock and without a pinned predecessor',
  author: 'foliolab race explorer',
  date: '2024-09-01',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'deferred_split_scan() (private list): each folio is put as soon as it is handled; the unlocked list_del_init() has no pinned folio before it.',
  functions: ['deferred_split_scan'],
  hooks: { deferred_split_scan_pins_prev: () => false },
});
