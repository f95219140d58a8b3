/** Rendering of `foliolab fidelity`: one row per capture replayed under its kernel's preset. */
import type { Verdict } from '../fidelity/compare.js';

export interface FidelityRow {
  trace: string;
  preset: string;
  /** The replay's verdict, with the counter deltas taken into account. */
  verdict: Verdict;
  /** Reproduced exactly: every compared event and the counter deltas. */
  matched: boolean;
  reasons: string[];
  equal: number;
  compared: number;
  opsMismatched: number;
  counters: string;
  violations: number;
}

function verdictCell(r: FidelityRow): string {
  switch (r.verdict) {
    case 'matched': return 'matched';
    case 'mismatched': return `differs (${r.opsMismatched} ops)`;
    case 'partial': return r.opsMismatched ? `differs (${r.opsMismatched} ops), partial` : 'partial';
    default: return 'nothing compared';
  }
}

const TAG: Record<Verdict, string> = { matched: 'MATCH', mismatched: 'DIFF ', partial: 'PART ', unchecked: 'NONE ' };

export function renderFidelity(rows: FidelityRow[], skipped: Array<{ trace: string; why: string }>, markdown: boolean): string {
  const L: string[] = [];
  if (markdown) {
    L.push('| trace | preset | events reproduced | verdict | counter deltas | violations |');
    L.push('|---|---|---|---|---|---|');
    for (const r of rows) L.push(`| ${r.trace} | ${r.preset} | ${r.equal}/${r.compared} | ${verdictCell(r)} | ${r.counters} | ${r.violations} |`);
  } else {
    for (const r of rows) {
      L.push(`${TAG[r.verdict]} ${`${r.equal}/${r.compared}`.padStart(15)}  ${r.preset.padEnd(14)} ${r.trace}  counters: ${r.counters}`);
      if (r.verdict === 'partial') for (const why of r.reasons) L.push(`      ${why}`);
    }
  }
  for (const s of skipped) L.push(`SKIP  ${s.trace}: ${s.why}`);
  const matched = rows.filter((r) => r.matched).length;
  const partial = rows.filter((r) => r.verdict === 'partial').length;
  L.push(`${matched} of ${rows.length} captures reproduced exactly${partial ? `, ${partial} only in part` : ''}${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
  return L.join('\n');
}
