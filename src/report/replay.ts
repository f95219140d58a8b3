/** Text rendering of `foliolab replay`: the verdict first, then what it rests on. */
import type { ReplayResult } from '../diff/run.js';
import type { CounterCheck } from '../fidelity/counters.js';
import type { FidelityReport } from '../fidelity/compare.js';

/** What a replay checked and what it could not, for the text output and --json. */
export interface ReplayChecks {
  /** `markers`: between `fl: begin` and `fl: end`; `whole trace`: no markers, from the workload's first event on. */
  window: 'markers' | 'whole trace';
  /** User stores are known only through `fl: store` markers. */
  stores: 'markers' | 'not visible';
  /** Counter deltas: compared with the capture's own, or why not. */
  counters: 'compared' | 'no per-phase deltas beside the trace' | 'nothing comparable';
}

export function replayChecks(r: ReplayResult, counters: CounterCheck | undefined): ReplayChecks {
  const marked = r.workload.scenario !== undefined;
  return {
    window: marked ? 'markers' : 'whole trace',
    stores: marked ? 'markers' : 'not visible',
    counters: !counters ? 'no per-phase deltas beside the trace' : counters.compared === 0 ? 'nothing comparable' : 'compared',
  };
}

const VERDICT: Record<FidelityReport['verdict'], string> = {
  matched: 'MATCHED',
  mismatched: 'MISMATCH',
  partial: 'PARTIAL',
  unchecked: 'UNCHECKED',
};

/** "… N more" after a list cut at `shown`. */
export function more(total: number, shown: number, what = ''): string | undefined {
  return total > shown ? `… ${total - shown} more${what ? ` ${what}` : ''}` : undefined;
}

export function renderFidelityLine(f: FidelityReport): string {
  const head = `${VERDICT[f.verdict]}: ${f.equal}/${f.compared} recorded events reproduced in order, ${f.extra} predicted beyond them; ${f.opsMismatched} of ${f.opsCompared} ops differ`;
  return f.verdict === 'unchecked' ? `${VERDICT.unchecked}: nothing was compared (the window holds no recorded kernel output of the workload, and the model predicted none)` : head;
}

