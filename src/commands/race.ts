import { Args, Command, Flags } from '@oclif/core';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../model/presets.js';
import { packageRoot } from '../paths.js';
import { replaySchedule } from '../race/explore.js';
import { checkText, resultText, sideBySide } from '../race/format.js';
import { litmusFiles } from '../race/lkmm.js';
import { checkScenario, factory, loadScenario, runScenario, scenarioFiles, type CheckRow, type RaceResult } from '../race/run.js';
import type { Scenario } from '../race/scenario.js';
import { WITNESS_KIND, type WitnessFile } from '../race/witness.js';
import { buildConfig } from '../model/presets.js';
import { EXIT } from './shared.js';

export const racesDir = join(packageRoot, 'races');


export default class Race extends Command {
  static override summary = 'Explore every interleaving of racing kernel paths in a scenario: herd7-style verdicts per invariant and config, with minimal witnesses.';

  static override description = `A scenario (races/*.race) sets up a few folios and runs threads of kernel paths (reclaim's try_to_unmap_one walk, the deferred split shrinker, split, a partial munmap) and actors traces never show (a PTL-held break-before-make of one PTE, a speculative reference, a GUP-fast pin with a DMA write, the shrinker's count). Every interleaving of their steps is explored — stateless DPOR with sleep sets, exhaustive by default; --bound N explores every schedule with at most N preemptions instead, and then every verdict is bounded. For each invariant: Sometimes / Never / Always with the number of executions where it failed (Positive) and held (Negative), and for a failure a minimal witness (fewest preemptions, then fewest steps) whose steps show CPU, kernel function, locks held and the state diff, with the racing pair named.

Configs as for \`replay --kernel\` (a preset, ± series, mutants such as +mutant-dirty-before-ref); without --config, the configs the scenario file expects results for. --check runs every scenario file's expectations and vacuity partners and exits 1 if any verdict changed; --list lists the scenarios. --witness FILE saves the witnesses; --show FILE prints a saved witness, and with --config the same schedule under that config beside it. --lkmm DIR writes R4's two-thread core as LKMM litmus tests for herd7.`;

  static override examples = [
    '<%= config.bin %> race R1',
    '<%= config.bin %> race R1 --config "linux-6.12 -ttu-sync" --witness r1.json',
    '<%= config.bin %> race --show r1.json --config linux-6.12',
    '<%= config.bin %> race --check',
    '<%= config.bin %> race R2 --bound 2 --json',
  ];

  static override enableJsonFlag = true;

  static override args = { scenario: Args.string({ description: 'Scenario id (R1, R1b, …) or a .race file.' }) };

