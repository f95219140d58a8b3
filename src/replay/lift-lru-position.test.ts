/**
 * Where inside an op the lru_add batch drained: an `mm_lru_insertion` in the op's own context
 * carries how much of the op's output (its page frees and reclaim_pages() passes) came before
 * it (Op `lruAddedPos`).
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';

const L = (ts: string, rest: string, pid = 7, cpu = 1, lat = '.....'): string => {
  const comm = pid === 7 ? 'w' : 'other';
  return `            ${comm}-${pid}     [00${cpu}] ${lat}   ${ts}: ${rest}`;
};
const ins = (ts: string, pfn: number, pid = 7): string => L(ts, `mm_lru_insertion: folio=00000000000000${pfn.toString(16).slice(-2)} pfn=0x${pfn.toString(16)} lru=0 flags=Ma bd`, pid, 1, 'd..3.');
const free = (ts: string, pfn: number): string => L(ts, `mm_page_free: page=00000000000000${pfn.toString(16).slice(-2)} pfn=0x${pfn.toString(16)} order=0`);
const alloc = (ts: string, pfn: number): string => L(ts, `mm_page_alloc: page=00000000000000${pfn.toString(16).slice(-2)} pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO`);

const head = [
  '# tracer: nop',
  L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
  L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
  L('1.000003', 'sys_mmap -> 0x7f0000000000'),
  L('1.000004', 'page_fault_user: address=0x7f0000000000 ip=0x401000 error_code=0x6'),
  alloc('1.000005', 0x10000),
  L('1.000006', 'page_fault_user: address=0x7f0000001000 ip=0x401000 error_code=0x6'),
  alloc('1.000007', 0x10001),
  L('1.000008', 'page_fault_user: address=0x7f0000002000 ip=0x401000 error_code=0x6'),
  alloc('1.000009', 0x10002),
  L('1.000010', 'sys_munmap(addr: 0x7f0000000000, len: 0x200000)'),
  free('1.000011', 0x10000),
];

describe('lru_add drain positions inside an op', () => {
  it('own context: each move records the op\'s frees before it', async () => {
    const ops = await liftText([
      ...head,
      ins('1.000012', 0x10001),
      free('1.000013', 0x10001),
      L('1.000014', 'sys_munmap -> 0x0'),
      L('1.000015', 'tracing_mark_write: fl: end scenario=T variant=v'),
    ].join('\n') + '\n');
    const munmap = ops.find((o) => o.op.kind === 'munmap')!;
    expect(munmap.op.lruAdded).toEqual([0x10001]);
    expect(munmap.op.lruAddedPos).toEqual([1]);
  });

  it('a reclaim_pages() pass counts as a point in the op, as a free does', async () => {
    const rp = (ts: string) => L(ts, 'mm_vmscan_reclaim_pages: nid=0 nr_scanned=1 nr_reclaimed=0 nr_dirty=0 nr_writeback=0 nr_congested=0 nr_immediate=0 nr_activate_anon=1 nr_activate_file=0 nr_ref_keep=0 nr_unmap_fail=0');
    const ops = await liftText([
      ...head.slice(0, -2),
      L('1.000010', 'sys_madvise(start: 0x7f0000000000, len_in: 0x400000, behavior: 0x15)'),
      ins('1.000011', 0x10000),
      rp('1.000012'),
      ins('1.000013', 0x10001),
      free('1.000014', 0x10000),
      ins('1.000015', 0x10002),
      rp('1.000016'),
      L('1.000017', 'sys_madvise -> 0x0'),
      L('1.000018', 'tracing_mark_write: fl: end scenario=T variant=v'),
    ].join('\n') + '\n');
    const madvise = ops.find((o) => o.op.kind === 'madvise')!;
    expect(madvise.op.lruAdded).toEqual([0x10000, 0x10001, 0x10002]);
    expect(madvise.op.lruAddedPos).toEqual([0, 1, 2]);
  });

  it('a free another task made, filed under the op (that task in a call the trace does not follow), is not a point of it', async () => {
    const ops = await liftText([
      head[0]!, head[1]!,
      L('1.0000015', 'tracing_mark_write: fl: thread tid=8'),
      ...head.slice(2),
      L('1.000012', 'mm_page_free: page=0000000000000002 pfn=0x10002 order=0', 8, 0),
      ins('1.000013', 0x10001),
      L('1.000014', 'sys_munmap -> 0x0'),
      L('1.000015', 'tracing_mark_write: fl: end scenario=T variant=v'),
    ].join('\n') + '\n');
    const munmap = ops.find((o) => o.op.kind === 'munmap')!;
    expect(munmap.recorded.some((r) => r.ev === 'mm_page_free' && r.pid === 8)).toBe(true);
    expect(munmap.op.lruAddedPos).toEqual([1]);
  });
});
