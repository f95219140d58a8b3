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
