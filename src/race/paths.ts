/**
 * The racing kernel paths, cut into steps at the seams where the kernel takes or drops a lock,
 * reads an entry without a lock, or reads refcount, mapcount and dirty in a fixed order. Each
 * path is a generator: it yields the declaration of its next step (what the step reads and
 * writes, the lock it takes or drops) and, resumed, performs that step and runs to the next
 * declaration. A step is atomic; between two steps of one thread any other thread may run.
 *
 * These are the model's paths re-told step-wise (the replay runs each to completion in
 * model/kernel/*): try_to_unmap_one() over page_vma_mapped_walk() (mm/rmap.c,
 * mm/page_vma_mapped.c), shrink_folio_list() around it (mm/vmscan.c), the deferred split queue
 * and its shrinker, __folio_split()'s freeze (mm/huge_memory.c), a partial munmap's zap
 * (mm/memory.c), and actors traces never show: a PTL-held break-before-make of one PTE, a
 * speculative reference, a GUP-fast pin with a DMA write and a dirtying unpin, the shrinker's
 * count. Where a series changes what happens, the step calls the config's hook — the same
 * hooks the replay calls (ttu_sync, folio_unmap_pte_batch, lazyfree_discard,
 * deferred_split_scan_mode) and the race-only ones (lazyfree_discard_read_order,
 * split_freeze_locked, deferred_split_scan_pins_prev, deferred_split_requeue_guard).
 *
 * Model deviation: TLB flushes, rss counters and LRU moves are left out (no step reads them);
 * memory ordering is sequentially consistent (R4's barrier question is exported to LKMM).
 */
import type { PteBatchCtx } from '../model/hooks.js';
import { Folio, PAGE_SIZE, PTRS_PER_PTE } from '../model/state.js';
import { PRIVATE, QUEUE, type RaceFolio, type RaceState } from './state.js';

export interface StepDecl {
  /** `file@function` of the kernel code the step stands for. */
  fn: string;
  /** What the step does, in kernel terms. */
  what: string;
  reads: string[];
  writes: string[];
  /** A lock the step takes (spinning: the step waits while another thread holds it). */
  acquire?: string;
  /** A lock the step tries (never waits; the generator is resumed with whether it got it). */
  trylock?: string;
  /** Locks the step drops at its end. */
  release?: string[];
}

export type Prog<T = void> = Generator<StepDecl, T, boolean>;

export interface ThreadCtx {
  name: string;
  cpu: number;
  s: RaceState;
}

const RMAP = 'mm/rmap.c@try_to_unmap_one';
const PVMW = 'mm/page_vma_mapped.c@page_vma_mapped_walk';
const VMSCAN = 'mm/vmscan.c@shrink_folio_list';
const SCAN = 'mm/huge_memory.c@deferred_split_scan';
const DSF = 'mm/huge_memory.c@deferred_split_folio';
const UNQUEUE = 'mm/huge_memory.c@__folio_unqueue_deferred_split';
const SPLIT = 'mm/huge_memory.c@__folio_split';
const PUT = 'mm/swap.c@folio_put';

export const ptlOf = (t: number): string => `ptl:T${t}`;
export const SQ_LOCK = 'split_queue_lock';
const lockKey = (l: string): string => `lock:${l}`;

/**
 * Every list node's links: the write set of a step that relinks nodes it found by following
 * pointers (its neighbours are only known when it runs, so it declares them all).
 */
function allLinks(s: RaceState): string[] {
  // The list heads and the scenario's folios: a page a fault maps while the threads run is on
  // no list, and must not change what a step declares.
  return [QUEUE, PRIVATE, ...s.scenario.setup.folios.map((f) => f.name)].map((n) => `${n}.links`);
}

function pteKey(s: RaceState, slot: number): string {
  const { t, idx } = s.at(slot);
  return `pte:T${t}[${idx}]`;
}

function pteName(s: RaceState, slot: number): string {
  const { t, idx } = s.at(slot);
  return `T${t}[${idx}]`;
}

// -------------------------------------------------------------------------------------------
// Folio references and the free path.

/** folio_put_refs(): drop `n` references; the last one frees the folio (its own steps). */
function* folio_put_refs(c: ThreadCtx, rf: RaceFolio, n: number, what = `folio_put_refs(${rf.name}, ${n})`, release?: string[]): Prog {
  const s = c.s;
  yield { fn: PUT, what, reads: [`${rf.name}.ref`, `${rf.name}.links`, `${rf.name}.flags`], writes: [`${rf.name}.ref`], release };
  rf.f.refcount -= n;
  if (rf.f.refcount === 0 && !rf.split) yield* free_folio(c, rf);
  void s;
}

/** __folio_put() of a large folio: folio_unqueue_deferred_split(), then free. */
function* free_folio(c: ThreadCtx, rf: RaceFolio): Prog {
  const s = c.s;
  // folio_unqueue_deferred_split(): a lockless list_empty() first.
  if (rf.f.order > 1 && !s.listEmpty(rf.name)) yield* unqueue_locked(c, rf, 'free: folio_unqueue_deferred_split()');
  yield { fn: 'mm/page_alloc.c@free_unref_folios', what: `free ${rf.name}`, reads: [], writes: [`${rf.name}.flags`] };
  rf.f.freed = true;
}

/**
 * __folio_unqueue_deferred_split(): under split_queue_lock, if the folio is on a list, unlink
 * it (list_del_init: read its links, then write its neighbours'), split_queue_len−−, and clear
 * PG_partially_mapped. The lock protects the queue, and — while a scanner's private list
 * holds the folio — that list too.
 */
