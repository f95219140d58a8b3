/**
 * sched_switch as an input: what each switch tells the model about a CPU's TLB state, and where
 * a switch recorded during an op is applied.
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';
import { isKernelThread, type LiftedOp } from './lift.js';

const lift = (lines: string[]): Promise<LiftedOp[]> => liftText(['# tracer: nop', ...lines].join('\n') + '\n');

const L = (comm: string, pid: number, cpu: number, ts: string, rest: string): string => `${comm.padStart(16)}-${pid}     [00${cpu}] d..2.   ${ts}: ${rest}`;
const SW = (cpu: number, ts: string, p: [string, number], n: [string, number]): string =>
  L(p[0], p[1], cpu, ts, `sched_switch: prev_comm=${p[0]} prev_pid=${p[1]} prev_prio=120 prev_state=S ==> next_comm=${n[0]} next_pid=${n[1]} next_prio=120`);

const MAIN: [string, number] = ['w', 7];
const HELPER: [string, number] = ['w', 8];
const BEGIN = [
  L('w', 7, 0, '1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
  L('w', 7, 0, '1.000002', 'tracing_mark_write: fl: thread tid=8 cpu=1'),
];

describe('sched_switch lifting', () => {
  it('tells kernel threads (no mm: the CPU stays lazy) from user tasks by name', () => {
    for (const c of ['swapper/1', 'kworker/1:2', 'kworker/u8:1', 'ksoftirqd/0', 'rcu_preempt', 'migration/0', 'khugepaged', 'kcompactd0', 'kswapd0']) expect(isKernelThread(c)).toBe(true);
    for (const c of ['node', 'git', 'sh', 'bash', 's17_threads_mad', 'kworkerish']) expect(isKernelThread(c)).toBe(false);
  });

  it('a workload task left for a kernel thread: lazy; another process later on that CPU: switch-other', async () => {
    const ops = await lift([
      ...BEGIN,
      SW(1, '1.000010', ['node', 300], HELPER),
      SW(1, '1.000020', HELPER, ['kworker/1:0', 28]),
      SW(1, '1.000030', ['kworker/1:0', 28], ['rcu_preempt', 15]),
      SW(1, '1.000040', ['rcu_preempt', 15], ['node', 300]),
      SW(1, '1.000050', ['node', 300], ['git', 301]),
    ]);
    const sched = ops.map((o) => o.op).filter((o) => o.kind === 'run' || o.kind === 'switch-other');
    expect(sched.map((o) => [o.kind, o.tid, o.cpu, o.kind === 'run' ? o.on : undefined, o.kind === 'run' ? o.idle : undefined])).toEqual([
      ['run', 8, 1, true, undefined],
      ['run', 8, 1, false, true],
      // kworker → rcu_preempt keeps the CPU lazy: nothing; rcu_preempt → node loads node's mm.
      ['switch-other', 7, 1, undefined, undefined],
    ]);
  });

  it('a sibling\'s switches on another CPU during a system call are placed inside it by its recorded events so far; their own ops follow it', async () => {
    const ops = await lift([
      ...BEGIN,
      L('w', 7, 0, '1.000100', 'sys_munmap(addr: 0x7f0000000000, len: 0x200000)'),
      SW(1, '1.000110', HELPER, ['swapper/1', 0]),
      SW(1, '1.000180', ['swapper/1', 0], HELPER),
      L('w', 7, 0, '1.000200', 'sys_munmap -> 0x0'),
      L('w', 7, 0, '1.000300', 'tracing_mark_write: fl: end'),
    ]);
    const order = ops.map((o) => o.op).filter((o) => o.kind === 'run' || o.kind === 'munmap').map((o) => (o.kind === 'run' ? `${o.on ? 'on' : 'off'}@${o.at.line}` : 'munmap'));
    expect(order).toEqual(['munmap', 'off@5', 'on@6']);
    // The munmap recorded nothing before either switch: both come before its output.
    expect(ops.find((o) => o.op.kind === 'munmap')!.op.siblingSwitchesAt).toEqual([
      { cpu: 1, at: 0, tid: 8, on: false, idle: true, ours: false },
      { cpu: 1, at: 0, tid: 8, on: true },
    ]);
  });

  it("the op's own task switched out during it: applied after the op", async () => {
    const ops = await lift([
      ...BEGIN,
      L('w', 7, 0, '1.000100', 'sys_munmap(addr: 0x7f0000000000, len: 0x200000)'),
      SW(0, '1.000110', MAIN, ['swapper/0', 0]),
      SW(0, '1.000120', ['swapper/0', 0], MAIN),
      L('w', 7, 0, '1.000200', 'sys_munmap -> 0x0'),
      L('w', 7, 0, '1.000300', 'tracing_mark_write: fl: end'),
    ]);
    const order = ops.map((o) => o.op).filter((o) => o.kind === 'run' || o.kind === 'munmap').map((o) => o.kind);
    expect(order).toEqual(['munmap', 'run', 'run']);
  });
});
