/**
 * mmap() of a private anonymous mapping next to one of equal flags merges with it
 * (vma_merge_new_range()); a thread stack (MAP_STACK → VM_NOHUGEPAGE since 6.7) does not, nor
 * does it merge when mprotect() later makes it writable next to such a mapping. The exit's
 * zap updates rss once per VMA and page table, so the layout shows in its rss_stat.
 *
 *   A          A+16K       A+32K
 *   |  new (2)  |  old (2)  |      old mapped first, new mmap'd right below it
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Op } from '../ops.js';
import { buildConfig } from '../presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
let line = 0;
const at = () => ({ index: line, line: ++line });
const mmap = (addr: number, flags: number, prot = 3): Op => ({ ...base, at: at(), kind: 'mmap', addr, len: 0x4000, prot, flags, anon: true });
const fault = (addr: number, pfn: number): Op => ({ ...base, at: at(), kind: 'fault', addr, write: true, present: false, allocs: [{ pfn, order: 0, use: 'user', anonFault: true }] });

function exitRss(newFlags: number, mprotect: boolean): number[] {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  eng.step(mmap(A + 0x4000, 0x22));
  eng.step(fault(A + 0x4000, 0x100));
  eng.step(fault(A + 0x5000, 0x101));
  eng.step(mmap(A, newFlags, mprotect ? 0 : 3));
  if (mprotect) eng.step({ ...base, at: at(), kind: 'mprotect', addr: A, len: 0x4000, prot: 3 });
  eng.step(fault(A, 0x200));
  eng.step(fault(A + 0x1000, 0x201));
  const out = eng.step({ ...base, at: at(), kind: 'exit' });
  expect(out.violations).toEqual([]);
  return out.emitted.flatMap((e) => (e.ev === 'rss_stat' ? [e.delta] : []));
}

describe('mmap: merging a new anonymous mapping with its neighbour', () => {
  it('an adjacent private anonymous mmap() is one VMA with the old one: one rss update at exit', () => {
    expect(exitRss(0x22, false)).toEqual([-16384]);
  });
  it('a MAP_STACK mapping stays its own VMA (VM_NOHUGEPAGE), also after mprotect() makes it writable', () => {
    expect(exitRss(0x20022, false)).toEqual([-8192, -8192]);
    expect(exitRss(0x20022, true)).toEqual([-8192, -8192]);
  });
});