function* unqueue_locked(c: ThreadCtx, rf: RaceFolio, why: string): Prog {
  const s = c.s;
  const n = rf.name;
  yield { fn: UNQUEUE, what: `${why}: spin_lock(split_queue_lock); read ${n}'s list links`, acquire: SQ_LOCK, reads: [`${n}.links`], writes: [] };
  const l = s.link(n);
  const prev = l.prev;
  const next = l.next;
  if (next === n) {
    yield { fn: UNQUEUE, what: `${n} not on a list: spin_unlock`, reads: [], writes: [], release: [SQ_LOCK] };
    return;
  }
  yield { fn: UNQUEUE, what: `list_del_init(${n}); split_queue_len--; clear partially_mapped; spin_unlock`, reads: [`${rf.name}.flags`], writes: [...allLinks(s), 'queue', `${rf.name}.flags`], release: [SQ_LOCK] };
  // The pointers as read under the lock (a lockless unlink may have moved them since).
  s.listDelWrite(n, prev, next);
  s.split_queue_len--;
  if (rf.f.partially_mapped) {
    rf.f.partially_mapped = false;
    s.nr_anon_partially_mapped--;
  }
}

/** deferred_split_folio() (6.12+ form): one critical section under split_queue_lock. */
function* deferred_split_folio(c: ThreadCtx, rf: RaceFolio, partially: boolean): Prog {
  const s = c.s;
  const n = rf.name;
  yield { fn: DSF, what: `deferred_split_folio(${n}, partially_mapped=${partially}): set partially_mapped; list_add_tail if list_empty`, acquire: SQ_LOCK, release: [SQ_LOCK], reads: [...allLinks(s), `${n}.flags`, 'queue'], writes: [...allLinks(s), `${n}.flags`, 'queue'] };
  if (partially && s.k.traits.partiallyMappedFlag && !rf.f.partially_mapped) {
    rf.f.partially_mapped = true;
    s.nr_anon_partially_mapped++;
  }
  if (s.listEmpty(n)) s.listAddTail(n, QUEUE, true);
}

/**
 * folio_remove_rmap_ptes() for `nr` pages from `page`: when it leaves an anon large folio
 * partially mapped, __folio_remove_rmap() calls deferred_split_folio() — only if the folio is
 * not already flagged partially mapped (the caller's guard).
 */
function* remove_rmap_ptes(c: ThreadCtx, rf: RaceFolio, page: number, nr: number, fn: string, what: string, putAfter: number, release?: string[]): Prog {
  const s = c.s;
  const f = rf.f;
  const needs = (): boolean => f.order > 1 && f.entire_mapcount === 0 && f.nr_pages_mapped > 0 && f.nr_pages_mapped < f.nr && !f.partially_mapped;
  // Whether the queueing step follows is only known once the mapcounts are written; declare
  // the union so the step is one either way.
  yield { fn, what: `${what}: folio_remove_rmap_ptes(${rf.name}, ${nr})`, reads: [`${rf.name}.map`, `${rf.name}.flags`], writes: [`${rf.name}.map`] };
  let unmapped = 0;
  for (let i = page; i < page + nr; i++) if (--f.page_mapcount[i]! === 0) { f.nr_pages_mapped--; unmapped++; }
  f.large_mapcount -= nr;
  if (unmapped > 0 && needs()) yield* deferred_split_folio(c, rf, true);
  if (putAfter > 0) yield* folio_put_refs(c, rf, putAfter, `folio_put_refs(${rf.name}, ${putAfter})`, release);
  else if (release) yield { fn, what: 'spin_unlock(ptl)', reads: [], writes: [], release };
}

// -------------------------------------------------------------------------------------------
// Reclaim: shrink_folio_list() → try_to_unmap() → try_to_unmap_one().

/** shrink_folio_list() for one isolated lazyfree folio. */
export function* reclaim(c: ThreadCtx, name: string): Prog {
  const s = c.s;
  const rf = s.folio(name);
  const f = rf.f;
  const got = yield { fn: VMSCAN, what: `folio_trylock(${name}); TTU flags (TTU_SYNC for a large folio when the config sets it)`, trylock: `folio:${name}`, reads: [`${name}.links`, `${name}.map`, `${name}.flags`], writes: [] };
  if (!got) return;
  const sync = f.nr > 1 && s.k.hook('ttu_sync')(s.k, f);
  if (f.large_mapcount > 0) {
    yield* try_to_unmap_one(c, rf, sync);
    yield { fn: VMSCAN, what: `folio_mapped(${name}) after try_to_unmap()`, reads: [`${name}.map`, `${name}.flags`], writes: [] };
    if (f.nr_pages_mapped > 0 && f.nr_pages_mapped < f.nr) s.monitor.partialAfterUnmap.push(name);
    if (f.large_mapcount > 0) {
      yield { fn: VMSCAN, what: `still mapped: activate, folio_unlock(${name})`, reads: [], writes: [], release: [`folio:${name}`] };
      return;
    }
  }
  if (!(f.anon && !f.swapbacked)) {
    yield { fn: VMSCAN, what: `swap-backed without swap: activate, folio_unlock(${name})`, reads: [], writes: [], release: [`folio:${name}`] };
    return;
  }
  yield { fn: VMSCAN, what: `folio_ref_freeze(${name}, 1)`, reads: [`${name}.ref`, `${name}.links`], writes: [`${name}.ref`] };
  if (f.refcount !== 1) {
    yield { fn: VMSCAN, what: `extra reference: keep, folio_unlock(${name})`, reads: [], writes: [], release: [`folio:${name}`] };
    return;
  }
  f.refcount = 0;
  if (f.order > 1 && !s.listEmpty(name)) yield* unqueue_locked(c, rf, 'free_it: folio_unqueue_deferred_split()');
  yield { fn: VMSCAN, what: `free ${name} (lazyfree discarded)`, reads: [], writes: [`${name}.flags`], release: [`folio:${name}`] };
  f.freed = true;
}

