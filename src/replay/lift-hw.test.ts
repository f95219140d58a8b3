/**
 * Lifted facts the hardware or the kernel's own bookkeeping reports about a fault or a split:
 * the fault's error code (was the entry present), a `remote wrong CPU` flush landing in the
 * context of a task whose mm is loaded (never that mm's IPI), and the migration entries a split
 * set and restored.
 */
import { describe, expect, it } from 'vitest';
import { liftTextWith } from './lift.case.js';
import type { LiftedOp } from './lift.js';

const L = (ts: string, rest: string, pid = 7, cpu = 1, lat = '.....'): string => `            w-${pid}     [00${cpu}] ${lat}   ${ts}: ${rest}`;

const lift = (lines: string[]) => liftTextWith(['# tracer: nop', ...lines].join('\n') + '\n');

const begin = L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7');

describe('the fault error code', () => {
  it('bit 0 (protection fault on a present entry) is the op\'s `present`', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x7'),
      L('1.000003', 'page_fault_user: address=0x7f0000002000 ip=0x401000 error_code=0x6'),
    ]);
    const faults = ops.filter((o) => o.op.kind === 'fault').map((o) => o.op as Extract<LiftedOp['op'], { kind: 'fault' }>);
    expect(faults.map((f) => [f.write, f.present])).toEqual([[true, true], [true, false]]);
  });
});

describe('a `remote wrong CPU` flush in a workload task\'s context', () => {
  it('is another mm\'s, even while the workload\'s own send to that CPU is pending', async () => {
    const { ops, lifter } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: thread tid=8'),
      L('1.000003', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x7', 8, 0),
      L('1.000004', 'tlb_flush: pages:1 reason:remote IPI send (4)', 8, 0),
      L('1.000005', 'tlb_flush: pages:0 reason:remote wrong CPU (5)', 7, 1, 'd.h..'),
      L('1.000006', 'tlb_flush: pages:1 reason:remote shootdown (1)', 7, 1, 'd.h..'),
      L('1.000007', 'tlb_flush: pages:1 reason:local MM shootdown (3)', 8, 0),
    ]);
    expect(lifter.notOurs.foreignIpiFlushes).toBe(1);
    const fault = ops.find((o) => o.op.kind === 'fault')!;
    // The pending send is answered by the remote shootdown, not by the foreign wrong-CPU flush.
    expect(fault.recorded.map((r) => `${r.ev} ${r.b}`)).toEqual(['tlb_flush 4', 'tlb_flush 1', 'tlb_flush 3']);
  });
});

describe('migration entries of a split', () => {
  it('set_migration_pte/pmd and remove_migration_pte of the op\'s task are its `migrated` and `restored` pages', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'sys_madvise(start: 0x7f0000004000, len_in: 0x3000, behavior: 0x8)'),
      L('1.000003', 'set_migration_pte: addr=7f0000000000, pte=f7ffe7ffcf5fde00 order=4'),
      L('1.000004', 'set_migration_pte: addr=7f0000001000, pte=f7ffe7ffcf5fdc00 order=4'),
      L('1.000005', 'set_migration_pte: addr=7f0000002000, pte=f7ffe7ffcf5fda00 order=4', 9, 0),
      L('1.000006', 'remove_migration_pte: addr=7f0000001000, pte=8000000185010067 order=0'),
      L('1.000007', 'sys_madvise -> 0x0'),
    ]);
    const m = ops.find((o) => o.op.kind === 'madvise')!.op;
    expect(m.migrated).toEqual([0x7f0000000000, 0x7f0000001000]);
    expect(m.restored).toEqual([0x7f0000001000]);
  });
});

describe('a switch that overlaps another task\'s op', () => {
  it('a workload task switched out to another process while its sibling\'s op on another CPU is open is marked `overlaps`', async () => {
    const sw = (ts: string, prev: number, next: number, nextComm: string, cpu: number, state = 'R') =>
      L(ts, `sched_switch: prev_comm=w prev_pid=${prev} prev_prio=120 prev_state=${state} ==> next_comm=${nextComm} next_pid=${next} next_prio=120`, prev, cpu, 'd..2.');
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: thread tid=8'),
      L('1.000003', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x7', 8, 0),
      sw('1.000004', 7, 99, 'other', 1, 'D'),
      L('1.000005', 'tlb_flush: pages:1 reason:local MM shootdown (3)', 8, 0),
      sw('1.000006', 8, 99, 'other', 0, 'S'),
    ]);
    const runs = ops.filter((o) => o.op.kind === 'run').map((o) => [o.op.tid, (o.op as { overlaps?: boolean }).overlaps ?? false]);
    expect(runs).toEqual([[7, true], [8, false]]);
  });
});

