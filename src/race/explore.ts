/**
 * Stateless exploration of a scenario's interleavings. Every execution is re-run from the
 * initial state (the state is litmus-sized and the paths deterministic), so nothing is cloned.
 *
 * Exhaustive mode is dynamic partial-order reduction with sleep sets (Flanagan & Godefroid,
 * POPL 2005): two steps are dependent when they are of the same thread or one writes what the
 * other reads or writes (lock words included); an execution is explored once per
 * Mazurkiewicz class, and a branch whose every enabled thread sleeps is cut ("sleep-set
 * blocked"). Bounded mode explores every schedule with at most N preemptions (a switch away
 * from a thread that could have gone on), without reduction.
 */
import type { ModelConfig } from '../model/config.js';
import type { HookOwners, Hooks } from '../model/hooks.js';
import { OPS, type Prog, type StepDecl, type ThreadCtx } from './paths.js';
import type { Scenario } from './scenario.js';
import { RaceState } from './state.js';
import { checkInvariant, type InvariantName } from './invariants.js';

export interface Access {
  reads: Set<string>;
  writes: Set<string>;
}

export function accessOf(d: StepDecl): Access {
  const writes = new Set(d.writes);
  if (d.acquire) writes.add(`lock:${d.acquire}`);
  if (d.trylock) writes.add(`lock:${d.trylock}`);
  for (const l of d.release ?? []) writes.add(`lock:${l}`);
  return { reads: new Set(d.reads), writes };
}

export function dependent(a: Access, b: Access): boolean {
  for (const w of a.writes) if (b.writes.has(w) || b.reads.has(w)) return true;
  for (const w of b.writes) if (a.reads.has(w)) return true;
  return false;
}

interface Thread {
  name: string;
  cpu: number;
  gen: Prog;
  next: StepDecl | null;
  /** Steps done so far. */
  done: number;
}

/** One execution in progress. */
export class Run {
  readonly s: RaceState;
  readonly threads: Thread[];

  constructor(readonly scenario: Scenario, config: ModelConfig, hooks: Hooks, owners: HookOwners) {
    this.s = new RaceState(config, hooks, owners, scenario);
    this.threads = scenario.threads.map((t) => {
      const ctx: ThreadCtx = { name: t.name, cpu: t.cpu, s: this.s };
      const gen = (function* (): Prog {
        for (const op of t.ops) yield* OPS[op.name]!.run(ctx, op.args);
      })();
      const r = gen.next(true);
      return { name: t.name, cpu: t.cpu, gen, next: r.done ? null : r.value, done: 0 };
    });
  }

  thread(name: string): Thread {
    return this.threads.find((t) => t.name === name)!;
  }

  enabled(t: Thread): boolean {
    return t.next !== null && (!t.next.acquire || !this.s.locks.has(t.next.acquire));
  }

  enabledNames(): string[] {
    return this.threads.filter((t) => this.enabled(t)).map((t) => t.name);
  }

  finished(): boolean {
    return this.threads.every((t) => t.next === null);
  }

  /** Run the next step of `name`; returns its declaration. */
  step(name: string): StepDecl {
    const t = this.thread(name);
    const d = t.next!;
    const locks = this.s.locks;
    let arg = true;
    if (d.acquire) locks.set(d.acquire, name);
    if (d.trylock) {
      if (locks.has(d.trylock)) arg = false;
      else locks.set(d.trylock, name);
    }
    const r = t.gen.next(arg);
    for (const l of d.release ?? []) locks.delete(l);
    t.next = r.done ? null : r.value;
    t.done++;
    return d;
  }

  /** Locks `name` holds now. */
  held(name: string): string[] {
    return [...this.s.locks].filter(([, h]) => h === name).map(([l]) => l);
  }
}

export interface ExecutionRecord {
  schedule: string[];
  preemptions: number;
  failed: Partial<Record<InvariantName, string>>;
}

