import { describe, expect, it } from 'vitest';
import { commonInOrder, FidelityChecker, withTraceFacts } from './compare.js';
import { mergeRssUpdates, Recorded, type LiftedOp } from '../replay/lift.js';

const op = (): LiftedOp => ({ op: { kind: 'munmap', addr: 0, len: 4096, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } }, recorded: [], compare: true, phase: '', failed: false });

describe('what a capture can show', () => {
  it('a flush traced in another task\'s context is never expected (the recorded output is the workload\'s tasks\' own); one in its context is', () => {
    const run = (offTask: boolean) => {
      const c = new FidelityChecker(50, new Set());
      c.begin(op());
      c.see({ ev: 'tlb_flush', cpu: 1, pages: 0, reason: 5, offTask });
      c.end();
      return c.report();
    };
    expect(run(true).opsMismatched).toBe(0);
    expect(run(false).opsMismatched).toBe(1);
  });
});

describe('a preempted op', () => {
  // zap_pte_range() stops at a pending reschedule and updates rss for what it cleared so far:
  // the kernel split one table's update in two at a PTE no event shows.
  const recorded = [
    new Recorded('rss_stat', 2, 0, 1, 1, 1, -2097152, undefined, true, 'MM_ANONPAGES'),
    new Recorded('rss_stat', 3, 0, 1, 1, 1, -593920, undefined, true, 'MM_ANONPAGES'),
    new Recorded('rss_stat', 5, 0, 1, 1, 1, -1503232, undefined, true, 'MM_ANONPAGES'),
    new Recorded('tlb_flush', 6, 0, 1, -1, 3, undefined, undefined, true, undefined),
  ];
  const predicted = [
    { ev: 'rss_stat' as const, cpu: 0, curr: 1, member: 1, delta: -2097152, size: 0 },
    { ev: 'rss_stat' as const, cpu: 0, curr: 1, member: 1, delta: -2097152, size: 0 },
    { ev: 'tlb_flush' as const, cpu: 0, pages: -1, reason: 3 },
  ];
  const run = (preempted: boolean) => {
    const c = new FidelityChecker();
    const lo = { ...op(), recorded: preempted ? mergeRssUpdates(recorded) : recorded, preempted };
    c.begin(lo);
    for (const e of predicted) c.see(e as never);
    c.end();
    return c.report();
  };
  it('compares its rss updates of one counter by their sum; unpreempted, the split is a mismatch', () => {
    const yes = run(true);
    expect([yes.opsMismatched, yes.compared, yes.equal, yes.preemptedOps]).toEqual([0, 2, 2, 1]);
    expect(run(false).opsMismatched).toBe(1);
  });
  it('a different total is still a mismatch', () => {
    const c = new FidelityChecker();
    c.begin({ ...op(), recorded: mergeRssUpdates(recorded.slice(0, 2)), preempted: true });
    for (const e of predicted) c.see(e as never);
    c.end();
    expect(c.report().opsMismatched).toBe(1);
  });
});

describe('file-backed memory', () => {
  const fileRss = new Recorded('rss_stat', 2, 0, 1, 1, 0, -8192, undefined, true, 'MM_FILEPAGES');
  const anonRss = new Recorded('rss_stat', 3, 0, 1, 1, 1, -4096, undefined, true, 'MM_ANONPAGES');
  const run = (filePages: boolean) => {
    const c = new FidelityChecker();
    c.filePages = () => filePages;
    c.begin({ ...op(), recorded: [fileRss, anonRss] });
    c.see({ ev: 'rss_stat', cpu: 0, mm: 1, curr: 1, member: 1, delta: -4096, size: 0 });
    c.end();
    return c.report();
  };
  it('while the model holds no file page, file rss updates are set aside and named; the rest is compared', () => {
    const r = run(false);
    expect([r.verdict, r.fileRss, r.compared, r.equal]).toEqual(['partial', 1, 1, 1]);
    expect(r.reasons.join(' ')).toMatch(/MM_FILEPAGES/);
  });
  it('once the model holds file pages they are compared', () => {
    const r = run(true);
    expect([r.verdict, r.fileRss]).toEqual(['mismatched', 0]);
  });
});