/**
 * try_to_unmap_one() over page_vma_mapped_walk(), one VMA. Without PVMW_SYNC, map_pte() reads
 * the first PTE without the lock and, if it is none, next_pte skips entries without the lock
 * until a present one, then takes the PTL; with it (TTU_SYNC) the PTL is taken before the
 * first read. The PTL is held across hits within one table and dropped at a table boundary.
 */
function* try_to_unmap_one(c: ThreadCtx, rf: RaceFolio, sync: boolean): Prog {
  const s = c.s;
  const f = rf.f;
  const end = rf.slot + f.nr;
  let slot = rf.slot;
  let held: number | null = null;
  const maps = (x: number): boolean => { const { table, idx } = s.at(x); return table.folio[idx] === f; };
  /** Slots the next locked step reads when it skips none entries under the lock. */
  while (slot < end) {
    const { t } = s.at(slot);
    if (held === null) {
      if (sync) {
        yield { fn: PVMW, what: `map_pte() with PVMW_SYNC: pte_offset_map_lock() before reading ${pteName(s, slot)}`, acquire: ptlOf(t), reads: [], writes: [] };
        held = t;
      } else {
        yield { fn: PVMW, what: `map_pte()/next_pte: lockless ptep_get(${pteName(s, slot)})`, reads: [pteKey(s, slot)], writes: [] };
        if (!maps(slot)) {
          slot++;
          continue;
        }
        yield { fn: PVMW, what: `spin_lock(ptl of T${t})`, acquire: ptlOf(t), reads: [], writes: [] };
        held = t;
      }
    }
    // this_pte / next_pte under the lock: skip none entries (reads under the PTL) up to a hit.
    const tableEnd = (t + 1) * PTRS_PER_PTE;
    const r = yield* hit(c, rf, slot, Math.min(end, tableEnd));
    if (r.kind === 'abort' || r.kind === 'done') return;
    slot = r.next;
    if (slot >= end) {
      yield { fn: PVMW, what: 'not_found: page_vma_mapped_walk_done(): spin_unlock(ptl)', reads: [], writes: [], release: [ptlOf(t)] };
      return;
    }
    if (slot >= tableEnd) {
      yield { fn: PVMW, what: `next_pte crosses the page-table boundary: spin_unlock(ptl of T${t}), restart at ${pteName(s, slot)}`, reads: [], writes: [], release: [ptlOf(t)] };
      held = null;
    }
  }
}

type HitResult = { kind: 'abort' } | { kind: 'done' } | { kind: 'continue'; next: number };

/**
 * Under the PTL from `slot` (< limit, the table's or folio's end): check_pte() each entry until
 * one maps the folio, then folio_unmap_pte_batch() (hook), clear the batch, and for a lazyfree
 * folio decide discard or restore (hooks) with ref_count, mapcount and dirty read as separate
 * steps in the config's order.
 */
