/**
 * What a series changes on a workload: one parse, two configs over the same op stream, and the
 * differences — the first op where they part ways (with the series whose hooks ran there), what
 * happened to each folio under each (grouped so thousands of identical stories read as one
 * line), counters side by side, TLB flushes by size and reason, frees by order, violations
 * that appear in one config only, and the cost estimate of each.
 */
import type { ModelConfig } from '../model/config.js';
import type { Emission, Violation } from '../model/emit.js';
import type { LiftOptions } from '../replay/lift.js';
import type { FormatRegistry } from '../trace/index.js';
import { compared, emissionKey, SYNTH_PFN } from '../fidelity/compare.js';
import type { Engine } from '../model/engine.js';
import { storyRuns, type FolioStory } from '../model/state.js';
import { divergenceCause } from './policy.js';
import { replayTrace, type ConfigRun, type ReplayResult } from './run.js';

export interface Divergence {
  op: number;
  line: number;
  phase: string;
  opKind: string;
  /** Events each config emitted for that op (first 12). */
  base: string[];
  with: string[];
  /** Series present in one config only whose hooks ran at this op. */
  cause: string[];
}

export interface FolioGroup {
  count: number;
  sizeKb: number;
  /** Address of one folio of the group. */
  example: string;
  base: string;
  with: string;
}

export interface CounterRow {
  name: string;
  base: number;
  with: number;
  delta: number;
}

export interface DiffSide {
  config: ConfigRun['config'];
  tlbFlushes: Record<string, number>;
  freesByOrder: Record<string, number>;
  reclaim: { scanned: number; reclaimed: number; calls: number };
  ipis: number;
  /** TLB work from the cost counters: INVLPG pages, full flushes, IPIs (x86); TLBIs, range TLBIs, DSBs (arm64). */
  tlbWork: Record<string, number>;
  costNs: number;
  phaseCost: Record<string, number>;
  fidelity: { matched: boolean; compared: number; equal: number };
}

export interface DiffResult {
  trace: string;
  base: DiffSide;
  with: DiffSide;
  differ: boolean;
  /** Series in one config only. */
  seriesOnlyBase: string[];
  seriesOnlyWith: string[];
  firstDivergence: Divergence | null;
  divergentOps: number;
  folios: FolioGroup[];
  foliosSame: number;
  counters: CounterRow[];
  violations: { onlyBase: Violation[]; onlyWith: Violation[]; base: number; with: number };
  cost: { base: number; with: number; ratio: number; phases: Record<string, { base: number; with: number; ratio: number }> };
}

function keys(em: Emission[]): string[] {
  const out: string[] = [];
  for (const e of em) {
    const k = emissionKey(e);
    if (k) out.push(k);
  }
  return out;
}

/**
 * Whether two configs' outputs for one op read alike: the events fidelity compares, in order,
 * as emissionKey() prints them, and as many violations. This is what `diff` counts as a
 * divergent op (OpMatcher is the streamed form of the same test); the inspector uses it on the
 * lists it keeps, so both number the same ops.
 */
export function outputsAlike(a: { emitted: Emission[]; violations: unknown[] }, b: { emitted: Emission[]; violations: unknown[] }): boolean {
  if (a.violations.length !== b.violations.length) return false;
  const x = a.emitted;
  const y = b.emitted;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < x.length && !compared(x[i]!)) i++;
    while (j < y.length && !compared(y[j]!)) j++;
    if (i === x.length || j === y.length) return i === x.length && j === y.length;
    if (!sameKey(x[i]!, y[j]!)) return false;
    i++;
    j++;
  }
}

/** emissionKey(p) === emissionKey(q), field by field (no strings built). */
function sameKey(p: Emission, q: Emission): boolean {
  switch (p.ev) {
    case 'tlb_flush':
      return q.ev === 'tlb_flush' && p.pages === q.pages && p.reason === q.reason;
    case 'rss_stat':
      return q.ev === 'rss_stat' && p.curr === q.curr && p.member === q.member && p.delta === q.delta;
    case 'mm_page_free':
      return q.ev === 'mm_page_free' && p.order === q.order && (p.pfn >= SYNTH_PFN ? q.pfn >= SYNTH_PFN : p.pfn === q.pfn);
    case 'mm_vmscan_reclaim_pages':
      return q.ev === 'mm_vmscan_reclaim_pages' && p.nr_scanned === q.nr_scanned && p.nr_reclaimed === q.nr_reclaimed && p.nr_activate_anon === q.nr_activate_anon
        && p.nr_activate_file === q.nr_activate_file && p.nr_unmap_fail === q.nr_unmap_fail && p.nr_ref_keep === q.nr_ref_keep;
    default:
      return false;
  }
}

