/**
 * The per-CPU lru_add batch (mm/swap.c folio_add_lru → folio_batch_add_and_move) holds a
 * reference on each folio until it drains. The batch is shared with every other task on the
 * CPU, so the workload's folios alone only bound when it fills; where the trace records the
 * kernel's moves (`mm_lru_insertion`, lifted as `lruAdded` / `lru-drain`), the model drains
 * where the record says. A folio unmapped while it waits is freed by the drain, not the unmap,
 * on releases whose zap does not drain the batch first (6.18: unmap_region() and
 * free_pages_and_swap_cache() no longer call lru_add_drain()).
 *
 *   A: 4 order-0 anon pages, faulted in order, CPU 0
 *   |p0|p1|p2|p3|      batch(CPU0) after the faults: [p0 p1 p2 p3]  (nothing recorded moves them)
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const PAGE = 4096;

let line = 0;
const at = () => ({ index: line, line: ++line });
const mmap = (len: number): Op => ({ ...base, at: at(), kind: 'mmap', addr: A, len, prot: 3, flags: 0x22, anon: true });
const fault = (addr: number, allocs: AllocFact[], lruAdded?: number[]): Op => ({ ...base, at: at(), kind: 'fault', addr, write: true, allocs, ...(lruAdded ? { lruAdded } : {}) });
const munmap = (len: number): Op => ({ ...base, at: at(), kind: 'munmap', addr: A, len });
const drain = (pfns: number[], cpu = 0): Op => ({ ...base, cpu, at: at(), kind: 'lru-drain', pfns });
const data = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user' });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });

/** pfns of the user pages an op freed, in order. */
const freed = (eng: Engine, op: Op): number[] =>
  eng.step(op).emitted.flatMap((e) => (e.ev === 'mm_page_free' && e.what !== 'pgtable' ? [e.pfn] : []));

function populate(eng: Engine, marks: Array<number[] | undefined>): void {
  eng.step(mmap(16 * PAGE));
  marks.forEach((m, i) => eng.step(fault(A + i * PAGE, i === 0 ? [pgtable(0x10), data(0x100 + i)] : [data(0x100 + i)], m)));
}

describe('lru_add batch: drains where the trace recorded them', () => {
  it('6.18: folios still in the batch at munmap are not freed by it; a recorded drain elsewhere frees them', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    eng.step(drain([])); // the trace records the moves
    populate(eng, [undefined, undefined, undefined, undefined]);
    expect(freed(eng, munmap(16 * PAGE))).toEqual([]);
    expect(freed(eng, drain([0x100, 0x101, 0x102, 0x103]))).toEqual([0x100, 0x101, 0x102, 0x103]);
  });

  it('6.18: another task\'s drain while the munmap was preempted comes before the zap\'s frees: the munmap frees them', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    eng.step(drain([]));
    populate(eng, [undefined, undefined, undefined, undefined]);
    const midway: Op = { ...munmap(16 * PAGE), lruDrainedMidway: [0x101, 0x102] };
    expect(freed(eng, midway)).toEqual([0x100, 0x101, 0x102, 0x103]);
  });

  it('6.18: a fault whose record moved the batch drains it there; only the later folios wait at munmap', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    // The second fault's folio filled the shared batch (other tasks' folios in it too).
    populate(eng, [undefined, [0x100, 0x101], undefined, undefined]);
    expect(freed(eng, munmap(16 * PAGE))).toEqual([0x100, 0x101]);
  });

  it('6.12: the unmap drains the batch first, so every unmapped folio is freed by the munmap', () => {
    const eng = new Engine(buildConfig('linux-6.12'), { checkInvariants: true });
    eng.step(drain([]));
    populate(eng, [undefined, undefined, undefined, undefined]);
    expect(freed(eng, munmap(16 * PAGE)).sort()).toEqual([0x100, 0x101, 0x102, 0x103]);
  });

  it('without recorded moves an unmap that finds a folio in the batch is counted as unknowable', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    populate(eng, [undefined, undefined]);
    eng.step(munmap(16 * PAGE));
    expect(eng.k.lruUnknown).toBe(2);
    const seen = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    seen.step(drain([]));
    populate(seen, [undefined, undefined]);
    seen.step(munmap(16 * PAGE));
    expect(seen.k.lruUnknown).toBe(0);
  });

  it('a full batch drains even when nothing recorded it (the workload alone filled it)', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    eng.step(drain([]));
    eng.step(mmap(64 * PAGE));
    const n = eng.config.traits.folioBatch;
    for (let i = 0; i < n; i++) eng.step(fault(A + i * PAGE, i === 0 ? [pgtable(0x10), data(0x200 + i)] : [data(0x200 + i)]));
    const batch = eng.k.lruBatches.get(0)!.add;
    expect(batch.length).toBe(0);
  });
});

describe('lru_add batch shared with tasks the trace does not follow', () => {
  it('an unmap of a folio that waited while another task ran on its CPU is counted as exposed; a drain clears it', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    eng.step(drain([]));
    populate(eng, [undefined, undefined]);
    // The task is switched out to another process's task, then back.
    eng.step({ ...base, at: at(), kind: 'run', on: false, ours: false });
    eng.step({ ...base, at: at(), kind: 'run', on: true });
    eng.step(munmap(16 * PAGE));
    expect(eng.k.lruExposed).toBe(2);
    const drained = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    drained.step(drain([]));
    populate(drained, [undefined, undefined]);
    drained.step({ ...base, at: at(), kind: 'run', on: false, ours: false });
    drained.step(drain([0x100, 0x101]));
    drained.step({ ...base, at: at(), kind: 'run', on: true });
    drained.step(munmap(16 * PAGE));
    expect(drained.k.lruExposed).toBe(0);
  });
});
