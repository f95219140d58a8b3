/**
 * Replay one trace under N configs at once: one parse, one lifting pass, every engine fed the
 * same op stream, each with its own fidelity checker, counters per phase and violations.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import type { ModelConfig } from '../model/config.js';
import type { CostEstimate } from '../model/cost.js';
import type { Emission, Violation } from '../model/emit.js';
import { Engine } from '../model/engine.js';
import { newStoryCodes } from '../model/kernel/kernel.js';
import { liftTrace, type LiftedOp, type LiftOptions } from '../replay/lift.js';
import type { FormatRegistry, TraceEvent } from '../trace/index.js';
import { FidelityChecker, withTraceFacts, type FidelityReport, type TraceFacts } from '../fidelity/compare.js';
import { readCaptureFacts, type CaptureFacts } from '../fidelity/counters.js';
import { khugepagedGaps } from '../fidelity/khugepaged.js';
import { DIAGNOSTICS, type DiagnosticCode } from '../core/diagnostics.js';
import { COMPARED_OUTPUTS, REQUIRED_INPUTS } from '../replay/required.js';
import { BREACH_TEXT, type LiftedKinds } from '../replay/lift.js';

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
  /** Wall time past the parser: lifting, every engine and its fidelity checker (ms). */
  replayMs: number;
  ops: number;
  opsUnmodelled: number;
  notes: string[];
  /** Events of each kind replay reads, over the whole trace. */
  kinds: LiftedKinds;
  /** Events of the selected workload's tasks (0: --pid/--comm or the begin marker matched nothing). */
  workloadEvents: number;
  /** Inputs the trace lacks or could not decode, in words (none: the workload was lifted whole). */
  inputGaps: string[];
  /** Whether any of the inputs replay lifts is in the trace at all. */
  hasInputs: boolean;
  lostEvents: number;
  diagnostics: Diagnostic[];
  /** Every diagnostic of the parse by code (`diagnostics` keeps the first few of each). */
  diagnosticCounts: Record<string, number>;
  runs: ConfigRun[];
}

export interface OpObserver {
  (lo: LiftedOp, perConfig: Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }>): void;
}

export interface MultiReplayOptions {
  checkInvariants?: boolean;
  /**
   * Hand each op's emissions back from feed() (default). The fidelity checker and counters see
   * them as the engine makes them either way; off, they are not kept, so a long op (a reclaim
   * pass over thousands of folios) holds no list of its events.
   */
  keepEmitted?: boolean;
  /** Also called with each engine's emissions as they happen (index of the engine, event). */
  onEmit?: (engine: number, e: Emission) => void;
  stories?: boolean;
  /** Predicted kinds the trace does not record: not compared. */
  ignoreKinds?: ReadonlySet<string>;
}

/**
 * N engines fed the same op stream, each with its fidelity checker, per-phase counters and
 * cost, and violations. `replayTrace` drives it from a trace; the inspector drives it again
 * from ops it kept (choosing other configs without parsing the trace again).
 */
export class MultiReplay {
  readonly engines: Engine[];
  private readonly checkers: FidelityChecker[];
  private readonly violations: Violation[][];
  private readonly vcount: number[];
  private readonly emitted: Array<Record<string, number>>;
  private readonly phaseCounters: Array<Record<string, Record<string, number>>>;
  private phaseStart: Array<Map<string, number>>;
  private readonly phaseCost: Array<Record<string, number>>;
  private readonly costStart: number[];
  private phase = '';
  ops = 0;
  unmodelled = 0;

  constructor(readonly configs: ModelConfig[], private readonly opts: MultiReplayOptions = {}) {
    // One table of story step codes for all engines: equal stories are then equal code arrays.
    const storyCodes = newStoryCodes();
    this.engines = configs.map((c) => new Engine(c, { checkInvariants: false, stories: opts.stories, storyCodes }));
    this.checkers = configs.map(() => new FidelityChecker(50, opts.ignoreKinds));
    this.violations = configs.map(() => []);
    this.vcount = configs.map(() => 0);
    this.emitted = configs.map(() => ({}));
    this.phaseCounters = configs.map(() => ({}));
    this.phaseStart = configs.map(() => new Map());
    this.phaseCost = configs.map(() => ({}));
    this.costStart = configs.map(() => 0);
    // Each engine's events go to its fidelity checker and counts as they are made; they are
    // also kept per op only when asked.
    this.engines.forEach((eng, i) => {
      eng.k.keepOut = opts.keepEmitted !== false;
      const checker = this.checkers[i]!;
      const counts = this.emitted[i]!;
      const onEmit = opts.onEmit;
      eng.k.emitSink = (e) => {
        checker.see(e);
        counts[e.ev] = (counts[e.ev] ?? 0) + 1;
        onEmit?.(i, e);
      };
    });
  }

