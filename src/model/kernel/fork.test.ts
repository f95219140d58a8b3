/** fork: dup_mmap()'s copy and what it traces, copy-on-write after it, memory from before the window. */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Emission } from '../emit.js';
import { buildConfig } from '../presets.js';
import type { Op, SnapshotVma } from '../ops.js';
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

describe('the address space at fl: begin (snapshot op)', () => {
  // The snapshot of a small static program: its text (file pages only: no anon_vma), its data
  // (two anonymous copies and a file page), bss, the vdso page and a stack page.
  //   0x400000 text | 0x402000 data | 0x404000 bss ............ | vdso | stack
  const vmas: SnapshotVma[] = [
    { start: 0x400000, end: 0x402000, off: 0, kind: 'file', name: 'w', read: true, write: false, exec: true, shared: false, runs: [{ addr: 0x400000, n: 2, pfn: 0x900, what: 'file', exclusive: true, swapbacked: false }] },
    { start: 0x402000, end: 0x404000, off: 0x2000, kind: 'file', name: 'w', read: true, write: true, exec: false, shared: false, runs: [
      { addr: 0x402000, n: 1, pfn: 0x910, what: 'anon', exclusive: true, swapbacked: false },
      { addr: 0x403000, n: 1, pfn: 0x920, what: 'anon', exclusive: true, swapbacked: false },
    ] },
    { start: 0x404000, end: 0x40a000, off: 0, kind: 'anon', name: '-', read: true, write: true, exec: false, shared: false, runs: [
      { addr: 0x404000, n: 3, pfn: 0x930, what: 'anon', exclusive: true, swapbacked: false },
      { addr: 0x407000, n: 1, pfn: 0, what: 'zero', exclusive: false, swapbacked: false },
    ] },
    { start: 0x7ff000000000, end: 0x7ff000002000, off: 0, kind: 'vdso', name: '_vdso_', read: true, write: false, exec: true, shared: false, runs: [{ addr: 0x7ff000000000, n: 1, pfn: 0x99, what: 'file', exclusive: false, swapbacked: false }] },
    { start: 0x7ffd00000000, end: 0x7ffd00021000, off: 0, kind: 'stack', name: '_stack_', read: true, write: true, exec: false, shared: false, runs: [{ addr: 0x7ffd00020000, n: 1, pfn: 0x940, what: 'anon', exclusive: true, swapbacked: false }] },
  ];
  const snapshot: Op = { ...P, at: at(0), kind: 'snapshot', vmas };

  function forked(preset: string): { eng: Engine; step: (op: Op) => ReturnType<Engine['step']>; fork: ReturnType<Engine['step']> } {
    const { eng, step } = engine(preset, { enabled: 'never', sizes: {} });
    step({ ...P, at: at(0), kind: 'prewindow', missing: 'the snapshot' });
    step(snapshot);
    step(mmap(A, 64 * KB));
    step(fault(P, A, 0x100));
    const fork = step({ ...P, at: at(0), kind: 'fork', child: 11 });
    return { eng, step, fork };
  }

  it.each(['linux-6.1', 'linux-6.12', 'linux-6.18'])('%s: the fork copies the anonymous pages per VMA and table, skips VMAs without anon_vma and the vdso', (preset) => {
    const { eng, fork } = forked(preset);
    // data (2) and bss (3) share the first table; the window's region and the stack have their own.
    expect(show(fork.emitted)).toEqual(['rss curr=0 MM_ANONPAGES 2', 'rss curr=0 MM_ANONPAGES 3', 'rss curr=0 MM_ANONPAGES 1', 'rss curr=0 MM_ANONPAGES 1', 'flush -1']);
    expect(eng.sharesUnknownOutput({ ...P, at: at(0), kind: 'fork', child: 12 })).toBeUndefined();
    expect(eng.k.mms.get(10)!.preWindow).toBeUndefined();
  });

  // 6.18's zap does not drain the lru_add batch first: the copy, still in it, is freed by the drain.
  it.each([['linux-6.1', ['free 0x500/0']], ['linux-6.12', ['free 0x500/0']], ['linux-6.18', []]])('%s: a write in the child copies a page of the snapshot; the exit frees that copy only', (preset, frees) => {
    const { step } = forked(preset);
    const cow = step(fault(C, 0x404000, 0x500));
    expect(cow.unmodelled).toBeUndefined();
    expect(show(cow.emitted)).toEqual(['flush 1']);
    const exit = show(step({ ...C, at: at(0), kind: 'exit' }).emitted);
    expect(exit.filter((x) => x.startsWith('free') && x !== 'free 0x0/0')).toEqual(frees);
    // One update per VMA and table: data (2), bss with the copy (3), the window's page, the stack page.
    expect(exit.filter((x) => x.startsWith('rss'))).toEqual(['rss curr=0 MM_ANONPAGES -2', 'rss curr=0 MM_ANONPAGES -3', 'rss curr=0 MM_ANONPAGES -1', 'rss curr=0 MM_ANONPAGES -1']);
  });

  it('the parent\'s copy on write leaves the original to the child, whose exit frees it', () => {
    const { step } = forked('linux-6.18');
    expect(show(step(fault(P, 0x402000, 0x600)).emitted)).toEqual(['flush 1']);
    const frees = show(step({ ...C, at: at(0), kind: 'exit' }).emitted).filter((x) => x.startsWith('free') && x !== 'free 0x0/0');
    expect(frees).toEqual(['free 0x910/0']);
  });

  it('a read of the text stays file-backed memory (no anonymous output)', () => {
    const { step } = forked('linux-6.18');
    const r = step({ ...C, at: at(0), kind: 'fault', addr: 0x400100, write: false, allocs: [] });
    expect(show(r.emitted)).toEqual([]);
  });
});
