/**
 * mprotect() is lifted into an op of its own (start, len, prot), its flush kept as its recorded
 * output; a call that failed is marked and so never applied.
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';
import type { LiftedOp } from './lift.js';

const lift = (text: string, release: string): Promise<LiftedOp[]> => liftText(text, release);

const L = (ts: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] .....   ${ts}: ${rest}`;

describe('lifting mprotect', () => {
  it('becomes an mprotect op with its range and protection; its flush is its output; a failed call is marked', async () => {
    const ops = await lift([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_mprotect(start: 0x7f0000008000, len: 0x400000, prot: 0x1)'),
      L('1.000003', 'tlb_flush: pages:-1 reason:local MM shootdown (3)'),
      L('1.000004', 'sys_mprotect -> 0x0'),
      L('1.000005', 'sys_mprotect(start: 0x7f0000008000, len: 0x400000, prot: 0x7)'),
      L('1.000006', 'sys_mprotect -> 0xfffffffffffffff3'),
    ].join('\n'), '6.18.44-fc-v669');
    const mp = ops.filter((o) => o.op.kind === 'mprotect');
    expect(mp.map((o) => o.op)).toMatchObject([
      { kind: 'mprotect', addr: 0x7f0000008000, len: 0x400000, prot: 1 },
      { kind: 'mprotect', addr: 0x7f0000008000, len: 0x400000, prot: 7 },
    ]);
    expect(mp[0]!.failed).toBe(false);
    expect(mp[0]!.recorded.map((r) => r.key)).toEqual(['tlb_flush pages=-1 reason=3']);
    // -EACCES: the kernel changed nothing, so the replay applies nothing.
    expect(mp[1]!.failed).toBe(true);
    expect(ops.some((o) => o.op.kind === 'syscall')).toBe(false);
  });

  it('reads 6.1\'s hex without 0x', async () => {
    const ops = await lift([
      '# tracer: nop',
      L('9.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('9.000002', 'sys_mprotect(start: 7f35c9100000, len: 400000, prot: 1)'),
      L('9.000003', 'sys_mprotect -> 0x0'),
    ].join('\n'), '6.1.0-57-cloud-amd64');
    expect(ops.find((o) => o.op.kind === 'mprotect')?.op).toMatchObject({ addr: 0x7f35c9100000, len: 0x400000, prot: 1 });
  });
});