export interface ExploreStats {
  executions: number;
  classes: number;
  sleepBlocked: number;
  deadlocks: number;
  exhaustive: boolean;
  bound?: number;
  /** Per invariant: executions where it failed. */
  positive: Record<string, number>;
  /** Per invariant: the failing execution with the fewest preemptions, then steps. */
  best: Record<string, ExecutionRecord>;
  /** Exploration stopped at the execution budget. */
  truncated: boolean;
  /** The classes' normal forms, when asked for (tests compare explorations by them). */
  classSet?: Set<string>;
  /** Every execution's schedule, when asked for. */
  schedules?: string[][];
}

export interface ExploreOpts {
  bound?: number;
  /** Stop after this many executions (the result is then not exhaustive). */
  budget?: number;
  /** Return the classes' normal forms (ExploreStats.classSet). */
  keepClasses?: boolean;
  /** Return every execution's schedule (ExploreStats.schedules). */
  keepSchedules?: boolean;
}

type Factory = () => Run;

function better(a: ExecutionRecord, b: ExecutionRecord | undefined): boolean {
  return !b || a.preemptions < b.preemptions || (a.preemptions === b.preemptions && a.schedule.length < b.schedule.length);
}

/**
 * The lexicographic normal form of an execution's Mazurkiewicz class: repeatedly take, among
 * the steps whose dependent predecessors are all taken, the one of the smallest thread name.
 */
export function canonical(schedule: string[], accs: Access[]): string {
  const n = schedule.length;
  const preds: number[][] = [];
  for (let j = 0; j < n; j++) {
    const p: number[] = [];
    for (let i = 0; i < j; i++) if (schedule[i] === schedule[j] || dependent(accs[i]!, accs[j]!)) p.push(i);
    preds.push(p);
  }
  const taken = new Array<boolean>(n).fill(false);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    let pick = -1;
    for (let j = 0; j < n; j++) {
      if (taken[j] || !preds[j]!.every((i) => taken[i])) continue;
      if (pick < 0 || schedule[j]! < schedule[pick]!) pick = j;
    }
    taken[pick] = true;
    out.push(schedule[pick]!);
  }
  return out.join('');
}

class Recorder {
  readonly stats: ExploreStats;
  private readonly classes = new Set<string>();

  constructor(readonly invariants: InvariantName[], exhaustive: boolean, bound?: number, keepClasses = false, keepSchedules = false) {
    this.stats = { executions: 0, classes: 0, sleepBlocked: 0, deadlocks: 0, exhaustive, bound, positive: {}, best: {}, truncated: false };
    for (const inv of invariants) this.stats.positive[inv] = 0;
    if (keepClasses) this.stats.classSet = this.classes;
    if (keepSchedules) this.stats.schedules = [];
  }

  complete(run: Run, schedule: string[], accs: Access[], preemptions: number): void {
    const st = this.stats;
    st.executions++;
    st.schedules?.push([...schedule]);
    if (!run.finished()) st.deadlocks++;
    this.classes.add(canonical(schedule, accs));
    st.classes = this.classes.size;
    const failed: Partial<Record<InvariantName, string>> = {};
    for (const inv of this.invariants) {
      const why = checkInvariant(run.s, inv);
      if (why) {
        failed[inv] = why;
        st.positive[inv]!++;
      }
    }
    for (const inv of Object.keys(failed) as InvariantName[]) {
      const rec = { schedule: [...schedule], preemptions, failed };
      if (better(rec, st.best[inv])) st.best[inv] = rec;
    }
  }
}

interface Frame {
  enabled: string[];
  decls: Map<string, StepDecl | null>;
  backtrack: Set<string>;
  done: Set<string>;
  sleep: Map<string, Access>;
  chosen?: string;
  /** Thread clocks at this state (for happens-before). */
  clocks: Map<string, Map<string, number>>;
}

