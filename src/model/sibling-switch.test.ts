/**
 * A sibling thread's task switch on another CPU in the middle of an op (Op.siblingSwitchesAt),
 * placed by the op's recorded events: from that point the mm is loaded there (a flush reaches
 * that CPU) or left (it does not).
 *
 *   A: 4 order-0 anon pages faulted by thread 10 on CPU 0; thread 11 of the same process
 *   munmap(A) on CPU 0: its final flush sends an IPI only if thread 11 loaded the mm on CPU 1
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import type { AllocFact, Op, SiblingSwitch } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const PAGE = 4096;
let line = 0;
const at = () => ({ index: line, line: ++line });
const data = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user' });

function flushesOfMunmap(preset: string, sw: SiblingSwitch[] | undefined): string[] {
  const eng = new Engine(buildConfig(preset), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
  for (let i = 0; i < 4; i++) eng.step({ ...base, at: at(), kind: 'fault', addr: A + i * PAGE, write: true, allocs: i === 0 ? [{ pfn: 0x10, order: 0, use: 'pgtable' }, data(0x100)] : [data(0x100 + i)] });
  const op: Op = { ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE, ...(sw ? { siblingSwitchesAt: sw } : {}) };
  return eng.step(op).emitted.flatMap((e) => (e.ev === 'tlb_flush' ? [`cpu${e.cpu} reason=${e.reason}`] : []));
}

describe('a sibling thread switched in on another CPU in the middle of a munmap', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: the munmap's flush reaches that CPU (an IPI), as it would not without the switch`, () => {
      const alone = flushesOfMunmap(preset, undefined);
      const shared = flushesOfMunmap(preset, [{ cpu: 1, tid: 11, at: 0, on: true }]);
      expect(alone.some((f) => f.startsWith('cpu1'))).toBe(false);
      expect(shared).toContain('cpu0 reason=4');
      expect(shared.some((f) => f.startsWith('cpu1'))).toBe(true);
    });
  }
  it('placed after the op\'s output (past its last event), it changes nothing in the op', () => {
    expect(flushesOfMunmap('linux-6.18', [{ cpu: 1, tid: 11, at: 1000, on: true }])).toEqual(flushesOfMunmap('linux-6.18', undefined));
  });
});
