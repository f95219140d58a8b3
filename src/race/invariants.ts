/**
 * The invariants a scenario can ask about, each a check of one finished execution (the final
 * state, or what a monitor saw at the instant the invariant is about). A result is the reason it
 * failed, or null.
 */
import { PRIVATE, QUEUE, type RaceState } from './state.js';

export const INVARIANTS = {
  unified_pte_state: 'After try_to_unmap() a large folio is fully unmapped or fully mapped, never in part.',
  pte_access_within_table: 'No PTE read or write outside the 512 entries of its table.',
  swapbacked_implies_dirty: 'A lazyfree folio that reclaim turned swap-backed is dirty (it was written after MADV_FREE).',
  no_lost_write: 'Data a device wrote into a pinned page is what the user reads back afterwards.',
  split_queue_len_matches_list: 'split_queue_len equals the number of folios on the queue (at the end, and whenever the shrinker counts).',
  deferred_list_well_formed: 'The split queue is a well-formed list (next/prev agree, no folio twice, no freed folio), and the scanner left nothing on its private list.',
  partially_mapped_count: 'nr_anon_partially_mapped equals the number of live folios flagged partially mapped.',
  no_lost_deferred_split: 'A live folio that is partially mapped is flagged and on the split queue (or was split).',
} as const;

export type InvariantName = keyof typeof INVARIANTS;

export function isInvariant(name: string): name is InvariantName {
  return Object.hasOwn(INVARIANTS, name);
}

export function checkInvariant(s: RaceState, inv: InvariantName): string | null {
  switch (inv) {
    case 'unified_pte_state':
      return s.monitor.partialAfterUnmap.length ? `${s.monitor.partialAfterUnmap.join(', ')} partially mapped after try_to_unmap()` : null;
    case 'pte_access_within_table':
      return s.monitor.oob.length ? s.monitor.oob[0]! : null;
    case 'swapbacked_implies_dirty': {
      for (const rf of s.folios.values()) {
        if (rf.wasLazyfree && !rf.f.freed && rf.f.swapbacked && !rf.f.dirty) return `${rf.name} swap-backed but clean`;
      }
      return null;
    }
    case 'no_lost_write':
      return s.monitor.lostWrite;
    case 'split_queue_len_matches_list': {
      if (s.monitor.countMismatch) return s.monitor.countMismatch;
      const q = s.walk(QUEUE);
      return s.split_queue_len === q.nodes.length ? null : `split_queue_len ${s.split_queue_len} with ${q.nodes.length} folio(s) on the queue at the end`;
    }
    case 'deferred_list_well_formed': {
      if (s.monitor.listFault) return s.monitor.listFault;
      const q = s.walk(QUEUE);
      if (!q.ok) return `the split queue is corrupt after [${q.nodes.join(' ')}]`;
      for (const n of q.nodes) {
        const rf = s.folios.get(n);
        if (rf && rf.f.freed) return `${n} is on the split queue but ${rf.split ? 'split' : 'freed'}`;
      }
      const p = s.walk(PRIVATE);
      if (!p.ok || p.nodes.length) return `the scanner's private list still holds [${p.nodes.join(' ')}]${p.ok ? '' : ' (corrupt)'}`;
      for (const rf of s.folios.values()) {
        const l = s.link(rf.name);
        const empty = l.next === rf.name && l.prev === rf.name;
        if (!empty && !q.nodes.includes(rf.name)) return `${rf.name}'s _deferred_list points into a list it is not on (prev ${l.prev}, next ${l.next})`;
      }
      return null;
    }
    case 'partially_mapped_count': {
      let n = 0;
      for (const rf of s.folios.values()) if (!rf.f.freed && rf.f.partially_mapped) n++;
      return s.nr_anon_partially_mapped === n ? null : `nr_anon_partially_mapped ${s.nr_anon_partially_mapped} with ${n} live folio(s) flagged`;
    }
    case 'no_lost_deferred_split': {
      const q = s.walk(QUEUE).nodes;
      for (const rf of s.folios.values()) {
        const f = rf.f;
        if (f.freed || f.nr <= 2) continue;
        const partial = f.entire_mapcount === 0 && f.nr_pages_mapped > 0 && f.nr_pages_mapped < f.nr;
        if (partial && (!q.includes(rf.name) || !f.partially_mapped)) return `${rf.name} is partially mapped but ${q.includes(rf.name) ? 'not flagged' : 'on no queue'}: no shrinker will split it`;
      }
      return null;
    }
  }
}
