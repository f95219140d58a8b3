import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';
import { liftTrace, type LiftedOp } from './lift.js';
import { parseMarker } from './markers.js';
import { FormatRegistry, grepTrace } from '../trace/index.js';
import { grammarsDir } from '../paths.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);

const lift = (text: string): Promise<LiftedOp[]> => liftText(text);

const L = (ts: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] .....   ${ts}: ${rest}`;

describe('markers', () => {
  it('reads verbs and key=value pairs', () => {
    expect(parseMarker('fl: store addr=0x7f00 len=0x10 stride=0x1000 count=4')).toEqual({
      verb: 'store', kv: { addr: '0x7f00', len: '0x10', stride: '0x1000', count: '4' }, text: 'store addr=0x7f00 len=0x10 stride=0x1000 count=4',
    });
    expect(parseMarker('something else')).toBeUndefined();
  });
});

describe('lifting', () => {
  it("keeps a write()'s page-cache pages and other kernel allocations out of the fault before it", async () => {
    // write() is not lifted: the page-cache pages it allocates (__GFP_WRITE) and a slab page
    // (not zeroed) follow the last fault of the task. Neither is the fault's allocation nor the
    // workload's memory: their later frees are foreign.
    const ops = await lift([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
      L('1.000003', 'sys_mmap -> 0x7f0000000000'),
      L('1.000004', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x10000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'),
      L('1.000006', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=4096B'),
      L('1.000007', 'mm_page_alloc: page=0000000000000002 pfn=0x20000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_WRITE|__GFP_COMP'),
      L('1.000008', 'mm_page_alloc: page=0000000000000003 pfn=0x30002 order=1 migratetype=0 gfp_flags=GFP_NOWAIT|__GFP_RECLAIMABLE|__GFP_NORETRY|__GFP_COMP'),
      L('1.000009', 'sys_munmap(addr: 0x7f0000000000, len: 0x200000)'),
      L('1.000010', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=0B'),
      L('1.000011', 'mm_page_free: page=0000000000000002 pfn=0x20000 order=0'),
      L('1.000012', 'mm_page_free: page=0000000000000003 pfn=0x30002 order=1'),
      L('1.000013', 'mm_page_free: page=0000000000000001 pfn=0x10000 order=0'),
      L('1.000014', 'sys_munmap -> 0x0'),
    ].join('\n'));
    const fault = ops.find((o) => o.op.kind === 'fault')!;
    expect(fault.op).toMatchObject({ allocs: [{ pfn: 0x10000, order: 0, use: 'user' }] });
    const munmap = ops.find((o) => o.op.kind === 'munmap')!;
    const frees = munmap.recorded.filter((r) => r.ev === 'mm_page_free');
    expect(frees.map((r) => [r.pfn, r.ours])).toEqual([[0x20000, false], [0x30002, false], [0x10000, true]]);
  });

  it('turns syscalls, faults with their allocations, and markers into ops; kernel output stays output', async () => {
    const ops = await lift([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
      L('1.000003', 'sys_mmap -> 0x7f0000000000'),
      L('1.000004', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x10000 order=4 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'),
      L('1.000006', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=65536B'),
      L('1.000007', 'tracing_mark_write: fl: counters-begin'),
      L('1.000008', 'tlb_flush: pages:1 reason:local MM shootdown (3)'),
      L('1.000009', 'tracing_mark_write: fl: counters-end'),
      L('1.000010', 'sys_madvise(start: 0x7f0000000000, len_in: 0x200000, behavior: 0x8)'),
      L('1.000011', 'tlb_flush: pages:-1 reason:local MM shootdown (3)'),
      L('1.000012', 'sys_madvise -> 0x0'),
      L('1.000013', 'sys_madvise(start: 0x7f0000000000, len_in: 0x200000, behavior: 0x15)'),
      L('1.000014', 'sys_madvise -> 0xffffffffffffffea'),
      L('1.000015', 'page_fault_user: address=0x1000 ip=0x401000 error_code=0x4', 99),
    ].join('\n'));
    // The window opens on memory the workload mapped before it (no snapshot in this trace).
    expect(ops[0]!.op).toMatchObject({ kind: 'prewindow', tgid: 7 });
    ops.shift();
    const kinds = ops.map((o) => o.op.kind);
    expect(kinds).toEqual(['marker', 'mmap', 'fault', 'marker', 'marker', 'madvise', 'madvise']);
    const mmap = ops[1]!.op;
    expect(mmap).toMatchObject({ kind: 'mmap', addr: 0x7f0000000000, len: 0x200000, anon: true });
    const fault = ops[2]!;
    expect(fault.op).toMatchObject({ kind: 'fault', addr: 0x7f0000001000, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user' }] });
    expect(fault.recorded.map((r) => r.key)).toEqual(['rss_stat curr=1 MM_ANONPAGES ?']);
    // Output inside a counters window belongs to no compared op.
    expect(ops[3]!.compare).toBe(false);
    expect(ops[5]!.recorded.map((r) => r.key)).toEqual(['tlb_flush pages=-1 reason=3']);
    expect(ops[5]!.compare).toBe(true);
    // A failed syscall is kept but marked.
    expect(ops[6]!.failed).toBe(true);
    // Another process's fault is not the workload's.
    expect(ops.some((o) => o.op.tid === 99)).toBe(false);
  });

  it('separates threads (clone with CLONE_VM) from forked processes', async () => {
    const ops = await lift([
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_clone(clone_flags: 0x1200011, newsp: 0x0, parent_tidptr: 0x0, child_tidptr: 0x0, tls: 0x0)'),
      L('1.000003', 'sys_clone -> 0x8'),
      L('1.000004', 'sys_clone(clone_flags: 0x3d0f00, newsp: 0x0, parent_tidptr: 0x0, child_tidptr: 0x0, tls: 0x0)'),
      L('1.000005', 'sys_clone -> 0x9'),
      L('1.000006', 'page_fault_user: address=0x1000 ip=0x401000 error_code=0x6', 8),
      L('1.000007', 'page_fault_user: address=0x2000 ip=0x401000 error_code=0x6', 9),
    ].join('\n'));
    expect(ops.filter((o) => o.op.kind === 'fork' || o.op.kind === 'thread').map((o) => o.op)).toMatchObject([
      { kind: 'fork', child: 8 },
      { kind: 'thread', child: 9 },
    ]);
    const faults = ops.filter((o) => o.op.kind === 'fault').map((o) => [o.op.tid, o.op.tgid]);
    expect(faults).toEqual([[8, 8], [9, 7]]);
  });

  it('finds the workload by its begin marker with a byte search: past a look-alike, across a chunk boundary, or none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-begin-'));
    try {
      // Filler before the marker so that its line straddles the reader's 1 MiB chunk boundary; a
      // task whose name holds the marker's text comes first and is not taken for it.
      const filler: string[] = [];
      let bytes = 0;
      for (let i = 0; bytes < (1 << 20) - 200; i++) {
        const l = L(`0.${String(100000 + i).padStart(6, '0')}`, 'tlb_flush: pages:1 reason:local MM shootdown (3)', 50, 0);
        filler.push(l);
        bytes += l.length + 1;
      }
      const lookalike = '  fl: begin-61     [000] .....   1.000000: sched_switch: prev_comm=fl: begin prev_pid=61 prev_prio=120 prev_state=S ==> next_comm=x next_pid=0 next_prio=120';
      const head = ['# tracer: nop', ...filler].join('\n') + '\n';
      const pad = ' '.repeat(Math.max(0, (1 << 20) - Buffer.byteLength(head) - lookalike.length - 1 - 20));
      const body = [
        lookalike + pad,
        L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
        L('1.000002', 'sys_madvise(start: 0x7f0000000000, len_in: 0x200000, behavior: 0x8)', 9),
        L('1.000003', 'sys_madvise -> 0x0', 9),
      ];
      const file = join(dir, 'begin.trace');
      writeFileSync(file, head + body.join('\n') + '\n');
      // The marker line starts before the 1 MiB boundary and ends after it.
      const start = Buffer.byteLength(head) + Buffer.byteLength(lookalike + pad) + 1;
      expect(start).toBeLessThan(1 << 20);
      expect(start + body[1]!.length).toBeGreaterThan(1 << 20);
      const found = [];
      for await (const e of grepTrace(file, 'fl:', { registry: reg, release: '6.18.44-fc-v669' })) found.push(`${e.name} ${e.pid}`);
      expect(found).toEqual(['sched_switch 61', 'print 7']);
      const r = await liftTrace(file, { registry: reg, release: '6.18.44-fc-v669' }, () => {});
      expect(r.lifter.mainPid).toBe(7);
      // No marker at all: the first task that calls madvise/mmap is the workload.
      const bare = join(dir, 'bare.trace');
      writeFileSync(bare, ['# tracer: nop', body[2], body[3], ''].join('\n'));
      const r2 = await liftTrace(bare, { registry: reg, release: '6.18.44-fc-v669' }, () => {});
      expect(r2.lifter.mainPid).toBe(9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


describe('inputs and outputs that are not the workload op\'s own', () => {
  const Lat = (ts: string, lat: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] ${lat}   ${ts}: ${rest}`;
  const trace = [
    '# tracer: nop',
    L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
    L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
    L('1.000003', 'sys_mmap -> 0x7f0000000000'),
    L('1.000004', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
    L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x20000 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO'),
    L('1.000006', 'mm_page_alloc: page=0000000000000002 pfn=0x10000 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO'),
    L('1.000007', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=4096B'),
    Lat('1.000008', 'd..3.', 'mm_lru_insertion: folio=0000000000000002 pfn=0x10000 lru=0 flags=Ma bd'),
    L('1.000009', 'page_fault_user: address=0x7f0000002000 ip=0x401000 error_code=0x6'),
    L('1.000010', 'mm_page_alloc: page=0000000000000003 pfn=0x10001 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO'),
    Lat('1.000011', '.Ns..', 'mm_page_free: page=0000000000000001 pfn=0x20000 order=0'),
    L('1.000012', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=8192B'),
    Lat('1.000013', 'd..3.', 'mm_lru_insertion: folio=0000000000000003 pfn=0x10001 lru=0 flags=Ma bd', 9, 1),
    L('1.000014', 'tracing_mark_write: fl: end scenario=T variant=v'),
  ].join('\n') + '\n';

  it('mm_lru_insertion of the workload\'s folio: on its op in its own context, an lru-drain op in another\'s', async () => {
    const ops = await lift(trace);
    const faults = ops.filter((o) => o.op.kind === 'fault');
    expect(faults.map((o) => o.op.lruAdded)).toEqual([[0x10000], undefined]);
    const drains = ops.filter((o) => o.op.kind === 'lru-drain').map((o) => (o.op as { pfns: number[] }).pfns);
    // The first one only says the trace records the moves.
    expect(drains).toEqual([[], [0x10001]]);
  });

  it('a page freed in softirq (an RCU callback) is not recorded as the op\'s output', async () => {
    const ops = await lift(trace);
    const second = ops.filter((o) => o.op.kind === 'fault')[1]!;
    expect(second.recorded.map((r) => r.ev)).toEqual(['rss_stat']);
  });
});

describe('an op the task was preempted in', () => {
  it('is marked preempted and its consecutive rss updates of one counter are merged; a sleep is not a preemption', async () => {
    const sw = (ts: string, state: string) => L(ts, `sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=${state} ==> next_comm=k next_pid=9 next_prio=120`);
    const back = (ts: string) => L(ts, 'sched_switch: prev_comm=k prev_pid=9 prev_prio=120 prev_state=S ==> next_comm=w next_pid=7 next_prio=120', 9);
    const run = async (state: string) => (await lift([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_munmap(addr: 0x7f0000000000, len: 0x400000)'),
      // The first value of a counter gives no delta (nothing before it to subtract).
      L('1.000003', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=8388608B'),
      L('1.000004', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=6291456B'),
      L('1.000005', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=5697536B'),
      sw('1.000006', state),
      back('1.000007'),
      L('1.000008', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=4194304B'),
      L('1.000009', 'tlb_flush: pages:-1 reason:local MM shootdown (3)'),
      L('1.000010', 'sys_munmap -> 0x0'),
      L('1.000011', 'tracing_mark_write: fl: end scenario=T variant=v'),
    ].join('\n') + '\n')).find((o) => o.op.kind === 'munmap')!;
    const preempted = await run('R+');
    expect(preempted.preempted).toBe(true);
    expect(preempted.recorded.map((r) => [r.ev, r.delta])).toEqual([['rss_stat', null], ['rss_stat', -4194304], ['tlb_flush', undefined]]);
    const slept = await run('D');
    expect(slept.preempted).toBeUndefined();
    expect(slept.recorded.filter((r) => r.ev === 'rss_stat').length).toBe(4);
  });
});

describe('allocations a fault op holds', () => {
  it('keeps the fault\'s user folio and page table; a filesystem\'s or readahead\'s page allocated after it in the task is not the fault\'s', async () => {
    const ops = await lift([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
      L('1.000003', 'sys_mmap -> 0x7f0000000000'),
      L('1.000004', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
      L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x20000 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO'),
      L('1.000006', 'mm_page_alloc: page=0000000000000002 pfn=0x10000 order=4 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT'),
      L('1.000007', 'mm_page_alloc: page=0000000000000003 pfn=0x30000 order=0 migratetype=1 gfp_flags=GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN'),
      L('1.000008', 'mm_page_alloc: page=0000000000000004 pfn=0x30001 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_NORETRY|__GFP_NOWARN'),
      L('1.000009', 'mm_page_alloc: page=0000000000000005 pfn=0x30002 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_WRITE'),
      L('1.000010', 'mm_page_free: page=0000000000000003 pfn=0x30000 order=0'),
      L('1.000011', 'tracing_mark_write: fl: end scenario=T variant=v'),
    ].join('\n') + '\n');
    const fault = ops.find((o) => o.op.kind === 'fault')!;
    expect((fault.op as { allocs: unknown[] }).allocs).toEqual([{ pfn: 0x20000, order: 0, use: 'pgtable' }, { pfn: 0x10000, order: 4, use: 'user', anonFault: true }]);
    // The filesystem's page is not the workload's: its free is not compared.
    expect(fault.recorded.map((r) => r.ours)).toEqual([false]);
  });
});