  static override flags = {
    config: Flags.string({ description: 'Config to explore (repeatable); default: those the scenario file expects results for.', multiple: true }),
    bound: Flags.integer({ description: 'Explore every schedule with at most N preemptions (no reduction); verdicts are then bounded.', min: 0 }),
    witness: Flags.string({ description: 'Save the witnesses of this run to a JSON file.' }),
    'no-witness': Flags.boolean({ description: 'Verdicts only (no witness search).' }),
    list: Flags.boolean({ description: 'List the scenarios with their ids.' }),
    check: Flags.boolean({ description: "Compare every scenario file's results (and vacuity partners) with its expectations; exit 1 on a change." }),
    show: Flags.string({ description: 'Print a saved witness; with --config, the same schedule under that config beside it.' }),
    lkmm: Flags.string({ description: "Write R4's two-thread core as LKMM C litmus tests (with and without reclaim's full barrier) into this directory." }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(Race);
    if (flags.lkmm) {
      const written: string[] = [];
      for (const f of litmusFiles()) {
        const p = join(flags.lkmm, f.name);
        writeFileSync(p, f.text);
        written.push(p);
      }
      if (!this.jsonEnabled()) for (const p of written) this.log(`wrote ${p}`);
      return { written };
    }
    if (flags.list) {
      const list = scenarioFiles(racesDir).map((file) => {
        const p = loadScenario(file);
        return p.value ? { id: p.value.id, title: p.value.title, file, threads: p.value.threads.map((t) => t.name), invariants: p.value.invariants, configs: p.value.expects.map((e) => e.config) } : { id: '?', title: p.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`).join('; '), file, threads: [], invariants: [], configs: [] };
      });
      if (!this.jsonEnabled()) for (const s of list) this.log(`${s.id.padEnd(4)} ${s.title}\n     ${s.file.replace(`${packageRoot}/`, '')}; invariants: ${s.invariants.join(', ')}; configs: ${s.configs.map((c) => `"${c}"`).join(', ')}`);
      return list;
    }
    if (flags.check) {
      const rows: CheckRow[] = [];
      const errors: string[] = [];
      const files = args.scenario ? [this.resolve(args.scenario)] : scenarioFiles(racesDir);
      for (const file of files) {
        const p = loadScenario(file);
        if (!p.value) { errors.push(...p.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`)); continue; }
        rows.push(...checkScenario(p.value));
      }
      if (!this.jsonEnabled()) {
        for (const e of errors) this.logToStderr(e);
        this.log(checkText(rows));
      }
      const ok = errors.length === 0 && rows.every((r) => r.ok);
      if (!ok) {
        if (this.jsonEnabled()) this.logJson({ ok, rows, errors });
        this.exit(EXIT.input);
      }
      return { ok, rows, errors };
    }
    if (flags.show) return this.show(flags.show, flags.config?.[0]);
    if (!args.scenario) this.error('name a scenario (an id such as R1, or a .race file), or use --list / --check', { exit: EXIT.usage });
    const sc = this.scenario(args.scenario);
    const configs = flags.config?.length ? flags.config : sc.expects.map((e) => e.config);
    if (configs.length === 0) this.error(`${sc.id} expects no results: give --config`, { exit: EXIT.usage });
    const out: RaceResult[] = [];
    for (const spec of configs) {
      let r: RaceResult;
      try {
        r = runScenario(sc, spec, { bound: flags.bound, noWitness: flags['no-witness'] });
      } catch (e) {
        if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
        throw e;
      }
      out.push(r);
      if (!this.jsonEnabled()) this.log(`${resultText(r, sc.title, { witnesses: !flags['no-witness'] })}\n`);
    }
    if (flags.witness) {
      const ws: WitnessFile[] = [];
      for (const r of out) {
        const make = factory(sc, buildConfig(r.config));
        for (const x of r.results) {
          if (!x.witness) continue;
          const { initial } = replaySchedule(make, x.witness.schedule);
          ws.push({ kind: WITNESS_KIND, scenario: sc.id, file: sc.file, config: r.config, invariant: x.invariant, schedule: x.witness.schedule, preemptions: x.witness.preemptions, failure: x.witness.failure, racingPair: x.witness.racingPair, initial, steps: x.witness.steps });
        }
      }
      writeFileSync(flags.witness, `${JSON.stringify({ witnesses: ws }, null, 2)}\n`);
      if (!this.jsonEnabled()) this.log(`saved ${ws.length} witness${ws.length === 1 ? '' : 'es'} to ${flags.witness}`);
    }
    return out.map((r) => ({ scenario: r.scenario, config: r.config, classes: r.classes, sleepBlocked: r.sleepBlocked, results: r.results }));
  }

  private resolve(idOrFile: string): string {
    if (existsSync(idOrFile)) return idOrFile;
    const p = join(racesDir, `${idOrFile}.race`);
    if (existsSync(p)) return p;
    this.error(`no scenario \`${idOrFile}\`: give an id listed by \`foliolab race --list\` or a .race file`, { exit: EXIT.usage });
  }

  private scenario(idOrFile: string): Scenario {
    const p = loadScenario(this.resolve(idOrFile));
    if (!p.value) {
      for (const e of p.errors) this.logToStderr(`${e.file}:${e.line}:${e.col}: ${e.message}`);
      this.exit(EXIT.input);
    }
    return p.value!;
  }

  private show(path: string, other: string | undefined): unknown {
    let doc: { witnesses?: WitnessFile[] };
    try {
      doc = JSON.parse(readFileSync(path, 'utf8')) as { witnesses?: WitnessFile[] };
    } catch (e) {
      this.error(`cannot read witness file ${path}: ${e instanceof Error ? e.message : String(e)}`, { exit: EXIT.input });
    }
    const ws = doc.witnesses ?? [];
    if (ws.length === 0) this.error(`${path} holds no witness (write one with \`foliolab race <id> --witness FILE\`)`, { exit: EXIT.input });
    const shown = [];
    for (const w of ws) {
      const sc = this.scenario(existsSync(w.file) ? w.file : w.scenario);
      const mine = replaySchedule(factory(sc, buildConfig(w.config)), w.schedule);
      let theirs: ReturnType<typeof replaySchedule> | undefined;
      if (other) theirs = replaySchedule(factory(sc, buildConfig(other)), w.schedule);
      if (!this.jsonEnabled()) {
        this.log(`${w.scenario} ${w.invariant} under ${w.config}: ${w.failure} (${w.preemptions} preemption${w.preemptions === 1 ? '' : 's'})`);
        if (w.racingPair) this.log(`racing pair: ${w.racingPair[0]}\n           ↔ ${w.racingPair[1]}`);
        this.log(theirs ? sideBySide({ config: w.config, steps: mine.steps }, { config: other!, steps: theirs.steps }) : mine.steps.map((s) => [`${s.n}. ${s.thread} cpu${s.cpu} ${s.fn} [${s.locks.join(', ')}]: ${s.what}`, ...s.diff.map((d) => `     ${d}`)].join('\n')).join('\n'));
        this.log('');
      }
      shown.push({ ...w, steps: mine.steps, other: theirs ? { config: other, steps: theirs.steps } : undefined });
    }
    return shown;
  }
}
