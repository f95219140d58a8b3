import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../model/presets.js';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { diffTrace } from './diff.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const T = (p: string): string => join(packageRoot, 'traces', p);

describe('diff', () => {
  it('seed benchmark, linux-6.12 vs linux-6.18: batched unmap is the cause; every folio goes from per-page to batched', async () => {
    const d = await diffTrace(T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'), buildConfig('linux-6.12'), buildConfig('linux-6.18'), { registry: reg });
    expect(d.differ).toBe(true);
    expect(d.firstDivergence!.cause).toContain('batched-unmap@v4-3');
    expect(d.firstDivergence!.phase).toBe('pageout');
    const folios = d.with.freesByOrder['order 4']!;
    expect(folios).toBeGreaterThan(0);
    expect(d.folios).toHaveLength(1);
    expect(d.folios[0]!.count).toBe(folios);
    expect(d.folios[0]!.base).toMatch(/single-PTE unmap \(flushed now\) ×15/);
    expect(d.folios[0]!.base).toMatch(/queued for deferred split/);
    expect(d.folios[0]!.with).toMatch(/batched unmap of 16 PTEs \(one 16-page flush\)/);
    const sd = d.counters.find((c) => c.name === '64kB/split_deferred')!;
    expect([sd.base, sd.with]).toEqual([folios, 0]);
    expect(d.base.tlbFlushes['pages:1 reason:3']).toBe(folios * 16);
    expect(d.with.tlbFlushes['pages:16 reason:3']).toBe(folios);
    expect(d.cost.ratio).toBeGreaterThan(1);
  });

  it('a pfn the trace reuses starts a new folio story; ended stories are grouped as they end', async () => {
    // The same capture twice in a row (timestamps shifted): the second run gets the same pfns.
    const text = gunzipSync(readFileSync(T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'))).toString('utf8');
    const lines = text.split('\n');
    const head = lines.filter((l) => l.startsWith('#'));
    const body = lines.filter((l) => l && !l.startsWith('#'));
    const shifted = body.map((l) => l.replace(/ (\d+)\.(\d{6}): /, (_m, sec: string, frac: string) => ` ${Number(sec) + 100}.${frac}: `));
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-diff-'));
    try {
      const file = join(dir, 'twice.trace');
      writeFileSync(file, [...head, ...body, ...shifted, ''].join('\n'));
      const once = await diffTrace(T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'), buildConfig('linux-6.12'), buildConfig('linux-6.18'), { registry: reg });
      const d = await diffTrace(file, buildConfig('linux-6.12'), buildConfig('linux-6.18'), { registry: reg });
      expect(d.folios).toHaveLength(1);
      expect(d.folios[0]!.count).toBe(2 * once.folios[0]!.count);
      expect(d.folios[0]!.base).toBe(once.folios[0]!.base);
      expect(d.folios[0]!.with).toBe(once.folios[0]!.with);
      // Every folio of both runs was freed, and every ended story was paired as it ended.
      expect(d.replay.engines.map((e) => [...e.k.liveStories()].length)).toEqual([0, 0]);
      expect(d.replay.engines.map((e) => e.k.endedStories.length)).toEqual([0, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('streamed (the default) and observed (event lists kept per op) give the same diff', async () => {
    const strip = ({ replay: _r, ...d }: Awaited<ReturnType<typeof diffTrace>>) => d;
    for (const [trace, base, withCfg] of [
      ['6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz', 'linux-6.12', 'linux-6.18'],
      ['6.12.95+deb12-cloud-amd64/s4-pmd-thp-redirty/trace.txt.gz', 'linux-6.12', 'linux-6.18'],
      ['6.1.0-56-cloud-amd64/s6-two-threads.4k-spin/trace.txt.gz', 'linux-6.1', 'linux-6.18'],
    ] as const) {
      let observed = 0;
      const streamed = await diffTrace(T(trace), buildConfig(base), buildConfig(withCfg), { registry: reg });
      const kept = await diffTrace(T(trace), buildConfig(base), buildConfig(withCfg), { registry: reg, observe: () => { observed++; } });
      expect(observed).toBe(kept.replay.ops);
      expect(streamed.differ).toBe(true);
      expect(strip(streamed)).toEqual(strip(kept));
    }
  });

  it('on arm64 the difference is range TLBIs, not tlb_flush events', async () => {
    const d = await diffTrace(T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'), buildConfig('linux-6.12', 'arm64'), buildConfig('linux-6.18', 'arm64'), { registry: reg });
    expect(d.base.tlbFlushes).toEqual({});
    expect(d.with.tlbWork.rangeTlbis).toBeGreaterThan(0);
    expect(d.with.tlbWork.tlbiOps).toBeLessThan(d.base.tlbWork.tlbiOps!);
  });

  it('PMD THPs: linux-6.1 vs linux-6.12 — no PMD split on reclaim of a clean lazyfree THP', async () => {
    const d = await diffTrace(T('6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz'), buildConfig('linux-6.1'), buildConfig('linux-6.12'), { registry: reg });
    const split = d.counters.find((c) => c.name === 'thp_split_pmd')!;
    expect(split.base).toBeGreaterThan(0);
    expect(split.with).toBe(0);
    expect(d.folios[0]!.with).toMatch(/PMD discarded whole/);
    expect(d.folios[0]!.base).toMatch(/PMD split/);
  });

  it('linux-6.18 vs linux-6.18-fc: the host build splits lazyfree PMDs', async () => {
    const d = await diffTrace(T('6.18.44-fc-v669/s2-pmd-thp-lazyfree-pageout/trace.txt.gz'), buildConfig('linux-6.18'), buildConfig('linux-6.18-fc'), { registry: reg });
    expect(d.firstDivergence!.cause).toEqual(['fc-host-pmd-split@observed']);
    expect(d.with.fidelity.matched).toBe(true);
    expect(d.base.fidelity.matched).toBe(false);
  });

  it('the straddling folio: the violation appears under batched-unmap@v4 alone', async () => {
    const d = await diffTrace(T('scenarios/straddle-oob.trace'), buildConfig('batched-unmap@v4-3'), buildConfig('batched-unmap@v4-3,oob-fix@v4'), { registry: reg });
    expect(d.violations.onlyBase.map((v) => v.code)).toEqual(['pte_access_within_table']);
    expect(d.violations.onlyWith).toEqual([]);
    expect(d.firstDivergence!.cause).toEqual(['oob-fix@v4']);
  });

  it('identical configs do not differ', async () => {
    const d = await diffTrace(T('scenarios/straddle-oob.trace'), buildConfig('linux-6.18'), buildConfig('linux-6.18'), { registry: reg });
    expect(d.differ).toBe(false);
    expect(d.firstDivergence).toBeNull();
    expect(d.folios).toEqual([]);
  });
});