function* hit(c: ThreadCtx, rf: RaceFolio, slot: number, limit: number): Generator<StepDecl, HitResult, boolean> {
  const s = c.s;
  const f = rf.f;
  const k = s.k;
  const { t } = s.at(slot);
  const reads: string[] = [];
  for (let x = slot; x < limit; x++) reads.push(pteKey(s, x));
  // The unbounded v4 scan may read on past the table: whatever follows it is no shared slot.
  yield { fn: RMAP, what: `check_pte() from ${pteName(s, slot)}; folio_unmap_pte_batch(); clear the batch`, reads, writes: [...reads, `${rf.name}.flags`] };
  let x = slot;
  while (x < limit && s.at(x).table.folio[s.at(x).idx] !== f) x++;
  if (x >= limit) return { kind: 'continue', next: limit };
  const { table, idx } = s.at(x);
  const addr = s.vma.vm_start + x * PAGE_SIZE;
  const ctx: PteBatchCtx = { mm: s.mm, vma: s.vma, folio: f, table, idx, addr, hwpoison: false };
  const before = k.violations.length;
  let nr = Math.max(1, k.hook('folio_unmap_pte_batch')(k, ctx));
  for (const v of k.violations.slice(before)) s.monitor.oob.push(v.message);
  nr = Math.min(nr, PTRS_PER_PTE - idx);
  const page = table.page(idx);
  const saved: Array<{ i: number; f: Folio | null; bits: number }> = [];
  let dirty = false;
  for (let i = 0; i < nr; i++) {
    saved.push({ i: idx + i, f: table.folio[idx + i] ?? null, bits: table.bits[idx + i]! });
    dirty ||= table.dirty(idx + i);
    table.clear(idx + i);
    table.used--;
  }
  if (dirty) f.dirty = true;
  const restore = (): void => {
    for (const e of saved) { table.setRaw(e.i, e.f, e.bits); table.used++; }
  };
  const batchKeys = saved.map((e) => `pte:T${t}[${e.i}]`);
  const what = nr === 1 ? `PTE ${pteName(s, x)}` : `${nr} PTEs from ${pteName(s, x)}`;
  if (f.anon && !f.swapbacked) {
    const order = k.hook('lazyfree_discard_read_order')(k);
    let refsOk = false;
    let isDirty = false;
    const readRefs = (): StepDecl => ({ fn: RMAP, what: `smp_mb(); ref_count = folio_ref_count(${rf.name}); map_count = folio_mapcount(${rf.name})`, reads: [`${rf.name}.ref`, `${rf.name}.map`], writes: [] });
    const readDirty = (): StepDecl => ({ fn: RMAP, what: `folio_test_dirty(${rf.name})`, reads: [`${rf.name}.flags`], writes: [] });
    if (order === 'ref-first') {
      yield readRefs();
      refsOk = f.refcount === 1 + f.large_mapcount;
      yield readDirty();
      isDirty = f.dirty;
    } else {
      yield readDirty();
      isDirty = f.dirty;
      yield readRefs();
      refsOk = f.refcount === 1 + f.large_mapcount;
    }
    const verdict = k.hook('lazyfree_discard')(k, { folio: f, dirty: isDirty, refsOk, droppable: s.vma.droppable });
    if (verdict !== 'discard') {
      yield { fn: RMAP, what: `cannot discard (${isDirty ? 'dirty' : 'extra reference'}): set_pte_at() restores ${what}${verdict === 'fail-swapbacked' ? '; folio_set_swapbacked()' : ''}; walk_abort`, reads: [], writes: [...batchKeys, `${rf.name}.flags`], release: [ptlOf(t)] };
      restore();
      if (verdict === 'fail-swapbacked') f.swapbacked = true;
      return { kind: 'abort' };
    }
    const done = nr === f.nr;
    yield* remove_rmap_ptes(c, rf, page, nr, RMAP, `discard ${what}`, nr, done ? [ptlOf(t)] : undefined);
    return done ? { kind: 'done' } : { kind: 'continue', next: x + nr };
  }
  // Swap-backed without swap: restore and fail.
  yield { fn: RMAP, what: `swap-backed, no swap: set_pte_at() restores ${what}; walk_abort`, reads: [], writes: batchKeys, release: [ptlOf(t)] };
  restore();
  return { kind: 'abort' };
}

// -------------------------------------------------------------------------------------------
// Actors.

/** A PTL-held clear-then-set of one PTE (break-before-make), as madvise_free_pte_range() rewrites an entry clean and old. */
export function* bbm(c: ThreadCtx, name: string, page: number): Prog {
  const s = c.s;
  const rf = s.folio(name);
  const slot = rf.slot + page;
  const { table, t, idx } = s.at(slot);
  const key = pteKey(s, slot);
  const FN = 'mm/madvise.c@madvise_free_pte_range';
  yield { fn: FN, what: `spin_lock(ptl); ptep_get_and_clear(${pteName(s, slot)})`, acquire: ptlOf(t), reads: [key], writes: [key] };
  const f = table.folio[idx] ?? null;
  const bits = table.bits[idx]!;
  table.clear(idx);
  yield { fn: FN, what: `set_pte_at(${pteName(s, slot)}, pte_mkclean(pte_mkold())); spin_unlock(ptl)`, reads: [], writes: [key], release: [ptlOf(t)] };
  if (f) table.set(idx, f, bits & 0xffff, true, false, false);
}

/** A speculative reference: folio_try_get() … folio_put() (a PFN walker, compaction, a page-cache lookup). */
export function* specRef(c: ThreadCtx, name: string): Prog {
  const rf = c.s.folio(name);
  yield { fn: 'include/linux/page_ref.h@folio_try_get', what: `folio_try_get(${name})`, reads: [`${name}.ref`], writes: [`${name}.ref`] };
  if (rf.f.refcount === 0) return;
  rf.f.refcount++;
  yield* folio_put_refs(c, rf, 1, `folio_put(${name})`);
}

/** Drop a reference this thread held from the start. */
export function* put(c: ThreadCtx, name: string): Prog {
  yield* folio_put_refs(c, c.s.folio(name), 1, `folio_put(${name})`);
}

/**
 * GUP-fast pin of one page, a DMA write into it, and unpin_user_pages_dirty_lock(): mm/gup.c
 * gup_fast_pte_range() reads the PTE without a lock, takes a reference, smp_mb(), re-reads the
 * PTE and backs off if it changed (then the slow path faults the page in under the PTL).
 */
