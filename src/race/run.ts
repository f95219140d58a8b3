/**
 * Scenario × config → verdicts per invariant, with minimal witnesses; the checker that compares
 * every scenario file's expectations (and vacuity partners) with what the explorer finds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import { composeHooks } from '../model/engine.js';
import { buildConfig } from '../model/presets.js';
import { accessText, exploreBounded, exploreDpor, racingPair, replaySchedule, Run, type ExecutionRecord, type ExploreStats, type WitnessStep } from './explore.js';
import type { InvariantName } from './invariants.js';
import { parseScenario, type Scenario, type ScenarioError, type Verdict } from './scenario.js';

export interface Witness {
  preemptions: number;
  /** Thread of each step, in order. */
  schedule: string[];
  /** Why the invariant failed in this execution. */
  failure: string;
  racingPair: [string, string] | null;
  steps: WitnessStep[];
  /** Found by a preemption-bounded search that covered every schedule up to that bound. */
  minimal: boolean;
}

export interface InvariantResult {
  invariant: InvariantName;
  verdict: Verdict;
  positive: number;
  negative: number;
  executions: number;
  exhaustive: boolean;
  bound?: number;
  witness?: Witness;
}

export interface RaceResult {
  scenario: string;
  config: string;
  classes: number;
  sleepBlocked: number;
  deadlocks: number;
  results: InvariantResult[];
}

export interface RaceOpts {
  bound?: number;
  /** Executions a preemption-bounded witness search may take per bound before settling. */
  witnessBudget?: number;
  /** Skip the witnesses (the checker needs verdicts only). */
  noWitness?: boolean;
}

export function factory(sc: Scenario, config: ModelConfig): () => Run {
  const { hooks, owners } = composeHooks(config.series);
  return () => new Run(sc, config, hooks, owners);
}

function verdictOf(positive: number, executions: number): Verdict {
  if (positive === 0) return 'Never';
  return positive === executions ? 'Always' : 'Sometimes';
}

export function runScenario(sc: Scenario, spec: string, opts: RaceOpts = {}): RaceResult {
  const config = buildConfig(spec);
  const make = factory(sc, config);
  const stats: ExploreStats = opts.bound !== undefined ? exploreBounded(make, sc.invariants, opts.bound) : exploreDpor(make, sc.invariants);
  const best: Record<string, ExecutionRecord> = { ...stats.best };
  const minimal: Record<string, boolean> = {};
  if (!opts.noWitness) {
    // Fewest preemptions, then fewest steps: every schedule up to a bound, raising the bound
    // until each failing invariant has its witness at that bound.
    const want = sc.invariants.filter((i) => best[i]);
    const maxB = Math.max(-1, ...want.map((i) => best[i]!.preemptions));
    const budget = opts.witnessBudget ?? 60_000;
    const settled = new Set<string>();
    for (let b = 0; b <= maxB && settled.size < want.length; b++) {
      const st = exploreBounded(make, want, b, { budget });
      for (const inv of want) {
        if (settled.has(inv)) continue;
        const r = st.best[inv];
        if (r && (r.preemptions < best[inv]!.preemptions || (r.preemptions === best[inv]!.preemptions && r.schedule.length <= best[inv]!.schedule.length))) best[inv] = r;
        if (r && !st.truncated) { settled.add(inv); minimal[inv] = true; }
      }
      if (st.truncated) break;
    }
  }
  const results: InvariantResult[] = sc.invariants.map((inv) => {
    const positive = stats.positive[inv] ?? 0;
    const r: InvariantResult = { invariant: inv, verdict: verdictOf(positive, stats.executions), positive, negative: stats.executions - positive, executions: stats.executions, exhaustive: stats.exhaustive };
    if (stats.bound !== undefined) r.bound = stats.bound;
    const rec = best[inv];
    if (rec && !opts.noWitness) r.witness = witnessOf(make, rec, inv, minimal[inv] ?? false);
    return r;
  });
  return { scenario: sc.id, config: config.name, classes: stats.classes, sleepBlocked: stats.sleepBlocked, deadlocks: stats.deadlocks, results };
}

function witnessOf(make: () => Run, rec: ExecutionRecord, inv: InvariantName, minimal: boolean): Witness {
  const { steps } = replaySchedule(make, rec.schedule);
  const pair = racingPair(make, rec.schedule);
  let racing: [string, string] | null = null;
  if (pair) {
    const run = make();
    const decls = rec.schedule.map((t) => run.step(t));
    const d = (i: number): string => `step ${i + 1} (${rec.schedule[i]}, ${decls[i]!.fn}: ${accessText(decls[i]!)})`;
    racing = [d(pair[0]), d(pair[1])];
  }
  return { preemptions: rec.preemptions, schedule: rec.schedule, failure: rec.failed[inv] ?? '', racingPair: racing, steps, minimal };
}

// ---------------------------------------------------------------------------------------------
// Scenario files.

export function loadScenario(path: string): { value?: Scenario; errors: ScenarioError[] } {
  return parseScenario(readFileSync(path, 'utf8'), path);
}

export function scenarioFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.race')).sort(byId).map((n) => join(dir, n));
}

/** R1, R1b, R2 … R10 in that order. */
function byId(a: string, b: string): number {
  const key = (s: string): [number, string] => {
    const m = /^R(\d+)(.*)\.race$/.exec(s);
    return m ? [Number(m[1]), m[2]!] : [Number.MAX_SAFE_INTEGER, s];
  };
  const [na, sa] = key(a);
  const [nb, sb] = key(b);
  return na - nb || sa.localeCompare(sb);
}

export interface CheckRow {
  scenario: string;
  config: string;
  invariant: string;
  expected: Verdict;
  found: Verdict | 'error';
  /** For a Never: the partner config and what it gave. */
  vacuity?: { config: string; found: Verdict | 'error' };
  ok: boolean;
  detail?: string;
}

/** Run every expectation of a scenario and its vacuity partners. */
export function checkScenario(sc: Scenario): CheckRow[] {
  const cache = new Map<string, RaceResult | string>();
  const get = (spec: string): RaceResult | string => {
    let r = cache.get(spec);
    if (!r) {
      try {
        r = runScenario(sc, spec, { noWitness: true });
      } catch (e) {
        r = e instanceof Error ? e.message : String(e);
      }
      cache.set(spec, r);
    }
    return r;
  };
  const rows: CheckRow[] = [];
  for (const ex of sc.expects) {
    const r = get(ex.config);
    for (const e of ex.results) {
      const found = typeof r === 'string' ? 'error' : r.results.find((x) => x.invariant === e.invariant)!.verdict;
      const row: CheckRow = { scenario: sc.id, config: ex.config, invariant: e.invariant, expected: e.verdict, found, ok: found === e.verdict, detail: typeof r === 'string' ? r : undefined };
      if (e.verdict === 'Never' && e.vacuity) {
        const v = get(e.vacuity);
        const vf = typeof v === 'string' ? 'error' : v.results.find((x) => x.invariant === e.invariant)!.verdict;
        row.vacuity = { config: e.vacuity, found: vf };
        if (vf === 'Never' || vf === 'error') {
          row.ok = false;
          row.detail = `vacuity partner \`${e.vacuity}\` gives ${vf}: this Never proves nothing about the model`;
        }
      }
      rows.push(row);
    }
  }
  return rows;
}
