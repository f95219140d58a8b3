/**
 * The model on the seed microbenchmark, the straddling-folio scenario, and the PMD cases —
 * every expected figure is derived from the trace or from the model's own state, not typed in.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../diff/run.js';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { buildConfig } from './presets.js';
import type { Emission } from './emit.js';
import { emissionKey } from '../fidelity/compare.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const T = (p: string): string => join(packageRoot, 'traces', p);
const S1 = T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');
const OOB = T('scenarios/straddle-oob.trace');

async function run(trace: string, specs: string[], arch: 'x86' | 'arm64' = 'x86') {
  const perOp: Array<{ phase: string; emitted: Emission[][] }> = [];
  const r = await replayTrace(trace, specs.map((s) => buildConfig(s, arch)), {
    registry: reg,
    observe: (lo, per) => perOp.push({ phase: lo.phase, emitted: per.map((p) => p.emitted) }),
  });
  const emitted = (i: number, phase: string) => perOp.filter((o) => o.phase === phase).flatMap((o) => o.emitted[i]!);
  return { r, emitted };
}

describe('seed microbenchmark (128 MiB of 64 KiB lazyfree folios, MADV_PAGEOUT)', () => {
  it('without batched unmap: per-page unmap, every folio queued for deferred split; with it: one 16-page flush per folio', async () => {
    const { r, emitted } = await run(S1, ['linux-6.12', 'linux-6.18']);
    const [old, neu] = r.runs;
    const folios = emitted(1, 'pageout').filter((e) => e.ev === 'mm_page_free' && e.order === 4).length;
    expect(folios).toBeGreaterThan(0);
    // The same folios are reclaimed under both configs.
    expect(emitted(0, 'pageout').filter((e) => e.ev === 'mm_page_free' && e.order === 4).length).toBe(folios);
    expect(old!.counters['64kB/split_deferred']).toBe(folios);
    expect(neu!.counters['64kB/split_deferred'] ?? 0).toBe(0);
    const flushes = (i: number) => emitted(i, 'pageout').filter((e): e is Extract<Emission, { ev: 'tlb_flush' }> => e.ev === 'tlb_flush');
    expect(flushes(0).every((f) => f.pages === 1 && f.reason === 3)).toBe(true);
    expect(flushes(0)).toHaveLength(folios * 16);
    expect(flushes(1).every((f) => f.pages === 16 && f.reason === 3)).toBe(true);
    expect(flushes(1)).toHaveLength(folios);
    // rss: one update per page vs one per folio, the same total.
    const rss = (i: number) => emitted(i, 'pageout').filter((e) => e.ev === 'rss_stat');
    expect(rss(0)).toHaveLength(folios * 16);
    expect(rss(1)).toHaveLength(folios);
    // The 6.18 prediction is the recording.
    expect(neu!.fidelity.matched).toBe(true);
    expect(neu!.fidelity.compared).toBe(neu!.fidelity.equal);
  });

  it('on arm64 there is no tlb_flush tracepoint; batching shows as range TLBIs, and costs less', async () => {
    const { r } = await run(S1, ['linux-6.12', 'linux-6.18'], 'arm64');
    expect(r.runs[0]!.emitted.tlb_flush ?? 0).toBe(0);
    expect(r.runs[1]!.cost.counts.rangeTlbis).toBeGreaterThan(0);
    expect(r.runs[1]!.phaseCost.pageout!).toBeLessThan(r.runs[0]!.phaseCost.pageout!);
  });
});

describe('a lazyfree 64 KiB folio straddling two page tables (traces/scenarios/straddle-oob.trace)', () => {
  it('batched unmap v4 reads past the page table; the fix and linux-6.18 do not', async () => {
    const { r, emitted } = await run(OOB, ['batched-unmap@v4-3', 'batched-unmap@v4-3,oob-fix@v4', 'linux-6.18']);
    const [v4, fixed, l618] = r.runs;
    expect(v4!.violations.map((v) => [v.code, v.series])).toEqual([['pte_access_within_table', 'batched-unmap@v4-3']]);
    expect(v4!.violations[0]!.message).toMatch(/index 512/);
    expect(fixed!.violations).toEqual([]);
    expect(l618!.violations).toEqual([]);
    const flushPages = (i: number) => emitted(i, 'pageout').filter((e) => e.ev === 'tlb_flush').map((e) => (e as { pages: number }).pages);
    // v4: the out-of-table slot does not match, the batch fails: page by page.
    expect(flushPages(0)).toEqual(new Array(16).fill(1));
    // Fixed: one batch per page table.
    expect(flushPages(1)).toEqual([1, 15]);
    expect(flushPages(2)).toEqual([1, 15]);
  });
});

describe('PMD-mapped lazyfree THPs', () => {
  const S2 = T('6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz');
  it('linux-6.1 splits every PMD and unmaps 512 PTEs; linux-6.12 discards each THP whole (Lance Yang v6)', async () => {
    const { r, emitted } = await run(S2, ['linux-6.1', 'linux-6.12']);
    const thps = emitted(1, 'pageout').filter((e) => e.ev === 'mm_page_free' && e.order === 9).length;
    expect(thps).toBeGreaterThan(0);
    expect(r.runs[0]!.counters.thp_split_pmd).toBe(thps);
    expect(r.runs[1]!.counters.thp_split_pmd ?? 0).toBe(0);
    expect(emitted(0, 'pageout').filter((e) => e.ev === 'tlb_flush' && e.pages === 1)).toHaveLength(thps * 512);
    expect(emitted(1, 'pageout').filter((e) => e.ev === 'tlb_flush')).toHaveLength(thps);
    expect(r.runs[1]!.fidelity.matched).toBe(true);
  });

  it('redirtied THPs: 6.12 splits then fails; upstream 6.18 (4/4) leaves them PMD-mapped; the fc build splits', async () => {
    const S4 = T('6.18.44-fc-v669/s4-pmd-thp-redirty/trace.txt.gz');
    const { r } = await run(S4, ['linux-6.12', 'linux-6.18', 'linux-6.18-fc']);
    const [l612, l618, fc] = r.runs;
    const redirtied = fc!.counters.thp_split_pmd! - (l612!.counters.thp_split_pmd ?? 0);
    expect(l612!.counters.thp_split_pmd).toBeGreaterThan(0);
    expect(l618!.counters.thp_split_pmd ?? 0).toBe(0);
    expect(redirtied).toBeGreaterThan(0);
    expect(fc!.fidelity.matched).toBe(true);
    expect(l618!.fidelity.matched).toBe(false);
  });

  it('Lance Yang v2 leaves the discarded PMD in the TLB: a stale-TLB violation at free', async () => {
    const S2b = T('6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz');
    const { r } = await run(S2b, ['6.12 ttu-sync@final lazyfree-thp@v2', 'linux-6.12']);
    expect(r.runs[0]!.violations.some((v) => v.code === 'no_stale_tlb_for_freed_page' && v.series === undefined)).toBe(true);
    expect(r.runs[1]!.violations).toEqual([]);
  });
});

describe('config specs', () => {
  it('removing a series removes the fixes that patch it', () => {
    expect(buildConfig('linux-6.18 -batched-unmap').series).toEqual(['ttu-sync@final', 'lazyfree-thp@v6']);
    expect(buildConfig('linux-6.12 +split-queue-fbatch').series).toContain('split-queue-fbatch@v6');
    expect(() => buildConfig('linux-6.18 +no-such-series')).toThrow(/unknown series/);
  });
});

describe('remote TLB flushes by hypercall (fc-pv-remote-flush)', () => {
  it('the sender still traces `remote IPI send`; the CPU running the other thread traces nothing', async () => {
    const s6 = T('6.18.44-fc-v669/s6-two-threads.64k-spin/trace.txt.gz');
    const { r, emitted } = await run(s6, ['linux-6.18-fc', 'linux-6.18-fc-pvm']);
    const all = (i: number) => ['lazyfree', 'pageout'].flatMap((p) => emitted(i, p)).filter((e): e is Extract<Emission, { ev: 'tlb_flush' }> => e.ev === 'tlb_flush');
    const by = (i: number, reason: number) => all(i).filter((f) => f.reason === reason).length;
    // v669 took IPIs: the helper's CPU flushes (`remote shootdown`, 1) for each send (4).
    expect(by(0, 4)).toBeGreaterThan(0);
    expect(by(0, 1)).toBeGreaterThan(0);
    expect(r.runs[0]!.fidelity.matched).toBe(true);
    // Under the hypercall unit the sends stay, the receipts go, and the local flushes are unchanged.
    expect(by(1, 4)).toBe(by(0, 4));
    expect(by(1, 1)).toBe(0);
    expect(by(1, 3) + by(1, 2)).toBe(by(0, 3) + by(0, 2));
  });
});

describe('MADV_PAGEOUT of swap-backed 64 KiB folios with no swap (s5 64k-whole on 6.18.44-fc-v782)', () => {
  it('a split folio counts once in nr_scanned (activate_locked_split): every reclaim_pages event as recorded', async () => {
    const trace = T('6.18.44-fc-v782/s5-partial-free.64k-whole.rec/trace.txt.gz');
    const rec: string[] = [];
    const pred: string[] = [];
    await replayTrace(trace, [buildConfig('linux-6.18-fc-pvm', 'x86')], {
      registry: reg,
      observe: (lo, per) => {
        for (const r of lo.recorded) if (r.ev === 'mm_vmscan_reclaim_pages') rec.push(r.key);
        for (const e of per[0]!.emitted) if (e.ev === 'mm_vmscan_reclaim_pages') pred.push(emissionKey(e)!);
      },
    });
    expect(rec.length).toBeGreaterThan(0);
    expect(pred).toEqual(rec);
  });
});

describe('reclaim puts folios back through the per-CPU lru_add batch', () => {
  // MADV_PAGEOUT of swap-backed 64 KiB folios with no swap: each is split and its pieces are
  // activated and put back with folio_add_lru() — into a batch of 31 that holds a reference
  // until it drains. What is left in it at munmap is not freed on 6.18, whose zap no longer
  // drains the batch first; 6.12's does, and frees them with the rest.
  const S5 = T('6.18.44-fc-v782/s5-partial-free.64k-whole.rec/trace.txt.gz');
  it('6.18 leaves the last pieces in the batch unfreed at munmap; 6.12 drains and frees them', async () => {
    const { r, emitted } = await run(S5, ['linux-6.18', 'linux-6.12']);
    const [l618, l612] = r.engines;
    const held = [...l618!.k.lruBatches.values()].flatMap((b) => b.add);
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(l618!.k.traits.folioBatch);
    // Each is a piece of a split folio, unmapped, kept alive by the batch's reference alone.
    for (const f of held) {
      expect(f.order).toBe(0);
      expect(f.large_mapcount).toBe(0);
      expect(f.refcount).toBe(1);
      expect(f.freed).toBe(false);
    }
    const freed = (i: number) => new Set(emitted(i, 'munmap').filter((e) => e.ev === 'mm_page_free').map((e) => (e as { pfn: number }).pfn));
    const f618 = freed(0);
    const f612 = freed(1);
    for (const f of held) {
      expect(f618.has(f.pfn)).toBe(false);
      expect(f612.has(f.pfn)).toBe(true);
    }
    expect([...l612!.k.lruBatches.values()].flatMap((b) => b.add)).toEqual([]);
    // The recording agrees with 6.18 (the capture's own preset reproduces it whole: fidelity.test.ts).
    expect(r.runs[0]!.fidelity.mismatches).toEqual([]);
  });
});

describe('6.1 drains the lru_add batch before a zap (zap_page_range_single, unmap_region)', () => {
  // Two threads fault 4 KiB pages; the helper's last faults wait in its CPU's batch of 15 until
  // its MADV_DONTNEED drains it, so the main thread's munmap frees them with the rest.
  const S6 = T('6.1.0-56-cloud-amd64/s6-two-threads.4k-spin/trace.txt.gz');
  it("the helper's MADV_DONTNEED drains its CPU's batch; every recorded free of the workload is predicted", async () => {
    let engines: import('./engine.js').Engine[] = [];
    // After each of the helper thread's faults, and after each MADV_DONTNEED: its CPU's batch.
    const heldAfterFault: number[] = [];
    const heldAfterDontneed: number[] = [];
    const r = await replayTrace(S6, [buildConfig('linux-6.1')], {
      registry: reg,
      onEngines: (e) => { engines = e; },
      observe: (lo) => {
        const held = () => engines[0]!.k.batches(lo.op.cpu).add.length;
        if (lo.op.kind === 'fault' && lo.op.tid !== lo.op.tgid) heldAfterFault.push(held());
        if (lo.op.kind === 'madvise' && lo.op.advice === 4) heldAfterDontneed.push(held());
      },
    });
    expect(heldAfterFault.at(-1)).toBeGreaterThan(0);
    expect(heldAfterDontneed.length).toBeGreaterThan(0);
    expect(heldAfterDontneed.every((n) => n === 0)).toBe(true);
    const frees = r.runs[0]!.fidelity.byKind.mm_page_free!;
    expect(frees.predicted).toBe(frees.recorded);
  });
});