describe('what record\'s second instance adds (other tasks\' events)', () => {
  it('the header marker\'s wide= becomes a capture op before the first op', async () => {
    const { ops } = await lift([
      L('0.900000', 'tracing_mark_write: fl: note release=6.18.44 pid=7 wide=pagemap:mm_lru_insertion,tlb:tlb_flush thp/enabled:always', 3, 0),
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
    ]);
    const cap = ops.find((o) => o.op.kind === 'capture');
    expect(cap?.op).toMatchObject({ kind: 'capture', wide: ['pagemap:mm_lru_insertion', 'tlb:tlb_flush'] });
    expect(ops.indexOf(cap!)).toBeLessThan(ops.findIndex((o) => o.op.kind === 'fault'));
  });

  it('a `remote wrong CPU` in another process answering the workload\'s send is the sender op\'s ipiLeft; a shootdown there (that process\'s own mm) answers nothing', async () => {
    const { ops } = await lift([
      begin,
      L('1.0000015', 'tracing_mark_write: fl: thread tid=8'),
      L('1.000002', 'sys_madvise(start: 0x7f0000000000, len_in: 0x1000, behavior: 0x4)'),
      L('1.000003', 'tlb_flush: pages:1 reason:remote IPI send (4)'),
      L('1.000004', 'tlb_flush: pages:0 reason:remote wrong CPU (5)', 99, 0, 'd.h..'),
      L('1.000005', 'tlb_flush: pages:1 reason:local MM shootdown (3)'),
      L('1.000006', 'sys_madvise -> 0x0'),
      L('1.000007', 'sys_madvise(start: 0x7f0000001000, len_in: 0x1000, behavior: 0x4)'),
      L('1.000008', 'tlb_flush: pages:1 reason:remote IPI send (4)'),
      L('1.000009', 'tlb_flush: pages:1 reason:remote shootdown (1)', 98, 2, 'd.h..'),
      L('1.0000095', 'tlb_flush: pages:1 reason:remote shootdown (1)', 8, 2, 'd.h..'),
      L('1.000010', 'sys_madvise -> 0x0'),
    ]);
    const m = ops.filter((o) => o.op.kind === 'madvise');
    expect(m.map((o) => o.op.ipiLeft)).toEqual([[0], undefined]);
    // Other processes' flushes are never the workload's recorded output; the send stays for the
    // workload thread's answer.
    expect(m.map((o) => o.recorded.map((r) => r.b))).toEqual([[4, 3], [4, 1]]);
  });
});

describe('brk', () => {
  it('is an op with the break it returned', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'sys_brk(brk: 0x0)'),
      L('1.000003', 'sys_brk -> 0x3ecdb000'),
    ]);
    expect(ops.find((o) => o.op.kind === 'brk')?.op).toMatchObject({ kind: 'brk', brk: 0, result: 0x3ecdb000 });
  });
});

describe('pages of a split folio', () => {
  it('stay the workload\'s after one of them is freed, also once its head pfn is reallocated', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000000000 ip=0x401000 error_code=0x6'),
      L('1.000003', 'mm_page_alloc: page=0000000000000001 pfn=0x2000 order=4 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT'),
      L('1.000004', 'sys_madvise(start: 0x7f0000001000, len_in: 0x1000, behavior: 0x4)'),
      L('1.000005', 'mm_page_free: page=0000000000000002 pfn=0x2001 order=0'),
      L('1.000006', 'mm_page_free: page=0000000000000003 pfn=0x2000 order=0'),
      L('1.000007', 'sys_madvise -> 0x0'),
      L('1.000008', 'page_fault_user: address=0x7f0000100000 ip=0x401000 error_code=0x6'),
      L('1.000009', 'mm_page_alloc: page=0000000000000003 pfn=0x2000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO'),
      L('1.000010', 'sys_munmap(addr: 0x7f0000000000, len: 0x10000)'),
      L('1.000011', 'mm_page_free: page=0000000000000004 pfn=0x2003 order=0'),
      L('1.000012', 'sys_munmap -> 0x0'),
    ]);
    const frees = ops.flatMap((o) => o.recorded).filter((r) => r.ev === 'mm_page_free').map((r) => [r.pfn, r.ours]);
    expect(frees).toEqual([[0x2001, true], [0x2000, true], [0x2003, true]]);
  });
});