describe('a preempted op with file rss set aside', () => {
  it('merges the anon updates a set-aside file update stood between', () => {
    const rec = [
      new Recorded('rss_stat', 2, 0, 1, 0, 1, -8192, undefined, true, 'MM_ANONPAGES'),
      new Recorded('rss_stat', 3, 0, 1, 0, 0, -4096, undefined, true, 'MM_FILEPAGES'),
      new Recorded('rss_stat', 4, 0, 1, 0, 1, -4096, undefined, true, 'MM_ANONPAGES'),
    ];
    const c = new FidelityChecker();
    c.begin({ ...op(), recorded: rec, preempted: true });
    c.see({ ev: 'rss_stat', cpu: 0, mm: 1, curr: 0, member: 1, delta: -12288, size: 0 });
    c.end();
    const r = c.report();
    expect([r.opsMismatched, r.compared, r.equal, r.fileRss]).toEqual([0, 1, 1, 1]);
  });
});

describe('an uncertain flush (it depends on PTE bits the trace cannot show)', () => {
  const flush = (pages: number, reason = 3) => new Recorded('tlb_flush', 2, 0, 1, pages, reason, undefined, undefined, true, undefined);
  const free = new Recorded('mm_page_free', 3, 0, 1, 0, undefined, undefined, 0x10, true, undefined);
  const run = (recorded: Recorded[], certain: boolean) => {
    const uncertain = certain ? undefined : 'touched' as const;
    const c = new FidelityChecker();
    c.begin({ ...op(), recorded });
    c.see({ ev: 'tlb_flush', cpu: 0, pages: 8, reason: 3, uncertain });
    c.see({ ev: 'mm_page_free', cpu: 0, pfn: 0x10, order: 0, what: 'folio' });
    c.end();
    return c.report();
  };
  it('takes a recorded flush of the same reason at its place, whatever its range', () => {
    const r = run([flush(7), free], false);
    expect([r.opsMismatched, r.equal, r.uncertainFlushes.touched, r.uncertainAbsent.touched, r.verdict]).toEqual([0, 2, 1, 0, 'partial']);
    expect(run([flush(7), free], true).opsMismatched).toBe(1);
  });
  it('stands for no flush when none was recorded there', () => {
    const r = run([free], false);
    expect([r.opsMismatched, r.equal, r.uncertainAbsent.touched]).toEqual([0, 1, 1]);
  });
  it('does not take a recorded flush of another reason', () => {
    expect(run([flush(7, 4), free], false).opsMismatched).toBe(1);
  });
});

