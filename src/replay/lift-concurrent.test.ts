/**
 * Lifting threads that run at the same time on two CPUs: their events interleave line by line,
 * and each task's events go to that task's open op; ops are handed on in the order they opened.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Lifter, type LiftedOp } from './lift.js';
import { collectTrace, FormatRegistry } from '../trace/index.js';
import { grammarsDir } from '../paths.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);

/** A line of task `pid` on `cpu` at `us` microseconds past 1 s. */
const L = (pid: number, cpu: number, us: number, rest: string, lat = '.....'): string =>
  `${'w'.padStart(16)}-${pid}     [00${cpu}] ${lat}   ${(1 + us / 1e6).toFixed(6)}: ${rest}`;
const FAULT = (pid: number, cpu: number, us: number, addr: number, code = 6): string =>
  L(pid, cpu, us, `page_fault_user: address=0x${addr.toString(16)} ip=0x401000 error_code=0x${code.toString(16)}`, 'd....');
const ALLOC = (pid: number, cpu: number, us: number, pfn: number, order = 0): string =>
  L(pid, cpu, us, `mm_page_alloc: page=0000000000000001 pfn=0x${pfn.toString(16)} order=${order} migratetype=1 gfp_flags=${order > 0 ? 'GFP_TRANSHUGE_LIGHT' : 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'}`);
const RSS = (pid: number, cpu: number, us: number, bytes: number): string => L(pid, cpu, us, `rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=${bytes}B`, '...1.');
const FLUSH = (pid: number, cpu: number, us: number, reason: number, lat = 'd..3.'): string => {
  const name = ['flush on task switch', 'remote shootdown', 'local shootdown', 'local MM shootdown', 'remote IPI send', 'remote wrong CPU'][reason];
  return L(pid, cpu, us, `tlb_flush: pages:1 reason:${name} (${reason})`, lat);
};
const SW = (cpu: number, us: number, prev: [string, number], state: string, next: [string, number]): string =>
  `${prev[0].padStart(16)}-${prev[1]}     [00${cpu}] d..2.   ${(1 + us / 1e6).toFixed(6)}: sched_switch: prev_comm=${prev[0]} prev_pid=${prev[1]} prev_prio=120 prev_state=${state} ==> next_comm=${next[0]} next_pid=${next[1]} next_prio=120`;