describe('an op its task finished on another CPU', () => {
  it('a fault that slept and resumed elsewhere runs where its output was traced', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6', 7, 0),
      L('1.000003', 'sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=D ==> next_comm=other next_pid=99 next_prio=120', 7, 0, 'd..2.'),
      L('1.000050', 'mm_page_alloc: page=0000000000000001 pfn=0x3000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO', 7, 1),
      L('1.000051', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=4096B', 7, 1),
    ]);
    const f = ops.find((o) => o.op.kind === 'fault')!;
    expect([f.op.cpu, f.recorded.map((r) => r.cpu)]).toEqual([1, [1]]);
  });
});

describe('drop_caches', () => {
  it('the write(2) that follows `fl: note action=drop_caches` is the drop-caches op: the shrinkers\' output is its', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: note action=drop_caches value=2'),
      L('1.000003', 'sys_write(fd: 4, buf: 0x47b8c8, count: 1)'),
      L('1.000004', 'tlb_flush: pages:16 reason:local MM shootdown (3)'),
      L('1.000005', 'sys_write -> 0x1'),
      L('1.000006', 'sys_write(fd: 1, buf: 0x47b8c8, count: 1)'),
      L('1.000007', 'sys_write -> 0x1'),
    ]);
    const drop = ops.find((o) => o.op.kind === 'drop-caches')!;
    expect(drop.recorded.map((r) => `${r.ev} ${r.a}`)).toEqual(['tlb_flush 16']);
    // A second write is a system call of its own.
    expect(ops.filter((o) => o.op.kind === 'syscall').length).toBe(1);
  });
});

describe('a page allocated for something the model does not hold', () => {
  it('stops being the workload\'s: a page table\'s pfn reused as an mmu_gather batch page is freed as another\'s', async () => {
    const fault = L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6');
    const table = L('1.000003', 'mm_page_alloc: page=0000000091059eb pfn=0x1b9741 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP');
    const madv = L('1.000004', 'sys_madvise(start: 0x7f0000000000, len_in: 0x10000, behavior: 0x4)');
    const batch = L('1.000005', 'mm_page_alloc: page=0000000091059eb pfn=0x1b9741 order=0 migratetype=0 gfp_flags=GFP_NOWAIT');
    const free = L('1.000006', 'mm_page_free: page=0000000091059eb pfn=0x1b9741 order=0');
    const end = L('1.000007', 'sys_madvise -> 0x0');
    const oursOf = async (lines: string[]) => (await lift(lines)).ops.find((o) => o.op.kind === 'madvise')!.recorded.find((r) => r.ev === 'mm_page_free')!.ours;
    expect(await oursOf([begin, fault, table, madv, batch, free, end])).toBe(false);
    expect(await oursOf([begin, fault, table, madv, free, end])).toBe(true);
  });
});

describe('memcg reclaim by a write', () => {
  it('the write(2) after `fl: reclaim` is the memcg-reclaim op, even when the task slept in it', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: reclaim how=memcg-force-empty bytes=8388608'),
      L('1.000003', 'sys_write(fd: 4, buf: 0x7fff5cb21a10, count: 7)'),
      L('1.000004', 'sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=D ==> next_comm=kworker/1:2 next_pid=99 next_prio=120', 7, 1, 'd..2.'),
      L('1.000005', 'sched_switch: prev_comm=kworker/1:2 prev_pid=99 prev_prio=120 prev_state=S ==> next_comm=w next_pid=7 next_prio=120', 99, 1, 'd..2.'),
      L('1.000006', 'tlb_flush: pages:4 reason:local MM shootdown (3)', 7, 1, 'd..2.'),
      L('1.000007', 'sys_write -> 0x7'),
    ]);
    expect(ops.find((o) => o.op.kind === 'memcg-reclaim')!.recorded.map((r) => `${r.ev} ${r.a}`)).toEqual(['tlb_flush 4']);
    expect(ops.some((o) => o.op.kind === 'syscall')).toBe(false);
  });
});

