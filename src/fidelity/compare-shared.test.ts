/** An op whose recorded output also covers memory the model does not know (a fork of an mm with memory from before the window). */
import { describe, expect, it } from 'vitest';
import { FidelityChecker } from './compare.js';
import { Recorded, type LiftedOp } from '../replay/lift.js';

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
