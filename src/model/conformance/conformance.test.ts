/**
 * The conformance suite: every scenario of scenarios.ts against every preset and every series
 * toggle. The expected maps are written from each series' changelog (its module header) and
 * kernel-model.md (§ numbers below), per the behaviour class the config's series put it in —
 * never read back from the model. A config is reduced to the facts that decide a class (which
 * patches are applied, which release baseline), so one expected map covers every config that
 * the series text says behaves alike.
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../presets.js';
import { PRESETS } from '../series/index.js';
import { runScenario, SCENARIOS, type Scenario } from './scenarios.js';

/** Every preset, and each series switched off (or another version switched on) where it has an effect. */
const CONFIGS = [
  ...PRESETS.map((p) => p.id),
  'linux-6.12 -lazyfree-thp',
  'linux-6.12 -lazyfree-thp +lazyfree-thp@v2',
  'linux-6.12 -ttu-sync',
  'linux-6.12 -ttu-sync +ttu-sync@v2',
  'linux-6.12 +batched-unmap@v4-3',
  'linux-6.18 -lazyfree-thp',
  'linux-6.18 -batched-unmap',
  'linux-6.18 -batched-unmap@v4-1',
  'linux-6.18 -batched-unmap@v4-2',
  'linux-6.18 -batched-unmap@v4-3',
  'linux-6.18 -batched-unmap@v4-4',
  'linux-6.18 -oob-fix',
  'linux-6.18 +split-queue-fbatch',
  'linux-6.18-fc -fc-host-pmd-split',
  'linux-6.19 -split-queue-fbatch',
];

interface Facts {
  /** Anonymous mTHP (6.8+): a 64 KiB range is one order-4 folio, else 16 order-0 pages. */
  mthp: boolean;
  /** PMD THPs queued for deferred split at fault (6.12+). */
  queuedAtFault: boolean;
  /** mTHP split stats and the partially-mapped flag (6.11/6.12+). */
  splitStats: boolean;
  /** MADV_PAGEOUT ages young entries first (6.1). */
  pageoutAges: boolean;
  /** Batched unmap 3/4: none, as posted (v4, unbounded), or with the out-of-bounds fix. */
  batch: 'none' | 'v4' | 'fixed';
  /** The lazyfree PMD discard at the PMD hit: Lance Yang v2 (no flush), v6 (flush), or none. */
  pmdDiscard: 'none' | 'v2' | 'v6';
  /** Batched unmap 4/4: a lazyfree PMD THP that cannot be discarded is not split. */
  noSplitOnFail: boolean;
  /** The 6.18.44-fc host unit: lazyfree PMD THPs are split, never discarded. */
  fcSplit: boolean;
  /** A split dirty PMD's PTEs are dirty ('d'); 6.1 marks only the folio (traits.pmdSplitPtesDirty). */
  splitDirty: string;
}

function facts(spec: string): Facts {
  const c = buildConfig(spec);
  const has = (id: string) => c.series.includes(id);
  return {
    mthp: c.traits.mthp,
    queuedAtFault: c.traits.pmdQueuedAtFault,
    splitStats: c.traits.mthpSplitStats,
    pageoutAges: c.traits.pageoutAgesYoung,
    batch: has('batched-unmap@v4-3') ? (has('oob-fix@v4') ? 'fixed' : 'v4') : 'none',
    pmdDiscard: has('lazyfree-thp@v2') ? 'v2' : has('lazyfree-thp@v6') ? 'v6' : 'none',
    noSplitOnFail: has('batched-unmap@v4-4'),
    fcSplit: has('fc-host-pmd-split@observed'),
    splitDirty: c.traits.pmdSplitPtesDirty ? 'd' : '-',
  };
}

interface Expected {
  before: string;
  after: string;
  /** The lines of the step's summary the documents fix. */
  events: Partial<Record<'tlb_flush' | 'rss' | 'free' | 'counters' | 'violations', string>>;
}

const lines = (...l: string[]) => l.join('\n');
const TABLE_EMPTY = lines('pmd 0x7f0000000000 table', '  000-511  none');

/** 64 KiB at the start of the first table: one folio A (mTHP) or pages A+0..15. */
function map64k(f: Facts, bits: string, state: string): string {
  return lines(
    'pmd 0x7f0000000000 table',
    `  000-015  A+0..15    ${bits}`,
    '  016-511  none',
    f.mthp ? `folio A  order 4  ref 16  map 16  ${state}` : `folio A+0..15 (16 folios)  order 0  ref 1  map 1  ${state}`,
  );
}

