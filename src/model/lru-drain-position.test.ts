/**
 * Where inside an op the per-CPU lru_add batch drained (mm/swap.c folio_batch_add_and_move):
 * an op that puts folios back in several reclaim_pages() passes (MADV_PAGEOUT over two page
 * tables: madvise_cold_or_pageout_pte_range() calls reclaim_pages() per table) can fill the
 * batch in one pass and see it drain in the next; the recorded move of a folio says after how
 * much of the op's output it came (Op `lruAddedPos`), and the model moves it no earlier.
 *
 *   table 1 (A)                          table 2 (B = A + 2M)
 *   |X: 64K folio, page 15 zero-filled|  |Y: 64K folio|
 *   MADV_PAGEOUT [A, B + 64K): pass 1 splits X (X15 becomes the zero page, its piece waits in
 *   the batch), pass 2 splits Y; the batch drains in pass 2.
 */
import { describe, expect, it } from 'vitest';
import type { Emission } from './emit.js';
import { Engine } from './engine.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const B = A + 0x200000;
const PAGE = 4096;
const MADV_PAGEOUT = 21;

let line = 0;
const at = () => ({ index: line, line: ++line });
const data = (pfn: number, order = 0): AllocFact => ({ pfn, order, use: 'user' });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });

function events(out: Emission[]): string[] {
  return out.flatMap((e) => {
    switch (e.ev) {
      case 'mm_page_free': return [`free 0x${e.pfn.toString(16)}`];
      case 'mm_vmscan_reclaim_pages': return ['reclaim_pages'];
      default: return [];
    }
  });
}

function engine(spec = 'linux-6.18') {
  const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: true });
  return (op: Op): string[] => {
    const r = eng.step(op);
    expect(r.violations).toEqual([]);
    return events(r.emitted);
  };
}

/** Two 64K folios in two page tables, a MADV_PAGEOUT over both; X's page 15 is zero-filled. */
function pageoutOverTwoTables(lru: Pick<Op, 'lruAdded' | 'lruAddedPos'>) {
  const run = engine();
  run({ ...base, at: at(), kind: 'lru-drain', pfns: [] });
  run({ ...base, at: at(), kind: 'mmap', addr: A, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x10), data(0x1000, 4)], lruAdded: [0x1000] });
  run({ ...base, at: at(), kind: 'fault', addr: B, write: true, allocs: [pgtable(0x11), data(0x2000, 4)], lruAdded: [0x2000] });
  const pages = (v: number) => Array.from({ length: 16 }, (_, i) => v + i * PAGE);
  return run({
    ...base, at: at(), kind: 'madvise', addr: A, len: B + 0x10000 - A, advice: MADV_PAGEOUT,
    migrated: [...pages(A), ...pages(B)],
    restored: [...pages(A).slice(0, 15), ...pages(B)],
    ...lru,
  });
}

describe('lru_add drains placed where the op recorded them', () => {
  it('a piece put back in the first reclaim_pages() pass and moved in the second is freed in the second', () => {
    // The recorded move of X15 came after the first pass's mm_vmscan_reclaim_pages.
    const out = pageoutOverTwoTables({ lruAdded: [0x100f, 0x200f], lruAddedPos: [1, 1] });
    const first = out.indexOf('reclaim_pages');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(out.indexOf('free 0x100f')).toBeGreaterThan(first);
  });

  it('a move recorded in the first pass frees the piece in the first pass', () => {
    const out = pageoutOverTwoTables({ lruAdded: [0x100f], lruAddedPos: [0] });
    expect(out.indexOf('free 0x100f')).toBeGreaterThanOrEqual(0);
    expect(out.indexOf('free 0x100f')).toBeLessThan(out.indexOf('reclaim_pages'));
  });
});
