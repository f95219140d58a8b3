/**
 * Replay one trace under N configs at once: one parse, one lifting pass, every engine fed the
 * same op stream, each with its own fidelity checker, counters per phase and violations.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import type { ModelConfig } from '../model/config.js';
import type { CostEstimate } from '../model/cost.js';
import type { Emission, Violation } from '../model/emit.js';
import { Engine } from '../model/engine.js';
import { liftTrace, type LiftedOp, type LiftOptions } from '../replay/lift.js';
import type { FormatRegistry } from '../trace/index.js';
import { FidelityChecker, type FidelityReport } from '../fidelity/compare.js';

export interface ConfigRun {
  config: { name: string; arch: string; release: string; series: string[] };
  counters: Record<string, number>;
  /** Counter deltas per phase (the phase's name → counter → delta). */
  phaseCounters: Record<string, Record<string, number>>;
  /** Estimated cost (ns) of each phase's work. */
  phaseCost: Record<string, number>;
  violations: Violation[];
  violationCount: number;
  cost: CostEstimate;
  fidelity: FidelityReport;
  /** Predicted events per kind. */
  emitted: Record<string, number>;
}

export interface ReplayResult {
  /** The engines after the run (live state, stories), for diff and inspectors. */
  engines: Engine[];
  trace: string;
  workload: { pid: number | undefined; scenario?: { id: string; variant: string } };
  events: number;
  ops: number;
  opsUnmodelled: number;
  notes: string[];
  lostEvents: number;
  diagnostics: Diagnostic[];
  runs: ConfigRun[];
}

export interface OpObserver {
  (lo: LiftedOp, perConfig: Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }>): void;
}

export async function replayTrace(
  input: string,
  configs: ModelConfig[],
  opts: LiftOptions & { registry: FormatRegistry; release?: string; onProgress?: (bytes: number) => void; observe?: OpObserver; checkInvariants?: boolean; stories?: boolean; oobMode?: 'none' | 'adjacent' },
): Promise<ReplayResult> {
  const engines = configs.map((c) => new Engine(c, { checkInvariants: false, stories: opts.stories, oobMode: opts.oobMode }));
  const checkers = configs.map(() => new FidelityChecker());
  const violations: Violation[][] = configs.map(() => []);
  const vcount = configs.map(() => 0);
  const emitted: Array<Record<string, number>> = configs.map(() => ({}));
  const phaseCounters: Array<Record<string, Record<string, number>>> = configs.map(() => ({}));
  const phaseStart: Array<Map<string, number>> = configs.map(() => new Map());
  const phaseCost: Array<Record<string, number>> = configs.map(() => ({}));
  const costStart: number[] = configs.map(() => 0);
  let phase = '';
  let ops = 0;
  let unmodelled = 0;
  const closePhase = (i: number): void => {
    if (!phase) return;
    const now = engines[i]!.k.counters;
    const start = phaseStart[i]!;
    const d: Record<string, number> = {};
    for (const [k, v] of now) {
      const delta = v - (start.get(k) ?? 0);
      if (delta !== 0) d[k] = delta;
    }
    const acc = (phaseCounters[i]![phase] ??= {});
    for (const [k, v] of Object.entries(d)) acc[k] = (acc[k] ?? 0) + v;
    const ns = engines[i]!.cost().ns;
    phaseCost[i]![phase] = (phaseCost[i]![phase] ?? 0) + ns - costStart[i]!;
  };
  const { lifter, stats, events } = await liftTrace(input, opts, (lo) => {
    ops++;
    const isPhaseMark = lo.op.kind === 'marker' && (lo.op.verb === 'phase' || lo.op.verb === 'end');
    if (isPhaseMark) {
      engines.forEach((e, i) => { closePhase(i); phaseStart[i] = new Map(e.k.counters); costStart[i] = e.cost().ns; });
      phase = lo.op.kind === 'marker' && lo.op.verb === 'phase' ? lo.phase : '';
    }
    const per: Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }> = [];
    let um = false;
    engines.forEach((eng, i) => {
      if (lo.failed) { per.push({ emitted: [], violations: [], hooks: [] }); return; }
      if (opts.checkInvariants !== false && ((lo.op.kind === 'marker' && (lo.op.verb === 'phase' || lo.op.verb === 'end')) || lo.op.kind === 'madvise' || lo.op.kind === 'munmap' || lo.op.kind === 'memcg-reclaim' || lo.op.kind === 'drop-caches')) eng.checkEvery = true;
      const r = eng.step(lo.op);
      eng.checkEvery = false;
      if (r.unmodelled) um = true;
      checkers[i]!.check(lo, r.emitted, r.unmodelled !== undefined);
      for (const e of r.emitted) emitted[i]![e.ev] = (emitted[i]![e.ev] ?? 0) + 1;
      vcount[i]! += r.violations.length;
      for (const v of r.violations) if (violations[i]!.length < 200) violations[i]!.push(v);
      per.push(r);
    });
    if (um) unmodelled++;
    opts.observe?.(lo, per);
  });
  engines.forEach((_e, i) => closePhase(i));
  return {
    engines,
    trace: input,
    workload: { pid: lifter.mainPid, scenario: lifter.scenario },
    events,
    ops,
    opsUnmodelled: unmodelled,
    notes: lifter.notes,
    lostEvents: stats.lost.length,
    diagnostics: stats.diagnostics.kept,
    runs: engines.map((eng, i) => ({
      config: { name: configs[i]!.name, arch: configs[i]!.arch, release: configs[i]!.traits.release, series: configs[i]!.series },
      counters: eng.counters(),
      phaseCounters: phaseCounters[i]!,
      phaseCost: phaseCost[i]!,
      violations: violations[i]!,
      violationCount: vcount[i]!,
      cost: eng.cost(),
      fidelity: checkers[i]!.report(),
      emitted: emitted[i]!,
    })),
  };
}
