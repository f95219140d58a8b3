/** An op whose recorded output also covers memory the model does not know (a fork of an mm with memory from before the window). */
import { describe, expect, it } from 'vitest';
import { commonInOrder, FidelityChecker, greedyInOrder, SYNTH_PFN } from './compare.js';
import { Recorded, type LiftedOp } from '../replay/lift.js';
import { OTHERS_FOLIOS_SPLIT, SYSCALL_BESIDES_RECLAIM } from '../model/emit.js';

const fork = (recorded: Recorded[]): LiftedOp => ({ op: { kind: 'fork', child: 2, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } }, recorded, compare: true, phase: '', failed: false });
const rss = (line: number, pages: number) => new Recorded('rss_stat', line, 0, 1, 0, 1, pages * 4096, undefined, true, 'MM_ANONPAGES');
const flush = (line: number) => new Recorded('tlb_flush', line, 0, 1, -1, 3, undefined, undefined, true, undefined);
const pred = (pages: number) => ({ ev: 'rss_stat' as const, cpu: 0, curr: 0, member: 1, delta: pages * 4096, size: 0 });
const FLUSH = { ev: 'tlb_flush' as const, cpu: 0, pages: -1, reason: 3 };

function run(recorded: Recorded[], predicted: unknown[], shared: string | undefined) {
  const c = new FidelityChecker();
  c.begin(fork(recorded), shared);
  for (const e of predicted) c.see(e as never);
  c.end();
  return c.report();
}

describe('output shared with memory the model does not know', () => {
  // The binary's data (3 pages), the window's THP, the stack (5 pages), then the parent's flush.
  const recorded = [rss(2, 3), rss(3, 512), rss(4, 5), flush(5)];
  const predicted = [pred(512), FLUSH];

  it('finds the predictions in order among the recorded events; the rest is counted outside the model under its name', () => {
    const r = run(recorded, predicted, 'fork copy of X');
    expect([r.opsMismatched, r.compared, r.equal]).toEqual([0, 2, 2]);
    expect(r.outsideModel).toEqual([{ kind: 'fork copy of X', ops: 1, events: 2, firstLine: 1 }]);
    expect(r.verdict).toBe('partial');
  });

  it('a prediction missing from the record is still a mismatch', () => {
    expect(run(recorded, [pred(511), FLUSH], 'fork copy of X').opsMismatched).toBe(1);
    expect(run([rss(2, 3), rss(3, 512)], predicted, 'fork copy of X').opsMismatched).toBe(1);
  });

  it('without the shared input the same op compares position by position', () => {
    expect(run(recorded, predicted, undefined).opsMismatched).toBe(1);
  });

  it('a free of a page an op outside the model allocated is not the model\'s output', () => {
    const free = new Recorded('mm_page_free', 7, 0, 1, 0, undefined, undefined, 0x1234, true, undefined);
    const c = new FidelityChecker();
    c.begin({ ...fork([free]), op: { kind: 'munmap', addr: 0, len: 4096, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 6 } } }, undefined, (pfn) => pfn === 0x1234);
    c.end();
    const r = c.report();
    expect([r.opsMismatched, r.compared, r.unmodelledOutput]).toEqual([0, 0, 1]);
  });
});

describe('frees in gather batches whose ends the model cannot know', () => {
  const free = (line: number, pfn: number) => new Recorded('mm_page_free', line, 0, 1, 0, undefined, undefined, pfn, true, undefined);
  const pfree = (pfn: number) => ({ ev: 'mm_page_free' as const, cpu: 0, pfn, order: 0, what: 'folio' });
  // Each batch freed in reverse; the first batch also held two pages the model never saw.
  const recorded = [free(2, 0x901), free(3, 0x102), free(4, 0x900), free(5, 0x101), free(6, 0x100)];
  const exit = (): LiftedOp => ({ ...fork(recorded), op: { kind: 'exit', tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } } });

  it('are matched as a set: each prediction to one recorded free, the rest outside the model', () => {
    const c = new FidelityChecker();
    c.begin(exit(), 'exit of X', undefined, true);
    for (const p of [0x100, 0x101, 0x102]) c.see(pfree(p) as never);
    c.end();
    const r = c.report();
    expect([r.opsMismatched, r.equal, r.unmodelledOutput]).toEqual([0, 3, 2]);
  });

  it('a predicted free the record lacks is still a mismatch; in order they would differ', () => {
    const missing = new FidelityChecker();
    missing.begin(exit(), 'exit of X', undefined, true);
    for (const p of [0x100, 0x103]) missing.see(pfree(p) as never);
    missing.end();
    expect(missing.report().opsMismatched).toBe(1);
    const ordered = new FidelityChecker();
    ordered.begin(exit(), 'exit of X');
    for (const p of [0x100, 0x101, 0x102]) ordered.see(pfree(p) as never);
    ordered.end();
    expect(ordered.report().opsMismatched).toBe(1);
  });
});