describe('a pending reschedule', () => {
  it('an output event with need-resched set makes the op compare its rss updates by their sum', async () => {
    const run = async (lat: string) => (await lift([
      begin,
      L('1.000002', 'sys_munmap(addr: 0x7f0000000000, len: 0x400000)'),
      L('1.000003', 'rss_stat: mm_id=1 curr=1 type=MM_ANONPAGES size=1085440B', 7, 1, lat),
      L('1.000004', 'rss_stat: mm_id=1 curr=1 type=MM_ANONPAGES size=0B', 7, 1, '...1.'),
      L('1.000005', 'sys_munmap -> 0x0'),
    ])).ops.find((o) => o.op.kind === 'munmap')!;
    expect((await run('.N.1.')).preempted).toBe(true);
    expect((await run('.n.1.')).preempted).toBe(true);
    expect((await run('.L.1.')).preempted).toBeFalsy();
    expect((await run('...1.')).preempted).toBeFalsy();
  });
});

describe('the deferred-split shrinker in the workload\'s reclaim', () => {
  it('each mm_shrink_slab_start of deferred_split_scan is the op\'s next `shrinks` call (priority, total_scan); other shrinkers are not', async () => {
    const start = (shrink: string, total: number, prio: number, ts: string) =>
      L(ts, `mm_shrink_slab_start: ${shrink} 00000000f76300b3: nid: 0 objects to shrink 6 gfp_flags GFP_HIGHUSER_MOVABLE cache items 1 delta 0 total_scan ${total} priority ${prio}`);
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: reclaim how=memcg-force-empty bytes=61440'),
      L('1.000003', 'sys_write(fd: 4, buf: 0x7ffe68bf20b0, count: 5)'),
      start('deferred_split_scan+0x0/0x540', 0, 12, '1.000004'),
      start('super_cache_scan+0x0/0x210', 1, 12, '1.000005'),
      start('deferred_split_scan+0x0/0x540', 3, 11, '1.000006'),
      L('1.000007', 'sys_write -> 0x5'),
    ]);
    expect(ops.find((o) => o.op.kind === 'memcg-reclaim')!.op.shrinks).toEqual([{ priority: 12, totalScan: 0 }, { priority: 11, totalScan: 3 }]);
  });
});

