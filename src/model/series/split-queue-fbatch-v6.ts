/**
 * mm: thp: use folio_batch to handle THP splitting in deferred_split_scan()
 *                                   (Qi Zheng / Muchun Song, v6 3/4, 2025-11-10)
 *
 * Part of "reparent the THP split queue". Folios are taken off the queue into a folio_batch
 * (up to 31 per pass, in queue order, split_queue_len decremented at once); partially mapped
 * folios that were not split are re-queued at the tail; the scan loops while work remains.
 * Replaces the private-list scheme of e66f3185fa04, whose list_move() reversed the order and
 * kept split_queue_len counting folios that were off the queue.
 * Merged in 6.19 [I: v6 is dated after 6.18's merge window]. Commit not pinned: akpm/mm's
 * rev-lists show it under several ids (mm-unstable rebases) and no upstream reference to one
 * was found. e66f3185fa04 is verified (the series' changelog cites it with its subject).
 */
import { defineSeries } from './define.js';

export default defineSeries({
  id: 'split-queue-fbatch@v6',
  slug: 'split-queue-fbatch',
  version: 'v6',
  title: 'mm: thp: use folio_batch to handle THP splitting in deferred_split_scan()',
  author: 'Qi Zheng',
  date: '2025-11-10',
  commits: [],
  mergedIn: '6.19',
  changes: 'deferred_split_scan() batches 31 folios off the queue in queue order; split_queue_len always equals the queue length.',
  functions: ['deferred_split_scan', '__folio_split'],
  seriesTitle: 'reparent the THP split queue',
  subjects: ['reparent the THP split queue', 'mm: thp: use folio_batch to handle THP splitting in deferred_split_scan()'],
  keywords: ['folio_batch', 'fbatch', 'split_queue_len', 'folio_batch_add'],
  hooks: { deferred_split_scan_mode: () => 'folio-batch' },
});
