/**
 * Cost accounting: counts of primitive work, and an arch cost table that turns them into an
 * estimate. Ratios between configs are what foliolab reports; absolute figures only with the
 * table they were computed with.
 *
 * The table's constants are order-of-magnitude costs (ns) from public measurements and are
 * the same for every config: they are never tuned to match a claim.
 *  - PTE/PMD read or write: a cached memory access plus the atomic where the kernel uses one.
 *  - INVLPG on x86 ~100–200 ns per page (Intel SDM latency tables, per-page invalidation); a
 *    full flush (CR3 write without PCID) ~ 300 ns plus refill misses, counted separately.
 *  - IPI round trip for a remote shootdown ~ 2–5 µs on virtualised hosts.
 *  - arm64 TLBI ~ tens of ns issue, DSB ISH ~ hundreds of ns (it waits for broadcast completion).
 *  - rmap update: atomic on the mapcount and refcount; list moves: a locked list_del/list_add.
 */
import type { Arch } from './config.js';

export class CostCounter {
  pteReads = 0;
  pteClears = 0;
  pteRestores = 0;
  pmdClears = 0;
  pmdSplits = 0;
  rmapCalls = 0;
  rmapPages = 0;
  refAtomics = 0;
  rssUpdates = 0;
  /** x86: pages invalidated one by one (INVLPG), full flushes, IPIs sent. */
  invlpgPages = 0;
  fullFlushes = 0;
  ipis = 0;
  /** arm64: TLBI instructions (per page or per range), DSBs. */
  tlbiOps = 0;
  rangeTlbis = 0;
  dsbs = 0;
  ptlLocks = 0;
  pmdLocks = 0;
  folioLocks = 0;
  listMoves = 0;
  splitQueueLockOps = 0;
  foliosFreed = 0;

  toJSON(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}

export type CostTable = Record<keyof Omit<CostCounter, 'toJSON'>, number>;

const COMMON = {
  pteReads: 1, pteClears: 5, pteRestores: 5, pmdClears: 5, pmdSplits: 600, rmapCalls: 20, rmapPages: 2,
  refAtomics: 5, rssUpdates: 10, ptlLocks: 20, pmdLocks: 20, folioLocks: 20, listMoves: 15,
  splitQueueLockOps: 20, foliosFreed: 150,
};

export const COST_TABLES: Record<Arch, CostTable> = {
  x86: { ...COMMON, invlpgPages: 150, fullFlushes: 500, ipis: 3000, tlbiOps: 0, rangeTlbis: 0, dsbs: 0 },
  arm64: { ...COMMON, invlpgPages: 0, fullFlushes: 300, ipis: 0, tlbiOps: 30, rangeTlbis: 40, dsbs: 250 },
};

export interface CostEstimate {
  arch: Arch;
  ns: number;
  /** ns per category, for the breakdown. */
  parts: Record<string, number>;
  counts: Record<string, number>;
}

export function estimate(c: CostCounter, arch: Arch): CostEstimate {
  const table = COST_TABLES[arch];
  const parts: Record<string, number> = {};
  let ns = 0;
  for (const k of Object.keys(table) as Array<keyof CostTable>) {
    const v = (c[k] as number) * table[k];
    if (v) parts[k] = v;
    ns += v;
  }
  return { arch, ns, parts, counts: c.toJSON() };
}
