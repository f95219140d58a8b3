/**
 * Lifting an execve(): the argument pages copy_strings() allocates inside the call become
 * `exec-arg-page` ops after it, and a copied (not zeroed) user page is marked as such.
 */
import { describe, expect, it } from 'vitest';
import { liftText } from './lift.case.js';
import { elfVmas, Lifter, type LiftedOp } from './lift.js';
import { Readable } from 'node:stream';
import { collectTrace, FormatRegistry } from '../trace/index.js';
import { grammarsDir } from '../paths.js';
import type { ExecImage } from '../core/exec-image.js';

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

  it('keeps where in a fault the batch drained, and moves the fault to the CPU its task resumed on past foreign frees', async () => {
    const ops = await liftText([
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'page_fault_user: address=0x7f0000001000 ip=0x1000 error_code=0x6', 7, 0),
      alloc('1.000003', 0x500, 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP').replace('[001]', '[000]'),
      L('1.000004', 'rss_stat: mm_id=1 curr=1 type=MM_ANONPAGES size=4096B', 7, 0),
      L('1.000010', 'page_fault_user: address=0x7f0000002000 ip=0x1000 error_code=0x6', 7, 0),
      alloc('1.000011', 0x600, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP').replace('[001]', '[000]'),
      L('1.000012', 'mm_page_alloc: page=0000000000000009 pfn=0x900 order=0 migratetype=1 gfp_flags=GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE', 7, 0),
      L('1.000013', 'mm_page_free: page=0000000000000009 pfn=0x900 order=0', 7, 0),
      L('1.000014', 'mm_lru_insertion: folio=0000000000000001 pfn=0x500 lru=0 flags= a bd ', 7, 0),
      L('1.000015', 'sched_switch: prev_comm=w prev_pid=7 prev_prio=120 prev_state=D ==> next_comm=swapper/0 next_pid=0 next_prio=120', 7, 0),
      L('1.000020', 'mm_page_free: page=0000000000000006 pfn=0x600 order=0', 7, 1),
      alloc('1.000021', 0x600, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
      L('1.000022', 'rss_stat: mm_id=1 curr=1 type=MM_ANONPAGES size=8192B', 7, 1),
    ].join('\n'));
    const f = ops.filter((o) => o.op.kind === 'fault')[1]!;
    expect(f.op).toMatchObject({ cpu: 1, lruAdded: [0x500], lruAddedAt: 1 });
  });

  it("places an exec'd image's mappings at the bias its padzero() fault gives, before that fault", async () => {
    const img: ExecImage = {
      path: '/usr/bin/sort', type: 'dyn', entry: 0x6560,
      load: [
        { read: true, write: false, exec: true, vaddr: 0, filesz: 0x2c20, memsz: 0x2c20 },
        { read: true, write: true, exec: false, vaddr: 0x1b910, filesz: 0xc38, memsz: 0x3490 },
      ],
    };
    const bias = 0x55de926f7000;
    // elf_load(): the data segment's file part ends at bias+0x1c548; its bss goes on to bias+0x1eda0.
    expect(elfVmas(img, bias)).toEqual([
      { start: bias, end: bias + 0x3000, file: true, read: true, write: false },
      { start: bias + 0x1b000, end: bias + 0x1d000, file: true, read: true, write: true },
      { start: bias + 0x1d000, end: bias + 0x1f000, file: false, read: true, write: true },
    ]);
    const text = [
      '# tracer: nop',
      L('1.000001', 'tracing_mark_write: fl: begin scenario=T variant=v pid=7'),
      L('1.000002', 'sys_execve(filename: 0x1000, argv: 0x2000, envp: 0x3000)'),
      L('1.000005', `page_fault_kernel: address=0x${(bias + 0x1c548).toString(16)} ip=elf_load error_code=0x2`),
      alloc('1.000006', 0x300, 'GFP_HIGHUSER_MOVABLE|__GFP_COMP'),
      L('1.000007', 'sys_execve -> 0x0'),
    ].join('\n');
    const { events } = await collectTrace(Readable.from([Buffer.from(text)]), { file: '-', registry: FormatRegistry.fromDirectory(grammarsDir), release: '6.18.44-fc-v669' });
    const ops: LiftedOp[] = [];
    const lifter = new Lifter({ execImages: [img] }, (o) => ops.push(o));
    for (const e of events) lifter.feed(e);
    lifter.end();
    const kinds = ops.map((o) => o.op.kind);
    expect(kinds.indexOf('exec-image')).toBeGreaterThan(kinds.indexOf('syscall'));
    expect(kinds.indexOf('exec-image')).toBeLessThan(kinds.indexOf('fault'));
    expect(ops.find((o) => o.op.kind === 'exec-image')!.op).toMatchObject({ vmas: elfVmas(img, bias) });
    // Without the saved layout nothing is placed (the model infers from the faults' pages).
    expect((await liftText(text)).some((o) => o.op.kind === 'exec-image')).toBe(false);
  });
});
