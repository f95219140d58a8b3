/**
 * Small scenarios every preset and every series toggle is run against: a setup (ops that build
 * the state the series cares about), then one step (reclaim, munmap, the shrinker) whose
 * before/after the conformance test compares with ASCII maps derived from the series' changelog
 * and kernel-model.md. Inputs only, as a trace would give them: syscalls, faults with the
 * allocations the kernel made, store markers. A release without mTHP (6.1) faults the same
 * range as order-0 pages, as its do_anonymous_page() would.
 */
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission, Violation } from '../emit.js';
import type { AllocFact, Op } from '../ops.js';
import type { ThpSettings } from '../config.js';
import { renderMm, type FolioNames } from './render.js';

export const BASE = 0x7f0000000000;
const KB = 1024;
const MB = 1024 * KB;

/** mTHP 64 KiB `always`, PMD THP under MADV_HUGEPAGE (the captures' host settings). */
export const THP: ThpSettings = { enabled: 'madvise', sizes: { 64: 'always', 2048: 'inherit' } };

type OpBody = Op extends infer O ? (O extends Op ? Omit<O, 'tid' | 'tgid' | 'cpu' | 'at'> : never) : never;

export interface Scenario {
  id: string;
  title: string;
  names: FolioNames;
  /** Ops before the step; `mthp` false on releases without anonymous mTHP. */
  setup(mthp: boolean): OpBody[];
  step: OpBody[];
}

const pt = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const user = (pfn: number, order: number): AllocFact => ({ pfn, order, use: 'user' });

/** Write faults over 64 KiB at `addr`: one order-4 folio, or 16 order-0 pages (no mTHP), drained onto the LRU. */
function fault64k(addr: number, pfn: number, mthp: boolean, table?: number): OpBody[] {
  if (mthp) return [{ kind: 'fault', addr, write: true, allocs: [...(table ? [pt(table)] : []), user(pfn, 4)] }];
  const pfns = Array.from({ length: 16 }, (_, i) => pfn + i);
  return [
    ...pfns.map((p, i): OpBody => ({ kind: 'fault', addr: addr + i * 4 * KB, write: true, allocs: [...(table && i === 0 ? [pt(table)] : []), user(p, 0)] })),
    // The per-CPU lru_add batch (15 on 6.1) holds the 16th page until something drains it; a
    // trace says when (mm_lru_insertion). Here it drains before the next op, so every page is
    // on the LRU when MADV_FREE looks at it.
    { kind: 'lru-drain', pfns },
  ];
}

const A = 0x10000;
const T = 0x200000;

export const SCENARIOS: Scenario[] = [
  {
    id: 'mthp-lazyfree-reclaim',
    title: 'a clean lazyfree 64 KiB folio, MADV_PAGEOUT',
    names: { A },
    setup: (mthp) => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      ...fault64k(BASE, A, mthp, 0x2000),
      { kind: 'madvise', addr: BASE, len: 64 * KB, advice: 8 },
    ],
    step: [{ kind: 'madvise', addr: BASE, len: 64 * KB, advice: 21 }],
  },
  {
    id: 'mthp-redirty-reclaim',
    title: 'a lazyfree 64 KiB folio written again before MADV_PAGEOUT',
    names: { A },
    setup: (mthp) => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      ...fault64k(BASE, A, mthp, 0x2000),
      { kind: 'madvise', addr: BASE, len: 64 * KB, advice: 8 },
      { kind: 'store', addr: BASE, len: 64 * KB, stride: 0, count: 1 },
    ],
    step: [{ kind: 'madvise', addr: BASE, len: 64 * KB, advice: 21 }],
  },
  {
    id: 'pmd-lazyfree-reclaim',
    title: 'a clean lazyfree PMD-mapped THP, MADV_PAGEOUT',
    names: { T },
    setup: () => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 14 },
      { kind: 'fault', addr: BASE, write: true, allocs: [pt(0x2000), user(T, 9)] },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 8 },
    ],
    step: [{ kind: 'madvise', addr: BASE, len: 2 * MB, advice: 21 }],
  },
  {
    id: 'pmd-redirty-reclaim',
    title: 'a lazyfree PMD-mapped THP written again before MADV_PAGEOUT',
    names: { T },
    setup: () => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 14 },
      { kind: 'fault', addr: BASE, write: true, allocs: [pt(0x2000), user(T, 9)] },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 8 },
      { kind: 'store', addr: BASE, len: 2 * MB, stride: 0, count: 1 },
    ],
    step: [{ kind: 'madvise', addr: BASE, len: 2 * MB, advice: 21 }],
  },
  {
    id: 'straddle-reclaim',
    title: 'a lazyfree 64 KiB folio straddling two page tables (mremap to index 511), memcg reclaim',
    names: { A },
    setup: (mthp) => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      { kind: 'mmap', addr: BASE + 4 * MB, len: 6 * MB, prot: 0, flags: 0x4022, anon: true },
      ...fault64k(BASE, A, mthp, 0x2000),
      { kind: 'madvise', addr: BASE, len: 64 * KB, advice: 8 },
      { kind: 'mremap', addr: BASE, oldLen: 64 * KB, newLen: 64 * KB, flags: 3, newAddr: BASE + 6 * MB - 4 * KB, allocs: [pt(0x3000), pt(0x3001)] },
    ],
    step: [{ kind: 'memcg-reclaim', bytes: 64 * KB, how: 'memcg-reclaim' }],
  },
  {
    id: 'pmd-partial-munmap',
    title: 'munmap of the first half of a PMD-mapped THP',
    names: { T },
    setup: () => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 14 },
      { kind: 'fault', addr: BASE, write: true, allocs: [pt(0x2000), user(T, 9)] },
    ],
    step: [{ kind: 'munmap', addr: BASE, len: 1 * MB }],
  },
  {
    id: 'mthp-partial-munmap',
    title: 'munmap of the second half of a 64 KiB folio',
    names: { A },
    setup: (mthp) => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      ...fault64k(BASE, A, mthp, 0x2000),
    ],
    step: [{ kind: 'munmap', addr: BASE + 32 * KB, len: 32 * KB }],
  },
  {
    id: 'deferred-split-scan',
    title: 'the deferred split shrinker (drop_caches=2) after a partial munmap of a PMD THP',
    names: { T },
    setup: () => [
      { kind: 'mmap', addr: BASE, len: 2 * MB, prot: 3, flags: 0x22, anon: true },
      { kind: 'madvise', addr: BASE, len: 2 * MB, advice: 14 },
      { kind: 'fault', addr: BASE, write: true, allocs: [pt(0x2000), user(T, 9)] },
      { kind: 'munmap', addr: BASE, len: 1 * MB },
    ],
    step: [{ kind: 'drop-caches', value: 2 }],
  },
];