/** Exhaustive DPOR with sleep sets. */
export function exploreDpor(make: Factory, invariants: InvariantName[], opts: ExploreOpts = {}): ExploreStats {
  const rec = new Recorder(invariants, true, undefined, opts.keepClasses, opts.keepSchedules);
  const budget = opts.budget ?? Number.POSITIVE_INFINITY;
  let run = make();
  const names = run.threads.map((t) => t.name);
  const frames: Frame[] = [];
  const executed: Array<{ thread: string; acc: Access; clock: Map<string, number> }> = [];
  let live = 0; // depth the live run has reached

  const snapshot = (clocks: Map<string, Map<string, number>>): Map<string, Map<string, number>> => new Map([...clocks].map(([k, v]) => [k, new Map(v)]));

  const rebuild = (depth: number): void => {
    run = make();
    for (let i = 0; i < depth; i++) run.step(frames[i]!.chosen!);
    live = depth;
  };

  const hb = (j: number, p: string, clocks: Map<string, Map<string, number>>): boolean => (clocks.get(p)?.get(executed[j]!.thread) ?? 0) >= j + 1;

  const explore = (depth: number, sleep: Map<string, Access>, clocks: Map<string, Map<string, number>>): void => {
    if (rec.stats.executions >= budget) { rec.stats.truncated = true; return; }
    const decls = new Map<string, StepDecl | null>(run.threads.map((t) => [t.name, t.next]));
    const enabled = run.enabledNames();
    const frame: Frame = { enabled, decls, backtrack: new Set(), done: new Set(), sleep: new Map(sleep), clocks };
    frames[depth] = frame;
    if (enabled.length === 0) {
      const schedule = frames.slice(0, depth).map((f) => f.chosen!);
      rec.complete(run, schedule, executed.slice(0, depth).map((e) => e.acc), preemptionsOf(frames, depth));
      return;
    }
    // Backtracking points: for each thread's next step, the last dependent step of another
    // thread that does not happen before it.
    for (const p of names) {
      const d = decls.get(p);
      if (!d) continue;
      const acc = accessOf(d);
      for (let j = depth - 1; j >= 0; j--) {
        const e = executed[j]!;
        if (e.thread === p || !dependent(e.acc, acc) || hb(j, p, clocks)) continue;
        const pre = frames[j]!;
        const cands = [p];
        for (let i = j + 1; i < depth; i++) if (hb(i, p, clocks)) cands.push(executed[i]!.thread);
        const q = cands.find((x) => pre.enabled.includes(x));
        if (q !== undefined) pre.backtrack.add(q);
        else for (const x of pre.enabled) pre.backtrack.add(x);
        break;
      }
    }
    const awake = enabled.filter((t) => !frame.sleep.has(t));
    if (awake.length === 0) {
      rec.stats.sleepBlocked++;
      return;
    }
    const last = depth > 0 ? frames[depth - 1]!.chosen! : undefined;
    frame.backtrack.add(last !== undefined && awake.includes(last) ? last : awake[0]!);
    for (;;) {
      const q = [...frame.backtrack].find((t) => !frame.done.has(t) && !frame.sleep.has(t) && enabled.includes(t));
      if (q === undefined) break;
      frame.done.add(q);
      if (live !== depth) rebuild(depth);
      const acc = accessOf(decls.get(q)!);
      const childSleep = new Map<string, Access>();
      for (const [t, a] of frame.sleep) if (!dependent(a, acc)) childSleep.set(t, a);
      frame.chosen = q;
      // Happens-before clock of the step.
      const c = new Map(clocks.get(q) ?? []);
      for (let j = 0; j < depth; j++) {
        const e = executed[j]!;
        if (e.thread === q || dependent(e.acc, acc)) for (const [t, v] of e.clock) if ((c.get(t) ?? 0) < v) c.set(t, v);
      }
      c.set(q, depth + 1);
      executed[depth] = { thread: q, acc, clock: c };
      const childClocks = snapshot(clocks);
      childClocks.set(q, c);
      run.step(q);
      live = depth + 1;
      explore(depth + 1, childSleep, childClocks);
      frame.sleep.set(q, acc);
      if (rec.stats.truncated) return;
    }
  };
  explore(0, new Map(), new Map(names.map((n) => [n, new Map()])));
  if (rec.stats.truncated) rec.stats.exhaustive = false;
  return rec.stats;
}