describe('frees matched as a set, then a first difference', () => {
  it('a recorded free a prediction already took is not counted again by the alignment past the difference', () => {
    const c = new FidelityChecker();
    const freeRec = new Recorded('mm_page_free', 2, 0, 1, 0, undefined, undefined, 0x100, true, undefined);
    const flushRec = new Recorded('tlb_flush', 3, 0, 1, 7, 3, undefined, undefined, true, undefined);
    c.begin(fork([freeRec, flushRec]), 'exit of X', undefined, true);
    const synthFree = { ev: 'mm_page_free' as const, cpu: 0, order: 0, pfn: SYNTH_PFN };
    for (const e of [synthFree, pred(1), synthFree]) c.see(e as never);
    c.end();
    const r = c.report();
    expect([r.opsMismatched, r.compared, r.equal]).toEqual([1, 2, 1]);
  });
});

describe('the alignment\'s greedy fallback past its edit bound', () => {
  it('still counts a common subsequence, within its window', () => {
    const recs = Array.from({ length: 10 }, (_, i) => new Recorded('mm_page_free', i + 1, 0, 1, 0, undefined, undefined, 0x200 + i, true, undefined));
    const preds = [0x200, 0x202, 0x201, 0x209].map((pfn) => ({ ev: 'mm_page_free' as const, cpu: 0, order: 0, pfn }));
    expect(greedyInOrder(recs, 0, recs.length, preds as never)).toBe(3);
    expect(commonInOrder(recs, 0, recs.length, preds as never)).toBe(3);
  });
});

describe('drop_caches: output shared with other processes\' memory only', () => {
  const dropOp = (recorded: Recorded[]): LiftedOp => ({ op: { kind: 'drop-caches', value: 3, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } }, recorded, compare: true, phase: '', failed: false });
  const others = flush(2);
  const ownFree = new Recorded('mm_page_free', 3, 0, 1, 0, undefined, undefined, 0x500, true, undefined);
  const ownRss = new Recorded('rss_stat', 4, 0, 1, 1, 1, -4096, undefined, true, 'MM_ANONPAGES');
  const check = (recorded: Recorded[]) => {
    const c = new FidelityChecker();
    c.begin(dropOp(recorded), OTHERS_FOLIOS_SPLIT);
    c.end();
    return c.report();
  };

  it('another mm\'s flush no prediction takes is theirs (outside the model)', () => {
    const r = check([others]);
    expect([r.opsMismatched, r.verdict]).toEqual([0, 'partial']);
  });

  it('a free of a page the workload allocated, or an update of its own rss, is still the workload\'s: a mismatch', () => {
    expect(check([others, ownFree]).opsMismatched).toBe(1);
    expect(check([others, ownRss]).opsMismatched).toBe(1);
  });
});

describe('a system call outside the model whose memcg charge ran reclaim', () => {
  // write(2) to the workload's stdout socket: its skb head's charge reclaimed one 128K folio
  // (flush, rss, free); a flush the call made for another mm's memory sits before it.
  const write = (recorded: Recorded[], preempted = false): LiftedOp => ({ op: { kind: 'syscall', name: 'write', chargeReclaim: 1, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } }, recorded, compare: true, phase: '', failed: false, ...(preempted ? { preempted } : {}) });
  const reclaimFlush = new Recorded('tlb_flush', 3, 0, 1, 32, 3, undefined, undefined, true, undefined);
  const ownRss = new Recorded('rss_stat', 4, 0, 1, 1, 1, -32 * 4096, undefined, true, 'MM_ANONPAGES');
  const ownFree = new Recorded('mm_page_free', 5, 0, 1, 5, undefined, undefined, 0x13f080, true, undefined);
  const recorded = [flush(2), reclaimFlush, ownRss, ownFree];
  const reclaim = (pages: number) => [
    { ev: 'tlb_flush' as const, cpu: 0, pages: 32, reason: 3 },
    { ev: 'rss_stat' as const, cpu: 0, curr: 1, member: 1, delta: -pages * 4096, size: 0 },
    { ev: 'mm_page_free' as const, cpu: 0, pfn: 0x13f080, order: 5, what: 'folio' },
  ];
  const check = (rec: Recorded[], predicted: unknown[], preempted = false) => {
    const c = new FidelityChecker();
    c.begin(write(rec, preempted), SYSCALL_BESIDES_RECLAIM);
    for (const e of predicted) c.see(e as never);
    c.end();
    return c.report();
  };

  it('the reclaim\'s predicted events are compared; the rest of the call is outside the model', () => {
    const r = check(recorded, reclaim(32));
    expect([r.opsMismatched, r.compared, r.equal]).toEqual([0, 3, 3]);
    expect(r.outsideModel).toEqual([{ kind: SYSCALL_BESIDES_RECLAIM, ops: 1, events: 1, firstLine: 1 }]);
  });

  it('a reclaim the model did not make, or made otherwise, is a mismatch', () => {
    expect(check(recorded, []).opsMismatched).toBe(1);
    expect(check(recorded, reclaim(31)).opsMismatched).toBe(1);
  });

  it('a preempted call still compares the workload\'s own rss (no other memory shares it)', () => {
    expect(check(recorded, reclaim(32), true).opsMismatched).toBe(0);
    expect(check(recorded, reclaim(31), true).opsMismatched).toBe(1);
  });
});
