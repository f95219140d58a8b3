/**
 * x86 flush_tlb_range() passes freed_tables (3ef938c35035, in every release the presets model):
 * its IPI reaches a lazy CPU of mm_cpumask, which switches to init_mm instead of flushing, while
 * flush_tlb_page() (ptep_clear_flush()) still skips it.
 *
 *   CPU0: thread A (the one flushing)     CPU1: thread B, gone idle (lazy, mm still loaded)
 *
 * mremap() of PTEs flushes each moved extent with flush_tlb_range(): the first one is sent to
 * CPU1, which leaves the mm; on 6.1/6.12 it also leaves mm_cpumask then, so the later extents'
 * flushes stay local (no `remote ipi send`).
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_REMOTE_SEND_IPI, TLB_REMOTE_WRONG_CPU } from '../emit.js';
import type { Op } from '../ops.js';
import { cpu_tlbstate } from './tlbflush.js';

const A = 100;
const B = 101;
const BASE = 0x7f0000000000;
const DEST = 0x7f0010000000 + 0x3000; // not PMD-aligned: the PTEs move extent by extent (move_ptes)

type Flush = Extract<Emission, { ev: 'tlb_flush' }>;

function setup(preset: string) {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): Flush[] => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    return e.step(o).emitted.filter((x): x is Flush => x.ev === 'tlb_flush');
  };
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  step({ kind: 'run', on: true, tid: B, cpu: 1 });
  step({ kind: 'fault', tid: B, cpu: 1, addr: BASE, write: true, allocs: [] });
  for (const off of [0x1000, 0x200000, 0x201000]) step({ kind: 'fault', addr: BASE + off, write: true, allocs: [] });
  step({ kind: 'run', on: false, idle: true, tid: B, cpu: 1 });
  const mm = e.k.mms.get(A)!;
  expect(cpu_tlbstate(e.k, 1)).toMatchObject({ loaded: mm, lazy: true });
  return { e, step, mm };
}

const on = (fs: Flush[], cpu: number, reason?: number) => fs.filter((f) => f.cpu === cpu && (reason === undefined || f.reason === reason));

describe('flush_tlb_range() reaches a lazy CPU (freed_tables)', () => {
  for (const preset of ['linux-6.1', 'linux-6.12']) {
    it(`${preset}: mremap's first range flush sends the IPI, the lazy CPU drops the mm and the mask; the next ones stay local`, () => {
      const { e, step, mm } = setup(preset);
      const fs = step({ kind: 'mremap', addr: BASE, oldLen: 0x400000, newLen: 0x400000, flags: 3, newAddr: DEST, allocs: [] });
      const local = on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN);
      expect(local.length).toBeGreaterThan(1);
      // One send, before the first local flush, and none after it.
      expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(fs.indexOf(on(fs, 0, TLB_REMOTE_SEND_IPI)[0]!)).toBeLessThan(fs.indexOf(local[0]!));
      // CPU1 switched to init_mm (a task-switch flush in the idle task's context).
      expect(on(fs, 1).every((f) => f.reason === 0 && f.offTask)).toBe(true);
      expect(on(fs, 1)).toHaveLength(1);
      expect(cpu_tlbstate(e.k, 1).loaded).toBe('init');
      expect(mm.cpumask.has(1)).toBe(false);
    });
  }

  it('linux-6.18: the lazy CPU leaves the mm at the first send and the mask at the next (remote wrong CPU)', () => {
    const { e, step, mm } = setup('linux-6.18');
    const fs = step({ kind: 'mremap', addr: BASE, oldLen: 0x400000, newLen: 0x400000, flags: 3, newAddr: DEST, allocs: [] });
    expect(cpu_tlbstate(e.k, 1).loaded).toBe('init');
    expect(on(fs, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(1);
    expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(2);
    expect(mm.cpumask.has(1)).toBe(false);
  });

  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: flush_tlb_page() (a write over the zero page) still skips the lazy CPU, which stays in the mask`, () => {
      const { e, step, mm } = setup(preset);
      step({ kind: 'fault', addr: BASE + 0x300000, write: false, allocs: [] });
      const fs = step({ kind: 'fault', addr: BASE + 0x300000, write: true, allocs: [] });
      expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(on(fs, 1)).toHaveLength(0);
      expect(cpu_tlbstate(e.k, 1)).toMatchObject({ loaded: mm, lazy: true });
      expect(mm.cpumask.has(1)).toBe(true);
    });
  }
});
