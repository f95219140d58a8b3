/**
 * Saved witnesses (`foliolab race --witness FILE`) and what `foliolab inspect FILE` steps
 * through: the witness's schedule followed under its own config and, beside it, the same
 * schedule re-executed under another config, one row per schedule entry (a thread that cannot
 * step there under the other config — it waits for a lock, or has finished — says so), the
 * racing pair of each side marked, and whether the invariant failed at the end on each side.
 */
import type { ModelConfig } from '../model/config.js';
import { buildConfig } from '../model/presets.js';
import { racingPair, replaySchedule, type FollowedEntry, type WitnessStep } from './explore.js';
import { checkInvariant, isInvariant, type InvariantName } from './invariants.js';
import { factory } from './run.js';
import type { Scenario } from './scenario.js';

export const WITNESS_KIND = 'foliolab-race-witness';

/** One witness as `race --witness` saves it. */
export interface WitnessFile {
  kind: typeof WITNESS_KIND;
  scenario: string;
  file: string;
  config: string;
  invariant: string;
  schedule: string[];
  preemptions: number;
  failure: string;
  racingPair: [string, string] | null;
  initial: Record<string, string>;
  steps: WitnessStep[];
}

/** True when `text` is a saved witness file rather than a trace. */
export function looksLikeWitnessFile(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') && t.includes(`"${WITNESS_KIND}"`);
}

/** The witnesses of a saved file; throws with a message naming what is wrong. */
export function parseWitnessFile(text: string): WitnessFile[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const ws = (doc as { witnesses?: unknown }).witnesses;
  if (!Array.isArray(ws)) throw new Error('no `witnesses` array (write one with `foliolab race <id> --witness FILE`)');
  if (ws.length === 0) throw new Error('holds no witness (write one with `foliolab race <id> --witness FILE`)');
  ws.forEach((w: Partial<WitnessFile>, i) => {
    if (w.kind !== WITNESS_KIND) throw new Error(`witness ${i + 1} is not a ${WITNESS_KIND}`);
    if (typeof w.scenario !== 'string' || typeof w.config !== 'string' || !Array.isArray(w.schedule) || !w.schedule.every((x) => typeof x === 'string')) throw new Error(`witness ${i + 1} lacks its scenario, config or schedule`);
    if (typeof w.invariant !== 'string' || !isInvariant(w.invariant)) throw new Error(`witness ${i + 1}: unknown invariant \`${String(w.invariant)}\``);
  });
  return ws as WitnessFile[];
}

/** A step as the inspector shows it: the witness step, and whether it is one of the racing pair. */
export interface SideStep extends WitnessStep {
  racing: boolean;
  /** The other step of the racing pair (its number), when this is one of them. */
  racesWith?: number;
}

export interface Side {
  config: string;
  /** The invariant's failure at the end of the schedule under this config, or null if it held. */
  failure: string | null;
  steps: SideStep[];
  racingPair: [number, number] | null;
  preemptions: number;
  /** Threads that had not finished when no thread could step (a deadlock under this config). */
  stuck: string[];
}

/** One schedule entry (or a left-over step) under each config. */
export interface StepRow {
  /** Index into the schedule; null for a step of a thread left over once the schedule ran out. */
  entry: number | null;
  thread: string;
  /** Index into each side's steps, or why the thread could not step there. */
  cells: Array<{ step?: number; why?: string }>;
}

export interface SteppedWitness {
  scenario: string;
  title: string;
  invariant: InvariantName;
  schedule: string[];
  /** The state before the first step (the witness's own config). */
  initial: Record<string, string>;
  /** The witness's own config first; the other config second, when there is one. */
  sides: Side[];
  /** How the other config was chosen. */
  otherReason?: string;
  rows: StepRow[];
}

/**
 * The config to compare with when none is given: the first config the scenario file expects
 * the invariant to be Never under (the fixed kernel beside the broken one).
 */
export function defaultOther(sc: Scenario, w: WitnessFile): string | undefined {
  for (const e of sc.expects) {
    if (e.config === w.config) continue;
    if (e.results.some((r) => r.invariant === w.invariant && r.verdict === 'Never')) return e.config;
  }
  return undefined;
}

function follow(sc: Scenario, config: ModelConfig, spec: string, schedule: string[], inv: InvariantName): { side: Side; entries: FollowedEntry[] } {
  const make = factory(sc, config);
  const { steps, run, followed, entries } = replaySchedule(make, schedule);
  const pair = racingPair(make, followed);
  const marked: SideStep[] = steps.map((s, i) => {
    const racing = pair !== null && (pair[0] === i || pair[1] === i);
    return racing ? { ...s, racing, racesWith: (pair![0] === i ? pair![1] : pair![0]) + 1 } : { ...s, racing };
  });
  const preemptions = steps.filter((s) => s.preempts).length;
  const stuck = run.threads.filter((t) => t.next !== null).map((t) => t.name);
  return { side: { config: spec, failure: checkInvariant(run.s, inv), steps: marked, racingPair: pair, preemptions, stuck }, entries };
}

/**
 * The witness followed under its own config and, if `other` is given, the same schedule under
 * that config; rows aligned by schedule entry. Throws a ConfigError for a bad config.
 */
export function stepWitness(sc: Scenario, w: WitnessFile, other?: string, otherReason?: string): SteppedWitness {
  const inv = w.invariant as InvariantName;
  const mine = follow(sc, buildConfig(w.config), w.config, w.schedule, inv);
  const sides = [mine.side];
  const all = [mine.entries];
  if (other !== undefined) {
    const theirs = follow(sc, buildConfig(other), other, w.schedule, inv);
    sides.push(theirs.side);
    all.push(theirs.entries);
  }
  const rows: StepRow[] = [];
  // Schedule entries first, each side's cell for it; then each side's left-over steps, paired.
  const indexOf = (k: number, e: FollowedEntry): { step?: number; why?: string } => (e.step ? { step: sides[k]!.steps.findIndex((s) => s.n === e.step!.n) } : { why: e.why });
  w.schedule.forEach((thread, i) => {
    rows.push({ entry: i, thread, cells: all.map((es, k) => indexOf(k, es.find((e) => e.entry === i)!)) });
  });
  const extras = all.map((es) => es.filter((e) => e.entry === null));
  const nExtra = Math.max(...extras.map((x) => x.length));
  for (let j = 0; j < nExtra; j++) {
    const thread = extras.map((x) => x[j]?.thread).find((t) => t !== undefined)!;
    rows.push({ entry: null, thread, cells: extras.map((x, k) => (x[j] ? indexOf(k, x[j]!) : { why: 'nothing left to run' })) });
  }
  const initial = Object.fromEntries(factory(sc, buildConfig(w.config))().s.view());
  return { scenario: w.scenario, title: sc.title, invariant: inv, schedule: w.schedule, initial, sides, otherReason, rows };
}
