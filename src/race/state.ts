/**
 * The race explorer's state: a litmus-sized slice of the model — one VMA, the PTE tables its
 * folios use, a few folios (the model's own Folio and PteTable, so the series hooks run on them
 * unchanged), the deferred split queue at list-pointer granularity, the locks, and what the
 * scenario's monitors saw. Built afresh for every execution (stateless exploration).
 *
 * Access keys name what a step reads or writes, for the explorer's dependence relation:
 *   `pte:T0[3]`        one PTE slot          `F.ref` `F.map` `F.flags`   one folio's fields
 *   `F.links`          its _deferred_list     `queue`                     the queue's shape and split_queue_len
 *   `lock:<name>`      a lock word            `dma`                       the DMA buffer's target
 * Statistics (mTHP counters) are not keys: their updates commute, and only their final value
 * is checked.
 */
import type { ModelConfig } from '../model/config.js';
import type { HookOwners, Hooks } from '../model/hooks.js';
import { Kernel } from '../model/kernel/kernel.js';
import type { Op } from '../model/ops.js';
import { Folio, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE, PteTable, type Mm, type Vma } from '../model/state.js';
import type { Scenario } from './scenario.js';

export const VMA_START = 0x7f0000000000;
/** The split queue's list head and the scanner's private list head (list nodes, not folios). */
export const QUEUE = 'queue';
export const PRIVATE = 'private';

export interface Links {
  next: string;
  prev: string;
}

/** A folio of the scenario and what the race state knows about it beyond the model's Folio. */
export interface RaceFolio {
  name: string;
  f: Folio;
  /** First page's slot (page index from the VMA start); -1 for a PMD-mapped or unmapped folio. */
  slot: number;
  /** Anonymous and lazyfree when the scenario began (swapbacked ⇒ dirty applies to these). */
  wasLazyfree: boolean;
  /** Split into pieces (the pieces are not modelled further). */
  split: boolean;
}

export interface Monitor {
  /** unified_pte_state: folios found partially mapped right after try_to_unmap(). */
  partialAfterUnmap: string[];
  /** no_lost_write: a read by the user that did not see the DMA data. */
  lostWrite: string | null;
  /** split_queue_len_matches_list: a count that saw split_queue_len differ from the members. */
  countMismatch: string | null;
  /** Violations recorded by the model's own checked accessors (hooks). */
  oob: string[];
  /** deferred_list_well_formed: a list walk met a node that was unlinked under it. */
  listFault: string | null;
}

export class RaceState {
  readonly k: Kernel;
  readonly mm: Mm;
  readonly vma: Vma;
  readonly tables: PteTable[] = [];
  readonly folios = new Map<string, RaceFolio>();
  readonly byFolio = new Map<Folio, RaceFolio>();
  readonly links = new Map<string, Links>();
  split_queue_len = 0;
  /** mTHP stat nr_anon_partially_mapped (all sizes). */
  nr_anon_partially_mapped = 0;
  /** Lock word → holding thread. */
  readonly locks = new Map<string, string>();
  /** The folio the DMA wrote into, once it has. */
  dmaTarget: Folio | null = null;
  readonly monitor: Monitor = { partialAfterUnmap: [], lostWrite: null, countMismatch: null, oob: [], listFault: null };
  private nextId = 1;

