/**
 * MADV_COLD's per-CPU lru_deactivate batch (mm/swap.c folio_deactivate(), 6.1 deactivate_page()):
 *
 *   fault 32 pages                 [0x7f0000000000, +32 pages)   every one on the inactive anon LRU
 *   MADV_PAGEOUT of them           no swap: all 32 activated, put back through lru_add
 *   MADV_COLD of them              each active folio queued, with a reference, on CPU0's
 *                                  lru_deactivate batch; a full batch (15 on 6.1, 31 later) moves
 *   munmap of them                 6.1 and 6.12 drain this CPU's batches first; 6.18 does not,
 *                                  so the folios left in the batch keep their last reference
 *   MADV_COLD of another mapping   its lru_add_drain() drops that reference: freed there
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';
import { Lru } from '../state.js';

const A = 100;
const BASE = 0x7f0000000000;
const OTHER = 0x7f1000000000;
const N = 32;

function run(preset: string, pageoutFirst = true) {
  const e = new Engine(buildConfig(preset), { checkInvariants: true });
  let line = 1;
  const step = (op: Record<string, unknown>) => {
    const r = e.step({ tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op);
    line++;
    return r;
  };
  const frees = (r: ReturnType<typeof step>) => r.emitted.flatMap((x) => (x.ev === 'mm_page_free' && x.pfn < 0x1000 + N && x.pfn >= 0x1000 ? [x.pfn] : []));
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: N * 0x1000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'mmap', addr: OTHER, len: 0x1000, prot: 3, flags: 0x22, anon: true });
  for (let i = 0; i < N; i++) step({ kind: 'fault', addr: BASE + i * 0x1000, write: true, allocs: [{ pfn: 0x1000 + i, order: 0, use: 'user', anonFault: true }] });
  step({ kind: 'fault', addr: OTHER, write: true, allocs: [{ pfn: 0x2000, order: 0, use: 'user', anonFault: true }] });
  if (pageoutFirst) step({ kind: 'madvise', addr: BASE, len: N * 0x1000, advice: 'MADV_PAGEOUT' });
  const k = e.k;
  const ours = [...k.folios].filter((f) => f.pfn >= 0x1000 && f.pfn < 0x1000 + N);
  const activeBefore = ours.filter((f) => f.active).length;
  step({ kind: 'madvise', addr: BASE, len: N * 0x1000, advice: 'MADV_COLD' });
  const held = k.batches(0).deactivate.map((f) => f.pfn);
  const deactivated = k.counters.get('pgdeactivate') ?? 0;
  const onInactive = ours.filter((f) => f.lru === Lru.InactiveAnon && !f.active).length;
  const atMunmap = frees(step({ kind: 'munmap', addr: BASE, len: N * 0x1000 }));
  const atDrain = frees(step({ kind: 'madvise', addr: OTHER, len: 0x1000, advice: 'MADV_COLD' }));
  return { activeBefore, held, deactivated, onInactive, atMunmap, atDrain, violations: e.k.violations.length };
}

const pfns = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => 0x1000 + from + i);

describe('MADV_COLD queues active folios on the lru_deactivate batch', () => {
  it('linux-6.18: 31 move when the batch fills, the 32nd waits; munmap does not drain it, so only a later drain frees it', () => {
    const r = run('linux-6.18');
    expect(r.activeBefore).toBe(N);
    expect(r.held).toEqual([0x1000 + 31]);
    expect(r.deactivated).toBe(31);
    expect(r.onInactive).toBe(31);
    expect(r.atMunmap).toEqual(pfns(0, 31));
    expect(r.atDrain).toEqual([0x1000 + 31]);
    expect(r.violations).toBe(0);
  });

  it('linux-6.12: same batch of 31, but munmap drains this CPU first and frees all 32', () => {
    const r = run('linux-6.12');
    expect(r.held).toEqual([0x1000 + 31]);
    expect(r.atMunmap.slice().sort((a, b) => a - b)).toEqual(pfns(0, N));
    expect(r.atDrain).toEqual([]);
  });

  it('linux-6.1: pagevecs of 15 — two full ones move, two pages wait until munmap drains them', () => {
    const r = run('linux-6.1');
    expect(r.activeBefore).toBe(N);
    expect(r.held).toEqual([0x1000 + 30, 0x1000 + 31]);
    expect(r.deactivated).toBe(30);
    expect(r.atMunmap.slice().sort((a, b) => a - b)).toEqual(pfns(0, N));
    expect(r.atDrain).toEqual([]);
  });

  it('linux-6.18: inactive folios are not queued (folio_deactivate() takes active ones only)', () => {
    const r = run('linux-6.18', false);
    expect(r.activeBefore).toBe(0);
    expect(r.held).toEqual([]);
    expect(r.deactivated).toBe(0);
    expect(r.atMunmap).toEqual(pfns(0, N));
  });

  it('linux-6.12 (multi-gen LRU): every evictable folio is queued, active or not', () => {
    const r = run('linux-6.12', false);
    expect(r.held).toEqual([0x1000 + 31]);
    expect(r.deactivated).toBe(31);
  });
});