const MAIN: [string, number] = ['w', 7];
const THREAD: [string, number] = ['w', 8];
const IDLE: [string, number] = ['swapper/1', 0];
const BEGIN = [
  L(7, 0, 1, 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
  L(7, 0, 2, 'tracing_mark_write: fl: thread tid=8'),
];

/**
 * Lift the lines; `handed[n]` is how many ops had been handed on once line n of the trace was
 * fed (line 1 is the header: the lines given start at line 2).
 */
async function lift(lines: string[]): Promise<{ ops: LiftedOp[]; handed: number[] }> {
  const { events } = await collectTrace(Readable.from([Buffer.from(['# tracer: nop', ...lines].join('\n') + '\n')]), { file: '-', registry: reg, release: '6.18.44-fc-v669' });
  const ops: LiftedOp[] = [];
  const l = new Lifter({}, (o) => ops.push(o));
  const handed: number[] = [];
  for (const e of events) {
    l.feed(e);
    handed[e.line] = ops.length;
  }
  l.end();
  return { ops, handed };
}

const faults = (ops: LiftedOp[]): LiftedOp[] => ops.filter((o) => o.op.kind === 'fault');
const allocs = (o: LiftedOp): number[] => ((o.op as { allocs?: Array<{ pfn: number }> }).allocs ?? []).map((a) => a.pfn);

describe('two threads faulting at once on two CPUs', () => {
  // Thread 8 faults on CPU 1; thread 7 faults on CPU 0 before 8's allocation and rss update
  // come; then each one's output, interleaved.
  const lines = [
    ...BEGIN,
    FAULT(8, 1, 10, 0x7f0000010000),
    FAULT(7, 0, 11, 0x7f0000020000),
    ALLOC(8, 1, 12, 0x10000),
    ALLOC(7, 0, 13, 0x20000, 4),
    RSS(7, 0, 14, 65536),
    RSS(8, 1, 15, 65536 + 4096),
    FAULT(8, 1, 16, 0x7f0000011000),
    ALLOC(8, 1, 17, 0x10001),
    FAULT(7, 0, 18, 0x7f0000030000),
    RSS(8, 1, 19, 65536 + 8192),
    ALLOC(7, 0, 20, 0x30000),
    RSS(7, 0, 21, 65536 + 12288),
  ];

  it("each fault holds its own task's allocation and rss update", async () => {
    const { ops } = await lift(lines);
    const fs = faults(ops);
    expect(fs.map((o) => [o.op.tid, allocs(o), o.recorded.map((r) => [r.pid, r.delta])])).toEqual([
      [8, [0x10000], [[8, 4096]]],
      [7, [0x20000], [[7, null]]],
      [8, [0x10001], [[8, 4096]]],
      [7, [0x30000], [[7, 4096]]],
    ]);
    // The rss update follows the counter's previous value, whichever task set it.
    expect(fs[0]!.recorded[0]!.line).toBe(9);
  });

  it('hands the ops on in the order they opened, none before the ops opened earlier are complete', async () => {
    const { ops, handed } = await lift(lines);
    const idx = ops.map((o) => o.op.at.index);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    // Thread 8's first fault (line 4) ends at its next fault (line 10); thread 7's (line 5),
    // opened after it, ends at 7's next fault (line 12), and waits for 8's in between.
    const firstFault = ops.findIndex((o) => o.op.kind === 'fault');
    expect(handed[9]).toBeLessThanOrEqual(firstFault);
    expect(handed[10]).toBe(firstFault + 1);
    expect(handed[11]).toBe(firstFault + 1);
    expect(handed[12]).toBe(firstFault + 2);
  });
});

describe('rss updates of one counter on two CPUs at once', () => {
  it('two reads at one value: how the sum splits is unknown, and the counter goes on from it', async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 9, 0x7f0000010000),
      FAULT(7, 0, 10, 0x7f0000020000),
      RSS(7, 0, 11, 4096),
      RSS(8, 1, 20, 12288),
      RSS(7, 0, 20, 12288),
      FAULT(7, 0, 30, 0x7f0000021000),
      RSS(7, 0, 31, 16384),
    ]);
    expect(faults(ops).map((o) => [o.op.tid, o.recorded.map((r) => r.delta)])).toEqual([[8, [null]], [7, [null, null]], [7, [4096]]]);
  });

  it('two reads at one value some microseconds apart are still a race (a zero delta is never traced); far apart, the trace order holds', async () => {
    const run = (gapUs: number) => lift([
      ...BEGIN,
      FAULT(8, 1, 9, 0x7f0000010000),
      FAULT(7, 0, 10, 0x7f0000020000),
      RSS(7, 0, 11, 4096),
      RSS(8, 1, 20, 12288),
      RSS(7, 0, 20 + gapUs, 12288),
    ]);
    const deltas = (ops: LiftedOp[]) => faults(ops).map((o) => [o.op.tid, o.recorded.map((r) => r.delta)]);
    expect(deltas((await run(5)).ops)).toEqual([[8, [null]], [7, [null, null]]]);
    expect(deltas((await run(40)).ops)).toEqual([[8, [8192]], [7, [null, 0]]]);
  });

  it('a read below the other CPU\'s, just before it in the trace: the adds are taken in the order of the reads', async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 9, 0x7f0000010000),
      FAULT(7, 0, 10, 0x7f0000020000),
      RSS(7, 0, 11, 4096),
      // 8's read saw 7's add; 7's read, traced after it, came before 8's add.
      RSS(8, 1, 20, 4096 + 65536 + 4096),
      RSS(7, 0, 21, 8192),
      FAULT(7, 0, 30, 0x7f0000021000),
      RSS(7, 0, 31, 4096 + 65536 + 8192),
    ]);
    expect(faults(ops).map((o) => [o.op.tid, o.recorded.map((r) => r.delta)])).toEqual([[8, [65536]], [7, [null, 4096]], [7, [4096]]]);
  });

  it('updates far apart in time, or on one CPU, keep their trace order', async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 9, 0x7f0000010000),
      FAULT(7, 0, 10, 0x7f0000020000),
      RSS(7, 0, 11, 4096),
      RSS(8, 1, 20, 12288),
      RSS(7, 0, 40, 8192),
    ]);
    expect(faults(ops).map((o) => [o.op.tid, o.recorded.map((r) => r.delta)])).toEqual([[8, [8192]], [7, [null, -4096]]]);
  });
});