function preemptionsOf(frames: Frame[], depth: number): number {
  let n = 0;
  for (let j = 1; j < depth; j++) {
    const prev = frames[j - 1]!.chosen!;
    if (frames[j]!.chosen !== prev && frames[j]!.enabled.includes(prev)) n++;
  }
  return n;
}

/** Every schedule with at most `bound` preemptions (no reduction). */
export function exploreBounded(make: Factory, invariants: InvariantName[], bound: number, opts: ExploreOpts = {}): ExploreStats {
  const rec = new Recorder(invariants, false, bound, opts.keepClasses, opts.keepSchedules);
  const budget = opts.budget ?? Number.POSITIVE_INFINITY;
  let run = make();
  const schedule: string[] = [];
  const accs: Access[] = [];
  let live = 0;
  const go = (preempted: number): void => {
    if (rec.stats.executions >= budget) { rec.stats.truncated = true; return; }
    const enabled = run.enabledNames();
    if (enabled.length === 0) {
      rec.complete(run, schedule, accs, preempted);
      return;
    }
    const depth = schedule.length;
    const last = schedule[depth - 1];
    const lastOn = last !== undefined && enabled.includes(last);
    const order = lastOn ? [last!, ...enabled.filter((t) => t !== last)] : enabled;
    for (const t of order) {
      const cost = lastOn && t !== last ? 1 : 0;
      if (preempted + cost > bound) continue;
      if (live !== depth) {
        run = make();
        for (const x of schedule) run.step(x);
        live = depth;
      }
      const d = run.step(t);
      schedule.push(t);
      accs.push(accessOf(d));
      live = depth + 1;
      go(preempted + cost);
      schedule.pop();
      accs.pop();
      if (rec.stats.truncated) return;
    }
  };
  go(0);
  return rec.stats;
}

/** Everything a later step or an invariant can see of an execution in progress. */
function fingerprint(run: Run): string {
  const s = run.s;
  const threads = run.threads.map((t) => (t.next ? [t.name, t.done, t.next.fn, t.next.what, [...accessOf(t.next).reads].sort(), [...accessOf(t.next).writes].sort()] : [t.name, t.done]));
  return JSON.stringify([[...s.view()], s.monitor, [...s.locks].sort(), s.split_queue_len, s.nr_anon_partially_mapped, threads]);
}

/**
 * The dependence relation checked against the steps themselves: in every state `schedules`
 * pass through, every two enabled threads whose next steps are declared independent run them in
 * both orders; each order must be possible and end in the same state (PTEs, folios, lists,
 * counts, locks, what the monitors saw, each thread's next step). A fault is a read or write a
 * step does but does not declare — DPOR would then skip interleavings that differ.
 */
export function commutationFaults(make: Factory, schedules: string[][], max = 5): string[] {
  const faults: string[] = [];
  const seen = new Set<string>();
  for (const sched of schedules) {
    const run = make();
    for (let i = 0; i <= sched.length && faults.length < max; i++) {
      const prefix = sched.slice(0, i);
      const key = prefix.join(',');
      if (!seen.has(key)) {
        seen.add(key);
        const en = run.enabledNames();
        for (let x = 0; x < en.length; x++) {
          for (let y = x + 1; y < en.length; y++) {
            const a = en[x]!;
            const b = en[y]!;
            const da = run.thread(a).next!;
            const db = run.thread(b).next!;
            if (dependent(accessOf(da), accessOf(db))) continue;
            const orders = [[a, b], [b, a]].map((pair) => {
              const r = make();
              for (const t of prefix) r.step(t);
              for (const t of pair) {
                if (!r.enabledNames().includes(t)) return `${t} cannot step`;
                r.step(t);
              }
              return fingerprint(r);
            });
            if (orders[0] !== orders[1]) faults.push(`after ${prefix.join('') || 'nothing'}: ${a} "${da.what}" (${da.fn}) and ${b} "${db.what}" (${db.fn}) are declared independent but do not commute`);
          }
        }
      }
      if (i < sched.length) run.step(sched[i]!);
    }
  }
  return faults;
}

