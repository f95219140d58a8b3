/**
 * The replay path on mutated traces: `replayTrace` (what `foliolab replay` runs) on damaged
 * copies of a small real capture. Invariants: no exception escapes, and a result that differs
 * from the clean replay's comes with a new diagnostic of the parse or a verdict other than
 * `matched` (a damaged trace must never replay as a clean match of something else).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { replayTrace } from '../diff/run.js';
import { buildConfig } from '../model/presets.js';
import type { FormatRegistry } from '../trace/index.js';
import { mutate, TEXT_MUTATIONS, type CorpusEntry, type MutationKind } from './trace.js';

export type ReplayOutcome = 'reproduced' | 'diagnosed' | 'silent' | 'crash';
export const REPLAY_OUTCOMES: readonly ReplayOutcome[] = ['reproduced', 'diagnosed', 'silent', 'crash'];

/** A small capture whose clean replay matches (every predicted event recorded). */
export const REPLAY_SOURCE = 'traces/6.18.44-fc-v782/s8-mremap-straddle.aligned.rec/trace.txt.gz';

interface Summary {
  text: string;
  verdicts: string[];
  counts: Record<string, number>;
}

export class ReplayFuzz {
  private readonly dir: string;
  private readonly file: string;
  readonly entry: CorpusEntry;
  clean: Summary | undefined;

  constructor(
    root: string,
    private readonly registry: FormatRegistry,
    source = REPLAY_SOURCE,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'foliolab-fuzz-replay-'));
    this.file = join(this.dir, 'trace.txt');
    const settings = join(root, dirname(source), 'settings.txt');
    if (existsSync(settings)) copyFileSync(settings, join(this.dir, 'settings.txt'));
    const bytes = gunzipSync(readFileSync(join(root, source)));
    this.entry = { name: source, reader: 'tracefs', bytes, clean: { events: [], diagnostics: [], counts: {} } };
  }

  private async run(bytes: Buffer): Promise<Summary> {
    writeFileSync(this.file, bytes);
    const r = await replayTrace(this.file, [buildConfig('linux-6.18-fc-pvm', 'x86')], { registry: this.registry });
    const runs = r.runs.map((x) => ({ counters: x.counters, emitted: x.emitted, violations: x.violationCount, verdict: x.fidelity.verdict }));
    return { text: JSON.stringify({ ops: r.ops, events: r.workloadEvents, runs }), verdicts: runs.map((x) => x.verdict), counts: r.diagnosticCounts };
  }

  async init(): Promise<Summary> {
    this.clean = await this.run(this.entry.bytes);
    return this.clean;
  }

  /** Replay one mutation of the source; undefined when the kind does not apply. */
  async check(kind: MutationKind, seed: number): Promise<{ outcome: ReplayOutcome; error?: unknown } | undefined> {
    const clean = this.clean ?? (await this.init());
    const m = mutate(this.entry, kind, seed);
    if (!m) return undefined;
    let s: Summary;
    try {
      s = await this.run(m);
    } catch (error) {
      return { outcome: 'crash', error };
    }
    if (s.text === clean.text) return { outcome: 'reproduced' };
    const added = Object.entries(s.counts).some(([c, n]) => n > (clean.counts[c] ?? 0));
    if (added || s.verdicts.some((v) => v !== 'matched')) return { outcome: 'diagnosed' };
    return { outcome: 'silent' };
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const REPLAY_MUTATIONS: readonly MutationKind[] = TEXT_MUTATIONS;