describe('a flush done in a flush IPI\'s handler', () => {
  it("is the output of the op that sent the IPI, not of the op of the task it interrupted", async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 10, 0x7f0000010000, 7),
      ALLOC(8, 1, 11, 0x10000),
      FAULT(7, 0, 12, 0x7f0000020000),
      FLUSH(8, 1, 13, 4),
      ALLOC(7, 0, 14, 0x20000),
      FLUSH(7, 0, 15, 1, 'd.h..'),
      FLUSH(8, 1, 16, 3),
      RSS(7, 0, 17, 4096),
    ]);
    const [sender, interrupted] = faults(ops);
    expect(sender!.recorded.map((r) => [r.ev, r.b, r.pid])).toEqual([['tlb_flush', 4, 8], ['tlb_flush', 1, 7], ['tlb_flush', 3, 8]]);
    expect(interrupted!.recorded.map((r) => r.ev)).toEqual(['rss_stat']);
  });

  it('answers the send whose op is still open, not an older one answered where the trace did not look', async () => {
    const { ops } = await lift([
      ...BEGIN,
      // A send whose answer on CPU 0 ran in another process's context (not in the trace).
      FAULT(8, 1, 10, 0x7f0000010000, 7),
      FLUSH(8, 1, 11, 4),
      FLUSH(8, 1, 12, 3),
      FAULT(8, 1, 20, 0x7f0000011000, 7),
      FAULT(7, 0, 21, 0x7f0000020000),
      FLUSH(8, 1, 22, 4),
      FLUSH(7, 0, 23, 1, 'd.h..'),
      FLUSH(8, 1, 24, 3),
    ]);
    const fs = faults(ops);
    expect(fs.map((o) => [o.op.tid, o.recorded.map((r) => r.b)])).toEqual([
      [8, [4, 3]],
      [8, [4, 1, 3]],
      [7, []],
    ]);
  });
});

describe('a task preempted in the middle of its op', () => {
  it('keeps its op open for its later events while the other thread goes on', async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 10, 0x7f0000010000),
      SW(1, 11, THREAD, 'R+', ['other', 99]),
      FAULT(7, 0, 12, 0x7f0000020000),
      ALLOC(7, 0, 13, 0x20000),
      RSS(7, 0, 14, 4096),
      FAULT(7, 0, 15, 0x7f0000021000),
      SW(1, 16, ['other', 99], 'S', THREAD),
      ALLOC(8, 1, 17, 0x10000),
      RSS(8, 1, 18, 8192),
      ALLOC(7, 0, 19, 0x20001),
      RSS(7, 0, 20, 12288),
    ]);
    const fs = faults(ops);
    expect(fs.map((o) => [o.op.tid, o.preempted ?? false, allocs(o), o.recorded.map((r) => r.line)])).toEqual([
      [8, true, [0x10000], [12]],
      [7, false, [0x20000], [8]],
      [7, false, [0x20001], [14]],
    ]);
  });
});

describe('the end of a task\'s op', () => {
  it('a task that slept outside its op: its op ends when another op begins', async () => {
    const { ops, handed } = await lift([
      ...BEGIN,
      FAULT(8, 1, 10, 0x7f0000010000),
      ALLOC(8, 1, 11, 0x10000),
      RSS(8, 1, 12, 4096),
      SW(1, 13, THREAD, 'S', IDLE),
      FAULT(7, 0, 14, 0x7f0000020000),
      ALLOC(7, 0, 15, 0x20000),
    ]);
    const first = ops.findIndex((o) => o.op.kind === 'fault' && o.op.tid === 8);
    // Handed on at 7's fault (line 8), before the end of the trace.
    expect(handed[7]).toBeLessThanOrEqual(first);
    expect(handed[8]).toBeGreaterThan(first);
  });

  it('an exit: the thread that tears the mm down, in its own context, adds to the exit op', async () => {
    const { ops } = await lift([
      ...BEGIN,
      FAULT(8, 1, 10, 0x7f0000010000),
      ALLOC(8, 1, 11, 0x10000),
      RSS(8, 1, 12, 4096),
      L(7, 0, 20, 'sys_exit_group(error_code: 0)'),
      SW(0, 21, MAIN, 'Z', IDLE),
      L(8, 1, 22, 'sched_process_exit: comm=w pid=8 prio=120'),
      L(8, 1, 23, 'rss_stat: mm_id=5 curr=0 type=MM_ANONPAGES size=0B', '...1.'),
      L(8, 1, 24, 'mm_page_free: page=0000000000000001 pfn=0x10000 order=0', '...1.'),
      SW(1, 25, THREAD, 'X', IDLE),
    ]);
    const exit = ops.find((o) => o.op.kind === 'exit')!;
    expect(exit.recorded.map((r) => [r.ev, r.pid])).toEqual([['rss_stat', 8], ['mm_page_free', 8]]);
    expect(faults(ops)[0]!.recorded.map((r) => r.ev)).toEqual(['rss_stat']);
  });
});

