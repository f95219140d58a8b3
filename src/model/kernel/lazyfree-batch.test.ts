/**
 * MADV_FREE with the pages of a second thread still in its CPU's lru_add batch:
 *
 *   CPU0: thread A faults 16 pages, then MADV_FREE of all 20 (its lru_add_drain() drains CPU0)
 *   CPU1: thread B faults 4 pages and keeps running — they wait in CPU1's lru_add batch
 *
 * folio_mark_lazyfree() takes only folios on the LRU (folio_test_lru()): B's four are left
 * alone, so CPU0's lru_lazyfree batch (15 on 6.1, 31 later) fills with A's pages only — the
 * count left in it when the call returns, counted in pglazyfree only when a later
 * lru_add_drain() moves it (MADV_PAGEOUT's), follows from A's pages alone.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';

const A = 100;
const B = 101;
const BASE = 0x7f0000000000;

function run(preset: string, own: number) {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): void => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    e.step(o);
  };
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  step({ kind: 'run', on: true, tid: B, cpu: 1 });
  for (let i = 0; i < own; i++) step({ kind: 'fault', addr: BASE + i * 0x1000, write: true, allocs: [{ pfn: 0x1000 + i, order: 0, use: 'user', anonFault: true }] });
  for (let i = 0; i < 4; i++) step({ kind: 'fault', tid: B, cpu: 1, addr: BASE + 0x100000 + i * 0x1000, write: true, allocs: [{ pfn: 0x2000 + i, order: 0, use: 'user', anonFault: true }] });
  const k = e.k;
  const helper = [...k.folios].filter((f) => f.pfn >= 0x2000 && f.pfn < 0x2004);
  expect(helper.every((f) => f.in_lru_batch)).toBe(true);
  step({ kind: 'madvise', addr: BASE, len: 0x200000, advice: 'MADV_FREE' });
  return { e, k, step, helper };
}

describe('folio_mark_lazyfree() skips folios not on the LRU', () => {
  for (const [preset, batch] of [['linux-6.1', 15], ['linux-6.12', 31], ['linux-6.18', 31]] as const) {
    it(`${preset}: the helper's batched pages stay swap-backed and take no place in CPU0's lazyfree batch`, () => {
      const own = batch + 1;
      const { k, step, helper } = run(preset, own);
      // One full batch moved during MADV_FREE; one of A's pages waits; B's four are untouched.
      expect(k.counters.get('pglazyfree') ?? 0).toBe(batch);
      expect(k.batches(0).lazyfree).toHaveLength(1);
      expect(helper.every((f) => f.swapbacked)).toBe(true);
      // The next lru_add_drain() on CPU0 (MADV_PAGEOUT's) moves and counts the one left.
      step({ kind: 'madvise', addr: BASE + 0x180000, len: 0x1000, advice: 'MADV_PAGEOUT' });
      expect(k.counters.get('pglazyfree')).toBe(own);
    });
  }
});