export function* gupFast(c: ThreadCtx, name: string, page: number): Prog {
  const s = c.s;
  const rf = s.folio(name);
  const slot = rf.slot + page;
  const { table, t, idx } = s.at(slot);
  const key = pteKey(s, slot);
  const GUP = 'mm/gup.c@gup_fast_pte_range';
  yield { fn: GUP, what: `ptep_get_lockless(${pteName(s, slot)})`, reads: [key], writes: [] };
  let pinned: RaceFolio | null = null;
  const seen = table.folio[idx] ?? null;
  const seenBits = table.bits[idx]!;
  if (seen) {
    const sf = s.byFolio.get(seen)!;
    yield { fn: GUP, what: `try_grab_folio(${sf.name})`, reads: [`${sf.name}.ref`], writes: [`${sf.name}.ref`] };
    if (seen.refcount > 0) {
      seen.refcount++;
      yield { fn: GUP, what: `smp_mb(); re-read ${pteName(s, slot)}: pte_same()?`, reads: [key], writes: [] };
      if (table.folio[idx] === seen && table.bits[idx] === seenBits) pinned = sf;
      else yield* folio_put_refs(c, sf, 1, `PTE changed: gup_put_folio(${sf.name}), fall back to the slow path`);
    }
  }
  if (!pinned) {
    // The slow path: follow_page_pte() under the PTL, faulting a fresh page in if none.
    // Pins the folio the PTE maps (its refcount), or maps a fresh page there.
    yield { fn: 'mm/gup.c@follow_page_pte', what: `slow path: spin_lock(ptl); ${pteName(s, slot)} present? pin it : do_anonymous_page() maps a new page; spin_unlock`, acquire: ptlOf(t), release: [ptlOf(t)], reads: [key, `${name}.ref`], writes: [key, `${name}.ref`] };
    const cur = table.folio[idx] ?? null;
    if (cur) {
      pinned = s.byFolio.get(cur)!;
      cur.refcount++;
    } else {
      pinned = s.newFolio(`${name}'`, 0);
      pinned.slot = slot;
      pinned.f.refcount = 2;
      pinned.f.large_mapcount = 1;
      pinned.f.page_mapcount[0] = 1;
      pinned.f.nr_pages_mapped = 1;
      table.set(idx, pinned.f, 0, true, true, true);
      table.used++;
    }
  }
  const pf = pinned;
  yield { fn: 'drivers/block@dma', what: `DMA writes into ${pf.name}`, reads: [], writes: ['dma'] };
  s.dmaTarget = pf.f;
  yield { fn: 'mm/gup.c@unpin_user_pages_dirty_lock', what: `folio_mark_dirty(${pf.name})`, reads: [], writes: [`${pf.name}.flags`] };
  pf.f.dirty = true;
  yield* folio_put_refs(c, pf, 1, `unpin: gup_put_folio(${pf.name})`);
}

/**
 * The user reads the page back after the I/O completed: a hardware walk of its PTE; a none
 * PTE faults, and the fault (under the PTL, so after any clear-and-restore in progress) reads
 * the PTE again — none there means a fresh zero-filled page.
 */
export function* userRead(c: ThreadCtx, name: string, page: number): Prog {
  const s = c.s;
  const rf = s.folio(name);
  const slot = rf.slot + page;
  const { table, t, idx } = s.at(slot);
  const key = pteKey(s, slot);
  yield { fn: 'user@load', what: `the user reads ${name} page ${page} (hardware walk of ${pteName(s, slot)})`, reads: [key, 'dma'], writes: [] };
  if (!table.folio[idx]) {
    yield { fn: 'mm/memory.c@handle_pte_fault', what: `${pteName(s, slot)} none: page fault, spin_lock(ptl), re-read ${pteName(s, slot)}, spin_unlock`, acquire: ptlOf(t), release: [ptlOf(t)], reads: [key, 'dma'], writes: [] };
  }
  const f = table.folio[idx] ?? null;
  if (s.dmaTarget && f !== s.dmaTarget) {
    s.monitor.lostWrite = `${pteName(s, slot)} ${f ? `maps ${s.byFolio.get(f)?.name}` : 'is none: the fault maps a fresh zero-filled page'}, the DMA data went to ${s.byFolio.get(s.dmaTarget)?.name}`;
  }
}

/** mm/huge_memory.c deferred_split_count(): the shrinker reads split_queue_len without the lock. */
export function* count(c: ThreadCtx): Prog {
  const s = c.s;
  yield { fn: 'mm/huge_memory.c@deferred_split_count', what: 'READ_ONCE(split_queue_len)', reads: ['queue'], writes: [] };
  const members = s.walk(QUEUE).nodes.length;
  if (s.split_queue_len !== members && !s.monitor.countMismatch) s.monitor.countMismatch = `count read split_queue_len ${s.split_queue_len} with ${members} folio(s) on the queue`;
}

/**
 * A partial munmap of a folio: for a PMD-mapped THP, __split_huge_pmd() under the PMD lock
 * first; then zap_pte_range() removes `pages` pages' mappings under the PTL (the rmap removal
 * queues the folio as partially mapped) and the gather drops their references.
 */
export function* munmap(c: ThreadCtx, name: string, pages: number): Prog {
  const s = c.s;
  const rf = s.folio(name);
  const f = rf.f;
  const lock = `ptl:${name}`;
  if (f.entire_mapcount > 0) {
    yield { fn: 'mm/huge_memory.c@__split_huge_pmd', what: `spin_lock(pmd lock); split the PMD of ${name} into ${f.nr} PTEs; spin_unlock`, acquire: lock, release: [lock], reads: [`${name}.map`], writes: [`${name}.map`, `${name}.ref`] };
    f.entire_mapcount = 0;
    for (let i = 0; i < f.nr; i++) f.page_mapcount[i] = 1;
    f.nr_pages_mapped = f.nr;
    f.large_mapcount = f.nr;
    f.refcount += f.nr - 1;
  }
  yield { fn: 'mm/memory.c@zap_pte_range', what: `spin_lock(ptl); clear ${pages} PTEs of ${name}`, acquire: lock, reads: [], writes: [] };
  const from = f.nr - pages;
  yield* remove_rmap_ptes(c, rf, from, pages, 'mm/memory.c@zap_pte_range', 'zap', 0, [lock]);
  yield* folio_put_refs(c, rf, pages, `tlb_finish_mmu(): folio_put_refs(${name}, ${pages})`);
}

// -------------------------------------------------------------------------------------------
// Splitting and the deferred split shrinker.