describe('counting reproduced events past an op\'s first difference', () => {
  const free = (line: number, pfn: number) => new Recorded('mm_page_free', line, 0, 1, 0, undefined, undefined, pfn, true, undefined);
  const pred = (pfn: number) => ({ ev: 'mm_page_free' as const, cpu: 0, order: 0, pfn });
  const pred1 = (pfn: number) => pred(pfn) as never;
  const run = (recorded: number[], predicted: number[]) => {
    const c = new FidelityChecker();
    c.begin({ ...op(), recorded: recorded.map((p, i) => free(i + 1, p)) });
    for (const p of predicted) c.see(pred(p) as never);
    c.end();
    return c.report();
  };
  it('one recorded event the model lacks: the op differs, the events after it still count as reproduced', () => {
    const r = run([1, 2, 3, 4, 5, 6], [1, 2, 4, 5, 6]);
    expect([r.opsMismatched, r.compared, r.equal, r.extra]).toEqual([1, 6, 5, 0]);
    expect(r.mismatches[0]!.at).toBe(2);
  });
  it('one prediction the kernel did not make: the rest realign', () => {
    const r = run([1, 2, 3, 4], [1, 9, 2, 3, 4]);
    expect([r.opsMismatched, r.compared, r.equal]).toEqual([1, 4, 4]);
  });
  it('only in order: events matched out of order are not counted', () => {
    const r = run([1, 2, 3, 4], [4, 3, 2, 1]);
    expect([r.opsMismatched, r.equal]).toEqual([1, 1]);
  });
  it('an event the model frees elsewhere costs only itself, however far it moved', () => {
    const rec = Array.from({ length: 2000 }, (_, i) => i + 1);
    const moved = [2000, ...rec.slice(0, 1999)];
    const r = run(rec, moved);
    expect([r.opsMismatched, r.compared, r.equal, r.extra]).toEqual([1, 2000, 1999, 1]);
  });
  it('past its edit bound the alignment falls back to a greedy one: still a common subsequence', () => {
    const rec = Array.from({ length: 40 }, (_, i) => i + 1);
    const pred = rec.filter((p) => p % 2 === 0);
    const recs = rec.map((p, i) => free(i + 1, p));
    const preds = pred.map(pred1);
    expect(commonInOrder(recs, 0, recs.length, preds)).toBe(20);
    expect(commonInOrder(recs, 0, recs.length, preds, 10)).toBeUndefined();
  });
});

