/**
 * execve(): exec_mmap() gives the task a new mm and puts the old one, whose pages go then — not
 * at the task's final exit. The old mm's rss updates are traced with curr=0 (the task is no
 * longer its user).
 *
 *   before exec: A |64K folio 0x1000|   (mm 1)
 *   after exec:  A |64K folio 0x2000|   (mm 2, faulted in the new image)
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
let line = 0;
const at = () => ({ index: line, line: ++line });
const ops = {
  mmap: (): Op => ({ ...base, at: at(), kind: 'mmap', addr: A, len: 0x100000, prot: 3, flags: 0x22, anon: true }),
  fault: (pfn: number): Op => ({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x10, order: 0, use: 'pgtable' }, { pfn, order: 4, use: 'user', anonFault: true }] }),
  execve: (): Op => ({ ...base, at: at(), kind: 'syscall', name: 'execve' }),
  exit: (): Op => ({ ...base, at: at(), kind: 'exit' }),
};
const frees = (out: readonly Emission[]): number[] => out.flatMap((e) => (e.ev === 'mm_page_free' && e.order === 4 ? [e.pfn] : []));
const rss = (out: readonly Emission[]): string[] => out.flatMap((e) => (e.ev === 'rss_stat' ? [`curr=${e.curr} ${e.member} ${e.delta}`] : []));

describe('execve: exec_mmap()', () => {
  for (const preset of ['linux-6.12', 'linux-6.18']) {
    it(`${preset}: the old mm is torn down at the exec (curr=0), the new image's memory at exit`, () => {
      const eng = new Engine(buildConfig(preset), { checkInvariants: true });
      eng.step(ops.mmap());
      eng.step(ops.fault(0x1000));
      const ex = eng.step(ops.execve());
      expect(ex.unmodelled).toMatch(/^execve/);
      expect(frees(ex.emitted)).toEqual([0x1000]);
      expect(rss(ex.emitted)).toEqual(['curr=0 1 -65536']);
      // The new image knows no mapping at A until it faults there.
      eng.step(ops.fault(0x2000));
      const out = eng.step(ops.exit());
      expect(frees(out.emitted)).toEqual([0x2000]);
      expect(ex.violations).toEqual([]);
      expect(out.violations).toEqual([]);
    });
  }
});