/** split_folio() by a caller holding a reference: folio_lock, __folio_split(), folio_unlock. */
export function* split(c: ThreadCtx, name: string): Prog {
  const rf = c.s.folio(name);
  yield { fn: 'mm/huge_memory.c@split_folio', what: `folio_lock(${name})`, acquire: `folio:${name}`, reads: [], writes: [] };
  yield* folio_split(c, rf, 1);
  yield { fn: 'mm/huge_memory.c@split_folio', what: `folio_unlock(${name})`, reads: [], writes: [], release: [`folio:${name}`] };
  if (!rf.split) yield* folio_put_refs(c, rf, 1, `folio_put(${name})`);
}

/**
 * __folio_split() with the folio locked and `pins` references held by the caller:
 * can_split_folio(), unmap to migration entries (mapping references dropped), then under
 * split_queue_lock folio_ref_freeze() and, if it froze, the unqueue (hook: without the lock in
 * a mutant). A failed freeze remaps. True if split.
 */
function* folio_split(c: ThreadCtx, rf: RaceFolio, pins: number): Generator<StepDecl, boolean, boolean> {
  const s = c.s;
  const f = rf.f;
  const n = rf.name;
  const k = s.k;
  yield { fn: SPLIT, what: `can_split_folio(${n}): refcount == mapcount + ${pins}?`, reads: [`${n}.ref`, `${n}.map`], writes: [] };
  if (f.refcount !== f.large_mapcount + pins) return false;
  yield { fn: SPLIT, what: `unmap_folio(${n}): mappings become migration entries`, reads: [`${n}.map`], writes: [`${n}.map`, `${n}.ref`] };
  const savedMap = { large: f.large_mapcount, entire: f.entire_mapcount, pages: f.nr_pages_mapped, per: f.page_mapcount.slice() };
  const mapRefs = f.large_mapcount;
  f.refcount -= mapRefs;
  f.large_mapcount = 0;
  f.entire_mapcount = 0;
  f.nr_pages_mapped = 0;
  f.page_mapcount.fill(0);
  const remap = (): void => {
    f.large_mapcount = savedMap.large;
    f.entire_mapcount = savedMap.entire;
    f.nr_pages_mapped = savedMap.pages;
    f.page_mapcount.set(savedMap.per);
    f.refcount += mapRefs;
  };
  const locked = k.hook('split_freeze_locked')(k);
  if (!k.hook('split_unqueue_after_freeze')(k)) {
    yield { fn: SPLIT, what: `spin_lock(split_queue_lock); unqueue ${n} before freezing: list_del_init, split_queue_len--, clear partially_mapped; spin_unlock`, acquire: SQ_LOCK, release: [SQ_LOCK], reads: [...allLinks(s), `${n}.flags`], writes: [...allLinks(s), 'queue', `${n}.flags`] };
    if (!s.listEmpty(n)) {
      s.listDelWrite(n, s.link(n).prev, s.link(n).next);
      s.split_queue_len--;
    }
    if (f.partially_mapped) { f.partially_mapped = false; s.nr_anon_partially_mapped--; }
    yield { fn: SPLIT, what: `folio_ref_freeze(${n}, ${pins})`, reads: [`${n}.ref`], writes: [`${n}.ref`] };
    if (f.refcount !== pins) {
      yield { fn: SPLIT, what: `freeze failed: remap_page(${n}) (-EAGAIN), off the queue`, reads: [], writes: [`${n}.map`, `${n}.ref`] };
      remap();
      return false;
    }
    f.refcount = 0;
  } else if (locked) {
    yield { fn: SPLIT, what: `spin_lock(split_queue_lock); folio_ref_freeze(${n}, ${pins})`, acquire: SQ_LOCK, reads: [`${n}.ref`, ...allLinks(s)], writes: [`${n}.ref`] };
    if (f.refcount !== pins) {
      yield { fn: SPLIT, what: `freeze failed: spin_unlock; remap_page(${n}) (-EAGAIN)`, reads: [], writes: [`${n}.map`, `${n}.ref`], release: [SQ_LOCK] };
      remap();
      return false;
    }
    f.refcount = 0;
    yield { fn: SPLIT, what: `frozen: if on a list, list_del_init(${n}), split_queue_len--, clear partially_mapped; spin_unlock`, reads: [...allLinks(s), `${n}.flags`], writes: [...allLinks(s), 'queue', `${n}.flags`], release: [SQ_LOCK] };
    if (!s.listEmpty(n)) {
      s.listDelWrite(n, s.link(n).prev, s.link(n).next);
      s.split_queue_len--;
    }
    if (f.partially_mapped) { f.partially_mapped = false; s.nr_anon_partially_mapped--; }
  } else {
    yield { fn: SPLIT, what: `folio_ref_freeze(${n}, ${pins}) without split_queue_lock`, reads: [`${n}.ref`], writes: [`${n}.ref`] };
    if (f.refcount !== pins) {
      yield { fn: SPLIT, what: `freeze failed: remap_page(${n}) (-EAGAIN)`, reads: [], writes: [`${n}.map`, `${n}.ref`] };
      remap();
      return false;
    }
    f.refcount = 0;
    yield { fn: SPLIT, what: `!list_empty(&${n}->_deferred_list)? folio_test_partially_mapped(${n})? (no lock)`, reads: [`${n}.links`, `${n}.flags`], writes: [] };
    const l = s.link(n);
    const onList = l.next !== n;
    const wasPm = f.partially_mapped;
    const prev = l.prev;
    const next = l.next;
    if (onList) {
      yield { fn: SPLIT, what: `split_queue_len--; list_del_init(${n})${wasPm ? '; clear partially_mapped' : ''} (no lock)`, reads: [], writes: [...allLinks(s), 'queue', `${n}.flags`] };
      s.split_queue_len--;
      s.listDelWrite(n, prev, next);
      if (wasPm) { f.partially_mapped = false; s.nr_anon_partially_mapped--; }
    }
  }
  yield { fn: SPLIT, what: `${n} split into order-0 folios`, reads: [], writes: [`${n}.flags`] };
  rf.split = true;
  f.freed = true;
  return true;
}

