import { Args, Command, Flags } from '@oclif/core';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { replayTrace } from '../diff/run.js';
import { compareCounterDeltas, readCaptureFacts } from '../fidelity/counters.js';
import { buildConfig } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { FormatRegistry, traceSourceHints } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { renderFidelity, type FidelityRow } from '../report/fidelity.js';

type Row = FidelityRow;

export default class Fidelity extends Command {
  static override summary = 'Replay every capture under the preset of the kernel that recorded it, and tabulate fidelity.';
  static override description = 'Finds each capture — a directory with settings.txt and its trace: the file settings.txt names (`trace-file:`, as `foliolab record` writes it, or that name with .gz), else trace.txt.gz or trace.txt — replays it under the preset matching its `kernel:` release, and reports how many recorded tlb_flush / rss_stat / mm_page_free / mm_vmscan_reclaim_pages events of the workload the model reproduced in order, and whether the per-phase counter deltas saved by the capture agree.';
  static override examples = ['<%= config.bin %> fidelity', '<%= config.bin %> fidelity --markdown', '<%= config.bin %> fidelity ../shared/traces-real --json'];
  static override enableJsonFlag = true;
  static override args = { dir: Args.string({ description: 'Directory to search, or one trace file (default: the shipped traces/).' }) };
  static override flags = { markdown: Flags.boolean({ description: 'Print a Markdown table (for README).' }) };

  async run(): Promise<{ rows: Row[]; matched: number; total: number; skipped: Array<{ trace: string; why: string }> }> {
    const { args, flags } = await this.parse(Fidelity);
    const dir = args.dir ?? join(packageRoot, 'traces');
    if (!existsSync(dir)) this.error(`no such directory: ${dir}`, { exit: 1 });
    const reg = FormatRegistry.fromDirectory(grammarsDir);
    const files: string[] = [];
    const walk = (d: string): void => {
      const names = readdirSync(d).sort();
      const trace = names.includes('settings.txt') ? captureTrace(d, names) : undefined;
      if (trace) files.push(trace);
      for (const n of names) if (statSync(join(d, n)).isDirectory()) walk(join(d, n));
    };
    if (statSync(dir).isDirectory()) walk(dir);
    else files.push(dir);
    const rows: Row[] = [];
    const skipped: Array<{ trace: string; why: string }> = [];
    for (const f of files) {
      const facts = readCaptureFacts(f);
      const preset = presetForRelease(facts.release, facts);
      const name = (f !== dir && relative(dir, dirname(f))) || dirname(f);
      if (!preset) {
        skipped.push({ trace: name, why: facts.release ? `no preset for kernel ${facts.release}` : 'settings.txt names no kernel' });
        continue;
      }
      if (!this.jsonEnabled() && process.stderr.isTTY) process.stderr.write(`\r${name}\x1b[K`);
      // A capture that carries its kernel's format files (formats/, as `foliolab record`
      // leaves them) is decoded by those; the corpus keeps them once, in grammars/.
      const formats = traceSourceHints(f).formatsDir;
      let release = reg.matchRelease(facts.release);
      if (formats) {
        release = `formats:${f}`;
        reg.addRelease(release, formats);
      }
      const r = await replayTrace(f, [buildConfig(preset.id, 'x86', facts.thp)], { registry: reg, release, facts });
      const run = r.runs[0]!;
      const cc = facts.phaseDeltas ? compareCounterDeltas(run.phaseCounters, facts.phaseDeltas, facts.thp) : undefined;
      const fr = run.fidelity;
      // Counter deltas that differ are a mismatch of their own.
      const verdict = cc && !cc.matched && (fr.verdict === 'matched' || fr.verdict === 'unchecked') ? 'mismatched' : fr.verdict;
      rows.push({
        trace: name,
        preset: preset.id,
        verdict,
        matched: verdict === 'matched',
        reasons: fr.reasons,
        equal: run.fidelity.equal,
        compared: run.fidelity.compared,
        opsMismatched: run.fidelity.opsMismatched,
        counters: cc ? (cc.matched ? `equal (${cc.compared})` : `${cc.mismatches.length} of ${cc.compared} differ`) : '-',
        violations: run.violationCount,
      });
    }
    if (!this.jsonEnabled() && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const matched = rows.filter((r) => r.matched).length;
    if (!this.jsonEnabled()) this.log(renderFidelity(rows, skipped, flags.markdown));
    return { rows, matched, total: rows.length, skipped };
  }
}

/**
 * The trace of the capture in `dir` (which holds settings.txt): the file settings.txt names,
 * plain or gzipped (the corpus gzips what record wrote), else trace.txt.gz, else trace.txt.
 */
export function captureTrace(dir: string, names = readdirSync(dir)): string | undefined {
  const named = /^trace-file:\s*(\S+)/m.exec(readFileSync(join(dir, 'settings.txt'), 'utf8'))?.[1];
  const candidates = [...(named ? [named, `${named}.gz`] : []), 'trace.txt.gz', 'trace.txt'];
  const found = candidates.find((c) => names.includes(c) && statSync(join(dir, c)).isFile());
  return found ? join(dir, found) : undefined;
}