  constructor(readonly config: ModelConfig, hooks: Hooks, owners: HookOwners, readonly scenario: Scenario) {
    this.k = new Kernel(config, hooks, owners);
    this.k.op = { kind: 'marker', at: { index: 0, line: 0 } } as unknown as Op;
    this.mm = this.k.newMm(1);
    this.links.set(QUEUE, { next: QUEUE, prev: QUEUE });
    this.links.set(PRIVATE, { next: PRIVATE, prev: PRIVATE });
    let lastSlot = 0;
    for (const fs of scenario.setup.folios) if (fs.at !== undefined) lastSlot = Math.max(lastSlot, fs.at + fs.sizeKb / 4 - 1);
    const nTables = Math.floor(lastSlot / PTRS_PER_PTE) + 1;
    this.vma = {
      vm_start: VMA_START, vm_end: VMA_START + nTables * PMD_SIZE, vm_pgoff: VMA_START / PAGE_SIZE, read: true, write: true,
      hugepage: false, nohugepage: false, locked: false, droppable: scenario.setup.droppable, anon: true, implicit: false,
    };
    this.mm.vmas.push(this.vma);
    for (let t = 0; t < nTables; t++) {
      const table = new PteTable(0x1000 + t);
      this.tables.push(table);
      this.mm.pmds.set(VMA_START / PMD_SIZE + t, table);
    }
    for (const fs of scenario.setup.folios) {
      const nr = fs.sizeKb / 4;
      const order = Math.log2(nr);
      const f = new Folio(this.nextId++, order, nr, 0x10000 * this.nextId, fs.at ?? 0, this.mm.anonRoot);
      f.anon = true;
      f.swapbacked = !fs.flags.includes('lazyfree');
      f.dirty = fs.flags.includes('dirty');
      const rf: RaceFolio = { name: fs.name, f, slot: fs.at ?? -1, wasLazyfree: !f.swapbacked, split: false };
      this.folios.set(fs.name, rf);
      this.byFolio.set(f, rf);
      this.links.set(fs.name, { next: fs.name, prev: fs.name });
      if (fs.flags.includes('unmapped')) {
        // Mapped by nothing: only the references the scenario's threads hold.
      } else if (order === HPAGE_PMD_ORDER && fs.at === undefined) {
        f.entire_mapcount = 1;
        f.large_mapcount = 1;
        f.refcount = 1;
      } else {
        const at = fs.at ?? 0;
        // `half-mapped`: only the first half is mapped (the rest was unmapped before the scenario).
        const mapped = fs.flags.includes('half-mapped') ? nr / 2 : nr;
        for (let i = 0; i < mapped; i++) {
          const slot = at + i;
          const table = this.tables[Math.floor(slot / PTRS_PER_PTE)]!;
          table.set(slot % PTRS_PER_PTE, f, i, true, fs.flags.includes('dirty-ptes'), false);
          table.used++;
          f.page_mapcount[i] = 1;
        }
        f.nr_pages_mapped = mapped;
        f.large_mapcount = mapped;
        f.refcount = mapped;
      }
      if (fs.flags.includes('partially-mapped')) {
        f.partially_mapped = true;
        this.nr_anon_partially_mapped++;
      }
      if (fs.flags.includes('queued')) this.listAddTail(fs.name, QUEUE, true);
    }
    // References the threads hold from the start: reclaim's isolation, a put's reference, a
    // split's caller.
    for (const t of scenario.threads) {
      for (const op of t.ops) {
        if (op.name === 'reclaim' || op.name === 'put' || op.name === 'split') {
          const rf = this.folio(String(op.args[0]));
          rf.f.refcount++;
          if (op.name === 'reclaim') rf.f.isolated = true;
        }
      }
    }
  }

  folio(name: string): RaceFolio {
    const rf = this.folios.get(name);
    if (!rf) throw new Error(`unknown folio ${name}`);
    return rf;
  }

  newFolio(name: string, order: number): RaceFolio {
    const nr = 1 << order;
    const f = new Folio(this.nextId++, order, nr, 0x10000 * this.nextId, 0, this.mm.anonRoot);
    const rf: RaceFolio = { name, f, slot: -1, wasLazyfree: false, split: false };
    this.folios.set(name, rf);
    this.byFolio.set(f, rf);
    this.links.set(name, { next: name, prev: name });
    return rf;
  }

  /** Table and index of a slot. */
  at(slot: number): { table: PteTable; t: number; idx: number } {
    const t = Math.floor(slot / PTRS_PER_PTE);
    return { table: this.tables[t]!, t, idx: slot % PTRS_PER_PTE };
  }

  // ------------------------------------------------------------------------------------------
  // include/linux/list.h at pointer granularity.

  link(n: string): Links {
    const l = this.links.get(n);
    if (!l) throw new Error(`no list node ${n}`);
    return l;
  }

  listEmpty(n: string): boolean {
    return this.link(n).next === n;
  }

