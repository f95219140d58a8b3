/**
 * Reclaim of a redirtied lazyfree PMD THP: folio_check_references() on the PMD
 * (pmdp_clear_flush_young_notify(): x86 flushes a young PMD's range, a full flush), what PG_referenced does
 * between two scans on each LRU flavour, and try_to_unmap()'s split of a PMD the discard refused.
 * Expected events follow from the kernel's rules, written out per step below.
 *
 *   A: 0 ........ 2M ........ 4M          two lazyfree PMD THPs (MADV_FREE: PMDs old, clean)
 *      [ THP 0   ][ THP 1    ]            THP 0 written again: its PMD young and dirty
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Emission } from '../emit.js';
import type { Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { ThpSettings } from '../config.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;
const A = 0x7f0000000000;
const PMD: ThpSettings = { enabled: 'always', sizes: { 2048: 'inherit' } };

function run(preset: string, traits?: Record<string, boolean>) {
  const cfg = buildConfig(preset, 'x86', PMD);
  const eng = new Engine(traits ? { ...cfg, traits: { ...cfg.traits, ...traits } } : cfg, { checkInvariants: true });
  let n = 0;
  const step = (op: Record<string, unknown>): Emission[] => {
    const i = n++;
    const r = eng.step({ ...base, at: { index: i, line: i + 1 }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return [...r.emitted];
  };
  step({ kind: 'mmap', addr: A, len: 4 * MB, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x100000, order: 9, use: 'user' }, { pfn: 0x500, order: 0, use: 'pgtable' }] });
  step({ kind: 'fault', addr: A + 2 * MB, write: true, allocs: [{ pfn: 0x100200, order: 9, use: 'user' }, { pfn: 0x501, order: 0, use: 'pgtable' }] });
  step({ kind: 'madvise', addr: A, len: 4 * MB, advice: 8 });
  step({ kind: 'store', addr: A + 0x123, len: 1, stride: 0, count: 1 });
  return { eng, step };
}

/** Flushes as `pages` values and THP frees as `free`, in order. */
const trace = (out: Emission[]): Array<number | string> =>
  out.flatMap((e): Array<number | string> => (e.ev === 'tlb_flush' ? [e.pages] : e.ev === 'mm_page_free' && e.order === 9 ? ['free'] : []));

describe('memory.reclaim of a redirtied lazyfree PMD THP', () => {
  // 6.12 (multi-gen LRU, before the workingset rework): eviction 1 takes THP 0: its PMD is
  // young → a full flush, FOLIOREF_KEEP (PG_referenced set). Eviction 2 frees the clean THP 1
  // (its PMD discarded: one full flush). Eviction 3 takes THP 0 again: isolate_folio()
  // cleared PG_referenced, the PMD is old → reclaim → the dirty PMD refuses the discard →
  // split (a full flush) → the first PTE cleared and flushed (pages 1), found dirty → restored,
  // folio swap-backed and activated.
  const expected = [-1, -1, 'free', -1, 1];

  it('6.12 multi-gen LRU: the kept THP is checked afresh on the next eviction and split', () => {
    const { eng, step } = run('linux-6.12');
    const out = step({ kind: 'memcg-reclaim', bytes: 4 * MB, how: 'memcg-reclaim' });
    expect(trace(out)).toEqual(expected);
    expect(eng.counters().thp_split_pmd).toBe(1);
    const thp0 = [...eng.k.folios].find((f) => f.pfn === 0x100000);
    expect(thp0?.swapbacked).toBe(true);
  });

  it('after the workingset rework (multi-gen LRU, 6.14+) the same order by lru_gen_set_refs()', () => {
    // The first young entry sets PG_referenced and keeps; isolation no longer clears it, but
    // the next check finds the PMD old, which reclaims whatever PG_referenced says.
    const { eng, step } = run('linux-6.12', { lruGenRefsRework: true });
    const out = step({ kind: 'memcg-reclaim', bytes: 4 * MB, how: 'memcg-reclaim' });
    expect(trace(out)).toEqual(expected);
    expect(eng.counters().thp_split_pmd).toBe(1);
  });

  it('a THP kept once and found young again: kept again before the rework, activated after', () => {
    const again = (traits?: Record<string, boolean>) => {
      const { eng, step } = run('linux-6.12', traits);
      // 2 MiB: eviction 1 keeps THP 0 (young), eviction 2 frees THP 1, the request is met.
      expect(trace(step({ kind: 'memcg-reclaim', bytes: 2 * MB, how: 'memcg-reclaim' }))).toEqual([-1, -1, 'free']);
      step({ kind: 'store', addr: A + 0x456, len: 1, stride: 0, count: 1 });
      const out = step({ kind: 'memcg-reclaim', bytes: 2 * MB, how: 'memcg-reclaim' });
      const thp0 = [...eng.k.folios].find((f) => f.pfn === 0x100000);
      return { t: trace(out), active: thp0?.active, split: eng.counters().thp_split_pmd ?? 0 };
    };
    // Before: PG_referenced was cleared at isolation, so one young entry keeps it again (full
    // flush); the next eviction finds the PMD old and splits it (full flush, one PTE flush).
    expect(again()).toEqual({ t: [-1, -1, 1], active: true, split: 1 });
    // After: PG_referenced survived, the second young entry activates it: one flush, no split.
    expect(again({ lruGenRefsRework: true })).toEqual({ t: [-1], active: true, split: 0 });
  });

  it('6.1 classic LRU: the same order; the second check reclaims on PG_referenced alone (FOLIOREF_RECLAIM_CLEAN)', () => {
    const { eng, step } = run('linux-6.1');
    const out = step({ kind: 'memcg-reclaim', bytes: 4 * MB, how: 'memcg-reclaim' });
    // 6.1 has no PMD discard: the clean THP is split (full flush) and its 512 PTEs unmapped
    // one by one (pages 1 each) before it is freed.
    const t = trace(out);
    expect(t[0]).toBe(-1);
    expect(t.slice(1, 3)).toEqual([-1, 1]);
    expect(t.filter((x) => x === 'free').length).toBe(1);
    // THP 0: split at its second check (a full flush), its first PTE found dirty (one flush).
    expect(t.slice(-2)).toEqual([-1, 1]);
    expect(eng.counters().thp_split_pmd).toBe(2);
  });
});

