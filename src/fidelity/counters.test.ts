import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareCounterDeltas, readCaptureFacts } from './counters.js';

describe('a capture\'s per-phase deltas', () => {
  it('sums the passes of a phase a workload repeats (--iters), as the model keys phases by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-counters-'));
    writeFileSync(join(dir, 'stdout.txt'), [
      'iter 0', 'delta[lazyfree]: pglazyfree=+8192 pgactivate=+6', 'delta[pageout]: pglazyfreed=+8192',
      'iter 1', 'delta[lazyfree]: pglazyfree=+4096', 'delta[pageout]: pglazyfreed=+8192',
      'delta[total]: pglazyfree=+12288',
    ].join('\n') + '\n');
    const f = readCaptureFacts(join(dir, 'trace.txt'));
    expect(f.phaseDeltas).toEqual({ lazyfree: { pglazyfree: 12288, pgactivate: 6 }, pageout: { pglazyfreed: 16384 } });
  });
});

describe('counter deltas', () => {
  const model = { populate: { '64kB/anon_fault_alloc': 2048, thp_fault_alloc: 0, pglazyfree: 0 } };
  const busy = { populate: { '64kB/anon_fault_alloc': 2093, thp_fault_alloc: 3, pglazyfree: 0 } };

  it('a fault-allocation counter of a size enabled for every task is not compared (other tasks move it)', () => {
    const c = compareCounterDeltas(model, busy, { enabled: 'always', sizes: { 64: 'always', 2048: 'inherit' } });
    expect(c.matched).toBe(true);
    expect(c.skipped.map((s) => s.counter).sort()).toEqual(['64kB/anon_fault_alloc', 'thp_fault_alloc']);
  });

  it('under madvise they are compared: a count below the model\'s differs (one above is other tasks\' madvised ranges, below)', () => {
    const short = { populate: { '64kB/anon_fault_alloc': 2000, thp_fault_alloc: 0, pglazyfree: 0 } };
    const c = compareCounterDeltas(model, short, { enabled: 'madvise', sizes: { 64: 'madvise', 2048: 'inherit' } });
    expect(c.matched).toBe(false);
    expect(c.mismatches.map((m) => m.counter)).toEqual(['64kB/anon_fault_alloc']);
    expect(c.skipped).toEqual([]);
  });
});

describe('split counters of a size enabled for every task', () => {
  it('are system-wide too (other tasks\' folios split and go partly unmapped): not compared', () => {
    const model = { write: { '64kB/split_deferred': 0, '64kB/nr_anon_partially_mapped': 0, '16kB/split': 0 } };
    const busy = { write: { '64kB/split_deferred': 1, '64kB/nr_anon_partially_mapped': 1, '16kB/split': 1 } };
    const c = compareCounterDeltas(model, busy, { enabled: 'madvise', sizes: { 64: 'always', 16: 'madvise', 2048: 'inherit' } });
    expect(c.skipped.map((s) => s.counter).sort()).toEqual(['64kB/nr_anon_partially_mapped', '64kB/split_deferred']);
    expect(c.mismatches.map((m) => m.counter)).toEqual(['16kB/split']);
  });
});

describe('counters of a folio size the settings enable for no task', () => {
  it('move only through other processes\' folios from an earlier setting: not compared', () => {
    const model = { populate: { thp_fault_alloc: 32, '64kB/nr_anon_partially_mapped': 0 } };
    const rec = { populate: { thp_fault_alloc: 32, '64kB/nr_anon_partially_mapped': -5 } };
    const c = compareCounterDeltas(model, rec, { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } });
    expect(c.matched).toBe(true);
    expect(c.skipped.map((s) => s.counter)).toEqual(['64kB/nr_anon_partially_mapped']);
  });

  it('a count the model moves for such a size where the record shows none stays compared (a model fault)', () => {
    const c = compareCounterDeltas({ free: { '64kB/split': 1 } }, { free: { '64kB/split': 0 } }, { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } });
    expect(c.mismatches.map((m) => m.counter)).toEqual(['64kB/split']);
  });

  it('a size the settings allow (or do not list) stays compared, even where the model moved none of its counters', () => {
    const model = { free: { '64kB/split': 0, '32kB/split': 0 } };
    const rec = { free: { '64kB/split': 2, '32kB/split': 1 } };
    const c = compareCounterDeltas(model, rec, { enabled: 'madvise', sizes: { 64: 'madvise', 2048: 'inherit' } });
    expect(c.mismatches.map((m) => m.counter).sort()).toEqual(['32kB/split', '64kB/split']);
  });
});

describe('fault allocation counters (thp_fault_alloc, mTHP anon_fault_alloc) under madvise', () => {
  const thp = { enabled: 'madvise' as const, sizes: { 64: 'madvise' as const, 2048: 'inherit' as const } };
  it('a system-wide count above the model\'s (which counts each traced allocation of the workload) is other tasks\' faults: set aside, named', () => {
    const c = compareCounterDeltas({ populate: { thp_fault_alloc: 8, '64kB/anon_fault_alloc': 4 } }, { populate: { thp_fault_alloc: 10, '64kB/anon_fault_alloc': 5 } }, thp);
    expect(c.matched).toBe(true);
    expect(c.skipped.map((s) => s.counter).sort()).toEqual(['64kB/anon_fault_alloc', 'thp_fault_alloc']);
    expect(c.skipped.find((s) => s.counter === 'thp_fault_alloc')!.why).toMatch(/capture 10, model 8 in phase populate/);
  });
  it('one below it is the model\'s error; other counters above it stay mismatches', () => {
    const c = compareCounterDeltas({ populate: { thp_fault_alloc: 8, thp_split_pmd: 1 } }, { populate: { thp_fault_alloc: 7, thp_split_pmd: 2 } }, thp);
    expect(c.mismatches.map((m) => m.counter).sort()).toEqual(['thp_fault_alloc', 'thp_split_pmd']);
  });
});
