/**
 * The race-witness inspector (ink-testing-library) on witnesses the explorer finds: R1 without
 * TTU_SYNC beside linux-6.12, and R8's count during the 6.18 scan beside 6.19.
 */
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import React from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { loadScenario, runScenario } from '../race/run.js';
import { stepWitness, WITNESS_KIND, type SteppedWitness, type WitnessFile } from '../race/witness.js';
import { commandFor, WITNESS_BINDINGS } from './keys.js';
import { WitnessApp, witnessLayout } from './witness.js';
import { openWitness, racingRows, reduceWitness } from './witness-state.js';
import { witnessPlainText } from './witness-text.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(f: () => string | undefined, re: RegExp, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = f() ?? '';
    if (re.test(s) || Date.now() > end) return s;
    await sleep(10);
  }
}
const statusOf = (frame: string | undefined) => (frame ?? '').trimEnd().split('\n').pop()!;
const KEY = { down: '\u001B[B', up: '\u001B[A', pageDown: '\u001B[6~' };

/** The witness `race` finds for the scenario's first invariant under `spec`, as it would save it. */
function found(id: string, spec: string, other: string): SteppedWitness {
  const sc = loadScenario(join(packageRoot, 'races', `${id}.race`)).value!;
  const r = runScenario(sc, spec);
  const x = r.results.find((y) => y.witness)!;
  const w = x.witness!;
  const file: WitnessFile = { kind: WITNESS_KIND, scenario: sc.id, file: sc.file, config: r.config, invariant: x.invariant, schedule: w.schedule, preemptions: w.preemptions, failure: w.failure, racingPair: w.racingPair, initial: {}, steps: w.steps };
  return stepWitness(sc, file, other, 'test');
}

let r1: SteppedWitness;
let r8: SteppedWitness;
beforeAll(() => {
  r1 = found('R1', 'linux-6.12 -ttu-sync', 'linux-6.12');
  r8 = found('R8', 'linux-6.18', 'linux-6.19');
});

describe('stepped witness', () => {
  it('the witness side fails and its steps follow the schedule; the other config runs the same schedule and holds', () => {
    for (const sw of [r1, r8]) {
      expect(sw.sides[0]!.failure).not.toBeNull();
      expect(sw.sides[1]!.failure).toBeNull();
      expect(sw.sides[0]!.steps.map((s) => s.thread)).toEqual(sw.schedule);
      const pair = racingRows(sw);
      expect(pair).toHaveLength(2);
      const [a, b] = pair.map((i) => sw.sides[0]!.steps[sw.rows[i]!.cells[0]!.step!]!);
      expect(a!.racesWith).toBe(b!.n);
      expect(a!.thread).not.toBe(b!.thread);
    }
  });

  it('as text: every row, the racing pair and preemptions marked', () => {
    const t = witnessPlainText(r1, 160);
    expect(t.split('\n').every((l) => l.length <= 160)).toBe(true);
    const pair = racingRows(r1).map((i) => r1.sides[0]!.steps[r1.rows[i]!.cells[0]!.step!]!);
    for (const s of pair) expect(t).toMatch(new RegExp(`^ +${s.n}[* ]◆${s.thread} cpu${s.cpu} ${s.fn.replace(/[.]/g, '\\.')}`, 'm'));
  });
});

