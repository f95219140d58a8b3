/**
 * Lifting an execve(): the argument pages copy_strings() allocates inside the call become
 * `exec-arg-page` ops after it, and a copied (not zeroed) user page is marked as such.
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';

const L = (ts: string, rest: string, pid = 7, cpu = 1): string => `            w-${pid}     [00${cpu}] .....   ${ts}: ${rest}`;
const alloc = (ts: string, pfn: number, gfp: string): string => L(ts, `mm_page_alloc: page=0000000000000001 pfn=0x${pfn.toString(16)} order=0 migratetype=1 gfp_flags=${gfp}`);

describe('lifting execve()', () => {
  it("hands on the call's argument pages after it, and marks a copy-on-write fault's page", async () => {
    const ops = await liftText([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_execve(filename: 0x1000, argv: 0x2000, envp: 0x3000)'),
      alloc('1.000003', 0x100, 'GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP'),
      alloc('1.000004', 0x200, 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP'),
      L('1.000005', 'page_fault_kernel: address=0x55de92713548 ip=elf_load error_code=0x2'),
      alloc('1.000006', 0x300, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
      L('1.000007', 'sys_execve -> 0x0'),
    ].join('\n'));
    const kinds = ops.map((o) => o.op.kind);
    expect(kinds.indexOf('exec-arg-page')).toBeGreaterThan(kinds.indexOf('syscall'));
    expect(ops.find((o) => o.op.kind === 'exec-arg-page')!.op).toMatchObject({ pfn: 0x200 });
    expect(ops.filter((o) => o.op.kind === 'exec-arg-page')).toHaveLength(1);
    expect(ops.find((o) => o.op.kind === 'fault')!.op).toMatchObject({ write: true, present: false, allocs: [{ pfn: 0x300, order: 0, use: 'user', copy: true }] });
  });
});
