/**
 * split_folio() of a PMD-mapped anonymous THP (MADV_PAGEOUT without swap: the swap-out
 * fallback splits it): on 6.1 the freeze split of the PMD queues the THP for deferred split
 * on the way (thp_deferred_split_page), and the split takes it off the queue again.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';

const MB = 1 << 20;
const P = 0x7f0000000000;
const MADV_HUGEPAGE = 14;
const MADV_PAGEOUT = 21;

function pageoutOnePmdThp(preset: string): { queued: number; split: number; queueLen: number } {
  const eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } }), { checkInvariants: true });
  let i = 0;
  const step = (op: Record<string, unknown>): void => {
    const r = eng.step({ tid: 10, tgid: 10, cpu: 0, at: { index: i, line: ++i }, ...op } as Op);
    expect(r.violations).toEqual([]);
  };
  step({ kind: 'mmap', addr: P, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'madvise', addr: P, len: 2 * MB, advice: MADV_HUGEPAGE });
  step({ kind: 'fault', addr: P, write: true, allocs: [{ pfn: 0x5000, order: 0, use: 'pgtable' }, { pfn: 0x200000, order: 9, use: 'user' }, { pfn: 0x5001, order: 0, use: 'pgtable' }] });
  const before = eng.counters();
  step({ kind: 'madvise', addr: P, len: 2 * MB, advice: MADV_PAGEOUT });
  const after = eng.counters();
  const delta = (name: string): number => (after[name] ?? 0) - (before[name] ?? 0);
  return { queued: delta('thp_deferred_split_page'), split: delta('thp_split_page'), queueLen: eng.k.deferred.split_queue_len };
}

describe('split_folio() of a PMD-mapped THP', () => {
  it('linux-6.1: queued for deferred split by the freeze split, off the queue once split', () => {
    expect(pageoutOnePmdThp('linux-6.1')).toEqual({ queued: 1, split: 1, queueLen: 0 });
  });
  for (const preset of ['linux-6.12', 'linux-6.18']) {
    it(`${preset}: not queued`, () => {
      expect(pageoutOnePmdThp(preset)).toMatchObject({ queued: 0, split: 1 });
    });
  }
});