/**
 * After MADV_FREE of 16 order-0 pages on 6.1: mark_page_lazyfree() queues each page on the
 * per-CPU lru_lazyfree pagevec (15 entries), which drains — clearing PG_swapbacked, moving the
 * page to the file LRU — when it fills: pages 0..14 are lazyfree, page 15 waits in the pagevec
 * (holding a reference) until the next drain (madvise_pageout()'s lru_add_drain()).
 */
function map16LazyfreePagevec(bits: string): string {
  return lines(
    'pmd 0x7f0000000000 table',
    `  000-014  A+0..14    ${bits}`,
    `  015-015  A+15       ${bits}`,
    '  016-511  none',
    'folio A+0..14 (15 folios)  order 0  ref 1  map 1  lazyfree  clean  lru inactive_file',
    'folio A+15  order 0  ref 2  map 1  anon  clean  lru-batch',
  );
}

const queued = (f: Facts) => (f.queuedAtFault ? '  deferred' : '');
const queueLine = (f: Facts, name: string) => (f.queuedAtFault ? [`split queue [${name}] len 1`] : []);

const EXPECT: Record<string, (f: Facts) => Expected> = {
  // §8.2 3/4 and the seed table: without batching each of the 16 PTEs is cleared and flushed on
  // its own (and the first removal queues the folio: split_deferred); with it, one 16-page
  // flush, one rss update, one rmap removal — never partially mapped, never queued.
  'mthp-lazyfree-reclaim': (f) => ({
    before: f.mthp ? map64k(f, 'w - -', 'lazyfree  clean  lru inactive_file') : map16LazyfreePagevec('w - -'),
    after: TABLE_EMPTY,
    events: !f.mthp
      ? { tlb_flush: '1×16', rss: '-4K×16', free: 'o0×16' }
      : f.batch === 'none'
        ? { tlb_flush: '1×16', rss: '-4K×16', free: 'o4', counters: '64kB/split_deferred +1, pglazyfreed +16' }
        : { tlb_flush: '16', rss: '-64K', free: 'o4', counters: 'pglazyfreed +16' },
  }),
  // §4.8, §8.2 1/4 + 3/4 restore path, §10 S3: a dirty lazyfree folio is not discarded: the
  // cleared entries are put back, the folio turns swap-backed and (no swap) is activated.
  // Per PTE the walk stops after the first entry (one 1-page flush); batched, the whole folio
  // is cleared, flushed (16) and restored. 6.1 unmaps order-0 pages one by one and first ages
  // the young PTEs into the call's mmu_gather, flushed after reclaim (16 pages, PAGE stride);
  // the 16 pages it keeps go back through the 15-entry lru_add pagevec (§9.3): the last waits.
  'mthp-redirty-reclaim': (f) => ({
    before: f.mthp ? map64k(f, 'w d y', 'lazyfree  clean  lru inactive_file') : map16LazyfreePagevec('w d y'),
    after: f.mthp
      ? map64k(f, 'w d y', 'anon  dirty  lru active_anon')
      : lines('pmd 0x7f0000000000 table', '  000-014  A+0..14    w d -', '  015-015  A+15       w d -', '  016-511  none', 'folio A+0..14 (15 folios)  order 0  ref 1  map 1  anon  dirty  lru active_anon', 'folio A+15  order 0  ref 2  map 1  anon  dirty  lru-batch'),
    events: { tlb_flush: !f.mthp ? '1×16 16' : f.batch === 'none' ? '1' : '16', rss: '-', free: '-' },
  }),
  // §8.1, §8.2 4/4, §9.1. Before Lance Yang v6 the PMD is split before the walk (-1) and the
  // 512 PTEs unmapped one by one (or, with batched unmap, as one batch: -1 again); v6 discards
  // the THP whole with one PMD clear and flush and frees the deposited table; v2 does the same
  // without any flush (a stale TLB entry at free); the fc host splits (then batches).
  'pmd-lazyfree-reclaim': (f) => {
    const discarded = f.pmdDiscard !== 'none' && !f.fcSplit;
    const splitCounters = ['pglazyfreed +512', 'thp_split_pmd +1'];
    if (f.batch === 'none') splitCounters.push('thp_deferred_split_page +1');
    if (f.batch === 'none' && f.splitStats) splitCounters.unshift('2048kB/split_deferred +1');
    return {
      before: lines('pmd 0x7f0000000000 huge T  w - -', `folio T  order 9  ref 1  map 1  pmd-mapped  lazyfree  clean  lru inactive_file${queued(f)}`, ...queueLine(f, 'T')),
      after: discarded ? '' : TABLE_EMPTY,
      events: discarded
        ? { tlb_flush: f.pmdDiscard === 'v2' ? '-' : '-1', rss: '-2048K', free: 'table o9', counters: 'pglazyfreed +512', ...(f.pmdDiscard === 'v2' ? { violations: 'no_stale_tlb_for_freed_page' } : {}) }
        : { tlb_flush: f.batch === 'none' ? '-1 1×512' : '-1×2', rss: f.batch === 'none' ? '-4K×512' : '-2048K', free: 'o9', counters: splitCounters.sort().join(', ') },
    };
  },
  // §8.1 (6.11–6.14: split, one PTE cleared and restored, fail), §8.2 4/4 (no split, no flush,
  // swap-backed, still PMD-mapped), §9.1 (fc: split, 512-PTE batch cleared and restored). The
  // split copies the PMD's dirty bit into the folio. 6.1 first ages the young PMD: an
  // invalidation flush (-1), and the gather's flush at PMD stride after reclaim (1).
  'pmd-redirty-reclaim': (f) => {
    const kept = f.noSplitOnFail && f.pmdDiscard === 'v6' && !f.fcSplit;
    const young = f.pageoutAges ? '-' : 'y';
    const after = kept
      ? lines('pmd 0x7f0000000000 huge T  w d y', `folio T  order 9  ref 1  map 1  pmd-mapped  anon  dirty  lru active_anon${queued(f)}`, ...queueLine(f, 'T'))
      : lines('pmd 0x7f0000000000 table', `  000-511  T+0..511   w ${f.splitDirty} ${young}`, `folio T  order 9  ref 512  map 512  anon  dirty  lru active_anon${queued(f)}`, ...queueLine(f, 'T'));
    const flush = kept ? '-' : f.pageoutAges ? '-1×2 1×2' : f.batch !== 'none' && (f.pmdDiscard !== 'v6' || f.fcSplit) ? '-1×2' : '-1 1';
    return {
      before: lines('pmd 0x7f0000000000 huge T  w d y', `folio T  order 9  ref 1  map 1  pmd-mapped  lazyfree  clean  lru inactive_file${queued(f)}`, ...queueLine(f, 'T')),
      after,
      events: { tlb_flush: flush, rss: '-', free: '-', counters: kept ? '-' : 'thp_split_pmd +1' },
    };
  },
  // §8.2 "the out-of-bounds problem" and the fix, §9.2: the folio's first page on PTE 511 of
  // one table, the rest on the next. v4 reads index 512 (violation), the batch fails, page by
  // page; the fix batches within each table (1 + 15); without batching, page by page. The
  // first partial removal queues it (split_deferred).
  'straddle-reclaim': (f) => ({
    before: lines(
      TABLE_EMPTY,
      'pmd 0x7f0000400000 table',
      '  000-510  none',
      '  511-511  A+0        w - -',
      'pmd 0x7f0000600000 table',
      '  000-014  A+1..15    w - -',
      '  015-511  none',
      f.mthp ? 'folio A  order 4  ref 16  map 16  lazyfree  clean  lru inactive_file' : 'folio A+0..15 (16 folios)  order 0  ref 1  map 1  lazyfree  clean  lru inactive_file',
    ),
    after: lines(TABLE_EMPTY, 'pmd 0x7f0000400000 table', '  000-511  none', 'pmd 0x7f0000600000 table', '  000-511  none'),
    events: !f.mthp
      ? { tlb_flush: '1×16', rss: '-4K×16', free: 'o0×16' }
      : f.batch === 'fixed'
        ? { tlb_flush: '1 15', rss: '-4K -60K', free: 'o4', counters: '64kB/split_deferred +1, pglazyfreed +16' }
        : { tlb_flush: '1×16', rss: '-4K×16', free: 'o4', counters: '64kB/split_deferred +1, pglazyfreed +16', ...(f.batch === 'v4' ? { violations: 'pte_access_within_table' } : {}) },
  }),
  // §4.9, §4.10: munmap of half a PMD THP splits the PMD (-1) and zaps 256 PTEs (one flush of
  // 256 pages: over the ceiling, a full flush, -1); the folio is now partially mapped: queued
  // (6.1 at this point; 6.12+ it already was) and flagged (6.12+), counted once.
  'pmd-partial-munmap': (f) => ({
    before: lines('pmd 0x7f0000000000 huge T  w d y', `folio T  order 9  ref 1  map 1  pmd-mapped  anon  clean  lru inactive_anon${queued(f)}`, ...queueLine(f, 'T')),
    after: lines('pmd 0x7f0000000000 table', '  000-255  none', `  256-511  T+256..511 w ${f.splitDirty} y`, `folio T  order 9  ref 256  map 256  anon  dirty  lru inactive_anon  deferred${f.splitStats ? '  partially-mapped' : ''}`, 'split queue [T] len 1'),
    events: {
      tlb_flush: '-1×2',
      rss: '-1024K',
      free: '-',
      counters: f.splitStats ? '2048kB/nr_anon_partially_mapped +1, 2048kB/split_deferred +1, thp_deferred_split_page +1, thp_split_pmd +1' : 'thp_deferred_split_page +1, thp_split_pmd +1',
    },
  }),
  // §4.9: half a 64 KiB folio unmapped: one 8-page flush, the folio partially mapped, queued
  // and flagged. Without mTHP the 8 pages are freed.
  'mthp-partial-munmap': (f) => ({
    before: map64k(f, 'w d y', 'anon  clean  lru inactive_anon'),
    after: f.mthp
      ? lines('pmd 0x7f0000000000 table', '  000-007  A+0..7     w d y', '  008-511  none', 'folio A  order 4  ref 8  map 8  anon  dirty  lru inactive_anon  deferred  partially-mapped', 'split queue [A] len 1')
      : lines('pmd 0x7f0000000000 table', '  000-007  A+0..7     w d y', '  008-511  none', 'folio A+0..7 (8 folios)  order 0  ref 1  map 1  anon  clean  lru inactive_anon'),
    // 6.1's rss line also carries its per-task cache (kernel-model §3.2): not asserted here.
    events: f.mthp ? { tlb_flush: '8', rss: '-32K', free: '-', counters: '64kB/nr_anon_partially_mapped +1, 64kB/split_deferred +1' } : { tlb_flush: '8', free: 'o0×8', counters: '-' },
  }),
  // §8.4: the shrinker splits the partially mapped THP (6.1: every queued THP). The split
  // unmaps the mapped half into migration entries — one CPU, so no deferred flush: 256 one-page
  // flushes — and frees the unmapped half. The folio_batch form (6.19) decides the same in a
  // single-threaded run.
  'deferred-split-scan': (f) => ({
    before: lines('pmd 0x7f0000000000 table', '  000-255  none', `  256-511  T+256..511 w ${f.splitDirty} y`, `folio T  order 9  ref 256  map 256  anon  dirty  lru inactive_anon  deferred${f.splitStats ? '  partially-mapped' : ''}`, 'split queue [T] len 1'),
    after: lines('pmd 0x7f0000000000 table', '  000-255  none', `  256-511  T+256..511 w ${f.splitDirty} y`, 'folio T+256..511 (256 folios)  order 0  ref 1  map 1  anon  dirty  lru inactive_anon'),
    events: { tlb_flush: '1×256', rss: '-', free: 'o0×256', counters: f.splitStats ? '2048kB/nr_anon_partially_mapped -1, 2048kB/split +1, thp_split_page +1' : 'thp_split_page +1' },
  }),
};

function eventLines(summary: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of summary.split('\n')) {
    const i = l.indexOf(' ');
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

describe('conformance: every scenario under every preset and series toggle', () => {
  it('every scenario has expectations, and every preset is in the matrix', () => {
    expect(Object.keys(EXPECT).sort()).toEqual(SCENARIOS.map((s) => s.id).sort());
    for (const p of PRESETS) expect(CONFIGS).toContain(p.id);
  });

  for (const s of SCENARIOS as Scenario[]) {
    describe(`${s.id}: ${s.title}`, () => {
      for (const spec of CONFIGS) {
        it(spec, () => {
          const want = EXPECT[s.id]!(facts(spec));
          const got = runScenario(spec, s);
          expect(got.before).toBe(want.before);
          expect(got.after).toBe(want.after);
          const ev = eventLines(got.events);
          const picked = Object.fromEntries(Object.keys(want.events).map((k) => [k, ev[k] ?? '-']));
          expect(picked).toEqual(want.events);
          // A violation the documents do not predict is a finding, not noise.
          if (!want.events.violations) expect(ev.violations).toBeUndefined();
        });
      }
    });
  }
});
