/**
 * A patch's claims beside the model's figures for the same change (`foliolab diff --patch`).
 * The base config stands for "without the patch", --with for "with it". Counters are matched by
 * name (`split_deferred` ~ `64kB/split_deferred`, word order ignored); timings, ratios and
 * percentages are set against the model's cost estimate for the phase where the two configs'
 * cost differs most. Figures are shown side by side; the model is an estimate of kernel work,
 * not a stopwatch, so no verdict is drawn for times.
 */
import type { DiffResult } from '../diff/diff.js';
import type { Claim } from '../patch/claims.js';

export interface ClaimCheck {
  source: string;
  kind: Claim['kind'];
  metric: string;
  claimed: string;
  model: string;
  /** For counters: whether the model's figures equal the claimed ones. */
  agrees?: boolean;
  workload?: string;
  line: number;
}

const words = (s: string): string => s.toLowerCase().replace(/^\d+kb\//, '').split(/[^a-z0-9]+/).filter(Boolean).sort().join(' ');

export function checkClaims(claims: Array<Claim & { source: string }>, d: Omit<DiffResult, 'replay'>): ClaimCheck[] {
  const phases = Object.entries(d.cost.phases).sort((a, b) => Math.abs(b[1].base - b[1].with) - Math.abs(a[1].base - a[1].with));
  const [phase, pc] = phases[0] ?? ['total', { base: d.cost.base, with: d.cost.with, ratio: d.cost.ratio }];
  const ratio = pc.with > 0 ? pc.base / pc.with : Number.POSITIVE_INFINITY;
  const pct = pc.base > 0 ? ((pc.with - pc.base) / pc.base) * 100 : 0;
  const costText = `cost ${(pc.base / 1000).toFixed(1)} → ${(pc.with / 1000).toFixed(1)} µs in phase ${phase} (${d.base.config.arch}): ${ratio.toFixed(2)}× faster, ${pct.toFixed(1)} %`;
  const out: ClaimCheck[] = [];
  for (const c of claims) {
    const base = { source: c.source, kind: c.kind, metric: c.metric, workload: c.workload, line: c.line };
    if (c.kind === 'counter') {
      const rows = d.counters.filter((r) => words(r.name) === words(c.metric));
      const claimed = `${c.before ?? '?'} → ${c.after ?? '?'}`;
      if (!rows.length) {
        out.push({ ...base, claimed, model: 'no counter of that name in the model' });
        continue;
      }
      const model = rows.map((r) => `${r.name} ${r.base} → ${r.with}`).join('; ');
      const agrees = rows.some((r) => (c.before === undefined || r.base === c.before) && (c.after === undefined || r.with === c.after));
      out.push({ ...base, claimed, model, agrees });
      continue;
    }
    if (c.kind === 'ratio') {
      out.push({ ...base, claimed: `${c.value}× ${c.direction ?? ''}`.trim(), model: costText });
      continue;
    }
    if (c.kind === 'percent') {
      out.push({ ...base, claimed: `${c.value} %`, model: costText });
      continue;
    }
    // before-after, table, timing: a measured pair.
    if (c.before !== undefined && c.after !== undefined && c.after > 0) {
      out.push({ ...base, claimed: `${c.before} → ${c.after} ${c.unit}: ${(c.before / c.after).toFixed(2)}× faster${c.change ? ` (${c.change})` : `, ${(((c.after - c.before) / c.before) * 100).toFixed(1)} %`}`, model: costText });
    }
  }
  return out;
}