describe('6.1 frees a reclaimed THP at once (destroy_large_folio()), after the deferred flush', () => {
  //   CPU0: thread A, MADV_PAGEOUT of a lazyfree PMD THP     CPU1: thread B, running in the mm
  // The PMD is split (flush_tlb_range(): IPI to CPU1 and a local flush), its 512 PTEs are
  // cleared with their flush deferred (CPU1 may cache them: should_defer_flush()), and the
  // THP, reclaimed, is freed at free_it — after try_to_unmap_flush() on kernels with the
  // stable fix, before it on older 6.1.y.
  const T = 100;
  const B = 101;
  function pageout(traits?: Record<string, boolean>): { seq: string[]; violations: string[] } {
    const cfg = buildConfig('linux-6.1', 'x86', PMD);
    const eng = new Engine(traits ? { ...cfg, traits: { ...cfg.traits, ...traits } } : cfg, { checkInvariants: true });
    let line = 1;
    const violations: string[] = [];
    const step = (op: Record<string, unknown>): Emission[] => {
      const o = { tid: T, tgid: T, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
      line++;
      const r = eng.step(o);
      violations.push(...r.violations.map((v) => v.code));
      return [...r.emitted];
    };
    step({ kind: 'run', on: true });
    step({ kind: 'mmap', addr: A, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
    step({ kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x100000, order: 9, use: 'user' }, { pfn: 0x500, order: 0, use: 'pgtable' }] });
    step({ kind: 'madvise', addr: A, len: 2 * MB, advice: 8 });
    step({ kind: 'thread', child: B });
    step({ kind: 'run', on: true, tid: B, cpu: 1 });
    const out = step({ kind: 'madvise', addr: A, len: 2 * MB, advice: 21 });
    // CPU0's flushes by reason and the THP's free, up to the free.
    const seq = out.flatMap((e) => (e.ev === 'tlb_flush' && e.cpu === 0 ? [`flush ${e.reason}`] : e.ev === 'mm_page_free' && e.order === 9 ? ['free'] : []));
    return { seq: seq.slice(0, seq.indexOf('free') + 1), violations };
  }
  // arch_tlbbatch_flush() with CPU1 in the batch: the IPI (remote ipi send) and a local full
  // flush (local shootdown); the PMD split before it: IPI and a local mm shootdown.
  const split = ['flush 4', 'flush 3'];
  const batch = ['flush 4', 'flush 2'];
  it('with the fix: the batched flush of the split PTEs, then the free', () => {
    const { seq, violations } = pageout();
    expect(seq.slice(-5)).toEqual([...split, ...batch, 'free']);
    expect(violations).toEqual([]);
  });
  it('without it: the THP is freed while CPU1 may still cache its PTEs (a stale TLB entry)', () => {
    const { seq, violations } = pageout({ shrinkFlushesBeforeLargeFree: false });
    expect(seq.slice(-3)).toEqual([...split, 'free']);
    expect(violations).toContain('no_stale_tlb_for_freed_page');
  });
});
