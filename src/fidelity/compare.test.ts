import { describe, expect, it } from 'vitest';
import { FidelityChecker } from './compare.js';
import type { LiftedOp } from '../replay/lift.js';

const op = (): LiftedOp => ({ op: { kind: 'munmap', addr: 0, len: 4096, tid: 1, tgid: 1, cpu: 0, at: { index: 0, line: 1 } }, recorded: [], compare: true, phase: '', failed: false });

describe('what a capture can show', () => {
  it('a flush traced in another task\'s context is not expected from a capture that followed the workload\'s tasks only', () => {
    const run = (taskFiltered: boolean) => {
      const c = new FidelityChecker(50, new Set(), taskFiltered);
      c.begin(op());
      c.see({ ev: 'tlb_flush', cpu: 1, pages: 0, reason: 5, offTask: true });
      c.end();
      return c.report();
    };
    expect(run(true).opsMismatched).toBe(0);
    expect(run(false).opsMismatched).toBe(1);
  });
});
