/** Text output in herd7's spirit: a test, its states' verdicts, and a witness as numbered steps. */
import type { CheckRow, InvariantResult, RaceResult, Witness } from './run.js';
import type { WitnessStep } from './explore.js';

export function verdictText(r: InvariantResult): string {
  if (r.bound === undefined || r.verdict !== 'Never') return r.verdict;
  return `Never (≤ ${r.bound} preemption${r.bound === 1 ? '' : 's'})`;
}

export function stepLine(s: WitnessStep): string {
  const locks = s.locks.length ? ` [${s.locks.join(', ')}]` : '';
  return `${String(s.n).padStart(3)}${s.preempts ? '*' : ' '} ${s.thread} cpu${s.cpu} ${s.fn}${locks}: ${s.what}`;
}

export function witnessText(w: Witness, invariant: string): string[] {
  const out: string[] = [];
  out.push(`Witness for ${invariant}: ${w.preemptions} preemption${w.preemptions === 1 ? '' : 's'}, ${w.steps.length} steps${w.minimal ? ' (minimal)' : ' (fewest found within the search budget)'}`);
  out.push(`  fails: ${w.failure}`);
  if (w.racingPair) out.push(`  racing pair: ${w.racingPair[0]}`, `           ↔ ${w.racingPair[1]}`);
  for (const s of w.steps) {
    out.push(stepLine(s));
    for (const d of s.diff) out.push(`        ${d}`);
  }
  out.push('  (* = a preemption: the thread before it could have gone on)');
  return out;
}

export function resultText(r: RaceResult, title: string, opts: { witnesses: boolean }): string {
  const out: string[] = [];
  const first = r.results[0];
  const mode = first?.bound !== undefined ? `bounded (≤ ${first.bound} preemptions, every schedule)` : first?.exhaustive === false ? 'truncated' : 'exhaustive (DPOR, sleep sets)';
  out.push(`Test ${r.scenario} "${title}"`);
  out.push(`Config ${r.config}`);
  out.push(`Executions ${first?.executions ?? 0} ${mode}; equivalence classes ${r.classes}; sleep-set blocked ${r.sleepBlocked}${r.deadlocks ? `; DEADLOCKED ${r.deadlocks}` : ''}`);
  const w = Math.max(...r.results.map((x) => x.invariant.length));
  for (const x of r.results) out.push(`  ${x.invariant.padEnd(w)}  ${verdictText(x).padEnd(9)}  Positive: ${x.positive} Negative: ${x.negative}`);
  if (opts.witnesses) for (const x of r.results) if (x.witness) out.push('', ...witnessText(x.witness, x.invariant));
  return out.join('\n');
}

export function checkText(rows: CheckRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    const vac = r.vacuity ? `  (vacuity: ${r.vacuity.config} → ${r.vacuity.found})` : '';
    out.push(`${r.ok ? 'ok  ' : 'FAIL'} ${r.scenario.padEnd(4)} ${r.config.padEnd(42)} ${r.invariant.padEnd(29)} expected ${r.expected.padEnd(9)} found ${r.found}${vac}${r.detail && !r.ok ? `\n       ${r.detail}` : ''}`);
  }
  const bad = rows.filter((r) => !r.ok).length;
  out.push(`${rows.length - bad} of ${rows.length} expectations hold${bad ? `; ${bad} changed` : ''}`);
  return out.join('\n');
}

/** Two step lists side by side (the same schedule under two configs). */
export function sideBySide(a: { config: string; steps: WitnessStep[] }, b: { config: string; steps: WitnessStep[] }, width = 78): string {
  const cell = (s: WitnessStep | undefined): string[] => (s ? [stepLine(s), ...s.diff.map((d) => `        ${d}`)] : []);
  const clip = (x: string): string => (x.length > width ? `${x.slice(0, width - 1)}…` : x.padEnd(width));
  const out = [`${clip(a.config)} │ ${b.config}`, `${'─'.repeat(width)}─┼─${'─'.repeat(width)}`];
  const n = Math.max(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const l = cell(a.steps[i]);
    const r = cell(b.steps[i]);
    for (let j = 0; j < Math.max(l.length, r.length); j++) out.push(`${clip(l[j] ?? '')} │ ${r[j] ?? ''}`);
  }
  return out.join('\n');
}
