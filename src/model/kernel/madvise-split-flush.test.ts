/**
 * Two threads on two CPUs, MADV_COLD / MADV_PAGEOUT over large folios the range covers in part
 * (the walk splits them):
 *
 *   CPU0: thread A (madvise)     CPU1: thread B, then another process (6.18 keeps CPU1 in
 *                                       mm_cpumask until a flush finds it there)
 *
 *  - the walk retakes the PTE lock after each split and completes the batched flush the split's
 *    deferred unmaps left pending (flush_tlb_batched_pending(), 383c4613c67c, 6.16 / 6.12.y):
 *    a full flush of the mm with freed_tables, which finds CPU1 on another mm (`remote wrong
 *    CPU`) and takes it out of the mask, so the next split's unmaps flush at once, locally;
 *  - the rmap walk visits the process's mm once however many threads it has: a PMD-mapped THP
 *    split by the walk is unmapped by its PMD, and its PTEs are not unmapped a second time.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { ModelConfig } from '../config.js';
import type { Emission } from '../emit.js';
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN, TLB_REMOTE_SEND_IPI, TLB_REMOTE_WRONG_CPU } from '../emit.js';
import type { Op } from '../ops.js';
import { folio_mappings } from './rmap.js';

const A = 100;
const B = 101;
const BASE = 0x7f0000000000;

type Flush = Extract<Emission, { ev: 'tlb_flush' }>;

function setup(config: ModelConfig) {
  const e = new Engine(config, { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): Emission[] => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    return e.step(o).emitted;
  };
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  step({ kind: 'run', on: true, tid: B, cpu: 1 });
  step({ kind: 'fault', tid: B, cpu: 1, addr: BASE + 0x100000, write: true, allocs: [{ pfn: 0x5000, order: 0, use: 'user', anonFault: true }] });
  step({ kind: 'run', on: false, idle: false, tid: B, cpu: 1 });
  const mm = e.k.mms.get(A)!;
  return { e, step, mm };
}

const flushes = (es: Emission[]) => es.filter((x): x is Flush => x.ev === 'tlb_flush');
const on = (fs: Flush[], cpu: number, reason?: number) => fs.filter((f) => f.cpu === cpu && (reason === undefined || f.reason === reason));

describe('MADV_COLD splitting large folios: flush_tlb_batched_pending() after each split', () => {
  function run(config: ModelConfig) {
    const { step, mm } = setup(config);
    step({ kind: 'fault', addr: BASE, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user', anonFault: true }] });
    step({ kind: 'fault', addr: BASE + 0x10000, write: true, allocs: [{ pfn: 0x10010, order: 4, use: 'user', anonFault: true }] });
    expect(mm.cpumask.has(1)).toBe(true);
    // The range covers the second half of the first folio and the first half of the second.
    const fs = flushes(step({ kind: 'madvise', addr: BASE + 0x8000, len: 0x10000, advice: 'MADV_COLD' }));
    return { fs, mm };
  }

  it('linux-6.18: the first split defers and batch-flushes, the pending flush trims CPU1, the second split flushes each page locally', () => {
    const { fs, mm } = run(buildConfig('linux-6.18'));
    // First split: its 16 unmaps deferred while CPU1 is in the mask, one batched flush (no mm).
    expect(on(fs, 0, TLB_LOCAL_SHOOTDOWN)).toHaveLength(1);
    // Then the full flush of the mm pending since: reaches CPU1 on the other mm, which leaves.
    const wrong = on(fs, 1, TLB_REMOTE_WRONG_CPU);
    expect(wrong).toHaveLength(1);
    expect(fs.indexOf(wrong[0]!)).toBeGreaterThan(fs.indexOf(on(fs, 0, TLB_LOCAL_SHOOTDOWN)[0]!));
    expect(mm.cpumask.has(1)).toBe(false);
    // Second split: nothing left to defer to, one local page flush per entry, no send.
    const after = fs.slice(fs.indexOf(wrong[0]!) + 1);
    expect(on(after, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(0);
    expect(on(after, 0, TLB_LOCAL_MM_SHOOTDOWN).filter((f) => f.pages === 1)).toHaveLength(16);
  });

  it('without the pending flush after a split (6.1.y: the fix did not apply) CPU1 stays and the second split defers too', () => {
    const base = buildConfig('linux-6.18');
    const { fs, mm } = run({ ...base, traits: { ...base.traits, madviseSplitFlushesPending: false } });
    expect(on(fs, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(0);
    expect(on(fs, 0, TLB_LOCAL_SHOOTDOWN)).toHaveLength(2);
    expect(mm.cpumask.has(1)).toBe(true);
  });
});

describe('rmap walk of a multi-threaded process', () => {
  it('lists each VMA of the mm once, whatever the number of threads', () => {
    const { e, step } = setup(buildConfig('linux-6.18'));
    step({ kind: 'fault', addr: BASE, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user', anonFault: true }] });
    const f = [...e.k.folios].find((x) => x.pfn === 0x10000)!;
    expect(e.k.mms.size).toBe(2);
    expect(folio_mappings(e.k, f)).toHaveLength(1);
  });

  it('MADV_PAGEOUT over part of a PMD-mapped THP: the split unmaps it by its PMD only (one flush, no page-by-page unmap)', () => {
    const { e, step } = setup(buildConfig('linux-6.18'));
    const thp = BASE + 0x200000;
    step({ kind: 'madvise', addr: thp, len: 0x200000, advice: 'MADV_HUGEPAGE' });
    step({ kind: 'fault', addr: thp, write: true, allocs: [{ pfn: 0x40000, order: 9, use: 'user', anonFault: true }, { pfn: 0x6000, order: 0, use: 'pgtable' }] });
    expect(e.k.mms.get(A)!.pmds.get(thp / 0x200000)?.kind).toBe('huge');
    const fs = flushes(step({ kind: 'madvise', addr: thp + 0x100000, len: 0x100000, advice: 'MADV_PAGEOUT' }));
    // pmdp_invalidate()'s flush of the 2 MiB (flush_tlb_range(): full), and no batched flush
    // of the folio's 512 PTEs as if they were still mapped.
    expect(on(fs, 0, TLB_REMOTE_SEND_IPI)[0]?.pages).toBe(-1);
    expect(on(fs, 0, TLB_LOCAL_SHOOTDOWN)).toHaveLength(0);
    expect(fs.filter((f) => f.pages === 1)).toHaveLength(0);
  });
});