export interface WitnessStep {
  n: number;
  thread: string;
  cpu: number;
  fn: string;
  what: string;
  locks: string[];
  diff: string[];
  preempts: boolean;
}

/** What one schedule entry did when the schedule was followed: the step, or why the thread could not step there. */
export interface FollowedEntry {
  /** Index in the schedule; null for a step of a thread left over after the schedule ran out. */
  entry: number | null;
  thread: string;
  step?: WitnessStep;
  why?: string;
}

/**
 * Replay `schedule` and record each step: CPU, function, locks held after it, and the state
 * diff. Entries for a thread that cannot step there are skipped (`entries` says why); threads
 * left over then run in name order (so a schedule found under one config can be followed under
 * another).
 */
export function replaySchedule(make: Factory, schedule: string[]): { steps: WitnessStep[]; run: Run; followed: string[]; initial: Record<string, string>; entries: FollowedEntry[] } {
  const run = make();
  const steps: WitnessStep[] = [];
  const followed: string[] = [];
  const entries: FollowedEntry[] = [];
  let before = run.s.view();
  const initial = Object.fromEntries(before);
  const doStep = (name: string): WitnessStep => {
    const enabled = run.enabledNames();
    const prev = followed[followed.length - 1];
    const preempts = prev !== undefined && prev !== name && enabled.includes(prev);
    const t = run.thread(name);
    const d = run.step(name);
    const after = run.s.view();
    const diff: string[] = [];
    for (const [k, v] of after) if (before.get(k) !== v) diff.push(`${k} ${before.get(k) ?? '—'} → ${v}`);
    for (const [k, v] of before) if (!after.has(k)) diff.push(`${k} ${v} → —`);
    const st: WitnessStep = { n: steps.length + 1, thread: name, cpu: t.cpu, fn: d.fn, what: d.what, locks: run.held(name), diff, preempts };
    steps.push(st);
    followed.push(name);
    before = after;
    return st;
  };
  schedule.forEach((name, i) => {
    if (run.enabledNames().includes(name)) { entries.push({ entry: i, thread: name, step: doStep(name) }); return; }
    const t = run.threads.find((x) => x.name === name);
    const lock = t?.next?.acquire;
    const why = !t ? `no thread ${name} in this scenario` : t.next === null ? `${name} has finished` : `${name} waits for ${lock} (held by ${run.s.locks.get(lock!)})`;
    entries.push({ entry: i, thread: name, why });
  });
  for (;;) {
    const e = run.enabledNames();
    if (e.length === 0) break;
    const name = e.includes(followed[followed.length - 1] ?? '') ? followed[followed.length - 1]! : e[0]!;
    entries.push({ entry: null, thread: name, step: doStep(name) });
  }
  return { steps, run, followed, initial, entries };
}

/**
 * The racing pair of a schedule: the first pair of dependent steps of two threads with a
 * preemption between them (the earliest second step, then the latest first step).
 */
export function racingPair(make: Factory, schedule: string[]): [number, number] | null {
  const run = make();
  const accs: Access[] = [];
  const pre: boolean[] = [];
  for (let i = 0; i < schedule.length; i++) {
    const name = schedule[i]!;
    const prev = schedule[i - 1];
    pre.push(prev !== undefined && prev !== name && run.enabledNames().includes(prev));
    accs.push(accessOf(run.step(name)));
  }
  for (let j = 1; j < schedule.length; j++) {
    for (let i = j - 1; i >= 0; i--) {
      if (schedule[i] === schedule[j] || !dependent(accs[i]!, accs[j]!)) continue;
      let between = false;
      for (let x = i + 1; x <= j; x++) if (pre[x]) between = true;
      if (between) return [i, j];
    }
  }
  return null;
}

export function accessText(d: StepDecl): string {
  const a = accessOf(d);
  return [...a.writes].map((w) => `write ${w}`).concat([...a.reads].filter((r) => !a.writes.has(r)).map((r) => `read ${r}`)).join(', ');
}
