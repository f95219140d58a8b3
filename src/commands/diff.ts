import { Args, Command, Flags } from '@oclif/core';
import { createWriteStream, type WriteStream } from 'node:fs';
import { DEFAULT_THP, type Arch } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { diffTrace, type DiffResult } from '../diff/diff.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { opEvents, processNames } from '../report/perfetto.js';
import type { LiftedOp } from '../replay/lift.js';
import { identifyFile } from '../catalogue/index.js';
import { checkClaims, type ClaimCheck } from '../report/claims.js';
import { clearProgress, EXIT, inputProblem, progressReporter, readProblems, resolveFormats, traceFile, traceFlags } from './shared.js';

export default class Diff extends Command {
  static override summary = 'What a series changes on this workload: replay a trace under two configs and compare.';

  static override description = `Parses the trace once, replays the same operations under --base and --with, and reports the first op where their behaviour parts (with the events each emitted there and the series whose hooks ran), what happened to each folio under each config (identical stories grouped with a count), counters side by side with deltas, TLB flushes by size and reason, frees by order, reclaim totals, violations found in one config only, and the cost estimate of each with their ratio.

A config is a preset (linux-6.12), a preset plus or minus series ("linux-6.18 -batched-unmap"), or an explicit series list with versions (batched-unmap@v4-3,oob-fix@v4). --base defaults to the trace's own kernel preset, --with to the same preset without the series that differ most (use both flags to be explicit).

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
    base: Flags.string({ description: 'The config to compare from (default: the preset of the kernel that recorded the trace).' }),
    with: Flags.string({ description: 'The config to compare to (default: --base without batched-unmap).' }),
    arch: Flags.string({ description: 'Arch profile.', options: ['x86', 'arm64'], default: 'x86' }),
    pid: Flags.integer({ description: 'Workload process id.' }),
    comm: Flags.string({ description: 'Workload task name.' }),
    'fail-on-diff': Flags.boolean({ description: 'Exit 3 when the configs behave differently (for scripts).' }),
    perfetto: Flags.string({ description: 'Write both timelines (ops and predicted kernel events) as Chrome JSON trace events to this file.' }),
    'max-groups': Flags.integer({ description: 'Folio story groups shown.', default: 8 }),
    patch: Flags.string({ description: 'Patch mail whose claims (counters, timings, ratios) are shown beside the model\'s figures; repeatable.', multiple: true }),
  };

  async run(): Promise<(Omit<DiffResult, 'replay'> & { claims?: ClaimCheck[] }) | undefined> {
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
    const own = presetForRelease(facts.release ?? fm.release, facts)?.id ?? 'linux-6.18';
    const baseSpec = flags.base ?? own;
    const withSpec = flags.with ?? `${baseSpec} -batched-unmap`;
    let base;
    let withCfg;
    try {
      base = buildConfig(baseSpec, flags.arch as Arch, facts.thp ?? DEFAULT_THP);
      withCfg = buildConfig(withSpec, flags.arch as Arch, facts.thp ?? DEFAULT_THP);
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
    const { replay: _replay, ...rest } = r;
    void _replay;
    const withInput = { ...rest, diagnostics, diagnosticCounts: r.replay.diagnosticCounts };
    const result: Omit<DiffResult, 'replay'> & { claims?: ClaimCheck[] } = flags.patch ? { ...withInput, claims: checkClaims(claims, rest) } : withInput;
    if (this.jsonEnabled()) return result;
    this.log(renderDiff(result, flags['max-groups']));
    if (result.claims) this.log(`\n${renderClaims(result.claims)}`);
    if (flags.perfetto) this.log(`\ntimelines written to ${flags.perfetto} (open in https://ui.perfetto.dev or chrome://tracing)`);
    return undefined;
  }
}

function renderClaims(cs: ClaimCheck[]): string {
  if (!cs.length) return 'claims: the patch mail states no figures';
  const L = ['claims of the patch mail, beside the model (base = without, with = with the patch)'];
  for (const c of cs) {
    L.push(`  ${c.metric} (${c.kind}, ${c.source}:${c.line}): claimed ${c.claimed}`);
    L.push(`      model: ${c.model}${c.agrees === undefined ? '' : c.agrees ? '  [agrees]' : '  [differs]'}`);
    if (c.workload) L.push(`      claimed on: ${c.workload.length > 140 ? `${c.workload.slice(0, 137)}…` : c.workload}`);
  }
  return L.join('\n');
}

function us(ns: number): string {
  return `${(ns / 1000).toFixed(1)} µs`;
}

