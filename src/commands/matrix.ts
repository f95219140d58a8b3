import { Args, Command, Flags } from '@oclif/core';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { PRESETS, presetForRelease } from '../model/series/index.js';
import { replayTrace } from '../diff/run.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { EXIT, inputProblem, readProblems, resolveFormats } from './shared.js';

interface Cell {
  config: string;
  values: Record<string, number | string>;
}

export default class Matrix extends Command {
  static override summary = 'Replay every trace under every config and tabulate the metrics you pick.';
  static override description = `Rows are traces, columns configs (default: every preset), cells the metrics named by --metric: any counter by its kernel name (split_deferred is short for every <size>kB/split_deferred), "cost" (µs on the arch's table), "flushes" (tlb_flush events), "violations", and "fidelity" (reproduced/recorded events, for the config matching the kernel that recorded the trace).`;
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
  };

  async run(): Promise<{ metrics: string[]; configs: string[]; rows: Array<{ trace: string; diagnosticCounts: Record<string, number>; cells: Cell[] }> }> {
    const { argv, flags } = await this.parse(Matrix);
    const traces = argv as string[];
    const specs = flags.configs ? flags.configs.split(';').map((s) => s.trim()).filter(Boolean) : PRESETS.map((p) => p.id);
    const metrics = flags.metric.split(',').map((m) => m.trim()).filter(Boolean);
    const rows: Array<{ trace: string; diagnosticCounts: Record<string, number>; cells: Cell[] }> = [];
    for (const t of traces) {
      const problem = inputProblem(t);
      if (problem) this.error(problem, { exit: EXIT.input });
      const fm = resolveFormats(t, {});
      const facts = readCaptureFacts(t);
      let configs;
      try {
        configs = specs.map((s) => buildConfig(s, flags.arch as Arch, facts.thp ?? DEFAULT_THP));
      } catch (e) {
        if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
        throw e;
      }
      const own = presetForRelease(facts.release ?? fm.release, facts)?.id;
      const r = await replayTrace(t, configs, { registry: fm.registry, release: fm.release });
      // A trace that gave nothing to replay is left out of the table (and the exit status says
      // so); problems that cut a trace short are reported beside its row.
      const { fatal, warning } = readProblems(r, t, t, 2);
      if (fatal) {
        this.logToStderr(`${fatal.message}: nothing to replay; left out of the table`);
        process.exitCode = EXIT.input;
        continue;
      }
      if (warning) this.logToStderr(warning);
      rows.push({
        trace: t,
        diagnosticCounts: r.diagnosticCounts,
        cells: r.runs.map((run, i) => {
          const values: Record<string, number | string> = {};
          for (const m of metrics) {
            if (m === 'cost') values[m] = Math.round(run.cost.ns / 100) / 10;
            else if (m === 'flushes') values[m] = run.emitted.tlb_flush ?? 0;
            else if (m === 'violations') values[m] = run.violationCount;
            else if (m === 'fidelity') values[m] = specs[i] === own ? `${run.fidelity.equal}/${run.fidelity.compared}${run.fidelity.matched ? '' : ' (differs)'}` : '';
            else values[m] = Object.entries(run.counters).filter(([k]) => k === m || k.endsWith(`/${m}`)).reduce((a, [, v]) => a + v, 0);
          }
          return { config: specs[i]!, values };
        }),
      });
    }
    if (this.jsonEnabled()) return { metrics, configs: specs, rows };
    if (flags.csv) {
      this.log(['trace', ...specs.flatMap((c) => metrics.map((m) => `${c}:${m}`))].join(','));
      for (const r of rows) this.log([r.trace, ...r.cells.flatMap((c) => metrics.map((m) => String(c.values[m] ?? '')))].map((x) => (/[",]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x)).join(','));
    } else {
      for (const r of rows) {
        this.log(r.trace);
        this.log(`  ${'config'.padEnd(16)}${metrics.map((m) => m.padStart(18)).join('')}`);
        for (const c of r.cells) this.log(`  ${c.config.padEnd(16)}${metrics.map((m) => String(c.values[m] ?? '').padStart(18)).join('')}`);
      }
    }
    return { metrics, configs: specs, rows };
  }
}
