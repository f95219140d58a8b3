import { Args, Command, Flags } from '@oclif/core';
import { createWriteStream, type WriteStream } from 'node:fs';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { diffTrace } from '../diff/diff.js';
import { choosePair, recordedKernel, sameConfig } from '../diff/policy.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { opEvents, processNames } from '../report/perfetto.js';
import type { LiftedOp } from '../replay/lift.js';
import { identifyFile } from '../catalogue/index.js';
import { checkClaims } from '../report/claims.js';
import { renderClaims, renderDiff, type DiffReport } from '../report/diff.js';
import { clearProgress, EXIT, inputProblem, progressReporter, readProblems, resolveFormats, traceFile, traceFlags } from './shared.js';

export default class Diff extends Command {
  static override summary = 'What a series changes on this workload: replay a trace under two configs and compare.';

  static override description = `Parses the trace once, replays the same operations under --base and --with, and reports the first op where their behaviour parts (with the events each emitted there and the series whose hooks ran), what happened to each folio under each config (identical stories grouped with a count), counters side by side with deltas, TLB flushes by size and reason, frees by order, reclaim totals, violations found in one config only, and the cost estimate of each with their ratio.

A config is a preset (linux-6.12), a preset plus or minus series ("linux-6.18 -batched-unmap"), or an explicit series list with versions (batched-unmap@v4-3,oob-fix@v4). With neither --base nor --with, the pair is the upstream release before the trace's own kernel → the trace's own kernel (what upgrading changes); with one of them, the other is the trace's own kernel (or, when that is the one given, its neighbouring release). The output says which pair was chosen and why (--json: policy).

Exit status: 0 whether or not the configs differ (--fail-on-diff: 3 when they do), 1 input error, 2 usage error.`;

  static override examples = [
    '<%= config.bin %> diff traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz --base linux-6.12 --with linux-6.18',
    '<%= config.bin %> diff traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz --base linux-6.12 --with linux-6.18 --arch arm64',
    '<%= config.bin %> diff traces/6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz --base linux-6.1 --with linux-6.12',
    '<%= config.bin %> diff traces/scenarios/straddle-oob.trace --base batched-unmap@v4-3 --with batched-unmap@v4-3,oob-fix@v4',
    '<%= config.bin %> diff trace.txt.gz --base linux-6.18 --with linux-6.18-fc --perfetto out.json',
    '<%= config.bin %> diff traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz --base linux-6.12 --with linux-6.18 --patch fixtures/patches/batch-v2.mbox',
  ];

  static override enableJsonFlag = true;
  static override args = { trace: Args.string({ description: 'Trace text file (.gz accepted).', required: true }) };
  static override flags = {
    ...traceFlags,
    base: Flags.string({ description: 'The config to compare from (default: see the description; the output says why).' }),
    with: Flags.string({ description: 'The config to compare to (default: the trace\'s own kernel; the output says why).' }),
    arch: Flags.string({ description: 'Arch profile.', options: ['x86', 'arm64'], default: 'x86' }),
    pid: Flags.integer({ description: 'Workload process id.' }),
    comm: Flags.string({ description: 'Workload task name.' }),
    'fail-on-diff': Flags.boolean({ description: 'Exit 3 when the configs behave differently (for scripts).' }),
    perfetto: Flags.string({ description: 'Write both timelines (ops and predicted kernel events) as Chrome JSON trace events to this file.' }),
    'max-groups': Flags.integer({ description: 'Folio story groups shown.', default: 8 }),
    patch: Flags.string({ description: 'Patch mail whose claims (counters, timings, ratios) are shown beside the model\'s figures; repeatable.', multiple: true }),
  };