export function renderDiff(d: Omit<DiffResult, 'replay'>, maxGroups: number): string {
  const L: string[] = [];
  L.push(`trace   ${d.trace}`);
  L.push(`base    ${d.base.config.name} (${d.base.config.arch})${d.base.fidelity.compared ? `  fidelity vs recording: ${d.base.fidelity.matched ? 'matched' : `${d.base.fidelity.equal}/${d.base.fidelity.compared}`}` : ''}`);
  L.push(`with    ${d.with.config.name} (${d.with.config.arch})${d.with.fidelity.compared ? `  fidelity vs recording: ${d.with.fidelity.matched ? 'matched' : `${d.with.fidelity.equal}/${d.with.fidelity.compared}`}` : ''}`);
  L.push(`series  only in base: ${d.seriesOnlyBase.join(', ') || '-'}; only in with: ${d.seriesOnlyWith.join(', ') || '-'}`);
  L.push('');
  if (!d.differ) {
    L.push('no difference: both configs emit the same events for every op and tell the same story for every folio.');
    return L.join('\n');
  }
  const f = d.firstDivergence;
  if (f) {
    L.push(`first divergence: op ${f.op} (${f.opKind}, line ${f.line}, phase ${f.phase || '-'}); ${d.divergentOps} ops differ in all`);
    L.push(`  cause: ${f.cause.length ? f.cause.join(', ') : 'series differ, but none of their hooks ran here (a trait or an earlier state change)'}`);
    L.push(`  base emitted: ${f.base.join(' | ') || '(nothing)'}`);
    L.push(`  with emitted: ${f.with.join(' | ') || '(nothing)'}`);
    L.push('');
  }
  L.push(`folios whose story differs (${d.folios.reduce((a, g) => a + g.count, 0)}; ${d.foliosSame} tell the same story):`);
  for (const g of d.folios.slice(0, maxGroups)) {
    L.push(`  ${g.count} × ${g.sizeKb} KiB folio (e.g. at ${g.example})`);
    L.push(`      base — ${g.base}`);
    L.push(`      with — ${g.with}`);
  }
  if (d.folios.length > maxGroups) L.push(`  … ${d.folios.length - maxGroups} more groups (--max-groups, or --json)`);
  L.push('');
  L.push('counters                                       base         with        delta');
  for (const c of d.counters.filter((x) => x.delta !== 0 || x.base !== 0)) {
    L.push(`  ${c.name.padEnd(40)} ${String(c.base).padStart(9)} ${String(c.with).padStart(12)} ${(c.delta > 0 ? `+${c.delta}` : String(c.delta)).padStart(12)}`);
  }
  L.push('');
  const flushKeys = [...new Set([...Object.keys(d.base.tlbFlushes), ...Object.keys(d.with.tlbFlushes)])].sort();
  if (flushKeys.length) {
    L.push('tlb_flush (pages:reason)                       base         with');
    for (const k of flushKeys) L.push(`  ${k.padEnd(40)} ${String(d.base.tlbFlushes[k] ?? 0).padStart(9)} ${String(d.with.tlbFlushes[k] ?? 0).padStart(12)}`);
  } else L.push('tlb_flush: none predicted (arm64 has no tlb_flush tracepoint; see cost)');
  L.push('TLB work (cost model counts)');
  for (const k of Object.keys(d.base.tlbWork)) {
    const a = d.base.tlbWork[k] ?? 0;
    const b = d.with.tlbWork[k] ?? 0;
    if (a || b) L.push(`  ${k.padEnd(40)} ${String(a).padStart(9)} ${String(b).padStart(12)}`);
  }
  const orders = [...new Set([...Object.keys(d.base.freesByOrder), ...Object.keys(d.with.freesByOrder)])].sort();
  for (const o of orders) L.push(`  folios freed, ${o.padEnd(26)} ${String(d.base.freesByOrder[o] ?? 0).padStart(9)} ${String(d.with.freesByOrder[o] ?? 0).padStart(12)}`);
  L.push(`  reclaim_pages scanned/reclaimed          ${`${d.base.reclaim.scanned}/${d.base.reclaim.reclaimed}`.padStart(9)} ${`${d.with.reclaim.scanned}/${d.with.reclaim.reclaimed}`.padStart(12)}`);
  L.push('');
  L.push(`violations: base ${d.violations.base}, with ${d.violations.with}`);
  for (const v of d.violations.onlyBase.slice(0, 5)) L.push(`  only in base: ${v.code} at line ${v.at.line}${v.series ? ` [${v.series}]` : ''}: ${v.message}`);
  for (const v of d.violations.onlyWith.slice(0, 5)) L.push(`  only in with: ${v.code} at line ${v.at.line}${v.series ? ` [${v.series}]` : ''}: ${v.message}`);
  L.push('');
  L.push(`cost (${d.base.config.arch} table): base ${us(d.cost.base)}, with ${us(d.cost.with)}: base/with = ${d.cost.ratio.toFixed(2)}×`);
  for (const [p, c] of Object.entries(d.cost.phases)) {
    if (c.base !== c.with) L.push(`  ${p.padEnd(16)} ${us(c.base).padStart(12)} ${us(c.with).padStart(12)}  ${c.ratio ? `${c.ratio.toFixed(2)}×` : ''}`);
  }
  return L.join('\n');
}