  /** list_add_tail(): written in the order the kernel writes (a node already on a list is corrupted, as in the kernel). */
  listAddTail(n: string, head: string, counts: boolean): void {
    const h = this.link(head);
    const tail = h.prev;
    const x = this.link(n);
    x.next = head;
    x.prev = tail;
    this.link(tail).next = n;
    h.prev = n;
    if (counts) this.split_queue_len++;
    this.syncFlag(n);
  }

  /** The model's Folio.on_deferred_list mirrors `!list_empty(&folio->_deferred_list)` (the ttu_sync hook of v2 reads it). */
  private syncFlag(n: string): void {
    const rf = this.folios.get(n);
    if (rf) rf.f.on_deferred_list = !this.listEmpty(n);
  }

  /** list_del_init() with its two reads already done (`prev`, `next` as read). */
  listDelWrite(n: string, prev: string, next: string): void {
    this.link(next).prev = prev;
    this.link(prev).next = next;
    const x = this.link(n);
    x.next = n;
    x.prev = n;
    this.syncFlag(n);
  }

  /** The nodes from `head` following next (at most 64; a corrupted list is cut). */
  walk(head: string): { nodes: string[]; ok: boolean } {
    const nodes: string[] = [];
    let ok = true;
    let cur = this.link(head).next;
    let prev = head;
    for (let i = 0; cur !== head; i++) {
      if (i > 64 || nodes.includes(cur)) { ok = false; break; }
      if (this.link(cur).prev !== prev) ok = false;
      nodes.push(cur);
      prev = cur;
      cur = this.link(cur).next;
    }
    if (ok && this.link(head).prev !== prev) ok = false;
    return { nodes, ok };
  }

  // ------------------------------------------------------------------------------------------
  // The view a witness diffs step by step.

  view(): Map<string, string> {
    const v = new Map<string, string>();
    const slots = new Set<number>();
    for (const rf of this.folios.values()) if (rf.slot >= 0) for (let i = 0; i < rf.f.nr; i++) slots.add(rf.slot + i);
    for (const slot of [...slots].sort((a, b) => a - b)) {
      const { table, t, idx } = this.at(slot);
      const f = table.folio[idx];
      const name = f ? this.byFolio.get(f)?.name ?? '?' : null;
      v.set(`T${t}[${idx}]`, name ? `${name}.p${table.page(idx)}${table.dirty(idx) ? ' dirty' : ''}` : 'none');
    }
    for (const rf of this.folios.values()) {
      const f = rf.f;
      v.set(`${rf.name}.refcount`, String(f.refcount));
      v.set(`${rf.name}.mapcount`, f.entire_mapcount > 0 ? `${f.large_mapcount} (PMD)` : `${f.large_mapcount} (${f.nr_pages_mapped} of ${f.nr} pages)`);
      const flags = [f.anon && !f.swapbacked ? 'lazyfree' : 'swapbacked', f.dirty ? 'dirty' : 'clean'];
      if (f.partially_mapped) flags.push('partially_mapped');
      if (rf.split) flags.push('split');
      else if (f.freed) flags.push('freed');
      v.set(`${rf.name}.flags`, flags.join(' '));
    }
    if (this.hasQueue()) {
      const q = this.walk(QUEUE);
      v.set('split_queue', q.ok ? `[${q.nodes.join(' ')}]` : `corrupt [${q.nodes.join(' ')} …]`);
      const p = this.walk(PRIVATE);
      v.set('private list', p.ok ? `[${p.nodes.join(' ')}]` : `corrupt [${p.nodes.join(' ')} …]`);
      v.set('split_queue_len', String(this.split_queue_len));
      v.set('nr_anon_partially_mapped', String(this.nr_anon_partially_mapped));
      for (const rf of this.folios.values()) {
        const l = this.link(rf.name);
        v.set(`${rf.name}._deferred_list`, l.next === rf.name && l.prev === rf.name ? 'empty' : `prev ${l.prev}, next ${l.next}`);
      }
    }
    if (this.dmaTarget) v.set('DMA data', `in ${this.byFolio.get(this.dmaTarget)?.name ?? '?'}`);
    return v;
  }

  /** Every scenario shows the queue: reclaim queues a folio it leaves partially mapped. */
  hasQueue(): boolean {
    return true;
  }
}
