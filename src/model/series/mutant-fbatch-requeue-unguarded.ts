/**
 * Mutant: the folio_batch deferred_split_scan() re-queues without the list_empty() guard
 *                                                             (race-explorer mutant)
 *
 * The first posting of "mm: thp: use folio_batch to handle THP splitting in
 * deferred_split_scan()" (Muchun Song / Qi Zheng, 2025-09-19) took folios off the queue with
 * list_del_init() and put the partially mapped ones it did not split back with list_add_tail().
 * While the scanner holds a folio off the queue, a partial unmap's deferred_split_folio() sees
 * list_empty() and queues it itself; the scanner's re-queue then adds it a second time. The
 * merged form re-queues only if list_empty(&folio->_deferred_list).
 * Vacuity partner of scenario R6's `Never` verdicts.
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'mutant-fbatch-requeue-unguarded@m',
  slug: 'mutant-fbatch-requeue-unguarded',
  version: 'm',
  title: 'mutant: folio_batch deferred_split_scan() re-queues without the list_empty() guard',
  author: 'foliolab race explorer',
  date: '2025-09-19',
  commits: [],
  mergedIn: 'not upstream',
  changes: 'deferred_split_scan() (folio_batch): a partially mapped folio that was not split is list_add_tail()ed back unconditionally.',
  functions: ['deferred_split_scan'],
  hooks: { deferred_split_requeue_guard: () => false },
});
