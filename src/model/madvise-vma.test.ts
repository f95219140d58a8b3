/** Advices that only change VMA flags: the VMA is cut where the range ends, a THP the cut goes through is PMD-split. */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { buildConfig } from './presets.js';
import type { Op } from './ops.js';

const at = (index: number) => ({ index, line: index + 1 });
const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;
const A = 0x7f0000000000;

function run(ops: Op[]): { eng: Engine; flushes: number[] } {
  const eng = new Engine(buildConfig('linux-6.18', 'x86', { enabled: 'always', sizes: { 2048: 'inherit' } }), { checkInvariants: false });
  const flushes: number[] = [];
  for (const op of ops) for (const e of eng.step(op).emitted) if (e.ev === 'tlb_flush') flushes.push(e.pages);
  return { eng, flushes };
}

describe('MADV_DONTFORK', () => {
  const ops: Op[] = [
    { ...base, at: at(0), kind: 'mmap', addr: A, len: 4 * MB, prot: 3, flags: 0x22, anon: true },
    { ...base, at: at(1), kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x10000, order: 9, use: 'user' }] },
    // The second half of the first THP and everything after it.
    { ...base, at: at(2), kind: 'madvise', addr: A + MB, len: 3 * MB, advice: 10 },
  ];

  it('cuts the VMA inside a PMD THP: the PMD is split (one 2 MiB flush), the folio stays whole', () => {
    const { eng, flushes } = run(ops);
    const mm = eng.mmOf(10);
    expect(mm.vmas.map((v) => [v.vm_end - v.vm_start, !!v.dontcopy])).toEqual([[MB, false], [3 * MB, true]]);
    expect(eng.counters().thp_split_pmd).toBe(1);
    expect(flushes).toEqual([-1]);
    // Asking again changes nothing: no split, no flush.
    const again = eng.step({ ...base, at: at(3), kind: 'madvise', addr: A + MB, len: 3 * MB, advice: 10 });
    expect(again.emitted.filter((e) => e.ev === 'tlb_flush')).toEqual([]);
  });

  it('fork does not copy a VM_DONTCOPY VMA; MADV_DOFORK merges it back', () => {
    const { eng } = run([...ops, { ...base, at: at(3), kind: 'fork', child: 11 }]);
    expect(eng.mmOf(11).vmas.map((v) => v.vm_end - v.vm_start)).toEqual([MB]);
    eng.step({ ...base, at: at(4), kind: 'madvise', addr: A + MB, len: 3 * MB, advice: 11 });
    expect(eng.mmOf(10).vmas.map((v) => v.vm_end - v.vm_start)).toEqual([4 * MB]);
  });
});

describe('MADV_DONTNEED and the PTE tables it empties (CONFIG_PT_RECLAIM, 6.14+)', () => {
  function dontneedThenMunmap(spec: string): { tableAfterDontneed: boolean; munmapFlushes: number[] } {
    const eng = new Engine(buildConfig(spec, 'x86', { enabled: 'never', sizes: {} }), { checkInvariants: false });
    const ops: Op[] = [{ ...base, at: at(0), kind: 'mmap', addr: A, len: 2 * MB, prot: 3, flags: 0x22, anon: true }];
    for (let i = 0; i < 8; i++) ops.push({ ...base, at: at(1 + i), kind: 'fault', addr: A + i * 4096, write: true, allocs: [{ pfn: 0x100 + i, order: 0, use: 'user' }] });
    ops.push({ ...base, at: at(9), kind: 'madvise', addr: A, len: 2 * MB, advice: 4 });
    for (const op of ops) eng.step(op);
    const tableAfterDontneed = eng.mmOf(10).pmds.has(Math.floor(A / (2 * MB)));
    const munmap = eng.step({ ...base, at: at(10), kind: 'munmap', addr: A, len: 2 * MB });
    return { tableAfterDontneed, munmapFlushes: munmap.emitted.filter((e) => e.ev === 'tlb_flush').map((e) => (e as { pages: number }).pages) };
  }

  it('6.18 frees a table whose whole 2 MiB the DONTNEED emptied: the munmap after it has nothing to flush', () => {
    expect(dontneedThenMunmap('linux-6.18')).toEqual({ tableAfterDontneed: false, munmapFlushes: [] });
  });

  it('6.12 keeps the table until munmap frees it, with its flush', () => {
    expect(dontneedThenMunmap('linux-6.12')).toEqual({ tableAfterDontneed: true, munmapFlushes: [0] });
  });
});

describe('MADV_COLD of young PMD-mapped THPs', () => {
  function coldFlushes(spec: string): number[] {
    const eng = new Engine(buildConfig(spec, 'x86', { enabled: 'always', sizes: { 2048: 'inherit' } }), { checkInvariants: false });
    eng.step({ ...base, at: at(0), kind: 'mmap', addr: A, len: 8 * MB, prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < 4; i++) eng.step({ ...base, at: at(1 + i), kind: 'fault', addr: A + i * 2 * MB, write: true, allocs: [{ pfn: 0x10000 + i * 512, order: 9, use: 'user' }] });
    return eng.step({ ...base, at: at(9), kind: 'madvise', addr: A, len: 8 * MB, advice: 20 }).emitted.filter((e) => e.ev === 'tlb_flush').map((e) => (e as { pages: number }).pages);
  }

  it('6.12 flushes each PMD it ages, then the gather at PMD stride; 6.18 only the gather', () => {
    expect(coldFlushes('linux-6.12')).toEqual([-1, -1, -1, -1, 4]);
    expect(coldFlushes('linux-6.18')).toEqual([4]);
  });
});