/** Numbers per keyed event in OpMatcher's buffer: a kind code and up to six fields. */
const STRIDE = 7;
/**
 * Events OpMatcher's buffer holds between ops. One op can make tens of thousands (an unmap
 * flushing page by page under 6.12, a reclaim pass); the buffer grown for such an op is dropped
 * when the op ends rather than kept live for the rest of the run.
 */
const KEEP_EVENTS = 4096;

/**
 * Whether two configs' outputs for one op read alike (the events fidelity compares, in order,
 * as emissionKey() prints them), streamed: the base's events are packed into numbers as its
 * engine makes them, the other's are checked against them as they come. Keeps the first few
 * events of each side for the report of a divergence.
 */
export class OpMatcher {
  private base = new Float64Array(KEEP_EVENTS * STRIDE);
  private count = 0;
  private pos = 0;
  private differs = false;
  readonly firstEvents: [Emission[], Emission[]] = [[], []];
  /** Compared events of each side in the op so far (firstEvents keeps the first 12). */
  readonly seen: [number, number] = [0, 0];

    /** Pack the base's event at slot `at` (only the fields its kind uses). */
  private encode(e: Emission, at: number): void {
    if (at + STRIDE > this.base.length) {
      const grown = new Float64Array(this.base.length * 2);
      grown.set(this.base);
      this.base = grown;
    }
    const b = this.base;
    switch (e.ev) {
      case 'tlb_flush':
        b[at] = 1; b[at + 1] = e.pages; b[at + 2] = e.reason;
        break;
      case 'rss_stat':
        b[at] = 2; b[at + 1] = e.curr; b[at + 2] = e.member; b[at + 3] = e.delta;
        break;
      case 'mm_page_free':
        // Pfns the model made up compare equal to each other (emissionKey prints no pfn for them).
        b[at] = 3; b[at + 1] = e.order; b[at + 2] = e.pfn >= SYNTH_PFN ? -1 : e.pfn;
        break;
      case 'mm_vmscan_reclaim_pages':
        b[at] = 4; b[at + 1] = e.nr_scanned; b[at + 2] = e.nr_reclaimed; b[at + 3] = e.nr_activate_anon;
        b[at + 4] = e.nr_activate_file; b[at + 5] = e.nr_unmap_fail; b[at + 6] = e.nr_ref_keep;
        break;
      default:
        b[at] = 0;
    }
  }

  /** Whether the other config's event reads as the base's at slot `at`. */
  private matches(e: Emission, at: number): boolean {
    const b = this.base;
    switch (e.ev) {
      case 'tlb_flush':
        return b[at] === 1 && b[at + 1] === e.pages && b[at + 2] === e.reason;
      case 'rss_stat':
        return b[at] === 2 && b[at + 1] === e.curr && b[at + 2] === e.member && b[at + 3] === e.delta;
      case 'mm_page_free':
        return b[at] === 3 && b[at + 1] === e.order && b[at + 2] === (e.pfn >= SYNTH_PFN ? -1 : e.pfn);
      case 'mm_vmscan_reclaim_pages':
        return b[at] === 4 && b[at + 1] === e.nr_scanned && b[at + 2] === e.nr_reclaimed && b[at + 3] === e.nr_activate_anon
          && b[at + 4] === e.nr_activate_file && b[at + 5] === e.nr_unmap_fail && b[at + 6] === e.nr_ref_keep;
      default:
        return false;
    }
  }

  /** An event of the base config (the caller passes compared events only). */
  seeBase(e: Emission): void {
    if (this.seen[0]++ < 12) this.firstEvents[0].push(e);
    this.encode(e, this.count * STRIDE);
    this.count++;
  }

  /** An event of the other config (the caller passes compared events only). */
  seeWith(e: Emission): void {
    if (this.seen[1]++ < 12) this.firstEvents[1].push(e);
    if (this.differs) return;
    if (this.pos >= this.count || !this.matches(e, this.pos * STRIDE)) { this.differs = true; return; }
    this.pos++;
  }