describe('keys', () => {
  it('every witness key binding resolves to its command; the trace inspector\'s j/k/g/G/?/q mean the same here', () => {
    for (const b of WITNESS_BINDINGS) for (const c of b.chars) expect(commandFor({ input: c }, WITNESS_BINDINGS)).toBe(b.command);
    for (const c of ['j', 'k', 'g', 'G', '?', 'q']) expect(commandFor({ input: c }, WITNESS_BINDINGS)).toBe(commandFor({ input: c }));
  });

  it('opens on the racing pair; r alternates its two steps; j/k/G/g move; n/N switch witnesses; q quits', () => {
    const env = { witnesses: [r1, r8], rowsVisible: 7 };
    const pair = racingRows(r1);
    let s = openWitness(env, 0);
    expect(s.cursor).toBe(pair[0]);
    s = reduceWitness(s, { input: 'r' }, env);
    expect(s.cursor).toBe(pair[1]);
    s = reduceWitness(s, { input: 'r' }, env);
    expect(s.cursor).toBe(pair[0]);
    s = reduceWitness(s, { input: 'j' }, env);
    expect(s.cursor).toBe(pair[0]! + 1);
    s = reduceWitness(s, { input: 'G' }, env);
    expect(s.cursor).toBe(r1.rows.length - 1);
    expect(s.top).toBe(r1.rows.length - 7);
    s = reduceWitness(s, { input: 'g' }, env);
    expect([s.cursor, s.top]).toEqual([0, 0]);
    s = reduceWitness(s, { input: 'k' }, env);
    expect(s.cursor).toBe(0);
    s = reduceWitness(s, { input: 'n' }, env);
    expect([s.w, s.cursor]).toEqual([1, racingRows(r8)[0]]);
    s = reduceWitness(s, { input: 'n' }, env);
    expect(s.w).toBe(0);
    s = reduceWitness(s, { input: 'N' }, env);
    expect(s.w).toBe(1);
    s = reduceWitness(s, { input: '?' }, env);
    expect(s.help).toBe(true);
    s = reduceWitness(s, { input: 'z' }, env);
    expect(s.help).toBe(false);
    expect(reduceWitness(s, { input: 'q' }, env).quit).toBe(true);
  });
});

describe('screen', () => {
  it('80×24: the list side by side, the step at the cursor in full below, nothing wider or taller than the terminal', async () => {
    const ui = render(<WitnessApp witnesses={[r1]} width={80} height={24} noColor />);
    const f = await until(ui.lastFrame, /on the racing pair/);
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    const first = r1.sides[0]!.steps[r1.rows[racingRows(r1)[0]!]!.cells[0]!.step!]!;
    expect(statusOf(f)).toMatch(new RegExp(`^step ${racingRows(r1)[0]! + 1}/${r1.rows.length} \\| witness 1/1 R1 unified_pte_state`));
    expect(f).toMatch(new RegExp(`step ${first.n}${first.preempts ? ' \\(a preemption\\)' : ''}: ${first.thread} on cpu${first.cpu}`));
    expect(f).toContain(`locks held: ${first.locks.join(', ') || 'none'}`);
    for (const d of first.diff) expect(f).toContain(d);
    ui.stdin.write(KEY.down);
    const g = await until(ui.lastFrame, new RegExp(`^step ${racingRows(r1)[0]! + 2}/`, 'm'));
    const next = r1.sides[0]!.steps[first.n]!;
    expect(g).toMatch(new RegExp(`step ${next.n}${next.preempts ? ' \\(a preemption\\)' : ''}: ${next.thread} on cpu${next.cpu}`));
    ui.stdin.write(KEY.pageDown);
    const { listH } = witnessLayout(r1, 80, 24);
    await until(() => statusOf(ui.lastFrame()), new RegExp(`^step ${racingRows(r1)[0]! + 2 + listH - 1}/`));
    expect(statusOf(ui.lastFrame())).toMatch(new RegExp(`^step ${racingRows(r1)[0]! + 2 + listH - 1}/`));
    ui.unmount();
  });

  it('n moves to the next witness of the file and its own racing pair', async () => {
    const ui = render(<WitnessApp witnesses={[r1, r8]} width={160} height={45} noColor />);
    await until(ui.lastFrame, /witness 1\/2 R1/);
    ui.stdin.write('n');
    const f = await until(ui.lastFrame, /witness 2\/2 R8/);
    expect(f.split('\n').every((l) => l.length <= 160)).toBe(true);
    expect(f).toMatch(/linux-6\.18: fails — .*split_queue_len/);
    expect(f).toMatch(/│ linux-6\.19: holds/);
    const a = r8.sides[0]!.steps[r8.rows[racingRows(r8)[0]!]!.cells[0]!.step!]!;
    expect(f).toMatch(new RegExp(`^> +${a.n}[* ]◆${a.thread} cpu${a.cpu}`, 'm'));
    ui.unmount();
  });
});
