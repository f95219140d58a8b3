import { Args, Command, Flags } from '@oclif/core';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import React from 'react';
import { rerunInspection, startInspection, type Inspection } from '../diff/inspect.js';
import { choosePair, recordedKernel, sameConfig } from '../diff/policy.js';
import { DEFAULT_THP, type Arch, type ModelConfig } from '../model/config.js';
import { buildConfig, ConfigError } from '../model/presets.js';
import { PRESETS } from '../model/series/index.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { loadScenario } from '../race/run.js';
import type { Scenario } from '../race/scenario.js';
import { defaultOther, looksLikeWitnessFile, parseWitnessFile, stepWitness, type SteppedWitness } from '../race/witness.js';
import { witnessPlainText } from '../tui/witness-text.js';
import { racesDir } from './race.js';
import { EXIT, inputProblem, resolveFormats, traceFlags } from './shared.js';

export default class Inspect extends Command {
  static override summary = 'Open a trace in a terminal UI: where two configs part ways, and the folio state behind it.';

  static override description = `The timeline of the trace (every event: time, task, CPU, event, fields; only the visible rows are drawn, so a million events scroll instantly) with the rows where the configs diverge marked (*) and rows with violations (!); an inspector showing, for the op at the cursor, under each config side by side, the VMAs around it, the folio it touched (flags, refcount, mapcounts, LRU, deferred split, pending TLB flush) and its page-table entries before and after the op (the neighbouring table too when the folio straddles one); and a summary of counters, cost, violations and fidelity.

Keys: j/k or arrows, PgUp/PgDn, g/G (the inspector focused: j/k scroll it); n/N next/previous divergence; ]/[ next/previous folio of the op, }/{ next/previous group of folios with the same steps; v next violation; / search (event, address, pfn, task); f filter (event name or process); e predicted events inline; tab switch pane; c choose configs; ? help (the same table drives the keys); q quit. Respects NO_COLOR.

It opens on the first op where the configs part, with one line saying what changed there and which series' hook caused it, and each config's story of a folio through that op (PTEs cleared, flushes with their sizes, deferred-split queueing, splits, frees), the steps that differ marked.

The configs are chosen as \`foliolab diff\` chooses them (the upstream release before the trace's own kernel → the trace's own kernel when neither flag is given); the status line says why. Needs a terminal: with stdout not a TTY it says so and exits 2.

A race witness file (\`foliolab race <id> --witness FILE\`) opens the same way: its schedule step by step (CPU and thread, file@function, locks held, the step's state diff; the racing pair marked ◆, preemptions *), beside the same schedule re-executed under --config (default: a config the scenario file expects the invariant to be Never under). Keys: j/k or arrows, PgUp/PgDn, g/G, r the racing pair, n/N next/previous witness, ? help, q quit. With stdout not a TTY it prints every step as text; --json prints the stepped data.`;

  static override examples = [
    '<%= config.bin %> inspect traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> inspect traces/scenarios/straddle-oob.trace --base batched-unmap@v4-3 --with linux-6.18',
    '<%= config.bin %> inspect r1.json --config linux-6.12',
  ];

  static override enableJsonFlag = true;

  static override args = { trace: Args.string({ description: 'Trace text file (.gz accepted), or a race witness file (`foliolab race --witness`).', required: true }) };
  static override flags = {
    ...traceFlags,
    base: Flags.string({ description: 'Config to compare from (default: the trace\'s own preset).' }),
    with: Flags.string({ description: 'Config to compare to (default: see above).' }),
    arch: Flags.string({ description: 'Arch profile.', options: ['x86', 'arm64'], default: 'x86' }),
    pid: Flags.integer({ description: 'Workload process id.' }),
    comm: Flags.string({ description: 'Workload task name.' }),
    op: Flags.integer({ description: 'Open on this op (as `foliolab diff` numbers ops) instead of the first divergence.' }),
    config: Flags.string({ description: 'A race witness: re-execute its schedule under this config, beside it (default: a config the scenario expects the invariant to be Never under).' }),
  };

