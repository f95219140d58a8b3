/**
 * The 6.1 per-task rss cache (SPLIT_RSS_COUNTING) against 6.12's percpu counters: which updates
 * are cached, which are traced at once, and where a task's cache is synced into its mm.
 *
 *   P        P+2M       P+4M
 *   |-- 4 KiB pages --|-- THP --|
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import type { AllocFact, Op } from '../ops.js';
import { TASK_RSS_EVENTS_THRESH } from './kernel.js';

const MB = 1 << 20;
const P = 0x7f0000000000;
const MAIN = 10;
const HELPER = 11;
type Rss = Extract<Emission, { ev: 'rss_stat' }>;

class Run {
  readonly eng: Engine;
  private i = 0;
  private pfn = 0x100000;
  constructor(preset: string) {
    this.eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } }), { checkInvariants: true });
    this.step({ kind: 'mmap', addr: P, len: 4 * MB, prot: 3, flags: 0x22, anon: true });
    this.step({ kind: 'madvise', addr: P + 2 * MB, len: 2 * MB, advice: 14 });
  }
  step(op: Record<string, unknown>, tid = MAIN): Rss[] {
    const r = this.eng.step({ tid, tgid: MAIN, cpu: 0, at: { index: this.i, line: ++this.i }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return r.emitted.filter((e): e is Rss => e.ev === 'rss_stat');
  }
  /** A write fault on a new 4 KiB page (the first one also allocates its page table). */
  touch(page: number, tid = MAIN): Rss[] {
    const allocs: AllocFact[] = page === 0 ? [{ pfn: 0x5000, order: 0, use: 'pgtable' }] : [];
    allocs.push({ pfn: this.pfn++, order: 0, use: 'user' });
    return this.step({ kind: 'fault', addr: P + page * 4096, write: true, allocs }, tid);
  }
}

const pages = (e: Rss[]): number[] => e.map((x) => x.delta / 4096);

describe('6.1: faults go to the task\'s cache, synced once its fault count passes TASK_RSS_EVENTS_THRESH', () => {
  it('the faults up to the threshold trace nothing; the next one first syncs all of them', () => {
    const r = new Run('linux-6.1');
    for (let p = 0; p <= TASK_RSS_EVENTS_THRESH; p++) expect(r.touch(p)).toEqual([]);
    const sync = r.touch(TASK_RSS_EVENTS_THRESH + 1);
    expect(pages(sync)).toEqual([TASK_RSS_EVENTS_THRESH + 1]);
    expect(sync[0]!.curr).toBe(1);
    // The count restarts: the faulting page of the sync is the next sync's first.
    for (let p = TASK_RSS_EVENTS_THRESH + 2; p <= 2 * TASK_RSS_EVENTS_THRESH + 2; p++) expect(r.touch(p)).toEqual([]);
    expect(pages(r.touch(2 * TASK_RSS_EVENTS_THRESH + 3))).toEqual([TASK_RSS_EVENTS_THRESH + 2]);
  });

  it('a PMD THP fault is an atomic update: traced at once, the cache left as it is', () => {
    const r = new Run('linux-6.1');
    for (let p = 0; p < 3; p++) r.touch(p);
    const thp = r.step({ kind: 'fault', addr: P + 2 * MB, write: true, allocs: [{ pfn: 0x6000, order: 0, use: 'pgtable' }, { pfn: 0x200000, order: 9, use: 'user' }, { pfn: 0x6001, order: 0, use: 'pgtable' }] });
    expect(pages(thp)).toEqual([512]);
    expect(r.eng.k.taskRssOf(MAIN).cache[1]).toBe(3);
  });

  it('a zap (add_mm_rss_vec()) syncs the zapping task\'s cache first; a PMD zap (zap_huge_pmd()) does not', () => {
    const r = new Run('linux-6.1');
    for (let p = 0; p < 3; p++) r.touch(p);
    r.step({ kind: 'fault', addr: P + 2 * MB, write: true, allocs: [{ pfn: 0x6000, order: 0, use: 'pgtable' }, { pfn: 0x200000, order: 9, use: 'user' }, { pfn: 0x6001, order: 0, use: 'pgtable' }] });
    expect(pages(r.step({ kind: 'madvise', addr: P + 2 * MB, len: 2 * MB, advice: 4 }))).toEqual([-512]);
    expect(pages(r.step({ kind: 'madvise', addr: P, len: 4096, advice: 4 }))).toEqual([3, -1]);
  });

  it('each thread has its own cache, synced at its own exit (do_exit(), curr=1), not by another\'s zap', () => {
    const r = new Run('linux-6.1');
    r.step({ kind: 'thread', child: HELPER });
    r.touch(0);
    for (let p = 1; p < 5; p++) r.touch(p, HELPER);
    // The main thread's zap syncs only its own cache.
    expect(pages(r.step({ kind: 'madvise', addr: P, len: 4096, advice: 4 }))).toEqual([1, -1]);
    const exit = r.step({ kind: 'exit' }, HELPER);
    expect(pages(exit)).toEqual([4]);
    expect(exit[0]!.curr).toBe(1);
  });

  it('a fork child starts with an empty cache', () => {
    const r = new Run('linux-6.1');
    const CHILD = 20;
    r.touch(0);
    r.eng.k.taskRssOf(CHILD).cache[1] = 7;
    r.step({ kind: 'fork', child: CHILD });
    expect(r.eng.k.taskRssOf(CHILD).cache).toEqual([0, 0, 0, 0]);
  });
});

describe('6.12: percpu rss counters', () => {
  it('every fault traces its own update', () => {
    const r = new Run('linux-6.12');
    for (let p = 0; p <= TASK_RSS_EVENTS_THRESH + 1; p++) expect(pages(r.touch(p))).toEqual([1]);
  });
});
