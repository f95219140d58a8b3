/** A `fl: store` marker dirties the present, writable entries of its range, however wide. */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { buildConfig } from './presets.js';
import type { Op } from './ops.js';
import { pmdIndex, pteIndex } from './kernel/pgtable.js';

const at = (index: number) => ({ index, line: index + 1 });
const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;

function engineWithPages(): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: false });
  const ops: Op[] = [
    { ...base, at: at(0), kind: 'mmap', addr: 0x7f0000000000, len: 4 * MB, prot: 3, flags: 0x22, anon: true },
    // Two pages in two page tables, faulted by writes, then MADV_FREE cleans them.
    { ...base, at: at(1), kind: 'fault', addr: 0x7f0000000000, write: true, allocs: [{ pfn: 0x1000, order: 0, use: 'user' }] },
    { ...base, at: at(2), kind: 'fault', addr: 0x7f0000200000, write: true, allocs: [{ pfn: 0x2000, order: 0, use: 'user' }] },
    { ...base, at: at(3), kind: 'madvise', addr: 0x7f0000000000, len: 4 * MB, advice: 8 },
  ];
  for (const op of ops) eng.step(op);
  return eng;
}

function dirtyPages(eng: Engine): boolean[] {
  const mm = eng.mmOf(10);
  return [0x7f0000000000, 0x7f0000200000].map((a) => {
    const e = mm.pmds.get(pmdIndex(a));
    return e !== undefined && e.kind !== 'huge' && e.dirty(pteIndex(a));
  });
}

describe('store markers', () => {
  it('a store over the whole address space dirties what a store over the mapping dirties, without walking every PMD slot', () => {
    const narrow = engineWithPages();
    expect(dirtyPages(narrow)).toEqual([false, false]);
    narrow.step({ ...base, at: at(4), kind: 'store', addr: 0x7f0000000000, len: 4 * MB, stride: 0, count: 1 });
    const wide = engineWithPages();
    wide.step({ ...base, at: at(4), kind: 'store', addr: 0, len: 2 ** 56, stride: 0, count: 1 });
    expect(dirtyPages(narrow)).toEqual([true, true]);
    expect(dirtyPages(wide)).toEqual(dirtyPages(narrow));
  });
});

describe('a batch that reads past the VMA', () => {
  /** A 64 KiB lazyfree folio mapped across two VMAs (split at its 9th page), then memcg reclaim. */
  function straddlingVmas(spec: string): string[] {
    const thp = { enabled: 'madvise' as const, sizes: { 64: 'always' as const, 2048: 'inherit' as const } };
    const eng = new Engine(buildConfig(spec, 'x86', thp), { checkInvariants: false });
    const a = 0x7f0000000000;
    const ops: Op[] = [
      { ...base, at: at(0), kind: 'mmap', addr: a, len: 128 * 1024, prot: 3, flags: 0x22, anon: true },
      { ...base, at: at(1), kind: 'fault', addr: a, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user' }] },
      { ...base, at: at(2), kind: 'madvise', addr: a, len: 128 * 1024, advice: 8 },
      // MADV_HUGEPAGE on part of the range splits the VMA there (madvise_update_vma()).
      { ...base, at: at(3), kind: 'madvise', addr: a + 32 * 1024, len: 96 * 1024, advice: 14 },
      { ...base, at: at(4), kind: 'memcg-reclaim', bytes: 1 << 20, how: 'memcg-reclaim' },
    ];
    const codes: string[] = [];
    for (const op of ops) codes.push(...eng.step(op).violations.map((v) => v.code));
    expect(eng.mmOf(10).vmas.map((v) => v.vm_end - v.vm_start)).toEqual([32 * 1024, 96 * 1024]);
    return codes;
  }

  it('batched unmap v4 reads the PTEs of the next VMA (pte_access_within_vma); with the fix the batch stops at the VMA end', () => {
    expect(straddlingVmas('6.18: batched-unmap@v4-1 batched-unmap@v4-3')).toContain('pte_access_within_vma');
    expect(straddlingVmas('linux-6.18')).not.toContain('pte_access_within_vma');
  });
});