describe('before the window', () => {
  it('the CPUs the workload ran on since its exec go with the `prewindow` op', async () => {
    const { Readable } = await import('node:stream');
    const { Lifter } = await import('./lift.js');
    const { collectTrace, FormatRegistry } = await import('../trace/index.js');
    const { grammarsDir } = await import('../paths.js');
    const text = ['# tracer: nop',
      L('1.000001', 'rss_stat: mm_id=11 curr=1 type=MM_ANONPAGES size=4096B', 7, 0),
      L('1.000002', 'rss_stat: mm_id=22 curr=1 type=MM_ANONPAGES size=4096B', 7, 2),
      L('1.000003', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6', 7, 1),
      L('1.000004', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7', 7, 1),
      L('1.000005', 'sys_munmap(addr: 0x7f0000000000, len: 0x1000)', 7, 1),
      L('1.000006', 'sys_munmap -> 0x0', 7, 1),
    ].join('\n') + '\n';
    const { events } = await collectTrace(Readable.from([Buffer.from(text)]), { file: '-', registry: FormatRegistry.fromDirectory(grammarsDir), release: '6.18.44-fc-v669' });
    const ops: Array<{ op: { kind: string; cpus?: number[] } }> = [];
    const lifter = new Lifter({ beginPid: 7 }, (o) => ops.push(o as never));
    for (const e of events) lifter.feed(e);
    lifter.end();
    // The mm changed (exec) on CPU 2: CPU 0 held the old mm only.
    expect(ops.find((o) => o.op.kind === 'prewindow')!.op.cpus).toEqual([1, 2]);
  });
});

describe('the write(2) an announced reclaim makes, further', () => {
  const reclaim = (count: number, ret: string) => lift([
    begin,
    L('1.000002', 'tracing_mark_write: fl: reclaim how=memcg-reclaim bytes=61440'),
    L('1.000003', `sys_write(fd: 4, buf: 0x7ffe68bf20b0, count: ${count})`),
    L('1.000004', 'tlb_flush: pages:4 reason:local MM shootdown (3)', 7, 1, 'd..2.'),
    L('1.000005', `sys_write -> ${ret}`),
  ]).then((r) => r.ops);
  it('an error return (memory.reclaim: -EAGAIN after reclaiming less than asked) does not undo the op', async () => {
    const ops = await reclaim(5, '0xfffffffffffffff5');
    const op = ops.find((o) => o.op.kind === 'memcg-reclaim')!;
    expect([op.failed, op.recorded.length]).toEqual([false, 1]);
  });
  it('a write of another length (a log line) is a system call of its own', async () => {
    const ops = await reclaim(42, '0x2a');
    expect(ops.find((o) => o.op.kind === 'memcg-reclaim')!.recorded).toEqual([]);
    expect(ops.find((o) => o.op.kind === 'syscall')!.recorded.length).toBe(1);
  });
});

describe('a larger allocation over pages the workload held', () => {
  it('forgets every held page inside it: their later frees are another\'s', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000003', 'mm_page_alloc: page=0000000091059eb pfn=0x1b9741 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP'),
      L('1.000004', 'sys_madvise(start: 0x7f0000000000, len_in: 0x10000, behavior: 0x4)'),
      L('1.000005', 'mm_page_alloc: page=0000000091059eb pfn=0x1b9740 order=2 migratetype=0 gfp_flags=GFP_NOWAIT'),
      L('1.000006', 'mm_page_free: page=0000000091059eb pfn=0x1b9740 order=2'),
      L('1.000007', 'sys_madvise -> 0x0'),
    ]);
    expect(ops.find((o) => o.op.kind === 'madvise')!.recorded.find((r) => r.ev === 'mm_page_free')!.ours).toBe(false);
  });
});

describe('another task\'s lru_add drain while a workload zap is preempted', () => {
  it('falls inside that op (lruDrainedMidway), not after it', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000003', 'mm_page_alloc: page=0000000000000001 pfn=0x500 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'),
      L('1.000004', 'sys_munmap(addr: 0x7f0000000000, len: 0x10000)'),
      L('1.000005', 'sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=R+ ==> next_comm=node next_pid=99 next_prio=120', 7, 1, 'd..2.'),
      L('1.000006', 'mm_lru_insertion: folio=0000000000000001 pfn=0x500 lru=1 flags= a bd ', 99, 1, 'd..3.'),
      L('1.000007', 'sched_switch: prev_comm=node prev_pid=99 prev_prio=120 prev_state=R ==> next_comm=w next_pid=7 next_prio=120', 99, 1, 'd..2.'),
      L('1.000008', 'mm_page_free: page=0000000000000001 pfn=0x500 order=0'),
      L('1.000009', 'sys_munmap -> 0x0'),
    ]);
    const munmap = ops.find((o) => o.op.kind === 'munmap')!;
    expect(munmap.op.lruDrainedMidway).toEqual([0x500]);
    expect(ops.filter((o) => o.op.kind === 'lru-drain').flatMap((o) => (o.op as { pfns: number[] }).pfns)).toEqual([]);
  });

  it('with the task asleep in the call or back in user space, the drain is an op of its own', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000003', 'mm_page_alloc: page=0000000000000001 pfn=0x500 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'),
      L('1.000005', 'sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=R+ ==> next_comm=node next_pid=99 next_prio=120', 7, 1, 'd..2.'),
      L('1.000006', 'mm_lru_insertion: folio=0000000000000001 pfn=0x500 lru=1 flags= a bd ', 99, 1, 'd..3.'),
    ]);
    expect(ops.filter((o) => o.op.kind === 'lru-drain').flatMap((o) => (o.op as { pfns: number[] }).pfns)).toEqual([0x500]);
  });
});