  /** The op is over: did both read alike? Then ready for the next op. */
  finish(): boolean {
    const same = !this.differs && this.pos === this.count;
    if (this.base.length > KEEP_EVENTS * STRIDE) this.base = new Float64Array(KEEP_EVENTS * STRIDE);
    this.count = 0;
    this.pos = 0;
    this.differs = false;
    return same;
  }

  reset(): void {
    this.firstEvents[0].length = 0;
    this.firstEvents[1].length = 0;
    this.seen[0] = 0;
    this.seen[1] = 0;
  }
}

/** FNV-1a over a story's coded steps (a missing story hashes as its own marker). */
function hashSteps(h: number, steps: string | undefined): number {
  if (steps === undefined) return Math.imul(h ^ 0x7fffffff, 16777619);
  for (let i = 0; i < steps.length; i++) h = Math.imul(h ^ steps.charCodeAt(i), 16777619);
  return Math.imul(h ^ 0x7ffffffe, 16777619);
}

/** The steps in words, consecutive identical steps collapsed: `single-PTE unmap ×16`. */
function tell(steps: string, names: readonly string[]): string {
  const runs = storyRuns(steps);
  const out: string[] = [];
  for (let i = 0; i < runs.length; ) {
    const code = runs[i]![0];
    let n = 0;
    for (; i < runs.length && runs[i]![0] === code; i++) n += runs[i]![1];
    const name = names[code]!;
    out.push(n > 1 ? `${name} ×${n}` : name);
  }
  return out.join(', ');
}

/** TLB flushes, frees and reclaim calls of one config, tallied op by op (nothing kept). */
class Tally {
  /** Flushes per (pages, reason): pages * 8 + reason → count (pages ≥ -1, reason < 8). */
  private readonly flushes = new Map<number, number>();
  /** Folio frees per order. */
  private readonly orders = new Map<number, number>();
  readonly reclaim = { scanned: 0, reclaimed: 0, calls: 0 };

  get tlb(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of this.flushes) out[`pages:${Math.floor(k / 8)} reason:${((k % 8) + 8) % 8}`] = n;
    return out;
  }

  get frees(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [o, n] of [...this.orders].sort((a, b) => a[0] - b[0])) out[`order ${o}`] = n;
    return out;
  }

  /**
   * The last flush kind counted and its count, not yet written back: a flush of the same size
   * and reason as the last one counts without a look-up (an unmap under 6.12 flushes page by page).
   */
  private lastKey = NaN;
  private lastCount = 0;

  flush(pages: number, reason: number): void {
    const k = pages * 8 + reason;
    if (k === this.lastKey) { this.lastCount++; return; }
    this.settleFlush();
    // Set at once when first seen: the report lists the kinds in the order they first came.
    const n = this.flushes.get(k);
    if (n === undefined) this.flushes.set(k, 0);
    this.lastKey = k;
    this.lastCount = (n ?? 0) + 1;
  }

  private settleFlush(): void {
    if (this.lastCount > 0) this.flushes.set(this.lastKey, this.lastCount);
  }

  /** Everything counted, flushes included (before reading `tlb`). */
  close(): void {
    this.settleFlush();
  }

  free(order: number): void {
    this.orders.set(order, (this.orders.get(order) ?? 0) + 1);
  }
}

/**
 * Each event of either config as its engine makes it: tallied, and matched against the other
 * config's for the op (the events compared() keeps: no tlb_flush of reason 0, no shrink_slab).
 */
function seeEmission(t: Tally, m: OpMatcher, side: number, e: Emission): void {
  switch (e.ev) {
    case 'tlb_flush':
      t.flush(e.pages, e.reason);
      if (e.reason === 0) return;
      break;
    case 'mm_page_free':
      if (e.what === 'folio') t.free(e.order);
      break;
    case 'mm_vmscan_reclaim_pages':
      t.reclaim.scanned += e.nr_scanned;
      t.reclaim.reclaimed += e.nr_reclaimed;
      t.reclaim.calls++;
      break;
    case 'rss_stat':
      break;
    default:
      if (!compared(e)) return;
  }
  if (side === 0) m.seeBase(e);
  else m.seeWith(e);
}

