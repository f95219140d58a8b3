/**
 * diff's streamed per-op comparison: an op of more events than the matcher keeps room for
 * between ops (an unmap flushing page by page) compares as a short one does, and the room grown
 * for it does not change how the next op compares.
 */
import { describe, expect, it } from 'vitest';
import { OpMatcher } from './diff.js';
import type { Emission } from '../model/emit.js';

const flush = (pages: number): Emission => ({ ev: 'tlb_flush', cpu: 0, pages, reason: 3 });
const free = (pfn: number): Emission => ({ ev: 'mm_page_free', cpu: 0, pfn, order: 0, what: 'folio' });

function op(m: OpMatcher, base: Emission[], other: Emission[]): boolean {
  for (const e of base) m.seeBase(e);
  for (const e of other) m.seeWith(e);
  const same = m.finish();
  m.reset();
  return same;
}

describe('OpMatcher', () => {
  const long = Array.from({ length: 20000 }, (_, i) => (i % 2 ? flush(1) : free(0x1000 + i)));

  it('finds a long op alike when every event is', () => {
    expect(op(new OpMatcher(), long, long.slice())).toBe(true);
  });

  it('finds a long op different by its last event, or by one event more or less', () => {
    const m = new OpMatcher();
    expect(op(m, long, [...long.slice(0, -1), free(7)])).toBe(false);
    expect(op(m, long, long.slice(0, -1))).toBe(false);
    expect(op(m, long.slice(0, -1), long)).toBe(false);
  });

  it('compares the op after a long one on its own events', () => {
    const m = new OpMatcher();
    expect(op(m, long, long)).toBe(true);
    expect(op(m, [flush(2)], [flush(2)])).toBe(true);
    expect(op(m, [flush(2)], [flush(1)])).toBe(false);
    expect(op(m, [], [])).toBe(true);
  });

  it('keeps the first 12 events of each side and counts them all', () => {
    const m = new OpMatcher();
    for (const e of long) m.seeBase(e);
    for (const e of long.slice(0, 5)) m.seeWith(e);
    expect(m.firstEvents[0]).toEqual(long.slice(0, 12));
    expect(m.firstEvents[1]).toEqual(long.slice(0, 5));
    expect(m.seen).toEqual([20000, 5]);
    expect(m.finish()).toBe(false);
  });
});
