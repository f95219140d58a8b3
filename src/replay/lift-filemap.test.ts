/**
 * Lifting a file fault's page-cache events: mm_filemap_map_pages, mm_filemap_fault and
 * mm_filemap_add_to_page_cache in the fault's task, while the fault is its open op, are the
 * fault's inputs (file pages in page units); elsewhere they are nobody's.
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';

const L = (ts: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] .....   ${ts}: ${rest}`;

describe('lifting file faults', () => {
  it("attaches the fault's page-cache events to it, in order", async () => {
    const ops = await liftText([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'page_fault_user: address=0x7f0000002000 ip=0x7f0000002000 error_code=0x14'),
      L('1.000003', 'rss_stat: mm_id=1 curr=1 type=MM_FILEPAGES size=16384B'),
      L('1.000004', 'mm_filemap_map_pages: dev=254:0 ino=52db4 ofs=65536-81919'),
      L('1.000005', 'page_fault_user: address=0x7f0000100000 ip=0x1000 error_code=0x4'),
      L('1.000006', 'mm_filemap_fault: dev=254:0 ino=52db4 ofs=1048576'),
      L('1.000007', 'mm_filemap_add_to_page_cache: dev 254:0 ino 52db4 pfn=0x1f1b3a ofs=1048576 order=2'),
      // A read() of the file: its page-cache events are not a fault's.
      L('1.000008', 'sys_read(fd: 3, buf: 0x1000, count: 0x1000)'),
      L('1.000009', 'mm_filemap_add_to_page_cache: dev 254:0 ino 52db4 pfn=0x1f1b40 ofs=0 order=0'),
      L('1.000010', 'sys_read -> 0x1000'),
    ].join('\n'));
    const faults = ops.filter((o) => o.op.kind === 'fault').map((o) => (o.op.kind === 'fault' ? o.op.file : undefined));
    const file = `254:0:${0x52db4}`;
    expect(faults).toEqual([
      [{ file, first: 16, last: 19 }],
      [{ file, first: 256 }, { file, first: 256, last: 259, added: true }],
    ]);
  });
});