function side(run: ConfigRun, t: Tally): DiffSide {
  return {
    config: run.config,
    tlbFlushes: t.tlb,
    freesByOrder: t.frees,
    reclaim: t.reclaim,
    ipis: run.cost.counts.ipis ?? 0,
    tlbWork: Object.fromEntries(['invlpgPages', 'fullFlushes', 'ipis', 'tlbiOps', 'rangeTlbis', 'dsbs'].map((k) => [k, run.cost.counts[k] ?? 0])),
    costNs: run.cost.ns,
    phaseCost: run.phaseCost,
    fidelity: { matched: run.fidelity.matched, compared: run.fidelity.compared, equal: run.fidelity.equal },
  };
}

export interface DiffOptions extends LiftOptions {
  registry: FormatRegistry;
  release?: string;
  onProgress?: (bytes: number) => void;
  /** Called per op with both configs' emissions (Perfetto export). */
  observe?: Parameters<typeof replayTrace>[2]['observe'];
}

/**
 * What diffTrace hands back beside the result: the replay, and how many compared events each
 * config emitted at the first divergence (the result lists the first 12 of each).
 */
export interface DiffExtras {
  replay: ReplayResult;
  firstDivergenceEvents: { base: number; with: number } | null;
}

export async function diffTrace(input: string, base: ModelConfig, withCfg: ModelConfig, opts: DiffOptions): Promise<DiffResult & DiffExtras> {
  const onlyBase = base.series.filter((s) => !withCfg.series.includes(s));
  const onlyWith = withCfg.series.filter((s) => !base.series.includes(s));
  let first: Divergence | null = null;
  let firstEvents: { base: number; with: number } | null = null;
  let divergent = 0;
  const tally: [Tally, Tally] = [new Tally(), new Tally()];
  // Per folio: the stories of both configs are paired by key (first pfn @ the op that made the
  // folio) and grouped as soon as the folio has ended under both, so memory follows the live
  // folios, not the trace.
  const groups: FolioGroup[] = [];
  let same = 0;
  // Groups are found by the two stories' step codes (hashed, then compared), so a folio whose
  // story matches an existing group costs no text; a group's text is written once.
  const byHash = new Map<number, Array<{ order: number; a: string | undefined; b: string | undefined; g: FolioGroup }>>();
  /** Step texts by code (one table for both engines). */
  let stepNames: readonly string[] = [];
  const pair = (x: FolioStory | undefined, y: FolioStory | undefined): void => {
    // Both engines share one code table: equal coded steps tell the same story, unprinted.
    const a = x?.steps;
    const b = y?.steps;
    if (x && y && a === b) { same++; return; }
    const s = (x ?? y)!;
    const h = hashSteps(hashSteps(Math.imul(2166136261 ^ s.order, 16777619), a), b);
    let list = byHash.get(h);
    if (list) {
      for (const e of list) {
        if (e.order === s.order && e.a === a && e.b === b) { e.g.count++; return; }
      }
    } else byHash.set(h, (list = []));
    const g: FolioGroup = {
      count: 1, sizeKb: 4 << s.order, example: `0x${s.addr.toString(16)}`,
      base: a ? tell(a, stepNames) : '(no such folio)', with: b ? tell(b, stepNames) : '(no such folio)',
    };
    list.push({ order: s.order, a, b, g });
    groups.push(g);
  };
  /** Ended in one config, still live (or never made) in the other, by key. */
  const endedOnly: [Map<string, FolioStory>, Map<string, FolioStory>] = [new Map(), new Map()];
  let engines: [Engine, Engine] | undefined;
  const settleSide = (mine: 0 | 1, ended: FolioStory[]): void => {
    const other = endedOnly[mine === 0 ? 1 : 0];
    for (const s of ended) {
      const key = s.key;
      const o = other.size ? other.get(key) : undefined;
      if (o === undefined) {
        endedOnly[mine].set(key, s);
        continue;
      }
      other.delete(key);
      if (mine === 0) pair(s, o);
      else pair(o, s);
    }
    ended.length = 0;
  };
  /**
   * The usual op: both configs ended the same folios, in the same order, and nothing waits. The
   * stories are then paired in that order, as settleSide would pair them, without going through
   * the maps (whose tables would otherwise churn with every folio of the trace).
   */
  const keysA: string[] = [];
  const inStep = (a: FolioStory[], b: FolioStory[]): boolean => {
    if (a.length !== b.length || a.length > 64 || endedOnly[0].size || endedOnly[1].size) return false;
    keysA.length = 0;
    for (let i = 0; i < a.length; i++) {
      const k = a[i]!.key;
      if (k !== b[i]!.key || keysA.includes(k)) return false;
      keysA.push(k);
    }
    return true;
  };
  const settle = (): void => {
    const [ea, eb] = engines!;
    const a = ea.k.endedStories;
    const b = eb.k.endedStories;
    if (a.length > 0 && inStep(a, b)) {
      for (let i = 0; i < a.length; i++) pair(a[i], b[i]);
      a.length = 0;
      b.length = 0;
      return;
    }
    if (a.length > 0) settleSide(0, a);
    if (b.length > 0) settleSide(1, b);
  };
  // Each op's events are tallied and matched as the engines make them; they are also kept per
  // op only when the caller observes the ops with their event lists (Perfetto export).
  const matcher = new OpMatcher();
  const r = await replayTrace(input, [base, withCfg], {
    ...opts,
    stories: true,
    keepEmitted: opts.observe !== undefined,
    onEmit: (i, e) => seeEmission(tally[i]!, matcher, i, e),
    onEngines: (es) => {
      engines = es as [Engine, Engine];
      stepNames = es[0]!.k.storySteps;
    },
    observe: (lo, per) => {
      opts.observe?.(lo, per);
      settle();
      const [a, b] = per as [typeof per[0], typeof per[0]];
      const alike = matcher.finish() && a.violations.length === b.violations.length;
      const report = !alike && !first;
      const ka = report ? keys(matcher.firstEvents[0]) : [];
      const kb = report ? keys(matcher.firstEvents[1]) : [];
      if (report) firstEvents = { base: matcher.seen[0], with: matcher.seen[1] };
      matcher.reset();
      if (alike) return;
      divergent++;
      if (!report) return;
      const cause = divergenceCause(base.series, withCfg.series, a.hooks, b.hooks);
      first = { op: lo.op.at.index, line: lo.op.at.line, phase: lo.phase, opKind: lo.op.kind, base: ka.slice(0, 12), with: kb.slice(0, 12), cause };
    },
  });
  const [ra, rb] = r.runs as [ConfigRun, ConfigRun];
  tally[0].close();
  tally[1].close();
  // What is left: folios still live at the end, or made in one config only.
  settle();
  const sa = new Map(endedOnly[0]);
  const sb = new Map(endedOnly[1]);
  for (const s of r.engines[0]!.k.liveStories()) sa.set(s.key, s);
  for (const s of r.engines[1]!.k.liveStories()) sb.set(s.key, s);
  for (const [id, x] of sa) pair(x, sb.get(id));
  for (const [id, y] of sb) if (!sa.has(id)) pair(undefined, y);
  const names = [...new Set([...Object.keys(ra.counters), ...Object.keys(rb.counters)])].sort();
  const counters = names.map((n) => ({ name: n, base: ra.counters[n] ?? 0, with: rb.counters[n] ?? 0, delta: (rb.counters[n] ?? 0) - (ra.counters[n] ?? 0) }));
  const vkey = (v: Violation): string => `${v.code}@${v.at.index}`;
  const va = new Set(ra.violations.map(vkey));
  const vb = new Set(rb.violations.map(vkey));
  const phases: Record<string, { base: number; with: number; ratio: number }> = {};
  for (const p of new Set([...Object.keys(ra.phaseCost), ...Object.keys(rb.phaseCost)])) {
    const x = ra.phaseCost[p] ?? 0;
    const y = rb.phaseCost[p] ?? 0;
    if (x || y) phases[p] = { base: x, with: y, ratio: y ? x / y : 0 };
  }
  const folios = [...groups].sort((p, q) => q.count - p.count);
  return {
    replay: r,
    firstDivergenceEvents: firstEvents,
    trace: input,
    base: side(ra, tally[0]),
    with: side(rb, tally[1]),
    differ: divergent > 0 || folios.length > 0,
    seriesOnlyBase: onlyBase,
    seriesOnlyWith: onlyWith,
    firstDivergence: first,
    divergentOps: divergent,
    folios,
    foliosSame: same,
    counters,
    violations: {
      onlyBase: ra.violations.filter((v) => !vb.has(vkey(v))),
      onlyWith: rb.violations.filter((v) => !va.has(vkey(v))),
      base: ra.violationCount,
      with: rb.violationCount,
    },
    cost: { base: ra.cost.ns, with: rb.cost.ns, ratio: rb.cost.ns ? ra.cost.ns / rb.cost.ns : 0, phases },
  };
}
