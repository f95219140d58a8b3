import { Args, Command, Flags } from '@oclif/core';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { replayTrace, type ReplayResult } from '../diff/run.js';
import { compareCounterDeltas, readCaptureFacts, type CounterCheck } from '../fidelity/counters.js';
import { clearProgress, EXIT, inputProblem, progressReporter, readProblems, resolveFormats, traceFile, traceFlags } from './shared.js';
import { statSync } from 'node:fs';

export default class Replay extends Command {
  static override summary = 'Replay a trace against the mm model and check the prediction against what the kernel recorded.';

  static override description = `Lifts the workload's operations (mmap, munmap, mremap, madvise, faults with the folio sizes the kernel allocated, fork, exit, and the fl: markers) out of the trace, applies them to the deterministic model under a kernel preset or a list of series, and prints the model's counters, invariant violations, a cost estimate, and the fidelity table: the predicted tlb_flush, rss_stat, mm_page_free and mm_vmscan_reclaim_pages events against the recorded ones, op by op, in order per CPU.

Config: --kernel <preset> (linux-6.1, linux-6.12, linux-6.18, linux-6.18-fc, linux-6.19), optionally with series added or removed ("linux-6.18 -batched-unmap"), or --series with an explicit list on the newest baseline. With neither, the preset of the kernel that recorded the trace (settings.txt beside it).

Exit status: 0 replayed (whatever fidelity says; use --strict to fail on mismatches), 1 input error (an empty, binary or unreadable trace), or with --strict a mismatch or an input error of the parse (a truncated gzip stream, lost events…), 2 usage error. Problems met while reading the trace are listed on stderr (and under diagnostics in --json); the results cover what was read.`;

  static override examples = [
    '<%= config.bin %> replay traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> replay --kernel linux-6.12 traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> replay --kernel "linux-6.18 -batched-unmap" --arch arm64 traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> replay --series batched-unmap@v4-3 traces/scenarios/straddle-oob.trace',
    '<%= config.bin %> replay --json traces/6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz',
  ];

  static override enableJsonFlag = true;

  static override args = {
    trace: Args.string({ description: 'Trace text file (.gz accepted).', required: true }),
  };

  static override flags = {
    ...traceFlags,
    kernel: Flags.string({ description: 'Kernel preset, optionally with +series/-series.', exclusive: ['series'] }),
    series: Flags.string({ description: 'Explicit series list (comma-separated, with versions: batched-unmap@v4,oob-fix).', exclusive: ['kernel'] }),
    arch: Flags.string({ description: 'Arch profile: TLB flush behaviour and which tracepoints exist.', options: ['x86', 'arm64'], default: 'x86' }),
    pid: Flags.integer({ description: 'Workload process id (default: the pid of the fl: begin marker, else the first process that calls mmap/madvise).' }),
    comm: Flags.string({ description: 'Workload task name, instead of --pid.' }),
    strict: Flags.boolean({ description: 'Exit 1 when the prediction does not match the recording, or the trace could not be read whole.' }),
    'max-mismatches': Flags.integer({ description: 'Mismatching ops shown.', default: 5, min: 0 }),
  };

  async run(): Promise<Record<string, unknown> | undefined> {
    const { args, flags } = await this.parse(Replay);
    const path = args.trace;
    const problem = inputProblem(path);
    if (problem) this.error(problem, { exit: EXIT.input });
    const fm = resolveFormats(path, flags);
    const facts = readCaptureFacts(path);
    const spec = flags.kernel ?? (flags.series ? `${flags.series}` : presetForRelease(facts.release ?? fm.release, facts)?.id ?? 'linux-6.18');
    let config;
    try {
      config = buildConfig(spec, flags.arch as Arch, facts.thp ?? DEFAULT_THP);
    } catch (e) {
      if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
      throw e;
    }
    const { file, done } = await traceFile(path);
    let r: ReplayResult;
    try {
      const total = file.endsWith('.gz') || path === '-' ? undefined : statSync(file).size;
      const onProgress = this.jsonEnabled() ? undefined : progressReporter(`replaying ${path}`, total);
      r = await replayTrace(file, [config], { registry: fm.registry, release: fm.release, pid: flags.pid, comm: flags.comm, onProgress });
      if (onProgress) clearProgress();
    } finally {
      done();
    }
    const { diagnostics, fatal, warning } = readProblems(r, file, path);
    r = { ...r, trace: path, diagnostics };
    if (fatal) this.error(`${fatal.message}: nothing to replay`, { exit: EXIT.input });
    if (warning) this.logToStderr(warning);
    const run = r.runs[0]!;
    const counters = facts.phaseDeltas ? compareCounterDeltas(run.phaseCounters, facts.phaseDeltas) : undefined;
    if (flags.strict && (!run.fidelity.matched || r.diagnostics.some((d) => d.severity === 'error' || d.severity === 'data_loss'))) process.exitCode = EXIT.input;
    const out = {
      trace: path,
      workload: r.workload,
      events: r.events,
      ops: r.ops,
      opsUnmodelled: r.opsUnmodelled,
      config: run.config,
      counters: run.counters,
      phaseCounters: run.phaseCounters,
      phaseCost: run.phaseCost,
      counterCheck: counters,
      violations: run.violations,
      violationCount: run.violationCount,
      cost: run.cost,
      fidelity: run.fidelity,
      emitted: run.emitted,
      notes: r.notes,
      diagnostics: r.diagnostics,
      diagnosticCounts: r.diagnosticCounts,
    };
    if (this.jsonEnabled()) return out;
    this.log(renderReplay(r, counters, flags['max-mismatches']));
    return undefined;
  }
}

