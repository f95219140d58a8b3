/** fork: dup_mmap()'s copy and what it traces, copy-on-write after it, memory from before the window. */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Emission } from '../emit.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';
import { RSS_NAMES } from '../state.js';

const at = (index: number) => ({ index, line: index + 1 });
const P = { tid: 10, tgid: 10, cpu: 0 };
const C = { tid: 11, tgid: 11, cpu: 0 };
const MB = 1 << 20;
const KB = 1024;
const A = 0x7f0000000000;

/** What the output says: `rss <mm side> <counter> <delta>`, `flush <pages>`, `free <pfn>/<order>`. */
function show(es: Emission[]): string[] {
  const out: string[] = [];
  for (const e of es) {
    if (e.ev === 'rss_stat') out.push(`rss curr=${e.curr} ${RSS_NAMES[e.member]} ${e.delta / 4096}`);
    else if (e.ev === 'tlb_flush' && e.reason !== 0) out.push(`flush ${e.pages}`);
    else if (e.ev === 'mm_page_free') out.push(`free 0x${e.pfn.toString(16)}/${e.order}`);
  }
  return out;
}

function engine(preset: string, thp: { enabled: 'always' | 'never' | 'madvise'; sizes: Record<number, string> }): { eng: Engine; step: (op: Op) => ReturnType<Engine['step']> } {
  const eng = new Engine(buildConfig(preset, 'x86', thp as never), { checkInvariants: true });
  let i = 0;
  return { eng, step: (op) => eng.step({ ...op, at: at(i++) }) };
}

const mmap = (addr: number, len: number): Op => ({ ...P, at: at(0), kind: 'mmap', addr, len, prot: 3, flags: 0x22, anon: true });
const fault = (who: typeof P, addr: number, pfn: number, order = 0): Op => ({ ...who, at: at(0), kind: 'fault', addr, write: true, allocs: [{ pfn, order, use: 'user' }] });

describe('dup_mmap(): the copy and its output', () => {
  it('updates the child\'s rss once per VMA and PTE table, then flushes the parent (flush_tlb_mm)', () => {
    // Two VMAs in one 2 MiB range, three pages in the first, two in the second:
    //   A            A+64K          A+128K
    //   |--- VMA 1 ---|--- VMA 2 ---|
    const { step } = engine('linux-6.12', { enabled: 'never', sizes: {} });
    step(mmap(A, 64 * KB));
    step(mmap(A + 64 * KB, 64 * KB));
    for (let i = 0; i < 3; i++) step(fault(P, A + i * 4096, 0x100 + i));
    for (let i = 0; i < 2; i++) step(fault(P, A + 64 * KB + i * 4096, 0x200 + i));
    const r = step({ ...P, at: at(0), kind: 'fork', child: 11 });
    expect(show(r.emitted)).toEqual(['rss curr=0 MM_ANONPAGES 3', 'rss curr=0 MM_ANONPAGES 2', 'flush -1']);
  });

  it('copies a PMD-mapped THP with an update of its own (copy_huge_pmd)', () => {
    const { step } = engine('linux-6.12', { enabled: 'always', sizes: { 2048: 'inherit' } });
    step(mmap(A, 4 * MB));
    step(fault(P, A, 0x10000, 9));
    step(fault(P, A + 2 * MB, 0x10200, 9));
    const r = step({ ...P, at: at(0), kind: 'fork', child: 11 });
    expect(show(r.emitted)).toEqual(['rss curr=0 MM_ANONPAGES 512', 'rss curr=0 MM_ANONPAGES 512', 'flush -1']);
  });
});

describe('copy-on-write after fork', () => {
  it('copies a shared order-0 page (one-page flush, no rss change); after the child exits the parent reuses its page', () => {
    const { step } = engine('linux-6.12', { enabled: 'never', sizes: {} });
    step(mmap(A, 64 * KB));
    step(fault(P, A, 0x100));
    step(fault(P, A + 4096, 0x101));
    step({ ...P, at: at(0), kind: 'fork', child: 11 });
    expect(show(step(fault(C, A, 0x300)).emitted)).toEqual(['flush 1']);
    // The child's exit drops its copy and its mapping of the page it did not write.
    expect(show(step({ ...C, at: at(0), kind: 'exit' }).emitted)).toEqual(['rss curr=0 MM_ANONPAGES -2', 'free 0x300/0']);
    // Both pages are the parent's alone again: reused, nothing traced, nothing allocated.
    expect(step({ ...P, at: at(0), kind: 'fault', addr: A, write: true, allocs: [] }).emitted).toEqual([]);
  });

  it('splits a shared PMD THP at a write, then copies the page (6.12: thp_split_pmd, a 2 MiB flush, a one-page flush)', () => {
    const { eng, step } = engine('linux-6.12', { enabled: 'always', sizes: { 2048: 'inherit' } });
    step(mmap(A, 2 * MB));
    step(fault(P, A, 0x10000, 9));
    step({ ...P, at: at(0), kind: 'fork', child: 11 });
    expect(show(step(fault(C, A, 0x300)).emitted)).toEqual(['flush -1', 'flush 1']);
    expect(eng.counters().thp_split_pmd).toBe(1);
  });

  /** A 64 KiB folio shared by a fork; the child exits; the parent writes one of its pages. */
  function largeAfterChildExit(preset: string): string[] {
    const { step } = engine(preset, { enabled: 'never', sizes: { 64: 'always' } });
    step(mmap(A, 2 * MB));
    step(fault(P, A, 0x400, 4));
    step({ ...P, at: at(0), kind: 'fork', child: 11 });
    step({ ...C, at: at(0), kind: 'exit' });
    return show(step(fault(P, A, 0x500)).emitted);
  }

  it('6.12 never reuses a page of a large folio: the exclusive 64 KiB folio is still copied page by page', () => {
    expect(largeAfterChildExit('linux-6.12')).toEqual(['flush 1']);
  });

  it('6.18 reuses a large folio only this mm maps (COW reuse for PTE-mapped THP, 6.15)', () => {
    expect(largeAfterChildExit('linux-6.18')).toEqual([]);
  });
});