describe('the bound on ops waiting behind an open one', () => {
  it('a task that ran a second with nothing of its op: the op is complete', async () => {
    const lines = [...BEGIN, FAULT(8, 1, 10, 0x7f0000010000), ALLOC(8, 1, 11, 0x10000), RSS(8, 1, 12, 4096)];
    // Thread 8 computes in user space (no event); thread 7 faults every 100 ms.
    for (let i = 1; i <= 12; i++) lines.push(FAULT(7, 0, i * 100_000, 0x7f0000100000 + i * 4096));
    const { ops, handed } = await lift(lines);
    const first = ops.findIndex((o) => o.op.kind === 'fault' && o.op.tid === 8);
    expect(ops[first]!.recorded.map((r) => r.line)).toEqual([6]);
    // Not within the second; handed on at the first event past it.
    const lineOf = (i: number): number => 6 + i;
    expect(handed[lineOf(10)]).toBeLessThanOrEqual(first);
    expect(handed[lineOf(11)]).toBeGreaterThan(first);
  });

  it('only the time the task runs counts, across its preemptions', async () => {
    const at = (lines: string[], us: number): string => FAULT(7, 0, us, 0x7f0000100000 + lines.length * 4096);
    const lines = [...BEGIN, FAULT(8, 1, 10, 0x7f0000010000), ALLOC(8, 1, 11, 0x10000), RSS(8, 1, 12, 4096)];
    // Thread 8 runs 600 ms, waits 2 s preempted, then runs again.
    lines.push(at(lines, 300_000));
    lines.push(SW(1, 600_012, THREAD, 'R', ['other', 99]));
    lines.push(at(lines, 1_000_000), at(lines, 2_000_000));
    lines.push(SW(1, 2_600_000, ['other', 99], 'S', THREAD));
    const back = lines.length + 1;
    lines.push(at(lines, 2_800_000), at(lines, 2_900_000), at(lines, 3_100_000));
    const { ops, handed } = await lift(lines);
    const first = ops.findIndex((o) => o.op.kind === 'fault' && o.op.tid === 8);
    // 600 ms before the preemption and 300 ms after it: not yet; 500 ms after it: 1.1 s.
    expect(handed[back + 2]).toBeLessThanOrEqual(first);
    expect(handed[back + 3]).toBeGreaterThan(first);
  });

  it('a task kept off its CPU in its op while thousands of ops wait: the op is complete', async () => {
    const lines = [...BEGIN, FAULT(8, 1, 10, 0x7f0000010000), SW(1, 11, THREAD, 'R+', ['other', 99])];
    for (let i = 1; i <= 5000; i++) lines.push(FAULT(7, 0, 11 + i, 0x7f0000100000 + i * 4096));
    const { ops, handed } = await lift(lines);
    const first = ops.findIndex((o) => o.op.kind === 'fault' && o.op.tid === 8);
    expect(ops[first]!.preempted).toBe(true);
    // Handed on well before the end of the trace, once the waiting ops pass the bound.
    const at = handed.findIndex((n) => n > first);
    expect(at).toBeGreaterThan(4000);
    expect(at).toBeLessThan(lines.length);
  });
});

