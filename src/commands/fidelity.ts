import { Args, Command, Flags } from '@oclif/core';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { replayTrace } from '../diff/run.js';
import { compareCounterDeltas, readCaptureFacts } from '../fidelity/counters.js';
import { buildConfig } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';

interface Row {
  trace: string;
  preset: string;
  matched: boolean;
  equal: number;
  compared: number;
  opsMismatched: number;
  counters: string;
  violations: number;
}

export default class Fidelity extends Command {
  static override summary = 'Replay every capture under the preset of the kernel that recorded it, and tabulate fidelity.';
  static override description = 'Finds each trace.txt.gz with a settings.txt beside it (the capture layout of traces/), replays it under the preset matching its `kernel:` release, and reports how many recorded tlb_flush / rss_stat / mm_page_free / mm_vmscan_reclaim_pages events of the workload the model reproduced in order, and whether the per-phase counter deltas saved by the capture agree.';
  static override examples = ['<%= config.bin %> fidelity', '<%= config.bin %> fidelity --markdown', '<%= config.bin %> fidelity ../shared/traces-real --json'];
  static override enableJsonFlag = true;
  static override args = { dir: Args.string({ description: 'Directory to search (default: the shipped traces/).' }) };
  static override flags = { markdown: Flags.boolean({ description: 'Print a Markdown table (for README).' }) };

  async run(): Promise<{ rows: Row[]; matched: number; total: number }> {
    const { args, flags } = await this.parse(Fidelity);
    const dir = args.dir ?? join(packageRoot, 'traces');
    if (!existsSync(dir)) this.error(`no such directory: ${dir}`, { exit: 1 });
    const reg = FormatRegistry.fromDirectory(grammarsDir);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const n of readdirSync(d).sort()) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (n === 'trace.txt.gz' && existsSync(join(d, 'settings.txt'))) files.push(p);
      }
    };
    walk(dir);
    const rows: Row[] = [];
    for (const f of files) {
      const facts = readCaptureFacts(f);
      const preset = presetForRelease(facts.release, facts);
      if (!preset) continue;
      if (!this.jsonEnabled() && process.stderr.isTTY) process.stderr.write(`\r${relative(dir, f)}\x1b[K`);
      const r = await replayTrace(f, [buildConfig(preset.id, 'x86', facts.thp)], { registry: reg, release: reg.matchRelease(facts.release) });
      const run = r.runs[0]!;
      const cc = facts.phaseDeltas ? compareCounterDeltas(run.phaseCounters, facts.phaseDeltas) : undefined;
      rows.push({
        trace: relative(dir, f).replace(/\/trace\.txt\.gz$/, ''),
        preset: preset.id,
        matched: run.fidelity.matched && (!cc || cc.matched),
        equal: run.fidelity.equal,
        compared: run.fidelity.compared,
        opsMismatched: run.fidelity.opsMismatched,
        counters: cc ? (cc.matched ? `equal (${cc.compared})` : `${cc.mismatches.length} of ${cc.compared} differ`) : '-',
        violations: run.violationCount,
      });
    }
    if (!this.jsonEnabled() && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const matched = rows.filter((r) => r.matched).length;
    if (!this.jsonEnabled()) {
      if (flags.markdown) {
        this.log('| trace | preset | events reproduced | verdict | counter deltas | violations |');
        this.log('|---|---|---|---|---|---|');
        for (const r of rows) this.log(`| ${r.trace} | ${r.preset} | ${r.equal}/${r.compared} | ${r.matched ? 'matched' : `differs (${r.opsMismatched} ops)`} | ${r.counters} | ${r.violations} |`);
      } else {
        for (const r of rows) this.log(`${r.matched ? 'MATCH' : 'DIFF '} ${`${r.equal}/${r.compared}`.padStart(15)}  ${r.preset.padEnd(14)} ${r.trace}  counters: ${r.counters}`);
      }
      this.log(`${matched} of ${rows.length} captures reproduced exactly`);
    }
    return { rows, matched, total: rows.length };
  }
}
