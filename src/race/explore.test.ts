/** The explorer's reduction against brute force, and the scenario grammar's errors. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../model/presets.js';
import { packageRoot } from '../paths.js';
import { exploreBounded, exploreDpor } from './explore.js';
import { factory, loadScenario } from './run.js';
import { parseScenario } from './scenario.js';

const races = join(packageRoot, 'races');

describe('DPOR with sleep sets', () => {
  // Every schedule with up to 8 preemptions covers every interleaving of these small scenarios
  // (the bounded search is not truncated), so it is the brute-force answer.
  const cases: Array<[string, string]> = [
    ['R1', 'linux-6.12 -ttu-sync'],
    ['R5', 'linux-6.12 +mutant-scan-unpinned-unlink'],
    ['R6', 'linux-6.19 +mutant-fbatch-requeue-unguarded'],
    ['R7', 'linux-6.18 +mutant-split-freeze-unlocked'],
    ['R8', 'linux-6.18'],
  ];
  for (const [id, spec] of cases) {
    it(`${id} under ${spec}: one execution per Mazurkiewicz class, every class found`, () => {
      const sc = loadScenario(join(races, `${id}.race`)).value!;
      const make = factory(sc, buildConfig(spec));
      const dpor = exploreDpor(make, sc.invariants, { keepClasses: true });
      const brute = exploreBounded(make, sc.invariants, 8, { keepClasses: true });
      expect(brute.truncated).toBe(false);
      expect(dpor.executions).toBe(dpor.classes);
      expect([...dpor.classSet!].sort()).toEqual([...brute.classSet!].sort());
      for (const inv of sc.invariants) expect(dpor.positive[inv]! > 0, inv).toBe(brute.positive[inv]! > 0);
      expect(brute.executions).toBeGreaterThan(dpor.executions);
    });
  }

  it('a bounded search explores fewer schedules as the bound shrinks, and a Never under a bound says so', () => {
    const sc = loadScenario(join(races, 'R1.race')).value!;
    const make = factory(sc, buildConfig('linux-6.12 -ttu-sync'));
    const b0 = exploreBounded(make, sc.invariants, 0);
    const b1 = exploreBounded(make, sc.invariants, 1);
    expect(b0.executions).toBeLessThan(b1.executions);
    // The race needs B to be preempted inside its PTL-held window: impossible without preemptions.
    expect(b0.positive.unified_pte_state).toBe(0);
    expect(b1.positive.unified_pte_state).toBeGreaterThan(0);
    expect(b0.bound).toBe(0);
  });
});

describe('scenario grammar', () => {
  it('reports syntax and meaning errors with line and column', () => {
    const text = ['race X "t"', 'setup {', '  folio F 48K at 0 lazyfree bogus;', '}', 'thread A cpu 0 { reclaim(G); frob(F); }', 'invariant unified_pte_state;', 'expect "linux-6.12" { unified_pte_state Never; }', ''].join('\n');
    const r = parseScenario(text, 'x.race');
    expect(r.value).toBeUndefined();
    const at = r.errors.map((e) => `${e.line}:${e.col} ${e.message.split(':')[0]}`);
    expect(at).toContain('3:11 folio size 48K is not a power-of-two number of 4K pages');
    expect(r.errors.find((e) => /unknown folio flag `bogus`/.test(e.message))).toMatchObject({ line: 3, col: 29 });
    expect(r.errors.find((e) => /unknown folio `G`/.test(e.message))).toMatchObject({ line: 5, col: 26 });
    expect(r.errors.find((e) => /unknown operation `frob`/.test(e.message))).toMatchObject({ line: 5, col: 30 });
    expect(r.errors.find((e) => /needs its vacuity partner/.test(e.message))).toMatchObject({ line: 7, col: 41 });
    const syntax = parseScenario('race Y\nsetup { folio F 64K at }', 'y.race');
    expect(syntax.errors[0]).toMatchObject({ file: 'y.race', line: 2 });
  });
});
