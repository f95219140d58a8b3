/**
 * The exec'd image before the model knows its mappings: elf_load()'s copy-on-write of its data
 * segment (do_cow_fault()), the argument pages copy_strings() put on the new stack, and the
 * data segment split by ld.so's RELRO mprotect().
 *
 *   old image:  H |4K 0x100| (anon, unmapped before the exec: waits in the lru_add batch)
 *   new image:  D |cow 0x200|cow 0x201|  B |bss 0x300|      S |stack 0x400|arg 0x500|
 *               D..D+8K data (file, private)   B = D+8K       S+4K: the argument page
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { AllocFact, Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const H = 0x7f0000000000;
const D = 0x555500001000;
const B = D + 0x2000;
const S = 0x7ffd00010000;
let line = 0;
const at = () => ({ index: line, line: ++line });
const pt = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const cow = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user', copy: true });
const zeroed = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user', anonFault: true });
const fault = (addr: number, allocs: AllocFact[], lruAdded?: number[]): Op => ({ ...base, at: at(), kind: 'fault', addr, write: true, present: false, allocs, ...(lruAdded ? { lruAdded } : {}) });
const kinds = (out: readonly Emission[]): string[] => out.flatMap((e) => (e.ev === 'rss_stat' ? [`rss ${e.delta}`] : e.ev === 'mm_page_free' && e.what !== 'pgtable' ? [`free 0x${e.pfn.toString(16)}`] : []));

function execd(preset: string): { eng: Engine; first: Emission[] } {
  const eng = new Engine(buildConfig(preset), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'mmap', addr: H, len: 0x1000, prot: 3, flags: 0x22, anon: true });
  eng.step(fault(H, [pt(0x10), zeroed(0x100)]));
  eng.step({ ...base, at: at(), kind: 'syscall', name: 'execve' });
  eng.step({ ...base, at: at(), kind: 'exec-arg-page', pfn: 0x500 });
  // elf_load(): padzero() of the data segment's last file page fills the batch (the record
  // lists both folios as moved in this op).
  const first = eng.step(fault(D + 0x1548, [pt(0x11), pt(0x12), cow(0x201), pt(0x13)], [0x100, 0x201])).emitted;
  return { eng, first };
}

describe('exec: the new image before its mappings are known', () => {
  for (const preset of ['linux-6.18', 'linux-6.18-fc']) {
    it(`${preset}: do_cow_fault() drains the lru_add batch (freeing the old image's page) before its rss update`, () => {
      const { first } = execd(preset);
      expect(kinds(first)).toEqual(['free 0x100', 'rss 4096']);
    });
  }

  it('the exit zaps the data segment, the bss and the stack with its argument page as separate VMAs', () => {
    const { eng } = execd('linux-6.18');
    // create_elf_tables(): the first anonymous fault of the image is on the stack, below the
    // argument page.
    eng.step(fault(S + 0x489, [pt(0x14), zeroed(0x400)]));
    eng.step(fault(D, [cow(0x200)]));
    // ld.so's RELRO mprotect() splits the data segment below D+4K.
    eng.step({ ...base, at: at(), kind: 'mprotect', addr: D, len: 0x1000, prot: 1 });
    // The batch drains (recorded) as the bss is first written.
    eng.step(fault(B, [zeroed(0x300)], [0x400, 0x200, 0x300]));
    const out = eng.step({ ...base, at: at(), kind: 'exit' });
    expect(out.violations).toEqual([]);
    const k = kinds(out.emitted);
    expect(k.filter((x) => x.startsWith('rss'))).toEqual(['rss -4096', 'rss -4096', 'rss -4096', 'rss -8192']);
    expect(k.filter((x) => x.startsWith('free'))).toEqual(['free 0x200', 'free 0x201', 'free 0x300', 'free 0x400', 'free 0x500']);
  });

  for (const [lruAddedAt, expected] of [
    [4, ['free 0x100', 'free 0x201', 'free 0x13', 'rss 4096']],
    // Drained after the retry's allocations: the first try's puts come first.
    [6, ['free 0x201', 'free 0x13', 'rss 4096', 'free 0x100']],
  ] as const) {
    it(`a retried do_cow_fault() whose batch drained after ${lruAddedAt} of its allocations`, () => {
      const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
      eng.step({ ...base, at: at(), kind: 'mmap', addr: H, len: 0x1000, prot: 3, flags: 0x22, anon: true });
      eng.step(fault(H, [pt(0x10), zeroed(0x100)]));
      eng.step({ ...base, at: at(), kind: 'syscall', name: 'execve' });
      // First try: folio 0x201 and its table 0x13; readahead's page-cache folios fill the batch,
      // which drains (the old image's 0x100 freed); the try returns VM_FAULT_RETRY, putting 0x201
      // and 0x13, and the retry allocates them again.
      const op: Op = { ...fault(D + 0x1548, [pt(0x11), pt(0x12), cow(0x201), pt(0x13), cow(0x201), pt(0x13)], [0x100]), lruAddedAt };
      const out = eng.step(op).emitted.flatMap((e) => (e.ev === 'rss_stat' ? [`rss ${e.delta}`] : e.ev === 'mm_page_free' ? [`free 0x${e.pfn.toString(16)}`] : []));
      expect(out).toEqual(expected);
    });
  }
});