export interface ScenarioRun {
  before: string;
  after: string;
  /** The step's output, summarised: flushes, rss deltas, frees, split counters, violations. */
  events: string;
  violations: Violation[];
}

/** Runs of equal values as `v×n`. */
function runs(vals: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < vals.length; ) {
    let j = i + 1;
    while (j < vals.length && vals[j] === vals[i]) j++;
    out.push(j - i > 1 ? `${vals[i]}×${j - i}` : vals[i]!);
    i = j;
  }
  return out.join(' ');
}

const COUNTERS = /split|lazyfree|partially/;

export function summarise(emitted: Emission[], counters: Record<string, number>, violations: Violation[]): string {
  const lines: string[] = [];
  const flushes = emitted.filter((e): e is Extract<Emission, { ev: 'tlb_flush' }> => e.ev === 'tlb_flush');
  lines.push(`tlb_flush ${runs(flushes.map((f) => String(f.pages))) || '-'}`);
  const rss = emitted.filter((e): e is Extract<Emission, { ev: 'rss_stat' }> => e.ev === 'rss_stat');
  lines.push(`rss ${runs(rss.map((r) => `${r.delta > 0 ? '+' : ''}${r.delta / 1024}K`)) || '-'}`);
  const frees = emitted.filter((e): e is Extract<Emission, { ev: 'mm_page_free' }> => e.ev === 'mm_page_free');
  lines.push(`free ${runs(frees.map((f) => `${f.what === 'pgtable' ? 'table' : `o${f.order}`}`)) || '-'}`);
  const c = Object.entries(counters).filter(([n, v]) => COUNTERS.test(n) && v !== 0).map(([n, v]) => `${n} ${v > 0 ? '+' : ''}${v}`);
  lines.push(`counters ${c.join(', ') || '-'}`);
  if (violations.length) lines.push(`violations ${[...new Set(violations.map((v) => v.code))].join(' ')}`);
  return lines.join('\n');
}

/** Run one scenario under one config spec (`linux-6.18`, `linux-6.18 -oob-fix`, …). */
export function runScenario(spec: string, s: Scenario): ScenarioRun {
  const eng = new Engine(buildConfig(spec, 'x86', THP), { checkInvariants: true });
  const base = { tid: 100, tgid: 100, cpu: 0 };
  let index = 0;
  const step = (body: OpBody) => eng.step({ ...base, ...body, at: { index, line: ++index } } as Op);
  const setupViolations: Violation[] = [];
  // A marked window: the scenario's stores are all its accesses (Kernel.storesVisible).
  step({ kind: 'marker', verb: 'begin', text: `begin scenario=${s.id}` });
  for (const op of s.setup(eng.k.traits.mthp)) setupViolations.push(...step(op).violations);
  if (setupViolations.length) throw new Error(`${s.id} under ${spec}: the setup raised ${setupViolations.map((v) => v.code).join(', ')}`);
  const mm = eng.mmOf(100);
  const before = renderMm(eng.k, mm, s.names);
  const c0 = eng.counters();
  const emitted: Emission[] = [];
  const violations: Violation[] = [];
  for (const op of s.step) {
    const r = step(op);
    emitted.push(...r.emitted);
    violations.push(...r.violations);
  }
  const c1 = eng.counters();
  const delta: Record<string, number> = {};
  for (const n of new Set([...Object.keys(c0), ...Object.keys(c1)])) delta[n] = (c1[n] ?? 0) - (c0[n] ?? 0);
  return { before, after: renderMm(eng.k, mm, s.names), events: summarise(emitted, delta, violations), violations };
}
