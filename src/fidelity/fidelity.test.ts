/**
 * Every real capture in traces/, replayed under the preset of the kernel that recorded it:
 * the predicted tlb_flush / rss_stat / mm_page_free / mm_vmscan_reclaim_pages of the workload
 * must be the recorded ones, in order, and the counters the capture saved must agree.
 * Expected values come from the trace itself; nothing is typed in here.
 *
 * KNOWN lists the captures the model does not reproduce yet, each with the reason and its first
 * divergence: the day one starts matching, or differs elsewhere first, its test fails.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../diff/run.js';
import { buildConfig } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { compareCounterDeltas, readCaptureFacts } from './counters.js';
import { recordedAtDivergence } from './compare.js';

/**
 * The captures the model does not reproduce yet (src/fidelity/known-divergences.json, kept by
 * `node scripts/known-divergences.mjs`): why, the verdict, and where each first differs — the
 * op's trace line and kind and the recorded event there, and the counter deltas that differ —
 * so that a crash, a new divergence earlier on, a different mismatch or the day it matches
 * turns its test red.
 */
interface Known {
  why: string;
  verdict: 'mismatched' | 'partial' | 'unchecked' | 'matched';
  line?: number;
  opKind?: string;
  /** The first differing recorded event, as the mismatch report prints it (without its line); null: none recorded there. */
  recorded?: string | null;
  counters?: string[];
}

const KNOWN = JSON.parse(readFileSync(join(packageRoot, 'src/fidelity/known-divergences.json'), 'utf8')) as Record<string, Known>;

function traces(): string[] {
  const root = join(packageRoot, 'traces');
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === 'trace.txt.gz' && existsSync(join(d, 'settings.txt'))) out.push(p);
    }
  };
  walk(root);
  return out;
}

const reg = FormatRegistry.fromDirectory(grammarsDir);

describe('fidelity against real kernels', () => {
  const all = traces();
  it('covers captures of three kernels', () => {
    expect(all.length).toBeGreaterThanOrEqual(20);
  });
  for (const file of all) {
    const rel = relative(join(packageRoot, 'traces'), file).replace(/\/trace\.txt\.gz$/, '');
    const known = KNOWN[rel];
    it(`${rel} under its kernel's preset${known ? ` — known to differ: ${known.why}` : ''}`, async () => {
      const facts = readCaptureFacts(file);
      const preset = presetForRelease(facts.release, facts)!;
      expect(preset).toBeDefined();
      const r = await replayTrace(file, [buildConfig(preset.id, 'x86', facts.thp)], { registry: reg, release: reg.matchRelease(facts.release) });
      const run = r.runs[0]!;
      const cc = facts.phaseDeltas ? compareCounterDeltas(run.phaseCounters, facts.phaseDeltas, facts.thp) : undefined;
      if (known) {
        // Still differs, and first where it is known to.
        expect(run.fidelity.verdict).toBe(known.verdict);
        const m = run.fidelity.mismatches[0];
        if (known.line !== undefined) {
          expect(m).toBeDefined();
          expect({ line: m!.line, opKind: m!.opKind, recorded: recordedAtDivergence(m!) }).toEqual({ line: known.line, opKind: known.opKind, recorded: known.recorded });
        } else expect(m).toBeUndefined();
        expect(cc && !cc.matched ? cc.mismatches.map((x) => `[${x.phase}] ${x.counter}: capture ${x.recorded}, model ${x.model}`).slice(0, 3) : undefined).toEqual(known.counters);
        return;
      }
      expect(run.fidelity.compared).toBeGreaterThan(0);
      expect(run.violations).toEqual([]);
      expect(run.fidelity.mismatches).toEqual([]);
      expect(run.fidelity.equal).toBe(run.fidelity.compared);
      expect(run.fidelity.reasons).toEqual([]);
      expect(run.fidelity.verdict).toBe('matched');
      if (cc) expect(cc.mismatches).toEqual([]);
    });
  }
});

describe('streamed comparison', () => {
  // replayTrace keeps each op's predicted events only when someone observes the ops; keeping
  // them must not change the verdict, the counts or the mismatch reports.
  const cases: Array<[string, string | undefined]> = [
    ['6.1.0-56-cloud-amd64/s6-two-threads.4k-spin', undefined],
    ['6.12.95+deb12-cloud-amd64/s14-fork-cow.64k-child-write', undefined],
    ['6.12.95+deb12-cloud-amd64/s7-fork-shared.64k', undefined],
    ['6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout', 'linux-6.12'],
  ];
  for (const [rel, other] of cases) {
    it(`${rel}${other ? ` under ${other}` : ''}: streamed and kept give the same report`, async () => {
      const file = join(packageRoot, 'traces', rel, 'trace.txt.gz');
      const facts = readCaptureFacts(file);
      const cfg = buildConfig(other ?? presetForRelease(facts.release, facts)!.id, 'x86', facts.thp);
      const opts = { registry: reg, release: reg.matchRelease(facts.release) };
      const streamed = await replayTrace(file, [cfg], opts);
      let observed = 0;
      const kept = await replayTrace(file, [cfg], { ...opts, observe: () => { observed++; } });
      expect(observed).toBe(kept.ops);
      const [a, b] = [streamed.runs[0]!, kept.runs[0]!];
      expect(b.fidelity.matched).toBe(false);
      expect(a.fidelity).toEqual(b.fidelity);
      expect(a.emitted).toEqual(b.emitted);
      expect(a.counters).toEqual(b.counters);
    });
  }
});