describe('a sibling thread\'s task switch in the middle of a system call on another CPU', () => {
  it('is placed in that op by its recorded events so far (Op.siblingSwitchesAt)', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: thread tid=8', 7, 0),
      L('1.000003', 'sys_madvise(start: 0x7f0000000000, len_in: 0x10000, behavior: 0x15)', 7, 0),
      L('1.000004', 'tlb_flush: pages:1 reason:local MM shootdown (3)', 7, 0, 'd..2.'),
      L('1.000005', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=4096B', 7, 0, '...1.'),
      L('1.000006', 'sched_switch: prev_comm=node prev_pid=99 prev_prio=120 prev_state=S ==> next_comm=w next_pid=8 next_prio=120', 99, 1, 'd..2.'),
      L('1.000007', 'sched_switch: prev_comm=w prev_pid=8 prev_prio=120 prev_state=R+ ==> next_comm=node next_pid=99 next_prio=120', 8, 1, 'd..2.'),
      L('1.000008', 'sys_madvise -> 0x0', 7, 0),
    ]);
    const madvise = ops.find((o) => o.op.kind === 'madvise')!;
    expect(madvise.op.siblingSwitchesAt).toEqual([{ cpu: 1, at: 2, tid: 8, on: true }, { cpu: 1, at: 2, tid: 8, on: false, idle: false, ours: false }]);
  });
});

describe('a reclaim pass\'s recorded reference checks', () => {
  it('mm_vmscan_lru_shrink_inactive in the reclaiming op: pages looked at and kept as referenced, in order', async () => {
    const pass = (scanned: number, keep: number, prio: number) => `mm_vmscan_lru_shrink_inactive: nid=0 nr_scanned=${scanned} nr_reclaimed=${scanned - keep} nr_dirty=0 nr_writeback=0 nr_congested=0 nr_immediate=0 nr_activate_anon=0 nr_activate_file=0 nr_ref_keep=${keep} nr_unmap_fail=0 priority=${prio} flags=RECLAIM_WB_FILE|RECLAIM_WB_ASYNC`;
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: reclaim how=memcg-reclaim bytes=4194304'),
      L('1.000003', 'sys_write(fd: 4, buf: 0x7ffe68bf20b0, count: 7)'),
      L('1.000004', pass(512, 512, 12)),
      L('1.000005', pass(512, 0, 11)),
      L('1.000006', 'sys_write -> 0x7'),
    ]);
    expect(ops.find((o) => o.op.kind === 'memcg-reclaim')!.op.inactivePasses).toEqual([{ scanned: 512, refKeep: 512 }, { scanned: 512, refKeep: 0 }]);
  });
});

describe('a sibling\'s switch placed inside a system call', () => {
  it('is not also moved before the call by its time (its own run op stays after it, without overlaps)', async () => {
    const { ops } = await lift([
      begin,
      L('1.000002', 'tracing_mark_write: fl: thread tid=8', 7, 0),
      L('1.000010', 'sys_madvise(start: 0x7f0000000000, len_in: 0x10000, behavior: 0x15)', 7, 0),
      L('1.000011', 'sched_switch: prev_comm=w prev_pid=8 prev_prio=120 prev_state=R+ ==> next_comm=node next_pid=99 next_prio=120', 8, 1, 'd..2.'),
      L('1.000050', 'tlb_flush: pages:1 reason:local MM shootdown (3)', 7, 0, 'd..2.'),
      L('1.000100', 'sys_madvise -> 0x0', 7, 0),
    ]);
    const kinds = ops.map((o) => o.op.kind).filter((k) => k === 'madvise' || k === 'run');
    expect(kinds).toEqual(['madvise', 'run']);
    const run = ops.find((o) => o.op.kind === 'run')!.op as { placed?: boolean; overlaps?: boolean };
    expect([run.placed, run.overlaps]).toEqual([true, undefined]);
    expect(ops.find((o) => o.op.kind === 'madvise')!.op.siblingSwitchesAt).toEqual([{ cpu: 1, at: 0, tid: 8, on: false, idle: false, ours: false }]);
  });
});
