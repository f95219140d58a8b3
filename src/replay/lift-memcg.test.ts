/**
 * Memcg reclaim a charge ran over memory.max (mm_vmscan_memcg_reclaim_begin): in a fault it
 * belongs to the allocation being charged; in any other op of the workload (a write(2) whose
 * socket buffer is charged, an mmap's vma) to the op itself, whose output then holds what the
 * reclaim did.
 */
import { describe, expect, it } from 'vitest';
import { liftTextWith } from './lift.case.js';

const L = (ts: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] .....   ${ts}: ${rest}`;
const BEGIN = 'mm_vmscan_memcg_reclaim_begin: order=0 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_NOWARN|__GFP_NOMEMALLOC';
const END = 'mm_vmscan_memcg_reclaim_end: nr_reclaimed=32';

/** The window, an mmap, and one 128K folio faulted in at 0x7f0000000000 (pfn 0x10000). */
const PROLOGUE = [
  '# tracer: nop',
  L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
  L('1.000002', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
  L('1.000003', 'sys_mmap -> 0x7f0000000000'),
  L('1.000004', 'page_fault_user: address=0x7f0000000000 ip=0x401000 error_code=0x6'),
  L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x10000 order=5 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT|__GFP_ZERO'),
  L('1.000006', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=131072B'),
];

/** What reclaiming that folio records: its flush, the rss it unmapped, its free. */
const RECLAIM = (t: number): string[] => [
  L(`1.0000${t}`, 'tlb_flush: pages:32 reason:local MM shootdown (3)'),
  L(`1.0000${t + 1}`, 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=0B'),
  L(`1.0000${t + 2}`, 'mm_page_free: page=0000000000000001 pfn=0x10000 order=5'),
];

describe('memcg charge reclaim outside a fault', () => {
  it('in a write(2) is the write op\'s: counted on the op, its flush, rss and free its output', async () => {
    const { ops, lifter } = await liftTextWith([
      ...PROLOGUE,
      L('1.000020', 'sys_write(fd: 1, buf: 0x37afc6e0, count: 0x1c)'),
      L('1.000021', BEGIN),
      ...RECLAIM(22),
      L('1.000025', END),
      L('1.000026', 'sys_write -> 0x1c'),
      L('1.000027', 'sys_write(fd: 1, buf: 0x37afc6e0, count: 0x1c)'),
      L('1.000028', 'sys_write -> 0x1c'),
    ].join('\n'));
    const writes = ops.filter((o) => o.op.kind === 'syscall' && o.op.name === 'write');
    expect(writes.map((o) => o.op.chargeReclaim)).toEqual([1, undefined]);
    expect(writes[0]!.recorded.map((r) => r.key)).toEqual(['tlb_flush pages=32 reason=3', 'rss_stat curr=1 MM_ANONPAGES -131072', 'mm_page_free pfn=0x10000 order=5']);
    // The folio was the workload's: its free is the op's own output, not foreign.
    expect(writes[0]!.recorded.find((r) => r.ev === 'mm_page_free')?.ours).toBe(true);
    // The fault before it keeps its allocation's charge unreclaimed.
    const fault = ops.find((o) => o.op.kind === 'fault');
    expect(fault?.op.kind === 'fault' && fault.op.allocs.map((a) => a.memcgReclaim)).toEqual([undefined]);
    expect(lifter.notes.filter((n) => n.includes('memcg reclaim'))).toEqual([]);
  });

  it('counts each reclaim the charge ran, and attaches to modelled calls too (an mmap\'s vma charge)', async () => {
    const { ops } = await liftTextWith([
      ...PROLOGUE,
      L('1.000020', 'sys_mmap(addr: 0x0, len: 0x200000, prot: 0x3, flags: 0x22, fd: 0xffffffff, off: 0x0)'),
      L('1.000021', BEGIN),
      ...RECLAIM(22),
      L('1.000025', END),
      L('1.000026', BEGIN),
      L('1.000027', 'mm_vmscan_memcg_reclaim_end: nr_reclaimed=0'),
      L('1.000028', 'sys_mmap -> 0x7f0000200000'),
    ].join('\n'));
    const mmaps = ops.filter((o) => o.op.kind === 'mmap');
    expect(mmaps.map((o) => o.op.chargeReclaim)).toEqual([undefined, 2]);
    expect(mmaps[1]!.recorded.map((r) => r.ev)).toEqual(['tlb_flush', 'rss_stat', 'mm_page_free']);
  });

  it('in a fault stays the charge of the fault\'s folio', async () => {
    const { ops } = await liftTextWith([
      ...PROLOGUE.slice(0, 5),
      L('1.000005', 'mm_page_alloc: page=0000000000000001 pfn=0x10000 order=5 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT|__GFP_ZERO'),
      L('1.000006', BEGIN),
      L('1.000007', 'mm_vmscan_memcg_reclaim_end: nr_reclaimed=0'),
      L('1.000008', 'rss_stat: mm_id=5 curr=1 type=MM_ANONPAGES size=131072B'),
    ].join('\n'));
    const fault = ops.find((o) => o.op.kind === 'fault')!;
    expect(fault.op.kind === 'fault' && fault.op.allocs.map((a) => a.memcgReclaim)).toEqual([1]);
    expect(fault.op.chargeReclaim).toBeUndefined();
  });
});
