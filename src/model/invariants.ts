/**
 * Invariants checked as the engine runs (kernel-model.md §6). A breach is a Violation record.
 * Cheap ones are checked inline where they can break (page-table bounds in pgtable.ts, the
 * stale TLB check at free time in rmap.ts, negative refcounts); the structural ones below
 * walk the live state and run at phase boundaries and after madvise/munmap/reclaim ops.
 */
import type { Kernel } from './kernel/kernel.js';
import type { Folio } from './state.js';

export function checkInvariants(k: Kernel): void {
  // Entries per folio are counted into the folios themselves, tagged with this check's epoch
  // (no map of folios built per check: it allocated ~14 MB per 120 k events on the bench trace).
  const epoch = ++k.invariantChecks;
  const add = (f: Folio, n: number): void => {
    if (f.invEpoch !== epoch) { f.invEpoch = epoch; f.invMaps = 0; }
    f.invMaps += n;
  };
  for (const mm of new Set(k.mms.values())) {
    if (mm.exited) continue;
    for (const e of mm.pmds.values()) {
      if (e.kind === 'huge') { add(e.folio, 1); continue; }
      // Runs of slots mapping one folio are counted at once (a large folio maps a run).
      // Indexed: this runs too rarely to be optimised, and an unoptimised for-of makes an
      // iterator result per slot (~5 MB per 120 k events of the bench trace).
      let prev: Folio | null = null;
      let run = 0;
      const slots = e.folio;
      for (let i = 0; i < slots.length; i++) {
        const f = slots[i];
        if (f === prev) { run++; continue; }
        if (prev) add(prev, run);
        prev = f ?? null;
        run = 1;
      }
      if (prev) add(prev, run);
    }
  }
  k.folios.forEach((f) => {
    const m = f.invEpoch === epoch ? f.invMaps : 0;
    if (m !== f.large_mapcount) {
      k.violate('mapcount_matches_mappings', `folio pfn 0x${f.pfn.toString(16)} (order ${f.order}): large_mapcount ${f.large_mapcount} but ${m} entries map it`, { folio: f.id, pfn: f.pfn });
    }
    const known = m + (f.isolated ? 1 : 0) + (f.in_lru_batch ? 1 : 0);
    if (f.refcount < known) {
      k.violate('refcount_covers_references', `folio pfn 0x${f.pfn.toString(16)}: refcount ${f.refcount} below the ${known} references the model accounts for`, { folio: f.id, pfn: f.pfn });
    }
  });
  const q = k.deferred;
  const expected = q.list.length + q.privateList.length;
  if (q.split_queue_len !== expected) {
    k.violate('split_queue_len_matches_list', `split_queue_len ${q.split_queue_len}, list holds ${q.list.length} (+${q.privateList.length} on a scanner's private list)`);
  }
}