export function renderReplay(r: ReplayResult, counters: CounterCheck | undefined, maxMismatch: number): string {
  const run = r.runs[0]!;
  const L: string[] = [];
  const f = run.fidelity;
  const checks = replayChecks(r, counters);
  L.push(`trace     ${r.trace}`);
  L.push(`workload  pid ${r.workload.pid ?? '?'}${r.workload.scenario ? ` (${r.workload.scenario.id} ${r.workload.scenario.variant})` : ''}; ${r.ops} ops from ${r.events} events${r.opsUnmodelled ? `, ${r.opsUnmodelled} outside the model` : ''}`);
  L.push(`config    ${run.config.name} (${run.config.arch}, ${run.config.release} baseline)`);
  L.push(`series    ${run.config.series.join(', ') || '(none)'}`);
  L.push('');
  L.push(`fidelity  ${renderFidelityLine(f)}`);
  for (const why of f.reasons) L.push(`          ${f.verdict === 'matched' ? '' : 'because '}${why}`);
  L.push('          kind                      recorded  predicted');
  for (const [k, v] of Object.entries(f.byKind)) L.push(`          ${k.padEnd(26)}${String(v.recorded).padStart(8)}  ${String(v.predicted).padStart(9)}`);
  const apart: string[] = [];
  if (f.foreignFrees) apart.push(`${f.foreignFrees} frees of pages the workload never allocated`);
  if (f.foreignIpiFlushes) apart.push(`${f.foreignIpiFlushes} flushes done in a flush IPI no send of the workload explains (another mm's shootdown)`);
  if (f.taskSwitchFlushes) apart.push(`${f.taskSwitchFlushes} task-switch flushes`);
  if (f.softirqFrees) apart.push(`${f.softirqFrees} page frees in softirq (RCU callbacks, e.g. page tables freed after a grace period)`);
  L.push(`          not the workload's (not compared): ${apart.length ? apart.join('; ') : 'none'}`);
  if (f.preemptedOps) L.push(`          ${f.preemptedOps} op${f.preemptedOps === 1 ? '' : 's'} preempted midway: consecutive rss updates of a counter compared by their sum (a zap stops at a pending reschedule at a PTE no event shows)`);
  const outside = f.outsideModel.filter((o) => o.events > 0);
  if (f.outsideModel.length) {
    L.push(`          outside the model: ${f.outsideModel.reduce((a, o) => a + o.ops, 0)} ops, ${f.unmodelledOutput} recorded events (not compared)`);
    for (const o of outside.slice(0, 8)) L.push(`            ${o.kind}: ${o.ops} op${o.ops === 1 ? '' : 's'}, ${o.events} events, first at line ${o.firstLine}`);
    const m = more(outside.length, 8, 'kinds');
    if (m) L.push(`            ${m}`);
    const quiet = f.outsideModel.length - outside.length;
    if (quiet) L.push(`            ${quiet} other kind${quiet === 1 ? '' : 's'} with no recorded output (${f.outsideModel.filter((o) => o.events === 0).map((o) => o.kind).slice(0, 5).join(', ')})`);
  }
  for (const m of f.mismatches.slice(0, maxMismatch)) {
    L.push(`  op ${m.op} (${m.opKind}, line ${m.line}, phase ${m.phase || '-'}, CPU ${m.cpu}) differs at event ${m.at}:`);
    L.push(`    recorded:  ${m.recorded.join(' | ') || '(nothing)'}`);
    L.push(`    predicted: ${m.predicted.join(' | ') || '(nothing)'}`);
  }
  const mm = more(f.opsMismatched, Math.min(maxMismatch, f.mismatches.length), 'mismatching ops (--max-mismatches, --json)');
  if (mm && f.mismatches.length > 0) L.push(`  ${mm}`);
  L.push('');
  L.push('checked   ' + (checks.window === 'markers' ? 'the window between the fl: begin and fl: end markers' : 'the whole trace from the workload\'s first event (no fl: begin/end markers)'));
  if (checks.stores === 'not visible') L.push('          not visible: user stores to present memory (no event marks them: dirtiness is known only from write faults); phases');
  L.push('');
  L.push('counters  (kernel names; model totals over the replay)');
  for (const [k, v] of Object.entries(run.counters)) L.push(`          ${k.padEnd(40)} ${v}`);
  if (checks.counters === 'compared') {
    L.push(`counter deltas vs the capture's own (stdout.txt): ${counters!.matched ? 'all equal' : `${counters!.mismatches.length} differ`} over ${counters!.compared} values`);
    for (const m of counters!.mismatches.slice(0, 8)) L.push(`          [${m.phase}] ${m.counter}: capture ${m.recorded}, model ${m.model}`);
    const cm = more(counters!.mismatches.length, 8);
    if (cm) L.push(`          ${cm}`);
    for (const k of counters!.skipped) L.push(`          not compared: ${k.counter} (${k.why})`);
  } else {
    L.push(`counter deltas: not checked (${checks.counters === 'nothing comparable' ? 'the capture\'s per-phase deltas hold none of the counters only the workload moves' : 'no stdout.txt with per-phase deltas (counters read before and after each phase) beside the trace'})`);
  }
  L.push('');
  L.push(`violations ${run.violationCount}`);
  for (const v of run.violations.slice(0, 8)) L.push(`  ${v.code} at op ${v.at.index} (line ${v.at.line})${v.series ? ` [${v.series}]` : ''}: ${v.message}`);
  const vm = more(run.violationCount, Math.min(8, run.violations.length));
  if (vm) L.push(`  ${vm}`);
  L.push('');
  L.push(`cost      ${(run.cost.ns / 1000).toFixed(1)} µs estimated on the ${run.cost.arch} cost table (see README "Cost model")`);
  const parts = Object.entries(run.cost.parts).sort((a, b) => b[1] - a[1]).slice(0, 6);
  L.push(`          ${parts.map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}µs`).join(', ')}`);
  const ph = Object.entries(run.phaseCost).filter(([, v]) => v > 0);
  if (ph.length) L.push(`          by phase: ${ph.map(([p, v]) => `${p} ${(v / 1000).toFixed(1)}µs`).join(', ')}`);
  if (r.notes.length) L.push(`notes     ${r.notes.join('; ')}`);
  return L.join('\n');
}
