/**
 * A sibling thread's switch recorded inside an op (Op.siblingSwitchesAt), placed by the op's
 * own events: thread A on CPU 0 flushes (MADV_DONTNEED), thread B on CPU 1 goes idle after A's
 * `remote IPI send` and local flush were traced. native_flush_tlb_multi() waits for every
 * target, so B's CPU ran the flush before that switch: the switch is applied when the whole
 * multi-CPU flush is done, not between the sender's local flush and the targets'.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_REMOTE_SHOOTDOWN } from '../emit.js';
import type { Op } from '../ops.js';
import { cpu_tlbstate } from './tlbflush.js';

const A = 100;
const B = 101;
const BASE = 0x7f0000000000;

type Flush = Extract<Emission, { ev: 'tlb_flush' }>;

function run(preset: string, siblingSwitchesAt?: unknown) {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): Emission[] => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    return [...e.step(o).emitted];
  };
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  step({ kind: 'run', on: true, tid: B, cpu: 1 });
  step({ kind: 'fault', tid: B, cpu: 1, addr: BASE, write: true, allocs: [] });
  step({ kind: 'fault', addr: BASE + 0x1000, write: true, allocs: [] });
  const out = step({ kind: 'madvise', addr: BASE + 0x1000, len: 0x1000, advice: 'MADV_DONTNEED', ...(siblingSwitchesAt ? { siblingSwitchesAt } : {}) });
  return { e, out };
}

describe('a sibling switch placed inside a flushing op', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: the targets' flushes come before the switch the record places after the sender's local flush`, () => {
      // Where the op's own events (CPU 0) reach its local flush, without the switch.
      const own = run(preset).out.filter((x) => x.cpu === 0);
      const at = own.findIndex((x) => x.ev === 'tlb_flush' && x.reason === TLB_LOCAL_MM_SHOOTDOWN) + 1;
      expect(at).toBeGreaterThan(1);
      const { e, out } = run(preset, [{ cpu: 1, at, on: false, idle: true }]);
      const fs = out.filter((x): x is Flush => x.ev === 'tlb_flush');
      expect(fs.filter((f) => f.cpu === 1 && f.reason === TLB_REMOTE_SHOOTDOWN)).toHaveLength(1);
      expect(cpu_tlbstate(e.k, 1).lazy).toBe(true);
    });
  }
});