describe('an op whose reclaim decisions took accessed bits no event shows', () => {
  const flush = new Recorded('tlb_flush', 2, 0, 1, -1, 3, undefined, undefined, true, undefined);
  const at = (line: number, tgid: number): LiftedOp => ({ ...op(), op: { ...op().op, tgid, tid: tgid, at: { index: line, line } }, recorded: [flush] });
  /**
   * Ops at lines 1..3 (op 3 of process `tgid3`), each recording one flush; the model predicts
   * none in the ops of `differ`; op 2 had unseen decisions of process 1's family.
   */
  const run = (differ: number[], tgid3 = 1) => {
    const c = new FidelityChecker();
    for (const line of [1, 2, 3]) {
      c.begin(at(line, line === 3 ? tgid3 : 1));
      if (!differ.includes(line)) c.see({ ev: 'tlb_flush', cpu: 0, pages: -1, reason: 3 });
      c.end(undefined, line === 2 ? { n: 2, what: 'accessed', why: 'thread 11 of pid 1 was running during the call on CPU 1', tgids: [1] } : undefined);
    }
    return c.report();
  };
  it('from that op on, where it differs itself, the differences of that process make the verdict partial, with its line and the reason', () => {
    const r = run([2, 3]);
    expect([r.verdict, r.opsMismatched, r.opsUnseen]).toEqual(['partial', 2, 2]);
    expect(r.reasons.join('\n')).toMatch(/2 ops differ at or after line 2, where reclaim found 2 folios unreferenced .*\(thread 11 of pid 1 was running/);
  });
  it('where that op reproduced, the kernel decided as the model did: a later difference is a mismatch', () => {
    expect([run([3]).verdict, run([3]).opsUnseen]).toEqual(['mismatched', 0]);
  });
  it('another process\'s later difference, or one before that op, stays a mismatch; with no difference the capture matches', () => {
    const other = run([2, 3], 2);
    expect([other.verdict, other.opsMismatched, other.opsUnseen]).toEqual(['mismatched', 2, 1]);
    const before = run([1]);
    expect([before.verdict, before.opsMismatched, before.opsUnseen]).toEqual(['mismatched', 1, 0]);
    const none = run([]);
    expect([none.verdict, none.reasons]).toEqual(['matched', []]);
  });
});

describe('a gap that holds from a phase on (khugepaged collapsed a range in it)', () => {
  const flush = new Recorded('tlb_flush', 2, 0, 1, -1, 3, undefined, undefined, true, undefined);
  /** One op per phase, each recording one flush; the model predicts none in phase `differs`. */
  const run = (differs: string) => {
    const c = new FidelityChecker();
    for (const phase of ['populate', 'collapse', 'munmap']) {
      c.begin({ ...op(), recorded: [flush], phase });
      if (phase !== differs) c.see({ ev: 'tlb_flush', cpu: 0, pages: -1, reason: 3 });
      c.end();
    }
    return withTraceFacts(c.report(), { readProblems: {}, notRecorded: [], inputGaps: [], phaseGaps: [{ phase: 'collapse', why: 'khugepaged collapsed 1 PMD range during phase collapse' }] });
  };
  it('excuses a difference in that phase or after it (partial, the gap named), not one before it', () => {
    for (const differs of ['collapse', 'munmap']) expect([run(differs).verdict, run(differs).reasons]).toEqual(['partial', ['khugepaged collapsed 1 PMD range during phase collapse']]);
    expect(run('populate').verdict).toBe('mismatched');
    expect(run('populate').phaseMismatches).toEqual([{ phase: 'populate', ops: 1 }, { phase: 'collapse', ops: 0 }, { phase: 'munmap', ops: 0 }]);
  });
});

describe('an op whose own output depends on what no event shows (StepResult unseenOutput)', () => {
  const flush = new Recorded('tlb_flush', 2, 0, 1, -1, 3, undefined, undefined, true, undefined);
  /** Two ops recording one flush each; the model predicts none in the ops listed in `differ`; the first op's output is unseen. */
  const run = (differ: number[]) => {
    const c = new FidelityChecker();
    for (const i of [0, 1]) {
      c.begin({ ...op(), recorded: [flush] });
      if (!differ.includes(i)) c.see({ ev: 'tlb_flush', cpu: 0, pages: -1, reason: 3 });
      c.end(undefined, undefined, i === 0 ? 'the zap gathered pages the model does not hold' : undefined);
    }
    return c.report();
  };
  it('excuses that op only: partial with the reason; a later op that differs is still a mismatch', () => {
    const r = run([0]);
    expect([r.verdict, r.opsMismatched, r.opsUnseenOutput]).toEqual(['partial', 1, 1]);
    expect(r.reasons).toEqual(['1 op differs in output that depends on what no event shows (first at line 1: the zap gathered pages the model does not hold)']);
    expect(run([0, 1]).verdict).toBe('mismatched');
  });
  it('not when the op freed other pages or moved an rss counter by another total: that is what it did, not where its batches ended', () => {
    const freeRec = new Recorded('mm_page_free', 3, 0, 1, 0, undefined, undefined, 0x100, true, undefined);
    const c = new FidelityChecker();
    c.begin({ ...op(), recorded: [flush, freeRec] });
    c.see({ ev: 'mm_page_free', cpu: 0, pfn: 0x101, order: 0 } as never);
    c.end(undefined, undefined, 'the zap gathered pages the model does not hold');
    expect([c.report().verdict, c.report().opsUnseenOutput]).toEqual(['mismatched', 0]);
  });
});

describe('a gap in a phase no compared op was in', () => {
  const flush = new Recorded('tlb_flush', 2, 0, 1, -1, 3, undefined, undefined, true, undefined);
  it('is placed by the capture\'s own phase order: a difference before it stays a mismatch, one after it is excused', () => {
    const run = (differs: string) => {
      const c = new FidelityChecker();
      for (const phase of ['populate', 'munmap']) {
        c.begin({ ...op(), recorded: [flush], phase });
        if (phase !== differs) c.see({ ev: 'tlb_flush', cpu: 0, pages: -1, reason: 3 });
        c.end();
      }
      return withTraceFacts(c.report(), { readProblems: {}, notRecorded: [], inputGaps: [], phaseGaps: [{ phase: 'idle', why: 'khugepaged collapsed 1 PMD range during phase idle' }], phaseOrder: ['populate', 'idle', 'munmap'] });
    };
    expect(run('populate').verdict).toBe('mismatched');
    expect(run('munmap').verdict).toBe('partial');
  });
});
