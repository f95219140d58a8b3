/**
 * Every real capture in traces/, replayed under the preset of the kernel that recorded it:
 * the predicted tlb_flush / rss_stat / mm_page_free / mm_vmscan_reclaim_pages of the workload
 * must be the recorded ones, in order, and the counters the capture saved must agree.
 * Expected values come from the trace itself; nothing is typed in here.
 *
 * KNOWN lists the captures the model does not reproduce yet, each with the reason. They run
 * as `it.fails`: the day one starts matching, its test fails and it must move off the list.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../diff/run.js';
import { buildConfig } from '../model/presets.js';
import { presetForRelease } from '../model/series/index.js';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { compareCounterDeltas, readCaptureFacts } from './counters.js';

const KNOWN: Record<string, string> = {
  '6.1.0-56-cloud-amd64/s2-pmd-thp-lazyfree-pageout': '6.1 per-task rss cache: kernel-mode faults on user memory (not traced) also count toward its 64-fault sync',
  '6.1.0-56-cloud-amd64/s4-pmd-thp-redirty': '6.1 per-task rss cache: kernel-mode faults on user memory (not traced) also count toward its 64-fault sync',
  '6.1.0-56-cloud-amd64/s9-deferred-split.pmd-munmap': '6.1 per-task rss cache: kernel-mode faults on user memory (not traced) also count toward its 64-fault sync',
  '6.1.0-56-cloud-amd64/s6-two-threads.4k-spin': '6.1 per-task rss caches of two threads: untraced kernel-mode faults shift their 64-fault syncs',
  '6.12.95+deb12-cloud-amd64/s7-fork-shared.64k': 'fork copies and COW-faults memory that existed before the scenario window',
  '6.18.44-fc-v669/s7-fork-shared.64k': 'fork copies and COW-faults memory that existed before the scenario window',
  '6.12.95+deb12-cloud-amd64/s9-deferred-split.64k-munmap': 'zap_pte_range() broke off for a pending reschedule (the need-resched flag on the first rss_stat, then a switch to ksoftirqd) and flushed rss mid-zap: one rss update recorded as two; timing the model cannot know',
  '6.18.44-fc-v782/s7-fork-shared.64k.rec': 'fork copies and COW-faults memory that existed before the scenario window',
};

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
    const test = known ? it.fails : it;
    test(`${rel} under its kernel's preset${known ? ` — known: ${known}` : ''}`, async () => {
      const facts = readCaptureFacts(file);
      const preset = presetForRelease(facts.release, facts)!;
      expect(preset).toBeDefined();
      const r = await replayTrace(file, [buildConfig(preset.id, 'x86', facts.thp)], { registry: reg, release: reg.matchRelease(facts.release) });
      const run = r.runs[0]!;
      expect(run.fidelity.compared).toBeGreaterThan(0);
      expect(run.fidelity.mismatches).toEqual([]);
      expect(run.fidelity.equal).toBe(run.fidelity.compared);
      expect(run.fidelity.matched).toBe(true);
      expect(run.violations).toEqual([]);
      if (facts.phaseDeltas) expect(compareCounterDeltas(run.phaseCounters, facts.phaseDeltas).mismatches).toEqual([]);
    });
  }
});

describe('streamed comparison', () => {
  // replayTrace keeps each op's predicted events only when someone observes the ops; keeping
  // them must not change the verdict, the counts or the mismatch reports.
  const cases: Array<[string, string | undefined]> = [
    ['6.1.0-56-cloud-amd64/s6-two-threads.4k-spin', undefined],
    ['6.12.95+deb12-cloud-amd64/s9-deferred-split.64k-munmap', undefined],
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