describe('the CPUs the workload ran on before the window', () => {
  async function prewindow(lines: string[]) {
    const { events } = await collectTrace(Readable.from([Buffer.from(['# tracer: nop', ...lines].join('\n') + '\n')]), { file: '-', registry: reg, release: '6.1.0-57-cloud-amd64' });
    const ops: LiftedOp[] = [];
    const l = new Lifter({ beginPid: 7 }, (o) => ops.push(o));
    for (const e of events) l.feed(e);
    l.end();
    return ops.find((o) => o.op.kind === 'prewindow')?.op as { cpus?: number[]; lazy?: number[] } | undefined;
  }
  // The task starts on CPU 1 (taskset), pins itself to CPU 0: the migration thread takes it off
  // CPU 1, and it runs on CPU 0 from then on.
  const moved = (onCpu1: [string, number]) => [
    FAULT(7, 1, 1, 0x400000, 4),
    SW(1, 2, MAIN, 'R+', onCpu1),
    SW(0, 3, ['rcu_preempt', 15], 'I', MAIN),
    L(7, 0, 4, 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
    FAULT(7, 0, 5, 0x7f0000010000),
  ];

  it('a CPU it left for a kernel thread holds its mm lazily', async () => {
    const op = await prewindow(moved(['migration/1', 20]));
    expect(op?.cpus).toEqual([0, 1]);
    expect(op?.lazy).toEqual([1]);
  });

  it('a CPU it left for another process does not', async () => {
    const op = await prewindow(moved(['bash', 99]));
    expect(op?.cpus).toEqual([0, 1]);
    expect(op?.lazy).toBeUndefined();
  });

  it('a CPU it came back to is not lazy', async () => {
    const op = await prewindow([
      SW(0, 1, MAIN, 'S', ['swapper/0', 0]),
      SW(0, 2, ['swapper/0', 0], 'R', MAIN),
      L(7, 0, 4, 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      FAULT(7, 0, 5, 0x7f0000010000),
    ]);
    expect(op?.lazy).toBeUndefined();
  });
});

describe("a sibling's switch inside an op that flushes it", () => {
  it("is placed by the op's own events: the shootdown its IPI caused on the sibling's CPU is not one", async () => {
    const { ops } = await lift([
      ...BEGIN,
      L(7, 0, 10, 'sys_madvise(start: 0x7f0000000000, len_in: 0x10000, behavior: 0x4)'),
      FLUSH(7, 0, 11, 4, '...1.'),
      FLUSH(7, 0, 12, 3, 'd..2.'),
      FLUSH(8, 1, 13, 1, 'd.h..'),
      SW(1, 14, THREAD, 'S', IDLE),
      L(7, 0, 15, 'sys_madvise -> 0x0'),
    ]);
    const madvise = ops.find((o) => o.op.kind === 'madvise')!;
    // The remote shootdown is the op's output (it answers the op's send) but not in its context.
    expect(madvise.recorded.some((r) => r.pid === 8 && r.b === 1)).toBe(true);
    expect(madvise.op.siblingSwitchesAt).toEqual([{ cpu: 1, at: 2, tid: 8, on: false, idle: true, ours: false }]);
  });
});

describe('what a thread says of its accesses', () => {
  it('`fl: thread` makes it a marking thread (an `accesses` op); `fl: note role=reader` adds the range it reads unmarked', async () => {
    const { ops } = await lift([
      ...BEGIN,
      L(8, 1, 3, 'tracing_mark_write: fl: note role=reader addr=0x7f0000000000 len=0x4000'),
      L(8, 1, 4, 'tracing_mark_write: fl: note role=reader addr=0x7f0000000000'),
    ]);
    const acc = ops.filter((o) => o.op.kind === 'accesses').map((o) => ({ tid: o.op.tid, tgid: o.op.tgid, reads: (o.op as { reads?: number[] }).reads }));
    // The malformed note (no len) declares nothing.
    expect(acc).toEqual([{ tid: 8, tgid: 7, reads: undefined }, { tid: 8, tgid: 7, reads: [0x7f0000000000, 0x4000] }]);
  });
});

describe('two tasks\' faults on one page, one preempted in the middle of its fault', () => {
  const A = 0x7f0000001000;
  const race = (state: string, addr2: number) => lift([
    ...BEGIN,
    FAULT(8, 1, 10, A + 0x650),
    SW(1, 11, THREAD, state, MAIN),
    FAULT(7, 1, 12, addr2),
    ALLOC(7, 1, 13, 0x500),
    SW(1, 14, MAIN, 'S', THREAD),
    ALLOC(8, 1, 15, 0x501),
  ]);
  const raced = (ops: LiftedOp[]) => faults(ops).map((o) => [o.op.tid, (o.op as { racedWith?: number }).racedWith]);
  it('marks both faults with the other\'s line (Op fault racedWith)', async () => {
    const { ops } = await race('R+', A + 0xca8);
    const [f8, f7] = faults(ops);
    expect(raced(ops)).toEqual([[8, f7!.op.at.line], [7, f8!.op.at.line]]);
  });
  it('not when the first task slept (its fault was over) or the second fault is on another page', async () => {
    expect(raced((await race('S', A + 0xca8)).ops)).toEqual([[8, undefined], [7, undefined]]);
    expect(raced((await race('R+', A + 0x1000)).ops)).toEqual([[8, undefined], [7, undefined]]);
  });
});
