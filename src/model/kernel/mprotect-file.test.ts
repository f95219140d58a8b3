/**
 * mprotect() of a private file mapping whose pages the model holds (made in the window, its
 * faults' page-cache events recorded): ld.so's RELRO mprotect(PROT_READ) over the data segment.
 *
 *   D |p0 p1 p2 p3|   a data segment (PROT_READ|PROT_WRITE), file pages 0..3 read by fault-around,
 *                      p1 then written (copy-on-write: an exclusive anonymous copy)
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { AllocFact, Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';

const base = { tid: 40, tgid: 40, cpu: 0 };
const D = 0x7f0000100000;
const FILE = '254:0:4321';
let line = 0;
const at = () => ({ index: line, line: ++line });
const pt = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const flushes = (out: readonly Emission[]) => out.flatMap((e) => (e.ev === 'tlb_flush' ? [e.pages] : []));

function segment(fileEvents: boolean): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'mmap', addr: D, len: 0x4000, prot: 3, flags: 0x12, anon: false, off: 0, ...(fileEvents ? { fileEvents: true } : {}) });
  eng.step({ ...base, at: at(), kind: 'fault', addr: D, write: false, present: false, allocs: [pt(0x10)], file: [{ file: FILE, first: 0, last: 3 }] });
  eng.step({ ...base, at: at(), kind: 'fault', addr: D + 0x1000, write: true, present: true, allocs: [{ pfn: 0x200, order: 0, use: 'user', copy: true }] });
  return eng;
}

describe('mprotect of a private file mapping the model holds', () => {
  it('makes the anonymous copy read-only (one page flushed); the file pages were read-only already', () => {
    const eng = segment(true);
    const r = eng.step({ ...base, at: at(), kind: 'mprotect', addr: D, len: 0x2000, prot: 1 } as Op);
    expect(r.unmodelled).toBeUndefined();
    expect(flushes(r.emitted)).toEqual([1]);
    // The VMA was split at the range's end: the rest keeps PROT_READ|PROT_WRITE.
    const vmas = eng.k.mms.get(40)!.vmas.filter((v) => v.vm_start < D + 0x4000 && v.vm_end > D);
    expect(vmas.map((v) => [v.vm_end - v.vm_start, v.write])).toEqual([[0x2000, false], [0x2000, true]]);
  });

  it('over file pages alone changes no write bit: no flush', () => {
    const eng = segment(true);
    const r = eng.step({ ...base, at: at(), kind: 'mprotect', addr: D + 0x2000, len: 0x2000, prot: 1 } as Op);
    expect(r.unmodelled).toBeUndefined();
    expect(flushes(r.emitted)).toEqual([]);
  });

  it('a file mapping whose pages the model does not hold stays outside the model', () => {
    const eng = segment(false);
    expect(eng.step({ ...base, at: at(), kind: 'mprotect', addr: D, len: 0x2000, prot: 1 } as Op).unmodelled).toBe('mprotect of a file or shared mapping');
  });
});
