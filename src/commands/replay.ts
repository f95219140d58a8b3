import { Args, Command, Flags } from '@oclif/core';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { replayTrace, type ReplayResult } from '../diff/run.js';
import { compareCounterDeltas, readCaptureFacts, type CounterCheck } from '../fidelity/counters.js';
import { clearProgress, EXIT, fatalText, inputProblem, progressReporter, readProblems, resolveFormats, traceFile, traceFlags, traceInventory } from './shared.js';
import { statSync } from 'node:fs';
import { renderReplay, replayChecks } from '../report/replay.js';

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
    let selectionError: string | undefined;
    try {
      const total = file.endsWith('.gz') || path === '-' ? undefined : statSync(file).size;
      const onProgress = this.jsonEnabled() ? undefined : progressReporter(`replaying ${path}`, total);
      r = await replayTrace(file, [config], { registry: fm.registry, release: fm.release, pid: flags.pid, comm: flags.comm, onProgress, facts });
      if (onProgress) clearProgress();
      selectionError = await nothingSelected(r, file, path, fm, flags);
    } finally {
      done();
    }
    const { diagnostics, fatal, warning } = readProblems(r, file, path);
    r = { ...r, trace: path, diagnostics };
    if (fatal) this.error(`${fatalText(fatal)}: nothing to replay`, { exit: EXIT.input });
    if (warning) this.logToStderr(warning);
    if (selectionError) this.error(selectionError, { exit: EXIT.input });
    const run = r.runs[0]!;
    const counters = facts.phaseDeltas ? compareCounterDeltas(run.phaseCounters, facts.phaseDeltas, facts.thp) : undefined;
    if (flags.strict && (run.fidelity.verdict !== 'matched' || r.diagnostics.some((d) => d.severity === 'error' || d.severity === 'data_loss'))) process.exitCode = EXIT.input;
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
      checks: replayChecks(r, counters),
      violations: run.violations,
      violationCount: run.violationCount,
      cost: run.cost,
      fidelity: run.fidelity,
      emitted: run.emitted,
      notes: r.notes,
      inputGaps: r.inputGaps,
      diagnostics: r.diagnostics,
      diagnosticCounts: r.diagnosticCounts,
    };
    if (this.jsonEnabled()) return out;
    this.log(renderReplay(r, counters, flags['max-mismatches']));
    return undefined;
  }
}

/**
 * Why nothing could be replayed, or undefined: a trace with no events at all (not a trace), a
 * --pid/--comm (or begin marker) that matched no task, a trace without any of the events replay
 * lifts. The message names what the trace does hold.
 */
async function nothingSelected(
  r: ReplayResult,
  file: string,
  path: string,
  fm: ReturnType<typeof resolveFormats>,
  flags: { pid?: number; comm?: string },
): Promise<string | undefined> {
  if (r.events === 0) {
    const first = r.diagnostics.find((d) => d.code !== 'unknown_layout');
    return `${path} holds no trace events${first ? ` (first problem: ${first.file}:${first.line}:${first.column} ${first.message})` : ''}: is it a tracefs \`trace\` file, \`trace-cmd report\` output or a trace.dat?`;
  }
  if (!r.hasInputs || r.workloadEvents === 0) {
    const inv = await traceInventory(file, fm);
    const held = `it holds ${inv.taskCount} task${inv.taskCount === 1 ? '' : 's'}: ${inv.tasks.join(', ')}; events: ${inv.events.join(', ')}`;
    if (!r.hasInputs) return `nothing to replay in ${path}: it has none of the events replay lifts (syscalls mmap/munmap/madvise…, exceptions:page_fault_user, kmem:mm_page_alloc) — record with \`foliolab record\` and its default event set; ${held}`;
    const sel = flags.pid !== undefined ? `--pid ${flags.pid}` : flags.comm !== undefined ? `--comm ${flags.comm}` : 'the workload (no fl: begin marker, no task calling mmap or madvise)';
    return `${sel} matched nothing in ${path}: ${held}`;
  }
  return undefined;
}
