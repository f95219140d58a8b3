/**
 * A task that ran on CPU 1 before the window (started there, then pinned itself to CPU 0):
 *
 *   CPU0: the task, from before the window on     CPU1: what it left it for (prewindow `lazy`)
 *
 * Left for a kernel thread (the migration thread, the idle task), CPU 1 keeps the mm loaded
 * lazily and stays in mm_cpumask on every release: MADV_FREE's flush traces a `remote IPI send`
 * that reaches nobody, and reclaim defers its unmaps' flushes into one batched flush
 * (should_defer_flush()). Left for another process, it is out of the mask before 6.14.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN, TLB_REMOTE_SEND_IPI } from '../emit.js';
import type { Op } from '../ops.js';
import { cpu_tlbstate } from './tlbflush.js';

const A = 100;
const BASE = 0x7f0000000000;

type Flush = Extract<Emission, { ev: 'tlb_flush' }>;

function run(preset: string, lazy: number[]) {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): Flush[] => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    return e.step(o).emitted.filter((x): x is Flush => x.ev === 'tlb_flush');
  };
  step({ kind: 'prewindow', missing: 'the program image', cpus: [0, 1], lazy });
  step({ kind: 'mmap', addr: BASE, len: 0x200000, prot: 3, flags: 0x22, anon: true });
  for (let i = 0; i < 8; i++) step({ kind: 'fault', addr: BASE + i * 0x1000, write: true, allocs: [{ pfn: 0x1000 + i, order: 0, use: 'user', anonFault: true }] });
  const free = step({ kind: 'madvise', addr: BASE, len: 0x8000, advice: 'MADV_FREE' });
  const pageout = step({ kind: 'madvise', addr: BASE, len: 0x8000, advice: 'MADV_PAGEOUT' });
  return { e, mm: e.k.mms.get(A)!, free, pageout };
}

const on = (fs: Flush[], cpu: number, reason?: number) => fs.filter((f) => f.cpu === cpu && (reason === undefined || f.reason === reason));

describe('CPUs the task ran on before the window', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: a CPU left for a kernel thread holds the mm lazily: sends traced, reclaim's flushes batched`, () => {
      const { e, mm, free, pageout } = run(preset, [1]);
      expect(cpu_tlbstate(e.k, 1)).toMatchObject({ loaded: mm, lazy: true });
      expect(on(free, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(on(free, 1)).toHaveLength(0);
      // Deferred: one batched flush, no page-by-page flush.
      expect(on(pageout, 0, TLB_LOCAL_SHOOTDOWN)).toHaveLength(1);
      expect(on(pageout, 0, TLB_LOCAL_MM_SHOOTDOWN).filter((f) => f.pages === 1)).toHaveLength(0);
    });
  }

  for (const preset of ['linux-6.1', 'linux-6.12']) {
    it(`${preset}: a CPU left for another process is out of mm_cpumask: local flushes only`, () => {
      const { mm, free, pageout } = run(preset, []);
      expect(mm.cpumask.has(1)).toBe(false);
      expect(on(free, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(0);
      expect(on(pageout, 0, TLB_LOCAL_SHOOTDOWN)).toHaveLength(0);
      expect(on(pageout, 0, TLB_LOCAL_MM_SHOOTDOWN).filter((f) => f.pages === 1)).toHaveLength(8);
    });
  }

  it('linux-6.18: a CPU left for another process stays in the mask on that mm', () => {
    const { e, mm } = run('linux-6.18', []);
    expect(mm.cpumask.has(1)).toBe(true);
    expect(cpu_tlbstate(e.k, 1).loaded).toBe('other');
  });
});
