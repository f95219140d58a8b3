/**
 * What a series changes on a workload: one parse, two configs over the same op stream, and the
 * differences — the first op where they part ways (with the series whose hooks ran there), what
 * happened to each folio under each (grouped so thousands of identical stories read as one
 * line), counters side by side, TLB flushes by size and reason, frees by order, violations
 * that appear in one config only, and the cost estimate of each.
 */
import type { ModelConfig } from '../model/config.js';
import type { Emission, Violation } from '../model/emit.js';
import { findSeries } from '../model/series/index.js';
import type { LiftOptions } from '../replay/lift.js';
import type { FormatRegistry } from '../trace/index.js';
import { emissionKey } from '../fidelity/compare.js';
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

/** Collapse consecutive identical steps: `single-PTE unmap ×16`. */
function tell(steps: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < steps.length; ) {
    let j = i;
    while (j < steps.length && steps[j] === steps[i]) j++;
    out.push(j - i > 1 ? `${steps[i]} ×${j - i}` : steps[i]!);
    i = j;
  }
  return out.join(', ');
}

function side(run: ConfigRun, em: Emission[][]): DiffSide {
  const tlb: Record<string, number> = {};
  const frees: Record<string, number> = {};
  const reclaim = { scanned: 0, reclaimed: 0, calls: 0 };
  for (const list of em) {
    for (const e of list) {
      if (e.ev === 'tlb_flush') {
        const k = `pages:${e.pages} reason:${e.reason}`;
        tlb[k] = (tlb[k] ?? 0) + 1;
      } else if (e.ev === 'mm_page_free' && e.what === 'folio') frees[`order ${e.order}`] = (frees[`order ${e.order}`] ?? 0) + 1;
      else if (e.ev === 'mm_vmscan_reclaim_pages') {
        reclaim.scanned += e.nr_scanned;
        reclaim.reclaimed += e.nr_reclaimed;
        reclaim.calls++;
      }
    }
  }
  return {
    config: run.config,
    tlbFlushes: tlb,
    freesByOrder: frees,
    reclaim,
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

export async function diffTrace(input: string, base: ModelConfig, withCfg: ModelConfig, opts: DiffOptions): Promise<DiffResult & { replay: ReplayResult }> {
  const onlyBase = base.series.filter((s) => !withCfg.series.includes(s));
  const onlyWith = withCfg.series.filter((s) => !base.series.includes(s));
  let first: Divergence | null = null;
  let divergent = 0;
  const em: [Emission[][], Emission[][]] = [[], []];
  const r = await replayTrace(input, [base, withCfg], {
    ...opts,
    stories: true,
    observe: (lo, per) => {
      opts.observe?.(lo, per);
      const [a, b] = per as [typeof per[0], typeof per[0]];
      em[0].push(a.emitted);
      em[1].push(b.emitted);
      const ka = keys(a.emitted);
      const kb = keys(b.emitted);
      const same = ka.length === kb.length && ka.every((x, i) => x === kb[i]) && a.violations.length === b.violations.length;
      if (same) return;
      divergent++;
      if (first) return;
      // The cause: series in one config only that own a hook that config went through here.
      const ran = (id: string, hooks: string[]): boolean => Object.keys(findSeries(id)?.hooks ?? {}).some((h) => hooks.includes(h));
      const cause = [...onlyBase.filter((id) => ran(id, a.hooks)), ...onlyWith.filter((id) => ran(id, b.hooks))];
      first = { op: lo.op.at.index, line: lo.op.at.line, phase: lo.phase, opKind: lo.op.kind, base: ka.slice(0, 12), with: kb.slice(0, 12), cause };
    },
  });
  const [ra, rb] = r.runs as [ConfigRun, ConfigRun];
  // Per folio: pair the stories of both configs by first pfn.
  const sa = r.engines[0]!.k.stories!;
  const sb = r.engines[1]!.k.stories!;
  const groups = new Map<string, FolioGroup>();
  let same = 0;
  for (const [pfn, x] of sa) {
    const y = sb.get(pfn);
    const ta = tell(x.steps);
    const tb = y ? tell(y.steps) : '(no such folio)';
    if (ta === tb) { same++; continue; }
    const key = `${x.order}\u0000${ta}\u0000${tb}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, sizeKb: 4 << x.order, example: `0x${x.addr.toString(16)}`, base: ta, with: tb });
  }
  for (const [pfn, y] of sb) {
    if (sa.has(pfn)) continue;
    const key = `${y.order}\u0000(no such folio)\u0000${tell(y.steps)}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, sizeKb: 4 << y.order, example: `0x${y.addr.toString(16)}`, base: '(no such folio)', with: tell(y.steps) });
  }
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
  const folios = [...groups.values()].sort((p, q) => q.count - p.count);
  return {
    replay: r,
    trace: input,
    base: side(ra, em[0]),
    with: side(rb, em[1]),
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