  private closePhase(i: number): void {
    if (!this.phase) return;
    const now = this.engines[i]!.k.counters;
    const start = this.phaseStart[i]!;
    const acc = (this.phaseCounters[i]![this.phase] ??= {});
    for (const [k, v] of now) {
      const delta = v - (start.get(k) ?? 0);
      if (delta !== 0) acc[k] = (acc[k] ?? 0) + delta;
    }
    const ns = this.engines[i]!.cost().ns;
    this.phaseCost[i]![this.phase] = (this.phaseCost[i]![this.phase] ?? 0) + ns - this.costStart[i]!;
  }

  /** Applies one op to every engine; what each emitted, breached and went through. */
  feed(lo: LiftedOp): Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }> {
    this.ops++;
    const isPhaseMark = lo.op.kind === 'marker' && (lo.op.verb === 'phase' || lo.op.verb === 'end');
    if (isPhaseMark) {
      this.engines.forEach((e, i) => {
        this.closePhase(i);
        this.phaseStart[i] = new Map(e.k.counters);
        this.costStart[i] = e.cost().ns;
      });
      this.phase = lo.op.kind === 'marker' && lo.op.verb === 'phase' ? lo.phase : '';
    }
    const per: Array<{ emitted: Emission[]; violations: Violation[]; hooks: string[] }> = [];
    let um = false;
    const kind = lo.op.kind;
    const check = this.opts.checkInvariants !== false && (isPhaseMark || kind === 'madvise' || kind === 'munmap' || kind === 'memcg-reclaim' || kind === 'drop-caches');
    for (let i = 0; i < this.engines.length; i++) {
      if (lo.failed) {
        per.push({ emitted: [], violations: [], hooks: [] });
        continue;
      }
      const eng = this.engines[i]!;
      const checker = this.checkers[i]!;
      if (check) eng.checkEvery = true;
      const fileWhy = eng.fileRssUnknownWhy(lo.op);
      checker.filePages = () => fileWhy ?? true;
      checker.begin(lo, eng.sharesUnknownOutput(lo.op), eng.allocatedOutside, eng.zapFreeOrderUnknown(lo.op));
      const r = eng.step(lo.op);
      eng.checkEvery = false;
      if (r.unmodelled) um = true;
      checker.end(r.unmodelled, r.unseen, r.unseenOutput);
      if (r.violations.length > 0) {
        this.vcount[i]! += r.violations.length;
        for (const v of r.violations) if (this.violations[i]!.length < 200) this.violations[i]!.push(v);
      }
      per.push(r);
    }
    if (um) this.unmodelled++;
    return per;
  }

  /** `taskSwitch`, `foreignIpi`: flushes the lifter found in the workload's context but not of its doing. */
  finish(taskSwitch = 0, foreignIpi = 0, softirqFrees = 0): ConfigRun[] {
    for (const c of this.checkers) c.notTheWorkloads(taskSwitch, foreignIpi, softirqFrees);
    this.engines.forEach((_e, i) => this.closePhase(i));
    this.phase = '';
    return this.engines.map((eng, i) => ({
      config: { name: this.configs[i]!.name, arch: this.configs[i]!.arch, release: this.configs[i]!.traits.release, series: this.configs[i]!.series },
      counters: eng.counters(),
      phaseCounters: this.phaseCounters[i]!,
      phaseCost: this.phaseCost[i]!,
      violations: this.violations[i]!,
      violationCount: this.vcount[i]!,
      cost: eng.cost(),
      fidelity: this.checkers[i]!.report(),
      emitted: this.emitted[i]!,
    }));
  }
}

