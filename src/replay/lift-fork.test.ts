/** Lifting around a fork: the window's pre-existing memory, and a child's op preempted by its parent's. */
import { describe, expect, it } from 'vitest';
import { liftText, liftTextWith } from './lift.case.js';
import type { LiftedOp } from './lift.js';
import { PRE_WINDOW_MISSING } from './markers.js';

const lift = (lines: string[]): Promise<LiftedOp[]> => liftText(['# tracer: nop', ...lines].join('\n') + '\n');

const L = (pid: number, ts: string, rest: string, flags = '.....'): string => `${'w'.padStart(16)}-${pid}     [001] ${flags}   ${ts}: ${rest}`;
const SW = (ts: string, prev: number, state: string, next: number): string =>
  L(prev, ts, `sched_switch: prev_comm=w prev_pid=${prev} prev_prio=120 prev_state=${state} ==> next_comm=w next_pid=${next} next_prio=120`, 'd..2.');
const FREE = (pid: number, ts: string, pfn: number): string => L(pid, ts, `mm_page_free: page=0000000000000000 pfn=0x${pfn.toString(16)} order=0`);

const TRACE = [
  L(7, '1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
  L(7, '1.000002', 'sys_clone(clone_flags: 1200011, newsp: 0, parent_tidptr: 0, child_tidptr: 0, tls: 0)', '...1.'),
  L(7, '1.000003', 'sys_clone -> 0x8', '...1.'),
  SW('1.000004', 7, 'S', 8),
  L(8, '1.000005', 'sys_exit_group(error_code: 0)', '...1.'),
  FREE(8, '1.000006', 0x100),
  // The child is preempted in its exit; the parent's wait4 begins; the child's exit goes on.
  SW('1.000007', 8, 'R+', 7),
  L(7, '1.000008', 'sys_wait4(upid: 8, stat_addr: 0, options: 0, ru: 0)', '...1.'),
  SW('1.000009', 7, 'S', 8),
  FREE(8, '1.000010', 0x101),
  FREE(8, '1.000011', 0x102),
  SW('1.000012', 8, 'X', 7),
  L(7, '1.000013', 'sys_wait4 -> 0x8', '...1.'),
];

describe('lifting a fork', () => {
  it('the window opens on an mm that held memory no event showed mapped', async () => {
    const ops = await lift(TRACE);
    expect(ops[0]!.op).toMatchObject({ kind: 'prewindow', tgid: 7, missing: PRE_WINDOW_MISSING });
    expect(ops.filter((o) => o.op.kind === 'prewindow')).toHaveLength(1);
  });

  it('a child\'s exit preempted by its parent\'s wait4 keeps the rest of its output, and comes before the wait4', async () => {
    const ops = await lift(TRACE).then((os) => os.filter((o) => o.op.kind !== 'run' && o.op.kind !== 'marker' && o.op.kind !== 'prewindow'));
    expect(ops.map((o) => [o.op.kind, o.op.tid, o.recorded.map((r) => r.pfn)])).toEqual([
      ['fork', 7, []],
      ['exit', 8, [0x100, 0x101, 0x102]],
      ['syscall', 7, []],
    ]);
  });
});

describe('lifting the fl: snap address space', () => {
  const SNAP = [
    L(7, '1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
    L(7, '1.000002', 'tracing_mark_write: fl: snap vma start=0x400000 end=0x402000 prot=rw-p kind=anon off=0x0 name=-'),
    L(7, '1.000003', 'tracing_mark_write: fl: snap pages addr=0x400000 runs=1ax@100,1-'),
    L(7, '1.000004', 'tracing_mark_write: fl: snap vma start=0x600000 end=0x640000 prot=rw-p kind=heap off=0x0 name=_heap_'),
    L(7, '1.000005', 'tracing_mark_write: fl: snap pages addr=0x600000 runs=16axh@200,48-'),
    L(7, '1.000006', 'tracing_mark_write: fl: snap-end vmas=2 pages=17'),
  ];
  const EXIT = [
    L(7, '1.000007', 'sys_exit_group(error_code: 0)', '...1.'),
    FREE(7, '1.000008', 0x100),
    L(7, '1.000009', 'mm_page_free: page=0000000000000000 pfn=0x200 order=4'),
  ];

  it('hands the snapshot on as one op, after the prewindow op it replaces', async () => {
    const ops = await lift([...SNAP, ...EXIT]);
    const kinds = ops.map((o) => o.op.kind).filter((k) => k !== 'run');
    expect(kinds.slice(0, 3)).toEqual(['prewindow', 'marker', 'snapshot']);
    const snap = ops.find((o) => o.op.kind === 'snapshot')!.op as Extract<LiftedOp['op'], { kind: 'snapshot' }>;
    expect(snap.vmas.map((v) => [v.kind, v.start.toString(16), v.runs.map((r) => `${r.n}${r.what}@${r.pfn.toString(16)}${r.compound ?? ''}`)])).toEqual([
      ['anon', '400000', ['1anon@100']],
      ['heap', '600000', ['16anon@200head']],
    ]);
  });

  it('takes the snapshot\'s folios as the workload\'s: their frees are its output', async () => {
    const ops = await lift([...SNAP, ...EXIT]);
    const exit = ops.find((o) => o.op.kind === 'exit')!;
    expect(exit.recorded.map((r) => [r.pfn, r.ours])).toEqual([[0x100, true], [0x200, true]]);
  });

  it('drops a snapshot with a malformed line, says why, and counts the breach', async () => {
    const bad = [...SNAP];
    bad[4] = L(7, '1.000005', 'tracing_mark_write: fl: snap pages addr=0x600000 runs=16q@200');
    const { ops, lifter } = await liftTextWith(['# tracer: nop', ...bad, ...EXIT].join('\n') + '\n');
    expect(ops.some((o) => o.op.kind === 'snapshot')).toBe(false);
    expect(lifter.breaches.get('bad_marker')).toMatchObject({ count: 1, line: 6 });
    expect(lifter.notes.join('\n')).toMatch(/fl: snap at line 6: run 16q@200; the address-space snapshot is not used/);
    // Without it the snapshot's pages are not known to be the workload's.
    expect(ops.find((o) => o.op.kind === 'exit')!.recorded.map((r) => r.ours)).toEqual([false, false]);
  });

  it('refuses a snap-end whose counts disagree', async () => {
    const bad = [...SNAP];
    bad[5] = L(7, '1.000006', 'tracing_mark_write: fl: snap-end vmas=2 pages=18');
    const { ops, lifter } = await liftTextWith(['# tracer: nop', ...bad].join('\n') + '\n');
    expect(ops.some((o) => o.op.kind === 'snapshot')).toBe(false);
    expect(lifter.notes.join('\n')).toMatch(/pages=18, 17 read/);
  });
});

describe('a snapshot after the window\'s first op', () => {
  it('is refused: it would describe the address space after that op', async () => {
    const lines = [
      L(7, '1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L(7, '1.000002', 'page_fault_user: address=0x600010 ip=0x401000 error_code=0x6', 'd....'),
      L(7, '1.000003', 'tracing_mark_write: fl: snap vma start=0x600000 end=0x601000 prot=rw-p kind=anon off=0x0 name=-'),
      L(7, '1.000004', 'tracing_mark_write: fl: snap pages addr=0x600000 runs=1ax@100'),
      L(7, '1.000005', 'tracing_mark_write: fl: snap-end vmas=1 pages=1'),
    ];
    const { ops, lifter } = await liftTextWith(['# tracer: nop', ...lines].join('\n') + '\n');
    expect(ops.some((o) => o.op.kind === 'snapshot')).toBe(false);
    expect(lifter.notes.join('\n')).toMatch(/after the window's first op \(line 3\)/);
  });
});