function renderReplay(r: ReplayResult, counters: CounterCheck | undefined, maxMismatch: number): string {
  const run = r.runs[0]!;
  const L: string[] = [];
  const f = run.fidelity;
  L.push(`trace     ${r.trace}`);
  L.push(`workload  pid ${r.workload.pid ?? '?'}${r.workload.scenario ? ` (${r.workload.scenario.id} ${r.workload.scenario.variant})` : ''}; ${r.ops} ops from ${r.events} events${r.opsUnmodelled ? `, ${r.opsUnmodelled} touching memory the model does not represent` : ''}`);
  L.push(`config    ${run.config.name} (${run.config.arch}, ${run.config.release} baseline)`);
  L.push(`series    ${run.config.series.join(', ') || '(none)'}`);
  L.push('');
  L.push(`fidelity  ${f.matched ? 'MATCHED' : 'MISMATCH'}: ${f.equal}/${f.compared} recorded events reproduced in order, ${f.extra} predicted beyond them; ${f.opsMismatched} of ${f.opsCompared} ops differ`);
  L.push('          kind                      recorded  predicted');
  for (const [k, v] of Object.entries(f.byKind)) L.push(`          ${k.padEnd(26)}${String(v.recorded).padStart(8)}  ${String(v.predicted).padStart(9)}`);
  L.push(`          not compared: ${f.foreignFrees} frees of pages the workload never allocated`);
  if (f.unmodelledOutput) L.push(`          ${f.unmodelledOutput} recorded events fall in ops the model does not represent (compared; nothing is predicted there)`);
  for (const m of f.mismatches.slice(0, maxMismatch)) {
    L.push(`  op ${m.op} (${m.opKind}, line ${m.line}, phase ${m.phase || '-'}, CPU ${m.cpu}) differs at event ${m.at}:`);
    L.push(`    recorded:  ${m.recorded.join(' | ') || '(nothing)'}`);
    L.push(`    predicted: ${m.predicted.join(' | ') || '(nothing)'}`);
  }
  L.push('');
  L.push('counters  (kernel names; model totals over the replay)');
  for (const [k, v] of Object.entries(run.counters)) L.push(`          ${k.padEnd(40)} ${v}`);
  if (counters) {
    L.push(`counter deltas vs the capture's own (stdout.txt): ${counters.matched ? 'all equal' : `${counters.mismatches.length} differ`} over ${counters.compared} values`);
    for (const m of counters.mismatches.slice(0, 8)) L.push(`          [${m.phase}] ${m.counter}: capture ${m.recorded}, model ${m.model}`);
  }
  L.push('');
  L.push(`violations ${run.violationCount}`);
  for (const v of run.violations.slice(0, 8)) L.push(`  ${v.code} at op ${v.at.index} (line ${v.at.line})${v.series ? ` [${v.series}]` : ''}: ${v.message}`);
  L.push('');
  L.push(`cost      ${(run.cost.ns / 1000).toFixed(1)} µs estimated on the ${run.cost.arch} cost table (see README "Cost model")`);
  const parts = Object.entries(run.cost.parts).sort((a, b) => b[1] - a[1]).slice(0, 6);
  L.push(`          ${parts.map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}µs`).join(', ')}`);
  const ph = Object.entries(run.phaseCost).filter(([, v]) => v > 0);
  if (ph.length) L.push(`          by phase: ${ph.map(([p, v]) => `${p} ${(v / 1000).toFixed(1)}µs`).join(', ')}`);
  if (r.notes.length) L.push(`notes     ${r.notes.join('; ')}`);
  return L.join('\n');
}
