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
const MADV_COLD = 20;
const MADV_DONTNEED = 4;

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

/**
 * MADV_COLD meets a PTE-mapped THP whose first pages were zapped, in its middle:
 *
 *   P            P+16K                P+64K        P+128K             P+2M
 *   |  zapped    |  mapped ...        [ COLD range )   mapped ...     |
 *   pages 0-3                          pages 16-31
 *
 * The split frees pages 0-3 (nothing maps them). 6.1 splits through the page its PTE walk met
 * (page 16): the head is a piece like any other, put first. Later releases hold the folio: the
 * head is put last, by the caller.
 */
function coldSplitFrees(preset: string): number[] {
  const eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } }), { checkInvariants: true });
  let i = 0;
  const step = (op: Record<string, unknown>) => {
    const r = eng.step({ tid: 10, tgid: 10, cpu: 0, at: { index: i, line: ++i }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return r.emitted;
  };
  step({ kind: 'mmap', addr: P, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'madvise', addr: P, len: 2 * MB, advice: MADV_HUGEPAGE });
  step({ kind: 'fault', addr: P, write: true, allocs: [{ pfn: 0x5000, order: 0, use: 'pgtable' }, { pfn: 0x200000, order: 9, use: 'user' }, { pfn: 0x5001, order: 0, use: 'pgtable' }] });
  const zapped = step({ kind: 'madvise', addr: P, len: 4 * 4096, advice: MADV_DONTNEED });
  expect(zapped.filter((e) => e.ev === 'mm_page_free')).toEqual([]);
  const out = step({ kind: 'madvise', addr: P + 64 * 1024, len: 64 * 1024, advice: MADV_COLD });
  return out.flatMap((e) => (e.ev === 'mm_page_free' ? [e.pfn - 0x200000] : []));
}

describe('a madvise split of a PTE-mapped THP frees the pages nothing maps', () => {
  it('linux-6.1: head first, then in order (split_huge_page() of the walked page)', () => {
    expect(coldSplitFrees('linux-6.1')).toEqual([0, 1, 2, 3]);
  });
  for (const preset of ['linux-6.12', 'linux-6.18']) {
    it(`${preset}: the tails in order, the head last (split_folio() of the folio)`, () => {
      expect(coldSplitFrees(preset)).toEqual([1, 2, 3, 0]);
    });
  }
});

/**
 * The deferred-split shrinker splits a THP whose first pages were zapped:
 *
 *   P                  P+16K                                  P+2M
 *   | pages 0-3 zapped | pages 4-511 mapped (PTE-mapped THP)  |   on the deferred split queue
 *
 * The split frees pages 0-3. 6.1's deferred_split_scan() splits and puts the page that links
 * the THP into the queue (page 2); later releases the folio (the head).
 */
function shrinkerSplitFrees(preset: string): number[] {
  const eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } }), { checkInvariants: true });
  let i = 0;
  const step = (op: Record<string, unknown>) => {
    const r = eng.step({ tid: 10, tgid: 10, cpu: 0, at: { index: i, line: ++i }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return r.emitted;
  };
  step({ kind: 'mmap', addr: P, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'madvise', addr: P, len: 2 * MB, advice: MADV_HUGEPAGE });
  step({ kind: 'fault', addr: P, write: true, allocs: [{ pfn: 0x5000, order: 0, use: 'pgtable' }, { pfn: 0x200000, order: 9, use: 'user' }, { pfn: 0x5001, order: 0, use: 'pgtable' }] });
  step({ kind: 'madvise', addr: P, len: 4 * 4096, advice: MADV_DONTNEED });
  expect(eng.k.deferred.split_queue_len).toBe(1);
  const out = step({ kind: 'drop-caches', value: 2 });
  expect(eng.k.deferred.split_queue_len).toBe(0);
  return out.flatMap((e) => (e.ev === 'mm_page_free' ? [e.pfn - 0x200000] : []));
}

describe('the deferred-split shrinker frees the pages nothing maps', () => {
  it('linux-6.1: in order, the queue-linking page 2 last (split_huge_page() of page[2])', () => {
    expect(shrinkerSplitFrees('linux-6.1')).toEqual([0, 1, 3, 2]);
  });
  for (const preset of ['linux-6.12', 'linux-6.18']) {
    it(`${preset}: the tails in order, the head last (split_folio() of the folio)`, () => {
      expect(shrinkerSplitFrees(preset)).toEqual([1, 2, 3, 0]);
    });
  }
});
