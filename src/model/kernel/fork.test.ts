/** fork: dup_mmap()'s copy and what it traces, copy-on-write after it, memory from before the window. */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Emission } from '../emit.js';
import { buildConfig } from '../presets.js';
import type { Op, SnapshotRun, SnapshotVma } from '../ops.js';
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
    // Two VMAs in one 2 MiB range (a page apart: adjacent ones would merge), three pages in
    // the first, two in the second:
    //   A            A+64K  A+68K          A+132K
    //   |--- VMA 1 ---|      |--- VMA 2 ---|
    const { step } = engine('linux-6.12', { enabled: 'never', sizes: {} });
    step(mmap(A, 64 * KB));
    step(mmap(A + 68 * KB, 64 * KB));
    for (let i = 0; i < 3; i++) step(fault(P, A + i * 4096, 0x100 + i));
    for (let i = 0; i < 2; i++) step(fault(P, A + 68 * KB + i * 4096, 0x200 + i));
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
  // (an anonymous copy and a file page not yet written), bss with a zero-page entry, more text
  // the program has not run yet, the vdso page and a stack page.
  //   0x400000 text | 0x402000 data | 0x404000 bss ...... | 0x411000 text2 (40 pages) ... | vdso | stack
  const F = (addr: number, n: number, pfn: number): SnapshotRun => ({ addr, n, pfn, what: 'file', exclusive: true, swapbacked: false });
  const An = (addr: number, n: number, pfn: number): SnapshotRun => ({ addr, n, pfn, what: 'anon', exclusive: true, swapbacked: false });
  const vma = (start: number, end: number, kind: SnapshotVma['kind'], prot: string, off: number, runs: SnapshotRun[]): SnapshotVma => ({
    start, end, off, kind, name: kind === 'file' ? 'w' : kind, read: prot[0] === 'r', write: prot[1] === 'w', exec: prot[2] === 'x', shared: false, runs,
  });
  const vmas: SnapshotVma[] = [
    vma(0x400000, 0x402000, 'file', 'r-x', 0, [F(0x400000, 2, 0x900)]),
    vma(0x402000, 0x404000, 'file', 'rw-', 0x2000, [An(0x402000, 1, 0x910), F(0x403000, 1, 0x920)]),
    vma(0x404000, 0x40a000, 'anon', 'rw-', 0, [An(0x404000, 3, 0x930), { addr: 0x407000, n: 1, pfn: 0, what: 'zero', exclusive: false, swapbacked: false }]),
    vma(0x411000, 0x439000, 'file', 'r-x', 0x11000, []),
    vma(0x7ff000000000, 0x7ff000002000, 'vdso', 'r-x', 0, [{ ...F(0x7ff000000000, 1, 0x99), exclusive: false }]),
    vma(0x7ffd00000000, 0x7ffd00021000, 'stack', 'rw-', 0, [An(0x7ffd00020000, 1, 0x940)]),
  ];
  const snapshot: Op = { ...P, at: at(0), kind: 'snapshot', vmas };
  const read = (who: typeof P, addr: number): Op => ({ ...who, at: at(0), kind: 'fault', addr, write: false, present: false, allocs: [] });

  function forked(preset: string): { eng: Engine; step: (op: Op) => ReturnType<Engine['step']>; fork: ReturnType<Engine['step']> } {
    const { eng, step } = engine(preset, { enabled: 'never', sizes: {} });
    step({ ...P, at: at(0), kind: 'prewindow', missing: 'the snapshot' });
    step(snapshot);
    step(mmap(A, 64 * KB));
    step(fault(P, A, 0x100));
    const fork = step({ ...P, at: at(0), kind: 'fork', child: 11 });
    return { eng, step, fork };
  }

  it.each(['linux-6.1', 'linux-6.12', 'linux-6.18'])('%s: the fork copies per VMA and table (file pages in MM_FILEPAGES), skips VMAs without anon_vma and the vdso', (preset) => {
    const { eng, fork } = forked(preset);
    // data (a file page, an anonymous one) and bss share the first table; the window's region and the stack have their own.
    expect(show(fork.emitted)).toEqual([
      'rss curr=0 MM_FILEPAGES 1', 'rss curr=0 MM_ANONPAGES 1', 'rss curr=0 MM_ANONPAGES 3', 'rss curr=0 MM_ANONPAGES 1', 'rss curr=0 MM_ANONPAGES 1', 'flush -1',
    ]);
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
    // One update per VMA and table and counter: data (file, anonymous), bss with the copy, the window's page, the stack page.
    expect(exit.filter((x) => x.startsWith('rss'))).toEqual([
      'rss curr=0 MM_FILEPAGES -1', 'rss curr=0 MM_ANONPAGES -1', 'rss curr=0 MM_ANONPAGES -3', 'rss curr=0 MM_ANONPAGES -1', 'rss curr=0 MM_ANONPAGES -1',
    ]);
  });

  it('the parent\'s copy on write leaves the original to the child, whose exit frees it', () => {
    const { step } = forked('linux-6.18');
    expect(show(step(fault(P, 0x402000, 0x600)).emitted)).toEqual(['flush 1']);
    const frees = show(step({ ...C, at: at(0), kind: 'exit' }).emitted).filter((x) => x.startsWith('free') && x !== 'free 0x0/0');
    expect(frees).toEqual(['free 0x910/0']);
  });

  it.each([['linux-6.12', ['rss curr=1 MM_FILEPAGES -1', 'rss curr=1 MM_ANONPAGES 1', 'flush 1']], ['linux-6.18', ['rss curr=1 MM_FILEPAGES -1', 'rss curr=1 MM_ANONPAGES 1', 'flush 1']], ['linux-6.1', ['flush 1']]])(
    '%s: a write to a file page of the data segment copies it: one file page less, one anonymous more (6.1: in the task\'s cache)', (preset, out) => {
      const { step } = forked(preset);
      const r = step(fault(C, 0x403000, 0x700));
      expect(r.unmodelled).toBeUndefined();
      expect(show(r.emitted)).toEqual(out);
    });

  it.each([['linux-6.12', true], ['linux-6.18', true], ['linux-6.1', false]])('%s: a read fault in text the child has not mapped maps the 64 KiB around it (do_fault_around())', (preset, traced) => {
    const { step } = forked(preset);
    const rss = (r: ReturnType<Engine['step']>): string[] => show(r.emitted).filter((x) => x.startsWith('rss'));
    const exp = (n: number): string[] => (traced ? [`rss curr=1 MM_FILEPAGES ${n}`] : []);
    // At the VMA's start the window moves to start there: 16 pages, 0x411000–0x420fff.
    expect(rss(step(read(C, 0x411a83)))).toEqual(exp(16));
    // Near its end it is cut there: 0x430000–0x438fff.
    expect(rss(step(read(C, 0x438010)))).toEqual(exp(9));
    // Where the window holds a page mapped already, it maps the others.
    expect(rss(step(read(C, 0x421000)))).toEqual(exp(15));
    // A page it mapped is present: no fault output.
    expect(rss(step(read(C, 0x415000)))).toEqual([]);
  });

  it('6.1: the file pages an exit zaps take slots in its gather batches, and each batch is freed in reverse', () => {
    const { step } = forked('linux-6.1');
    step(fault(C, 0x404000, 0x500));
    step(fault(C, 0x7ffd00020000, 0x501));
    // 16 file pages zapped between the two copies: the bss copy is in the first batch (8 entries:
    // data's 2, bss's 3, 3 of text2), the stack copy in the next.
    step(read(C, 0x411a83));
    const frees = show(step({ ...C, at: at(0), kind: 'exit' }).emitted).filter((x) => x.startsWith('free') && x !== 'free 0x0/0');
    expect(frees).toEqual(['free 0x500/0', 'free 0x501/0']);
  });
});
