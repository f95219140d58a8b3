/**
 * mm/swap.c: per-CPU folio batches (lru_add, lru_deactivate, lru_lazyfree) and LRU placement.
 * A folio in a batch holds a reference until the batch drains; a batch drains when full, at
 * once when a large folio is added, and at lru_add_drain() (start of MADV_FREE/COLD/PAGEOUT).
 * A folio whose mappings went while it waited is freed by the drain that drops that reference.
 *
 * The batches left out: lru_rotate (writeback end), lru_deactivate_file (invalidation of file
 * pages) and activate (folio_mark_accessed() of file pages) take no folio on the paths replayed.
 */
import { Lru, type Folio } from '../state.js';
import type { Kernel } from './kernel.js';
import { folio_put_refs, free_folio } from './rmap.js';

export function folio_lru_list(f: Folio): Lru {
  const base = f.swapbacked ? Lru.InactiveAnon : Lru.InactiveFile;
  return f.active ? base + 1 : base;
}

/**
 * folio_add_lru() → folio_batch_add_and_move(): queue on this CPU's lru_add batch; a large folio
 * moves the batch at once, and so does a full batch. The batch is per CPU, shared with every
 * other task on it: the workload's folios alone give only a lower bound of its fill, so where
 * the trace records the moves (Kernel.lruObserved) the batch drains when the record says the
 * folio just added went onto the LRU within this op.
 */
export function folio_add_lru(k: Kernel, f: Folio): void {
  const b = k.batches(k.cpu);
  f.refcount++;
  f.in_lru_batch = true;
  b.add.push(f);
  if (b.add.length >= k.traits.folioBatch || f.nr > 1) drainAdd(k, k.cpu);
  // An op that lists recorded moves is itself the record of them (the trace's first drain too),
  // once the op is as far as the recorded move was.
  else if (recorded_move_due(k, f.pfn)) drainAdd(k, k.cpu);
}

/**
 * Whether the op's record moved `pfn` onto the LRU at or before the point the op has reached:
 * a folio put back in one reclaim_pages() pass that the batch drained in a later one is not
 * moved at its own add (Op `lruAddedPos`).
 */
function recorded_move_due(k: Kernel, pfn: number): boolean {
  const added = k.op.lruAdded;
  if (added === undefined) return false;
  const pos = k.op.lruAddedPos;
  for (let i = added.indexOf(pfn); i >= 0; i = added.indexOf(pfn, i + 1)) {
    if (pos === undefined || (pos[i] ?? 0) <= k.opMarks) return true;
  }
  return false;
}

/**
 * After an op: a folio the record says went onto the LRU during it but that still waits in a
 * batch here was moved by a drain of a path the model does not mirror — drain that CPU's batch.
 * `lru-drain` ops (a drain in another task's context) end here too.
 */
export function lru_add_observed(k: Kernel, pfns: readonly number[]): void {
  if (pfns.length === 0) return;
  for (const [cpu, b] of k.lruBatches) {
    if (b.add.some((f) => pfns.includes(f.pfn))) drainAdd(k, cpu);
  }
}

/**
 * folio_batch_move_lru(): each folio of the batch is moved (`move`), then the batch's references
 * go with folios_put() — the last one frees a folio whose mappings went while it waited.
 */
function drainBatch(k: Kernel, batch: Folio[], move: (f: Folio) => void): void {
  for (const f of batch) {
    f.in_lru_batch = false;
    if (!f.freed) move(f);
  }
  // release_pages(): a large folio whose last reference goes is freed on the spot; 6.1 lists the
  // order-0 ones with list_add() and frees the list after the walk, last put first
  // (traits.zapFreesReversed, the same release_pages() as the zap's).
  const later: Folio[] = [];
  for (const f of batch) {
    f.refcount--;
    if (f.freed || f.refcount > 0) continue;
    if (k.traits.zapFreesReversed && f.order === 0) later.push(f);
    else free_folio(k, f);
  }
  for (let i = later.length - 1; i >= 0; i--) free_folio(k, later[i]!);
}

function drainAdd(k: Kernel, cpu: number): void {
  const b = k.batches(cpu);
  const batch = b.add;
  b.add = [];
  b.othersRan = false;
  drainBatch(k, batch, (f) => k.lruAdd(f, folio_lru_list(f)));
}

/**
 * folio_mark_lazyfree(): queue an anon swapbacked folio on the LRU to become lazyfree. A folio
 * not on the LRU — still in a CPU's lru_add batch (another CPU's: this walk drained its own),
 * or isolated — is left alone (folio_test_lru()): it takes no place in the batch, so it does not
 * move when the batch drains, and is not counted in pglazyfree.
 */
export function folio_mark_lazyfree(k: Kernel, f: Folio): void {
  if (!f.anon || !f.swapbacked || f.lru === Lru.Unevictable || f.lru === Lru.None) return;
  folio_batch_add_and_move(k, 'lazyfree', f, drainLazyfree);
}

/**
 * folio_batch_add_and_move(): the folio joins this CPU's batch with a reference; a large folio,
 * or the add that fills the batch (traits.folioBatch), moves it at once.
 */