  async run(): Promise<unknown> {
    const { args, flags } = await this.parse(Inspect);
    if (isWitnessFile(args.trace)) return this.witness(args.trace, flags.config);
    if (flags.config) this.error('--config is for a race witness file; for a trace give --base and --with', { exit: EXIT.usage });
    if (this.jsonEnabled()) this.error('--json is for a race witness file; for a trace, `foliolab diff --json` prints where the configs part', { exit: EXIT.usage });
    if (!process.stdout.isTTY) {
      this.logToStderr('foliolab inspect needs a terminal: standard output is not a TTY. For text or JSON use `foliolab diff` or `foliolab replay`.');
      this.exit(EXIT.usage);
    }
    const path = args.trace;
    if (path === '-') this.error('foliolab inspect reads its keys from standard input, so the trace cannot come from it: give a trace file', { exit: EXIT.usage });
    const problem = inputProblem(path);
    if (problem) this.error(problem, { exit: EXIT.input });
    const fm = resolveFormats(path, flags);
    const facts = readCaptureFacts(path);
    const arch = flags.arch as Arch;
    const cfg = (spec: string): ModelConfig => {
      try {
        return buildConfig(spec, arch, facts.thp ?? DEFAULT_THP);
      } catch (e) {
        if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
        throw e;
      }
    };
    const policy = choosePair(recordedKernel(facts, fm), { base: flags.base, with: flags.with }, (a, b) => sameConfig(cfg(a), cfg(b)));
    // The screen opens at once on the rows read so far; the status line says how far the reading is.
    const ins: Inspection = startInspection(path, [cfg(policy.base), cfg(policy.with)], { registry: fm.registry, release: fm.release, pid: flags.pid, comm: flags.comm });
    const presets = PRESETS.map((p) => p.id);
    const rerun = (b: string, w: string): Inspection | string => {
      try {
        return rerunInspection(ins, [buildConfig(b, arch, facts.thp ?? DEFAULT_THP), buildConfig(w, arch, facts.thp ?? DEFAULT_THP)]);
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    };
    // ink decides once, when it is first imported, whether it runs under CI (CI or
    // CONTINUOUS_INTEGRATION set) and then draws nothing until exit. This is an interactive
    // program on a TTY (checked above), so those variables must not blank it: drop them before
    // ink loads. Loading ink only here also keeps it out of every other command's start-up.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const { render } = await import('ink');
    const { App } = await import('../tui/app.js');
    const app = render(React.createElement(App, { ins, presets, rerun, pairReason: policy.reason, openOp: flags.op }), { exitOnCtrlC: true, maxFps: 30, incrementalRendering: true, patchConsole: false });
    await app.waitUntilExit();
    return undefined;
  }

  /** A saved race witness: stepped under its config and another; ink on a terminal, text or JSON otherwise. */
  private async witness(path: string, other: string | undefined): Promise<unknown> {
    let ws;
    try {
      ws = parseWitnessFile(readFileSync(path, 'utf8'));
    } catch (e) {
      this.error(`${path}: ${e instanceof Error ? e.message : String(e)}`, { exit: EXIT.input });
    }
    const stepped: SteppedWitness[] = [];
    for (const w of ws) {
      const sc = this.raceScenario(w.file, w.scenario);
      const spec = other ?? defaultOther(sc, w);
      const reason = other !== undefined ? 'given by --config' : spec !== undefined ? `the scenario file expects ${w.invariant} Never there` : undefined;
      try {
        stepped.push(stepWitness(sc, w, spec, reason));
      } catch (e) {
        if (e instanceof ConfigError) this.error(e.message, { exit: EXIT.usage });
        throw e;
      }
    }
    if (this.jsonEnabled()) return { witnesses: stepped };
    if (!process.stdout.isTTY) {
      this.log(stepped.map((sw) => witnessPlainText(sw, process.stdout.columns || 160)).join('\n\n'));
      return undefined;
    }
    // As for a trace: ink must draw live on this terminal whatever CI says.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    const { render } = await import('ink');
    const { WitnessApp } = await import('../tui/witness.js');
    const app = render(React.createElement(WitnessApp, { witnesses: stepped }), { exitOnCtrlC: true, maxFps: 30, incrementalRendering: true, patchConsole: false });
    await app.waitUntilExit();
    return undefined;
  }

  /** The witness's scenario: the file it names, else the scenario of that id in races/. */
  private raceScenario(file: string, id: string): Scenario {
    const path = existsSync(file) ? file : join(racesDir, `${id}.race`);
    if (!existsSync(path)) this.error(`the witness's scenario ${id} is neither at ${file} nor in ${racesDir}`, { exit: EXIT.input });
    const p = loadScenario(path);
    if (!p.value) this.error(p.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`).join('\n'), { exit: EXIT.input });
    return p.value;
  }
}

/** A race witness file rather than a trace: JSON naming its kind near its start (a trace never starts with `{`). */
function isWitnessFile(path: string): boolean {
  if (path === '-' || path.endsWith('.gz') || !existsSync(path)) return false;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return looksLikeWitnessFile(buf.subarray(0, n).toString('utf8'));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