describe('memory mapped before the window', () => {
  function forkWithUnknown(): { eng: Engine; step: (op: Op) => ReturnType<Engine['step']>; fork: ReturnType<Engine['step']> } {
    const { eng, step } = engine('linux-6.12', { enabled: 'never', sizes: {} });
    step({ ...P, at: at(0), kind: 'prewindow', missing: 'the snapshot' });
    step(mmap(A, 64 * KB));
    step(fault(P, A, 0x100));
    // A stack page touched in the window: an implicit VMA, part of a VMA the model never saw.
    step(fault(P, 0x7ffc00000000, 0x180));
    const fork = step({ ...P, at: at(0), kind: 'fork', child: 11 });
    return { eng, step, fork };
  }

  it('a fork predicts the copy of the memory it saw mapped, and says its output also covers the rest', () => {
    const { eng, fork } = forkWithUnknown();
    expect(show(fork.emitted)).toEqual(['rss curr=0 MM_ANONPAGES 1', 'flush -1']);
    expect(eng.sharesUnknownOutput({ ...P, at: at(0), kind: 'fork', child: 12 })).toMatch(/the snapshot/);
    expect(eng.sharesUnknownOutput({ ...P, at: at(0), kind: 'munmap', addr: A, len: 4096 })).toBeUndefined();
  });

  it('after the fork a fault outside the VMAs the model saw mapped is outside the model; one inside them is not', () => {
    const { step } = forkWithUnknown();
    expect(step(fault(C, 0x7ffc00000000, 0x190)).unmodelled).toMatch(/the snapshot/);
    expect(step(fault(C, 0x401000, 0x191)).unmodelled).toMatch(/the snapshot/);
    const r = step(fault(C, A, 0x192));
    expect(r.unmodelled).toBeUndefined();
    expect(show(r.emitted)).toEqual(['flush 1']);
  });

  it('the child\'s exit traces the zap of the memory the model saw mapped only', () => {
    const { step } = forkWithUnknown();
    expect(show(step({ ...C, at: at(0), kind: 'exit' }).emitted)).toEqual(['rss curr=0 MM_ANONPAGES -1']);
  });
});

describe('6.1: a task\'s rss cache holding faults outside the model', () => {
  it('its faults on memory from before the window count toward the sync, whose totals are then not predicted', () => {
    const { eng, step } = engine('linux-6.1', { enabled: 'never', sizes: {} });
    step({ ...P, at: at(0), kind: 'prewindow', missing: 'the snapshot' });
    step(mmap(A, 2 * MB));
    step(fault(P, A, 0x100));
    step({ ...P, at: at(0), kind: 'fork', child: 11 });
    // The child copies a page of its binary's data: outside the model, yet counted by its cache.
    expect(step(fault(C, 0x4c0000, 0x200)).unmodelled).toMatch(/the snapshot/);
    const t = eng.k.taskRssOf(11);
    expect([t.events, t.unknown]).toEqual([1, true]);
    // Its faults on the window's memory add to the cache; the fault that finds it due syncs
    // totals the model cannot know.
    for (let i = 1; t.events <= 64; i++) step(fault(C, A + i * 4096, 0x300 + i));
    const due = { ...C, at: at(0), kind: 'fault' as const, addr: A + 100 * 4096, write: true, allocs: [{ pfn: 0x500, order: 0, use: 'user' as const }] };
    expect(eng.sharesUnknownOutput(due)).toMatch(/6\.1 rss cache sync/);
    expect(show(step(due).emitted).filter((x) => x.startsWith('rss'))).toEqual([]);
    expect(t.unknown).toBe(false);
  });
});