/** Not partially mapped (or, before PG_partially_mapped, every queued folio is a split candidate). */
function pmOrOld(s: RaceState, f: Folio): boolean {
  return f.partially_mapped || !s.k.traits.partiallyMappedFlag;
}

/** deferred_split_scan() in the form the config's hooks select. */
export function* scan(c: ThreadCtx): Prog {
  const k = c.s.k;
  if (k.hook('deferred_split_scan_mode')(k) === 'folio-batch') yield* scanFolioBatch(c);
  else yield* scanPrivateList(c);
}

/**
 * 6.12–6.18: under split_queue_lock, folio_try_get() each queued folio and list_move() it to
 * a private list (split_queue_len keeps counting it); a folio whose refcount is zero is being
 * freed: unqueue it there. Unlocked: try to split the partially mapped ones, list_del_init()
 * the others without the lock; then splice what is left back under the lock.
 */
function* scanPrivateList(c: ThreadCtx): Prog {
  const s = c.s;
  const k = s.k;
  yield { fn: SCAN, what: 'spin_lock(split_queue_lock)', acquire: SQ_LOCK, reads: [...allLinks(s), 'queue'], writes: [] };
  for (let cur = s.link(QUEUE).next; cur !== QUEUE;) {
    const rf = s.folio(cur);
    const next = s.link(cur).next;
    yield { fn: SCAN, what: `folio_try_get(${cur}): list_move to the private list, or (refcount 0) unqueue it`, reads: [`${cur}.ref`, ...allLinks(s), 'queue'], writes: [`${cur}.ref`, ...allLinks(s), 'queue', `${cur}.flags`] };
    s.listDelWrite(cur, s.link(cur).prev, s.link(cur).next);
    if (rf.f.refcount > 0) {
      rf.f.refcount++;
      s.listAddTail(cur, PRIVATE, false);
    } else {
      if (rf.f.partially_mapped) { rf.f.partially_mapped = false; s.nr_anon_partially_mapped--; }
      s.split_queue_len--;
    }
    cur = next;
  }
  yield { fn: SCAN, what: 'spin_unlock(split_queue_lock)', reads: [`${PRIVATE}.links`], writes: [], release: [SQ_LOCK] };
  const pinsPrev = k.hook('deferred_split_scan_pins_prev')(k);
  let prev: RaceFolio | null = null;
  let removed = 0;
  let cur = s.link(PRIVATE).next;
  while (cur !== PRIVATE) {
    const rf = s.folio(cur);
    yield { fn: SCAN, what: `next = ${cur}->_deferred_list.next; folio_test_partially_mapped(${cur})`, reads: [`${cur}.links`, `${cur}.flags`], writes: [] };
    const next = s.link(cur).next;
    if (next === cur) {
      // Unlinked under the scanner's feet: list_for_each_entry_safe() would spin on it.
      s.monitor.listFault ??= `${cur} was unlinked from the scanner's private list while the scanner walked it (its next points to itself)`;
      break;
    }
    let didSplit = false;
    if (pmOrOld(s, rf.f)) {
      const got = yield { fn: SCAN, what: `folio_trylock(${cur})`, trylock: `folio:${cur}`, reads: [], writes: [] };
      if (got) {
        didSplit = yield* folio_split(c, rf, 1);
        yield { fn: SCAN, what: `folio_unlock(${cur})`, reads: [], writes: [], release: [`folio:${cur}`] };
      }
    }
    let putNow: RaceFolio | null = rf;
    if (!didSplit) {
      yield { fn: SCAN, what: `folio_test_partially_mapped(${cur})`, reads: [`${cur}.flags`], writes: [] };
      if (!pmOrOld(s, rf.f)) {
        // list_del_init() from the private list, without split_queue_lock: two reads, then the writes.
        yield { fn: SCAN, what: `list_del_init(${cur}) without the lock: read its prev and next`, reads: [`${cur}.links`], writes: [] };
        const p = s.link(cur).prev;
        const n = s.link(cur).next;
        yield { fn: SCAN, what: `list_del_init(${cur}) without the lock: ${n}->prev = ${p}; ${p}->next = ${n}`, reads: [], writes: [`${cur}.links`, `${p}.links`, `${n}.links`, 'queue'] };
        s.listDelWrite(cur, p, n);
        removed++;
      } else if (pinsPrev) {
        // Kept on the list: it stays pinned until the next kept one (swap(folio, prev)).
        putNow = prev;
        prev = rf;
      }
    } else if (rf.split) {
      putNow = null; // the split's pieces are not modelled further
    }
    if (putNow) yield* folio_put_refs(c, putNow, 1, `folio_put(${putNow.name})`);
    cur = next;
  }
  yield { fn: SCAN, what: 'spin_lock; list_splice_tail(private list, split_queue); split_queue_len -= removed; spin_unlock', acquire: SQ_LOCK, release: [SQ_LOCK], reads: [...allLinks(s), 'queue'], writes: ['queue', ...allLinks(s)] };
  const moved = s.walk(PRIVATE).nodes;
  for (const n of moved) {
    s.listDelWrite(n, s.link(n).prev, s.link(n).next);
    s.listAddTail(n, QUEUE, false);
  }
  s.split_queue_len -= removed;
  if (prev) yield* folio_put_refs(c, prev, 1, `folio_put(${prev.name}) (the pinned one)`);
}

