/** The explorer's reduction against brute force, and the scenario grammar's errors. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../model/presets.js';
import { packageRoot } from '../paths.js';
import { readFileSync } from 'node:fs';
import { commutationFaults, exploreBounded, exploreDpor, type Run } from './explore.js';
import { factory, loadScenario, scenarioFiles } from './run.js';
import { parseScenario, type Scenario } from './scenario.js';

const races = join(packageRoot, 'races');

/** Every config a scenario file names: its expectations and their vacuity partners. */
function configsOf(sc: Scenario): string[] {
  const out = new Set<string>();
  for (const e of sc.expects) {
    out.add(e.config);
    for (const r of e.results) if (r.vacuity) out.add(r.vacuity);
  }
  return [...out];
}

const all = scenarioFiles(races).map((f) => loadScenario(f).value!);
/** Too many schedules to enumerate without reduction (R2's and R4's 16-PTE walks interleaved with a second path). */
const tooLarge = new Set(['R2 linux-6.12', 'R2 linux-6.12 +batched-unmap@v4-1', 'R4 linux-6.12 +mutant-discard-clean-only', 'R4 linux-6.12 +mutant-dirty-before-ref', 'R4 linux-6.1', 'R4 linux-6.12']);

describe('DPOR with sleep sets', () => {
  // Every schedule, without reduction, is the brute-force answer: the same classes, and every
  // invariant failing in some execution of one fails in some execution of the other.
  for (const sc of all) {
    for (const spec of configsOf(sc)) {
      const id = `${sc.id} ${spec}`;
      it(`${id}: ${tooLarge.has(id) ? 'too many schedules to enumerate (the commutation check below covers its declarations)' : 'one execution per Mazurkiewicz class, every class brute force finds'}`, () => {
        const make = factory(sc, buildConfig(spec));
        const budget = 30_000;
        if (tooLarge.has(id)) {
          expect(exploreBounded(make, sc.invariants, 1_000, { budget: 500 }).truncated).toBe(true);
          return;
        }
        const dpor = exploreDpor(make, sc.invariants, { keepClasses: true });
        const brute = exploreBounded(make, sc.invariants, 1_000, { keepClasses: true, budget });
        expect(brute.truncated).toBe(false);
        expect(dpor.executions).toBe(dpor.classes);
        expect([...dpor.classSet!].sort()).toEqual([...brute.classSet!].sort());
        for (const inv of sc.invariants) expect(dpor.positive[inv]! > 0, inv).toBe(brute.positive[inv]! > 0);
      });
    }
  }

  // The classes above are computed from the declared reads and writes, so they cannot show a
  // missing one. Running each pair of steps declared independent in both orders can: every
  // state every DPOR execution passes through, every scenario and config. 64K folios are
  // shrunk to 16K (four PTEs: still large, still straddling a table in R3/R9, still queued
  // when partially unmapped) to keep the number of states small.
  for (const sc of all) {
    it(`${sc.id}: every two steps declared independent commute, in every config`, () => {
      const text = readFileSync(sc.file, 'utf8').replace(/ 64K /g, ' 16K ');
      const small = parseScenario(text, sc.file).value!;
      for (const spec of configsOf(small)) {
        const make = factory(small, buildConfig(spec));
        const dpor = exploreDpor(make, small.invariants, { keepSchedules: true });
        expect(commutationFaults(make, dpor.schedules!, 3), spec).toEqual([]);
      }
    });
  }

  it('the commutation check finds an undeclared access: a speculative reference that declares none', () => {
    const sc = loadScenario(join(races, 'R3.race')).value!;
    const make = factory(sc, buildConfig('linux-6.18'));
    const hide = (): Run => {
      const run = make();
      const t = run.thread('B');
      // spec_ref's folio_try_get() reads and writes F's refcount; drop what it declares.
      t.next = { ...t.next!, reads: [], writes: [] };
      return run;
    };
    const dpor = exploreDpor(hide, sc.invariants, { keepSchedules: true });
    const faults = commutationFaults(hide, dpor.schedules!, 1);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatch(/B "folio_try_get\(F\)".*declared independent but do not commute/);
  });

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
