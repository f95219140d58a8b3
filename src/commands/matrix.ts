import { Args, Command, Flags } from '@oclif/core';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { PRESETS } from '../model/series/index.js';
import { choosePair, recordedKernel, sameConfig } from '../diff/policy.js';
import { matrixWarning, renderMatrix, renderMatrixCsv, type MatrixResult, type MatrixRow } from '../report/matrix.js';
import { replayTrace } from '../diff/run.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { EXIT, inputProblem, readProblems, resolveFormats } from './shared.js';

export default class Matrix extends Command {
  static override summary = 'Replay every trace under every config and tabulate the metrics you pick.';
  static override description = `Rows are traces, columns configs (default: every preset), cells the metrics named by --metric: any counter by its kernel name (split_deferred is short for every <size>kB/split_deferred), "cost" (µs on the arch's table), "flushes" (tlb_flush events), "violations", and "fidelity" (reproduced/recorded events, for the config matching the kernel that recorded the trace). Each trace names its own kernel and the pair \`diff\` and \`inspect\` compare on it by default. The text table fits the terminal (80 columns off a terminal): metrics that do not fit go to a further block of the same rows.`;
  static override examples = [
    '<%= config.bin %> matrix traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz traces/6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> matrix --metric split_deferred,thp_split_pmd,cost --configs "linux-6.12;linux-6.18" traces/*/s1*/trace.txt.gz',
    '<%= config.bin %> matrix --csv traces/6.18.44-fc-v669/*/trace.txt.gz',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = { traces: Args.string({ description: 'Trace files.', required: true }) };
  static override flags = {
    configs: Flags.string({ description: 'Configs separated by `;` (default: every preset).' }),
    metric: Flags.string({ description: 'Comma-separated metrics.', default: 'split_deferred,thp_split_pmd,flushes,cost,fidelity' }),
    arch: Flags.string({ options: ['x86', 'arm64'], default: 'x86', description: 'Arch profile.' }),
    csv: Flags.boolean({ description: 'CSV on stdout.', exclusive: ['json'] }),
    width: Flags.integer({ description: 'Columns the text table fits in (default: the terminal\'s, else 80); metrics that do not fit go to a further block.', min: 40 }),
  };

  async run(): Promise<MatrixResult> {
    const { argv, flags } = await this.parse(Matrix);
    const traces = argv as string[];
    const specs = flags.configs ? flags.configs.split(';').map((s) => s.trim()).filter(Boolean) : PRESETS.map((p) => p.id);
    const metrics = flags.metric.split(',').map((m) => m.trim()).filter(Boolean);
    const rows: MatrixRow[] = [];
    for (const t of traces) {
      const problem = inputProblem(t);
      if (problem) this.error(problem, { exit: EXIT.input });
      const fm = resolveFormats(t, {});
      const facts = readCaptureFacts(t);
      const build = (s: string) => buildConfig(s, flags.arch as Arch, facts.thp ?? DEFAULT_THP);
      let configs;
      let pair;
      try {
        configs = specs.map(build);
        pair = choosePair(recordedKernel(facts, fm), {}, (a, b) => sameConfig(build(a), build(b)));
      } catch (e) {
        if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
        throw e;
      }
      const own = pair.recorded.preset;
      const r = await replayTrace(t, configs, { registry: fm.registry, release: fm.release });
      // A trace that gave nothing to replay is left out of the table (and the exit status says
      // so); problems that cut a trace short are reported beside its row.
      const { fatal, diagnostics } = readProblems(r, t, t, 2);
      if (fatal) {
        this.logToStderr(`${fatal.message}: nothing to replay; left out of the table`);
        process.exitCode = EXIT.input;
        continue;
      }
      const warning = matrixWarning(t, diagnostics, r.diagnosticCounts);
      if (warning) this.logToStderr(warning);
      rows.push({
        trace: t,
        diagnosticCounts: r.diagnosticCounts,
        recorded: pair.recorded,
        pair: { base: pair.base, with: pair.with, reason: pair.reason },
        cells: r.runs.map((run, i) => {
          const values: Record<string, number | string> = {};
          for (const m of metrics) {
            if (m === 'cost') values[m] = Math.round(run.cost.ns / 100) / 10;
            else if (m === 'flushes') values[m] = run.emitted.tlb_flush ?? 0;
            else if (m === 'violations') values[m] = run.violationCount;
            else if (m === 'fidelity') values[m] = own !== undefined && sameConfig(configs[i]!, build(own)) ? `${run.fidelity.equal}/${run.fidelity.compared}${run.fidelity.matched ? '' : ' (differs)'}` : '';
            else values[m] = Object.entries(run.counters).filter(([k]) => k === m || k.endsWith(`/${m}`)).reduce((a, [, v]) => a + v, 0);
          }
          return { config: specs[i]!, values };
        }),
      });
    }
    const result: MatrixResult = { metrics, configs: specs, rows };
    if (this.jsonEnabled()) return result;
    if (flags.csv) this.log(renderMatrixCsv(result));
    else this.log(renderMatrix(result, flags.width ?? (process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 80)));
    return result;
  }
}