function folio_batch_add_and_move(k: Kernel, which: 'lazyfree' | 'deactivate', f: Folio, move: (k: Kernel, cpu: number) => void): void {
  const b = k.batches(k.cpu);
  f.refcount++;
  f.in_lru_batch = true;
  b[which].push(f);
  if (b[which].length >= k.traits.folioBatch || f.nr > 1) move(k, k.cpu);
}

/** lru_lazyfree(): off the anon LRU, swapbacked cleared, onto the inactive file LRU. */
function drainLazyfree(k: Kernel, cpu: number): void {
  const b = k.batches(cpu);
  const batch = b.lazyfree;
  b.lazyfree = [];
  drainBatch(k, batch, (f) => {
    if (f.lru === Lru.None || !f.anon || !f.swapbacked) return;
    f.active = false;
    f.referenced = false;
    f.swapbacked = false;
    k.lruAdd(f, Lru.InactiveFile);
    k.count('pglazyfree', f.nr);
    k.story(f, 'lazyfree');
  });
}

/**
 * folio_deactivate() (6.1: deactivate_page()), MADV_COLD's deactivation: an evictable folio on
 * the LRU that is active — or any, under the multi-gen LRU (6.1 to 6.13's test; 6.14's
 * lru_gen_clear_refs() rework is not modelled: no preset combines it with lru_gen) — is queued,
 * with a reference, on this CPU's lru_deactivate batch (pagevec of 15 in 6.1, folio_batch of 31
 * later: traits.folioBatch); a large folio or the add that fills the batch moves it at once.
 * Nothing is traced when the batch moves; a folio left in it is freed by the drain (or never,
 * within the trace) when its mappings go first, as 6.18's munmap and exit do not drain.
 *
 * Model deviation: the folio keeps its LRU flag while it waits, as in 6.1 and since the revert
 * of "mm/gup: clear the LRU flag of a page before adding to LRU batch" (b4ef0d2b7478, 6.18 and
 * the 6.12.y stable the 6.12 captures ran); 6.11 to early 6.12.y cleared it at the add, so a
 * folio waiting there could not be isolated.
 */
export function folio_deactivate(k: Kernel, f: Folio): void {
  if (f.lru === Lru.Unevictable || f.lru === Lru.None || f.isolated) return;
  if (!f.active && !k.traits.lruGen) return;
  folio_batch_add_and_move(k, 'deactivate', f, drainDeactivate);
}

/**
 * lru_deactivate_fn() through folio_batch_move_lru(): a folio still on the LRU (not isolated
 * meanwhile: folio_test_clear_lru()) and evictable, active or (multi-gen LRU) any, goes to the
 * head of the inactive list of its type with active and referenced cleared; PGDEACTIVATE.
 */
function drainDeactivate(k: Kernel, cpu: number): void {
  const b = k.batches(cpu);
  const batch = b.deactivate;
  if (batch.length === 0) return;
  b.deactivate = [];
  drainBatch(k, batch, (f) => {
    if (f.lru === Lru.None || f.lru === Lru.Unevictable || f.isolated) return;
    if (!f.active && !k.traits.lruGen) return;
    f.active = false;
    f.referenced = false;
    k.lruAdd(f, folio_lru_list(f));
    k.count('pgdeactivate', f.nr);
    k.story(f, 'deactivated');
  });
}

/**
 * lru_add_drain() → lru_add_drain_cpu(): the CPU's batches in the kernel's order — lru_add,
 * (lru_rotate, lru_deactivate_file,) lru_deactivate, lru_lazyfree (, activate).
 */
export function lru_add_drain(k: Kernel, cpu = k.cpu): void {
  drainAdd(k, cpu);
  drainDeactivate(k, cpu);
  drainLazyfree(k, cpu);
}

export function lru_add_drain_all(k: Kernel): void {
  for (const cpu of k.lruBatches.keys()) lru_add_drain(k, cpu);
}

/** folio_isolate_lru(): off the LRU with a reference, for reclaim. */
export function folio_isolate_lru(k: Kernel, f: Folio): boolean {
  if (f.lru === Lru.None || f.isolated) return false;
  k.lruDel(f);
  f.isolated = true;
  f.refcount++;
  return true;
}

/**
 * putback_lru_page() / move_folios_to_lru(): straight back onto the list its flags select,
 * dropping the isolation reference (memcg reclaim's shrink_inactive_list()).
 */
export function folio_putback_lru(k: Kernel, f: Folio): void {
  f.isolated = false;
  f.refcount--;
  if (f.freed) return;
  k.lruAdd(f, folio_lru_list(f));
}

/**
 * folio_putback_lru() of mm/vmscan.c as reclaim_pages() uses it: folio_add_lru() — through this
 * CPU's lru_add batch, which holds its own reference until it drains — then the isolation
 * reference is dropped. Small folios can therefore sit in the batch after the reclaim pass:
 * on 6.18 the last few pieces of a split folio stayed there (their mm_lru_insertion never came,
 * nor their free at munmap; the insertions came 31 at a time, the batch's size).
 */
export function folio_putback_lru_batched(k: Kernel, f: Folio): void {
  if (f.freed) {
    f.isolated = false;
    return;
  }
  folio_add_lru(k, f);
  f.isolated = false;
  // folio_put(): the last reference if the batch drained at once (a recorded insertion, a full
  // batch) and nothing maps the folio any more — a split piece now mapped by the zero page.
  if (folio_put_refs(k, f, 1) && !f.freed) free_folio(k, f);
}
