import { describe, expect, it } from 'vitest';
import { compareCounterDeltas } from './counters.js';

describe('counter deltas', () => {
  const model = { populate: { '64kB/anon_fault_alloc': 2048, thp_fault_alloc: 0, pglazyfree: 0 } };
  const busy = { populate: { '64kB/anon_fault_alloc': 2093, thp_fault_alloc: 3, pglazyfree: 0 } };

  it('a fault-allocation counter of a size enabled for every task is not compared (other tasks move it)', () => {
    const c = compareCounterDeltas(model, busy, { enabled: 'always', sizes: { 64: 'always', 2048: 'inherit' } });
    expect(c.matched).toBe(true);
    expect(c.skipped.map((s) => s.counter).sort()).toEqual(['64kB/anon_fault_alloc', 'thp_fault_alloc']);
  });

  it('under madvise only the workload\'s madvised ranges move them: compared', () => {
    const c = compareCounterDeltas(model, busy, { enabled: 'madvise', sizes: { 64: 'madvise', 2048: 'inherit' } });
    expect(c.matched).toBe(false);
    expect(c.mismatches.map((m) => m.counter).sort()).toEqual(['64kB/anon_fault_alloc', 'thp_fault_alloc']);
    expect(c.skipped).toEqual([]);
  });
});

describe('split counters of a size enabled for every task', () => {
  it('are system-wide too (other tasks\' folios split and go partly unmapped): not compared', () => {
    const model = { write: { '64kB/split_deferred': 0, '64kB/nr_anon_partially_mapped': 0, '16kB/split': 0 } };
    const busy = { write: { '64kB/split_deferred': 1, '64kB/nr_anon_partially_mapped': 1, '16kB/split': 1 } };
    const c = compareCounterDeltas(model, busy, { enabled: 'madvise', sizes: { 64: 'always', 16: 'never', 2048: 'inherit' } });
    expect(c.skipped.map((s) => s.counter).sort()).toEqual(['64kB/nr_anon_partially_mapped', '64kB/split_deferred']);
    expect(c.mismatches.map((m) => m.counter)).toEqual(['16kB/split']);
  });
});
