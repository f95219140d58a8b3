import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PfnOrderTable } from './pfn-table.js';

describe('PfnOrderTable', () => {
  it('agrees with a Map under any mix of sets, deletes and lookups', () => {
    // Keys from a small range (so sets, deletes and probes collide often) or anywhere up to 2^52.
    const pfn = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.constant(2 ** 52 - 1));
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), pfn, order: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ k: fc.constant('delete' as const), pfn }),
      fc.record({ k: fc.constant('get' as const), pfn }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const t = new PfnOrderTable(2);
        const ref = new Map<number, number>();
        for (const o of ops) {
          if (o.k === 'set') { t.set(o.pfn, o.order); ref.set(o.pfn, o.order); }
          else if (o.k === 'delete') expect(t.delete(o.pfn)).toBe(ref.delete(o.pfn));
          else expect(t.get(o.pfn)).toBe(ref.get(o.pfn) ?? -1);
          expect(t.size).toBe(ref.size);
        }
        for (const [k, v] of ref) expect(t.get(k)).toBe(v);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps no entry for an order no allocation has (a damaged trace), and does not throw', () => {
    const t = new PfnOrderTable();
    expect(t.set(10, 200)).toBe(false);
    expect(t.set(11, Number.NaN)).toBe(false);
    expect(t.set(Number.NaN, 0)).toBe(false);
    expect(t.size).toBe(0);
    expect(t.get(10)).toBe(-1);
    expect(t.set(12, 4)).toBe(true);
    expect(t.get(12)).toBe(4);
  });

  it('stays sized for what is live under endless churn', () => {
    const t = new PfnOrderTable(4);
    for (let i = 0; i < 200_000; i++) {
      t.set(i, i % 11);
      if (i >= 100) expect(t.delete(i - 100)).toBe(true);
    }
    expect(t.size).toBe(100);
    for (let i = 199_900; i < 200_000; i++) expect(t.get(i)).toBe(i % 11);
    expect(t.get(5)).toBe(-1);
    // 100 live entries: at most 4× that, rounded up to a power of two, plus the halving slack.
    expect((t as unknown as { keys: Float64Array }).keys.length).toBeLessThanOrEqual(1024);
  });
});
