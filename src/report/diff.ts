/**
 * `foliolab diff` as text: the pair and why it was chosen, the first divergence with its cause,
 * folio stories grouped, counters, TLB work, frees, violations and cost; and the claims of a
 * patch mail beside the model's figures.
 */
import type { DiffResult } from '../diff/diff.js';
import type { PairChoice } from '../diff/policy.js';
import type { ClaimCheck } from './claims.js';

/** What `diff --json` returns (and the text is drawn from). */
export type DiffReport = Omit<DiffResult, 'replay'> & { claims?: ClaimCheck[]; policy?: PairChoice };

/** A list cut to `n` entries says how many it left out. */
export function more(total: number, shown: number, what = ''): string | undefined {
  return total > shown ? `… ${total - shown} more${what ? ` ${what}` : ''}` : undefined;
}

export function renderClaims(cs: ClaimCheck[]): string {
  if (!cs.length) return 'claims: the patch mail states no figures';
  const L = ['claims of the patch mail, beside the model (base = without, with = with the patch)'];
  for (const c of cs) {
    L.push(`  ${c.metric} (${c.kind}, ${c.source}:${c.line}): claimed ${c.claimed}`);
    L.push(`      model: ${c.model}${c.agrees === undefined ? '' : c.agrees ? '  [agrees]' : '  [differs]'}`);
    if (c.workload) L.push(`      claimed on: ${c.workload.length > 140 ? `${c.workload.slice(0, 137)}…` : c.workload}`);
  }
  return L.join('\n');
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(1)} µs`;
}

/** `events`: how many compared events each config emitted at the first divergence (the report lists the first 12). */
export function renderDiff(d: DiffReport, maxGroups: number, events?: { base: number; with: number } | null): string {
  const L: string[] = [];
  L.push(`trace   ${d.trace}`);
  L.push(`base    ${d.base.config.name} (${d.base.config.arch})${d.base.fidelity.compared ? `  fidelity vs recording: ${d.base.fidelity.matched ? 'matched' : `${d.base.fidelity.equal}/${d.base.fidelity.compared}`}` : ''}`);
  L.push(`with    ${d.with.config.name} (${d.with.config.arch})${d.with.fidelity.compared ? `  fidelity vs recording: ${d.with.fidelity.matched ? 'matched' : `${d.with.fidelity.equal}/${d.with.fidelity.compared}`}` : ''}`);
  L.push(`series  only in base: ${d.seriesOnlyBase.join(', ') || '-'}; only in with: ${d.seriesOnlyWith.join(', ') || '-'}`);
  if (d.policy) L.push(`pair    ${d.policy.reason}`);
  L.push('');
  if (!d.differ) {
    L.push('no difference: both configs emit the same events for every op and tell the same story for every folio.');
    return L.join('\n');
  }
  const f = d.firstDivergence;
  if (f) {
    L.push(`first divergence: op ${f.op} (${f.opKind}, line ${f.line}, phase ${f.phase || '-'}); ${d.divergentOps} ops differ in all`);
    L.push(`  cause: ${f.cause.length ? f.cause.join(', ') : 'series differ, but none of their hooks ran here (a trait or an earlier state change)'}`);
    const tail = (shown: number, total: number | undefined): string => (total !== undefined && total > shown ? ` | ${more(total, shown)}` : '');
    L.push(`  base emitted: ${f.base.join(' | ') || '(nothing)'}${tail(f.base.length, events?.base)}`);
    L.push(`  with emitted: ${f.with.join(' | ') || '(nothing)'}${tail(f.with.length, events?.with)}`);
    L.push('');
  }
  L.push(`folios whose story differs (${d.folios.reduce((a, g) => a + g.count, 0)}; ${d.foliosSame} tell the same story):`);
  for (const g of d.folios.slice(0, maxGroups)) {
    L.push(`  ${g.count} × ${g.sizeKb} KiB folio (e.g. at ${g.example})`);
    L.push(`      base — ${g.base}`);
    L.push(`      with — ${g.with}`);
  }
  if (d.folios.length > maxGroups) L.push(`  … ${d.folios.length - maxGroups} more groups (--max-groups, or --json)`);
  L.push('');
  L.push('counters                                       base         with        delta');
  for (const c of d.counters.filter((x) => x.delta !== 0 || x.base !== 0)) {
    L.push(`  ${c.name.padEnd(40)} ${String(c.base).padStart(9)} ${String(c.with).padStart(12)} ${(c.delta > 0 ? `+${c.delta}` : String(c.delta)).padStart(12)}`);
  }
  L.push('');
  const flushKeys = [...new Set([...Object.keys(d.base.tlbFlushes), ...Object.keys(d.with.tlbFlushes)])].sort();
  if (flushKeys.length) {
    L.push('tlb_flush (pages:reason)                       base         with');
    for (const k of flushKeys) L.push(`  ${k.padEnd(40)} ${String(d.base.tlbFlushes[k] ?? 0).padStart(9)} ${String(d.with.tlbFlushes[k] ?? 0).padStart(12)}`);
  } else L.push('tlb_flush: none predicted (arm64 has no tlb_flush tracepoint; see cost)');
  L.push('TLB work (cost model counts)');
  for (const k of Object.keys(d.base.tlbWork)) {
    const a = d.base.tlbWork[k] ?? 0;
    const b = d.with.tlbWork[k] ?? 0;
    if (a || b) L.push(`  ${k.padEnd(40)} ${String(a).padStart(9)} ${String(b).padStart(12)}`);
  }
  const orders = [...new Set([...Object.keys(d.base.freesByOrder), ...Object.keys(d.with.freesByOrder)])].sort();
  for (const o of orders) L.push(`  folios freed, ${o.padEnd(26)} ${String(d.base.freesByOrder[o] ?? 0).padStart(9)} ${String(d.with.freesByOrder[o] ?? 0).padStart(12)}`);
  L.push(`  reclaim_pages scanned/reclaimed          ${`${d.base.reclaim.scanned}/${d.base.reclaim.reclaimed}`.padStart(9)} ${`${d.with.reclaim.scanned}/${d.with.reclaim.reclaimed}`.padStart(12)}`);
  L.push('');
  L.push(`violations: base ${d.violations.base}, with ${d.violations.with}`);
  for (const [side, list] of [['base', d.violations.onlyBase], ['with', d.violations.onlyWith]] as const) {
    for (const v of list.slice(0, 5)) L.push(`  only in ${side}: ${v.code} at line ${v.at.line}${v.series ? ` [${v.series}]` : ''}: ${v.message}`);
    const m = more(list.length, 5, `only in ${side} (--json lists them)`);
    if (m) L.push(`  ${m}`);
  }
  L.push('');
  L.push(`cost (${d.base.config.arch} table): base ${us(d.cost.base)}, with ${us(d.cost.with)}: base/with = ${d.cost.ratio.toFixed(2)}×`);
  for (const [p, c] of Object.entries(d.cost.phases)) {
    if (c.base !== c.with) L.push(`  ${p.padEnd(16)} ${us(c.base).padStart(12)} ${us(c.with).padStart(12)}  ${c.ratio ? `${c.ratio.toFixed(2)}×` : ''}`);
  }
  return L.join('\n');
}