  async run(): Promise<DiffReport | undefined> {
    const { args, flags } = await this.parse(Diff);
    const path = args.trace;
    const problem = inputProblem(path);
    if (problem) this.error(problem, { exit: EXIT.input });
    // Claims first: a bad patch file stops before the (longer) replay.
    const claims = (flags.patch ?? []).flatMap((f) => {
      const r = identifyFile(f);
      if (!r.patches.length) this.error(`${f}: no patch mail could be read (${r.diagnostics.map((d) => d.message).join('; ')})`, { exit: EXIT.input });
      return r.patches.flatMap((p) => p.claims.map((c) => ({ ...c, source: `${f}${r.patches.length > 1 ? ` #${p.index + 1}` : ''}` })));
    });
    const fm = resolveFormats(path, flags);
    const facts = readCaptureFacts(path);
    let base;
    let withCfg;
    let policy;
    try {
      const build = (spec: string) => buildConfig(spec, flags.arch as Arch, facts.thp ?? DEFAULT_THP);
      policy = choosePair(recordedKernel(facts, fm), { base: flags.base, with: flags.with }, (a, b) => sameConfig(build(a), build(b)));
      base = build(policy.base);
      withCfg = build(policy.with);
    } catch (e) {
      if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
      throw e;
    }
    let out: WriteStream | undefined;
    let firstEvent = true;
    let pending: { lo: LiftedOp; em: import('../model/emit.js').Emission[][] } | undefined;
    const write = (events: object[]): void => {
      for (const ev of events) {
        out!.write(`${firstEvent ? '' : ',\n'}${JSON.stringify(ev)}`);
        firstEvent = false;
      }
    };
    const emit = (next?: LiftedOp): void => {
      if (!pending) return;
      const ts = (pending.lo.op.at.tsNs ?? 0) / 1000;
      const nextTs = next?.op.at.tsNs !== undefined ? next.op.at.tsNs / 1000 : ts + 1;
      write(opEvents(pending.lo.op, pending.em, ts, Math.max(0.001, nextTs - ts)));
    };
    if (flags.perfetto) {
      out = createWriteStream(flags.perfetto);
      out.write('{"traceEvents":[\n');
      write(processNames([base.name, withCfg.name]));
    }
    const onProgress = this.jsonEnabled() ? undefined : progressReporter(`diffing ${path}`, undefined);
    const { file, done } = await traceFile(path);
    let r: Awaited<ReturnType<typeof diffTrace>>;
    try {
      r = await diffTrace(file, base, withCfg, {
        registry: fm.registry, release: fm.release, pid: flags.pid, comm: flags.comm, onProgress,
        observe: out ? (lo, per) => { emit(lo); pending = { lo, em: per.map((p) => p.emitted) }; } : undefined,
      });
    } finally {
      done();
    }
    if (onProgress) clearProgress();
    const { diagnostics, fatal, warning } = readProblems(r.replay, file, path);
    r = { ...r, trace: path };
    if (fatal) this.error(`${fatal.message}: nothing to compare`, { exit: EXIT.input });
    if (warning) this.logToStderr(warning);
    if (out) {
      emit();
      out.write('\n]}\n');
      await new Promise<void>((res, rej) => out!.end((err?: Error | null) => (err ? rej(err) : res())));
    }
    if (flags['fail-on-diff'] && r.differ) process.exitCode = EXIT.diff;
    const { replay: _replay, firstDivergenceEvents, ...rest } = r;
    void _replay;
    const withInput = { ...rest, diagnostics, diagnosticCounts: r.replay.diagnosticCounts };
    const result: DiffReport = flags.patch ? { ...withInput, claims: checkClaims(claims, rest), policy } : { ...withInput, policy };
    if (this.jsonEnabled()) return result;
    this.log(renderDiff(result, flags['max-groups'], firstDivergenceEvents));
    if (result.claims) this.log(`\n${renderClaims(result.claims)}`);
    if (flags.perfetto) this.log(`\ntimelines written to ${flags.perfetto} (open in https://ui.perfetto.dev or chrome://tracing)`);
    return undefined;
  }
}