/**
 * 6.19 (folio_batch): under split_queue_lock, take each folio off the queue (list_del_init,
 * split_queue_len−−) into a folio_batch if folio_try_get() succeeds; unlocked, split the
 * partially mapped ones; re-queue a partially mapped one that was not split (hook: only if
 * list_empty); folios_put() the batch.
 */
function* scanFolioBatch(c: ThreadCtx): Prog {
  const s = c.s;
  const k = s.k;
  const batch: RaceFolio[] = [];
  yield { fn: SCAN, what: 'spin_lock(split_queue_lock)', acquire: SQ_LOCK, reads: [...allLinks(s), 'queue'], writes: [] };
  for (let cur = s.link(QUEUE).next; cur !== QUEUE;) {
    const rf = s.folio(cur);
    const l = s.link(cur);
    const next = l.next;
    yield { fn: SCAN, what: `folio_try_get(${cur}) into the folio_batch; list_del_init(${cur}); split_queue_len--`, reads: [`${cur}.ref`, ...allLinks(s), `${cur}.flags`, 'queue'], writes: [`${cur}.ref`, ...allLinks(s), 'queue', `${cur}.flags`] };
    if (rf.f.refcount > 0) {
      rf.f.refcount++;
      batch.push(rf);
    } else if (rf.f.partially_mapped) {
      rf.f.partially_mapped = false;
      s.nr_anon_partially_mapped--;
    }
    s.listDelWrite(cur, s.link(cur).prev, s.link(cur).next);
    s.split_queue_len--;
    cur = next;
  }
  yield { fn: SCAN, what: 'spin_unlock(split_queue_lock)', reads: [], writes: [], release: [SQ_LOCK] };
  const guard = k.hook('deferred_split_requeue_guard')(k);
  for (const rf of batch) {
    const n = rf.name;
    yield { fn: SCAN, what: `folio_test_partially_mapped(${n})`, reads: [`${n}.flags`], writes: [] };
    let didSplit = false;
    if (pmOrOld(s, rf.f)) {
      const got = yield { fn: SCAN, what: `folio_trylock(${n})`, trylock: `folio:${n}`, reads: [], writes: [] };
      if (got) {
        didSplit = yield* folio_split(c, rf, 1);
        yield { fn: SCAN, what: `folio_unlock(${n})`, reads: [], writes: [], release: [`folio:${n}`] };
      }
    }
    if (didSplit) continue;
    yield { fn: SCAN, what: `next: folio_test_partially_mapped(${n})`, reads: [`${n}.flags`], writes: [] };
    if (!rf.f.partially_mapped) continue;
    yield { fn: SCAN, what: guard ? `spin_lock; if list_empty(${n}): list_add_tail, split_queue_len++; spin_unlock` : `spin_lock; list_add_tail(${n}), split_queue_len++; spin_unlock`, acquire: SQ_LOCK, release: [SQ_LOCK], reads: [...allLinks(s), 'queue'], writes: [...allLinks(s), 'queue'] };
    if (!guard || s.listEmpty(n)) s.listAddTail(n, QUEUE, true);
  }
  for (const rf of batch) if (!rf.split) yield* folio_put_refs(c, rf, 1, `folios_put(): folio_put(${rf.name})`);
}

export const OPS: Record<string, { args: Array<'folio' | 'int'>; run: (c: ThreadCtx, args: Array<string | number>) => Prog; about: string }> = {
  reclaim: { args: ['folio'], run: (c, a) => reclaim(c, String(a[0])), about: 'shrink_folio_list() of an isolated folio: try_to_unmap_one() over page_vma_mapped_walk(), the lazyfree discard, the refcount freeze' },
  bbm: { args: ['folio', 'int'], run: (c, a) => bbm(c, String(a[0]), Number(a[1])), about: 'PTL-held clear-then-set of one PTE (madvise_free_pte_range() rewriting an entry)' },
  spec_ref: { args: ['folio'], run: (c, a) => specRef(c, String(a[0])), about: 'a speculative reference: folio_try_get() … folio_put()' },
  gup_fast: { args: ['folio', 'int'], run: (c, a) => gupFast(c, String(a[0]), Number(a[1])), about: 'GUP-fast pin, DMA write, folio_mark_dirty(), unpin' },
  user_read: { args: ['folio', 'int'], run: (c, a) => userRead(c, String(a[0]), Number(a[1])), about: 'the user reads the page (checks no_lost_write)' },
  scan: { args: [], run: (c) => scan(c), about: "deferred_split_scan(), in the config's form" },
  count: { args: [], run: (c) => count(c), about: 'deferred_split_count(): reads split_queue_len locklessly' },
  put: { args: ['folio'], run: (c, a) => put(c, String(a[0])), about: 'drop a reference held from the start (the last one frees)' },
  munmap: { args: ['folio', 'int'], run: (c, a) => munmap(c, String(a[0]), Number(a[1])), about: 'partial munmap: PMD split if PMD-mapped, zap N pages, rmap removal queues the folio' },
  split: { args: ['folio'], run: (c, a) => split(c, String(a[0])), about: 'split_folio() by a caller holding a reference' },
};

export { lockKey };