export async function replayTrace(
  input: string,
  configs: ModelConfig[],
  opts: LiftOptions & MultiReplayOptions & {
    registry: FormatRegistry;
    release?: string;
    onProgress?: (bytes: number) => void;
    observe?: OpObserver;
    onEvent?: (e: TraceEvent) => void;
    /** What the files beside the trace say (settings.txt), when the caller has read them already. */
    facts?: CaptureFacts;
    /** Handed the engines before the first op (observers that read their state). */
    onEngines?: (engines: Engine[]) => void;
  },
): Promise<ReplayResult> {
  // The kernel output the capture did not enable cannot be compared: known before the run when
  // the capture lists its events (settings.txt, formats/ beside it).
  const facts = opts.facts ?? readCaptureFacts(input);
  const enabled = facts.events;
  const unrecorded = enabled ? COMPARED_OUTPUTS.filter((o) => !enabled.includes(o.event)) : [];
  const ignoreKinds = new Set(unrecorded.map((o) => o.kind));
  // Nobody asks for each op's events: stream them to the checkers instead of keeping lists.
  const multi = new MultiReplay(configs, { keepEmitted: opts.observe !== undefined, ignoreKinds, ...opts });
  opts.onEngines?.(multi.engines);
  // The file faults' page-cache events are inputs only where the capture says it recorded them.
  const fileEvents = enabled !== undefined && enabled.includes('filemap:mm_filemap_map_pages') && enabled.includes('filemap:mm_filemap_fault');
  const liftOpts = facts.execImages && !opts.execImages ? { ...opts, execImages: facts.execImages } : opts;
  const { lifter, stats, events, consumeMs } = await liftTrace(input, fileEvents && liftOpts.fileEvents === undefined ? { ...liftOpts, fileEvents } : liftOpts, (lo) => {
    const per = multi.feed(lo);
    opts.observe?.(lo, per);
  });
  const t0 = performance.now();
  const kinds = lifter.kinds;
  const runs = multi.finish(lifter.notOurs.taskSwitchFlushes, lifter.notOurs.foreignIpiFlushes, lifter.notOurs.softirqFrees);
  const replayMs = consumeMs + performance.now() - t0;
  // What the trace as a whole could not show.
  const inputGaps: string[] = [];
  for (const r of REQUIRED_INPUTS) {
    if (r.onlyWithTasks && lifter.tasks.size < 2) continue;
    const absent = enabled ? !r.events.some((e) => enabled.includes(e)) : kinds[r.kind] === 0;
    if (absent) inputGaps.push(`the trace has no ${r.events.length > 1 ? 'syscall' : r.events[0]} events (${r.what}): the workload was not lifted whole`);
  }
  for (const [kind, b] of lifter.breaches) inputGaps.push(`${b.count} × ${BREACH_TEXT[kind]} (first at line ${b.line})`);
  const phaseGaps = khugepagedGaps(facts.phaseDeltas);
  const readIssues: Record<string, number> = {};
  for (const [code, n] of stats.diagnostics.counts) {
    const sev = DIAGNOSTICS[code as DiagnosticCode]?.severity;
    if (sev === 'error' || sev === 'data_loss' || code === 'out_of_order' || code === 'truncated_last_line') readIssues[code] = n;
  }
  // 6.1's per-task rss cache syncs after 64 faults of the task, those the kernel takes on user
  // memory included (check_sync_rss_stat() in handle_mm_fault()): without them the sync points
  // cannot be known.
  const kernelFaults = enabled ? enabled.includes('exceptions:page_fault_kernel') : kinds.page_fault_kernel > 0;
  for (const [i, run] of runs.entries()) {
    const gaps = !configs[i]!.traits.rssEveryUpdate && !kernelFaults
      ? [...inputGaps, "exceptions:page_fault_kernel is not recorded: 6.1's per-task rss cache also counts the faults the kernel takes on user memory, so when it syncs (its rss_stat events) cannot be known — record it (foliolab record does)"]
      : [...inputGaps];
    // A kind matters where the model predicts it: a capture of a kernel without the tracepoint
    // (mm_vmscan_reclaim_pages before 6.13) has nothing to compare it with either way. Without
    // an event list, a kind the whole trace never holds stands for one it did not record.
    const notRecorded = COMPARED_OUTPUTS.filter((o) => (run.emitted[o.kind] ?? 0) > 0 && (enabled ? ignoreKinds.has(o.kind) : kinds[o.kind] === 0)).map((o) => o.event);
    // Where the replay did not match, say so if the per-CPU lru_add batches' drains could not
    // all be seen (when a drain came decides whether an unmap or the drain freed a folio).
    const { lruUnknown, lruExposed } = multi.engines[i]!.k;
    const lruRecorded = enabled ? enabled.some((e) => e === 'pagemap:mm_lru_insertion' || e === 'pagemap:*') : kinds.mm_lru_insertion > 0;
    const s = (n: number) => (n === 1 ? ' was' : 's were');
    if (run.fidelity.verdict !== 'matched' && lruUnknown > 0 && !lruRecorded) {
      gaps.push(`pagemap:mm_lru_insertion is not recorded: ${lruUnknown} unmapped folio${s(lruUnknown)} still in a per-CPU lru_add batch, which other tasks fill too, so whether the unmap or a later drain freed them cannot be known — record it (foliolab record does)`);
    }
    if (run.fidelity.verdict !== 'matched' && lruExposed > 0 && facts.othersUntraced) {
      gaps.push(`the capture followed the workload's tasks only: ${lruExposed} unmapped folio${s(lruExposed)} waiting in a per-CPU lru_add batch while another task ran on that CPU, whose drain of the batch (pagemap:mm_lru_insertion in that task) is not recorded — whether the unmap or that drain freed them cannot be known; record mm_lru_insertion for every task`);
    }
    const shown: TraceFacts = { readProblems: readIssues, notRecorded, inputGaps: gaps, phaseGaps, phaseOrder: Object.keys(facts.phaseDeltas ?? {}) };
    run.fidelity = withTraceFacts(run.fidelity, shown);
  }
  return {
    engines: multi.engines,
    trace: input,
    workload: { pid: lifter.mainPid, scenario: lifter.scenario },
    events,
    replayMs,
    ops: multi.ops,
    opsUnmodelled: multi.unmodelled,
    notes: lifter.notes,
    kinds,
    workloadEvents: lifter.workloadEvents,
    inputGaps: [...inputGaps, ...phaseGaps.map((g) => g.why)],
    hasInputs: kinds.syscalls + kinds.page_fault_user > 0,
    lostEvents: stats.lost.length,
    diagnostics: stats.diagnostics.kept,
    diagnosticCounts: Object.fromEntries(stats.diagnostics.counts),
    runs,
  };
}
