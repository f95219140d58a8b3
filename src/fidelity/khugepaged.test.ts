/**
 * khugepaged's collapses named as a missing input: every capture whose vmstat shows a collapse
 * while the workload ran gets one gap per phase, and the collapses the gaps name add up to the
 * change of thp_collapse_alloc between the capture's counters-before.txt and counters-after.txt.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFacts } from './counters.js';
import { khugepagedGaps } from './khugepaged.js';

const TRACES = join(__dirname, '..', '..', 'traces');

function captures(): string[] {
  const out: string[] = [];
  for (const k of readdirSync(TRACES)) {
    const kd = join(TRACES, k);
    if (!statSync(kd).isDirectory()) continue;
    for (const c of readdirSync(kd)) {
      if (existsSync(join(kd, c, 'stdout.txt')) && existsSync(join(kd, c, 'counters-after.txt'))) out.push(join(kd, c));
    }
  }
  return out;
}

function vmstat(file: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('khugepagedGaps()', () => {
  const all = captures();
  const collapsed = all.filter((d) => vmstat(join(d, 'counters-after.txt'), 'thp_collapse_alloc') > vmstat(join(d, 'counters-before.txt'), 'thp_collapse_alloc'));

  it('the shipped captures include collapses to check against', () => {
    expect(collapsed.length).toBeGreaterThan(0);
  });

  for (const d of collapsed) {
    it(`${d.slice(TRACES.length + 1)}: one gap per phase with a collapse, naming as many as the counters show`, () => {
      const gaps = khugepagedGaps(readCaptureFacts(join(d, 'trace.txt.gz')).phaseDeltas);
      const named = gaps.map((g) => Number(/\(thp_collapse_alloc \+(\d+)\)/.exec(g.why)?.[1]));
      const changed = vmstat(join(d, 'counters-after.txt'), 'thp_collapse_alloc') - vmstat(join(d, 'counters-before.txt'), 'thp_collapse_alloc');
      expect(named.reduce((a, b) => a + b, 0)).toBe(changed);
      for (const g of gaps) expect(g.why).toMatch(new RegExp(`^khugepaged collapsed \\d+ PMD ranges? during phase ${g.phase} `));
    });
  }

  it('captures without a collapse get no gap', () => {
    const quiet = all.filter((d) => !collapsed.includes(d));
    expect(quiet.length).toBeGreaterThan(0);
    for (const d of quiet) expect(khugepagedGaps(readCaptureFacts(join(d, 'trace.txt.gz')).phaseDeltas)).toEqual([]);
  });
});
