/**
 * One recording, every layout foliolab reads: the seed benchmark (s1, 64 kB mTHP lazyfree +
 * pageout) recorded once on a 6.18 kernel with tracefs set up as `foliolab record` does, then
 * read out of the same ring buffer as the tracefs `trace` text (trace.txt.gz), with
 * `trace-cmd extract` (trace-v7-zstd.dat, as extracted; trace-v6.dat.gz and trace-v7.dat.gz
 * converted from it by `trace-cmd convert`) and as `trace-cmd report` of that file
 * (report.txt.gz). Replayed under the recording kernel's preset, as `foliolab replay` does,
 * each must give the same workload ops and the same fidelity verdict.
 *
 * What is compared: every op the lifter hands on, in order, without the trace line it was read
 * at (the layouts number lines differently, a .dat has none), and its timestamp; the verdict
 * and the counts of the fidelity report (its mismatch list names trace lines).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../diff/run.js';
import { readCaptureFacts } from '../fidelity/counters.js';
import { DEFAULT_THP } from '../model/config.js';
import type { Op } from '../model/ops.js';
import { buildConfig } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { FormatRegistry } from './index.js';

export const S1_DIR = join(packageRoot, 'fixtures/traces/trace-cmd-s1');

/** An op without where it was read (line numbers differ between layouts; the .dat has none). */
function opKey(op: Op): string {
  const { at, ...rest } = op as Op & { at: { index: number; line: number; tsNs: number } };
  return JSON.stringify({ ...rest, index: at.index });
}

export async function replayUnderPreset(file: string): Promise<{ ops: string[]; opTs: number[]; fidelity: Record<string, unknown>; events: number; lost: number }> {
  const facts = readCaptureFacts(file);
  const preset = presetForRelease(facts.release, facts);
  if (!preset) throw new Error(`no preset for ${facts.release}`);
  const config = buildConfig(preset.id, 'x86', facts.thp ?? DEFAULT_THP);
  const registry = FormatRegistry.fromDirectory(grammarsDir);
  const ops: string[] = [];
  const opTs: number[] = [];
  const r = await replayTrace(file, [config], {
    registry,
    release: registry.matchRelease(facts.release),
    observe: (lo) => {
      ops.push(opKey(lo.op));
      opTs.push(lo.op.at.tsNs ?? -1);
    },
  });
  // The verdict and its counts (the mismatches name trace lines, which differ between layouts).
  const fidelity = Object.fromEntries(Object.entries(r.runs[0]!.fidelity).filter(([, v]) => typeof v !== 'object' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))));
  return { ops, opTs, fidelity, events: r.events, lost: r.lostEvents };
}

/**
 * trace-cmd report prints no latency flags: a free done in softirq (an RCU callback) cannot be
 * told from another task's, so the two counts of set-aside frees are compared as one.
 */
function withoutContext(f: Record<string, unknown>): Record<string, unknown> {
  const { softirqFrees, foreignFrees, ...rest } = f;
  return { ...rest, setAsideFrees: Number(softirqFrees) + Number(foreignFrees) };
}

describe('one recording in every layout replays the same', () => {
  it('trace-cmd report text lifts the same ops and gets the same verdict as the tracefs text', async () => {
    const text = await replayUnderPreset(join(S1_DIR, 'trace.txt.gz'));
    const report = await replayUnderPreset(join(S1_DIR, 'report.txt.gz'));
    expect(text.ops.length).toBeGreaterThan(2000);
    expect(text.fidelity).toMatchObject({ equal: text.fidelity.compared });
    expect(text.fidelity.compared).toBeGreaterThan(0);
    expect(report.events).toBe(text.events);
    expect(report.ops.length).toBe(text.ops.length);
    expect(report.ops).toEqual(text.ops);
    // Both print microseconds: the same timestamps.
    expect(report.opTs).toEqual(text.opTs);
    expect(withoutContext(report.fidelity)).toEqual(withoutContext(text.fidelity));
  });

  // The shared real captures (../shared/traces-real, when present) hold both texts of one
  // 6.18 recording for s1 and s2.
  const shared = join(packageRoot, '../shared/traces-real/6.18.44-fc-v669');
  it.skipIf(!existsSync(shared)).each(['s1-mthp64k-lazyfree-pageout', 's2-pmd-thp-lazyfree-pageout'])('shared capture %s: its trace-cmd report replays as its tracefs text', async (dir) => {
    const text = await replayUnderPreset(join(shared, dir, 'trace.txt.gz'));
    const report = await replayUnderPreset(join(shared, dir, 'trace-cmd-report.txt.gz'));
    expect(text.ops.length).toBeGreaterThan(100);
    expect(report.ops).toEqual(text.ops);
    expect(withoutContext(report.fidelity)).toEqual(withoutContext(text.fidelity));
  });

  it.each(['trace-v6.dat.gz', 'trace-v7.dat.gz', 'trace-v7-zstd.dat'])('%s lifts the same ops and gets the same verdict as the tracefs text', async (name) => {
    const text = await replayUnderPreset(join(S1_DIR, 'trace.txt.gz'));
    const dat = await replayUnderPreset(join(S1_DIR, name));
    expect(dat.events).toBe(text.events);
    expect(dat.ops).toEqual(text.ops);
    // The text's microseconds are the .dat's nanoseconds rounded (kernel ns2usecs()).
    expect(dat.opTs.map((t) => Math.round(t / 1000) * 1000)).toEqual(text.opTs);
    expect(dat.fidelity).toEqual(text.fidelity);
    expect(dat.lost).toBe(0);
  });
});
