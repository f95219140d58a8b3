/**
 * Every violation code in emit.ts's table is raised by the model: one trigger per code, each
 * the smallest state or scenario the code describes. A code nothing raises is a dead row.
 */
import { describe, expect, it } from 'vitest';
import { VIOLATIONS } from '../emit.js';
import { Engine } from '../engine.js';
import { checkInvariants } from '../invariants.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';
import { BASE, runScenario, SCENARIOS, THP } from './scenarios.js';

const scenario = (id: string) => SCENARIOS.find((s) => s.id === id)!;
const base = { tid: 100, tgid: 100, cpu: 0 };
const at = (index: number) => ({ index, line: index + 1 });

/** A 64 KiB lazyfree folio whose VMA is split at its 9th page, then memcg reclaim. */
function straddlingVmas(spec: string): string[] {
  const eng = new Engine(buildConfig(spec, 'x86', THP), { checkInvariants: false });
  const ops: Op[] = [
    { ...base, at: at(0), kind: 'mmap', addr: BASE, len: 128 * 1024, prot: 3, flags: 0x22, anon: true },
    { ...base, at: at(1), kind: 'fault', addr: BASE, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user' }] },
    { ...base, at: at(2), kind: 'madvise', addr: BASE, len: 128 * 1024, advice: 8 },
    { ...base, at: at(3), kind: 'madvise', addr: BASE + 32 * 1024, len: 96 * 1024, advice: 14 },
    { ...base, at: at(4), kind: 'memcg-reclaim', bytes: 1 << 20, how: 'memcg-reclaim' },
  ];
  return ops.flatMap((op) => eng.step(op).violations.map((v) => v.code));
}

/** The invariant check's codes after `corrupt` breaks the state of a finished scenario. */
function afterCorruption(corrupt: (eng: Engine) => void): string[] {
  const eng = new Engine(buildConfig('linux-6.18', 'x86', THP), { checkInvariants: false });
  const ops: Op[] = [
    { ...base, at: at(0), kind: 'mmap', addr: BASE, len: 2 << 20, prot: 3, flags: 0x22, anon: true },
    { ...base, at: at(1), kind: 'fault', addr: BASE, write: true, allocs: [{ pfn: 0x10000, order: 4, use: 'user' }] },
    { ...base, at: at(2), kind: 'munmap', addr: BASE + 32 * 1024, len: 32 * 1024 },
  ];
  for (const op of ops) eng.step(op);
  eng.k.violations = [];
  checkInvariants(eng.k);
  expect(eng.k.violations).toEqual([]);
  corrupt(eng);
  checkInvariants(eng.k);
  return eng.k.violations.map((v) => v.code);
}

describe('violation codes', () => {
  it('each code in the table has a trigger that raises it, and nothing else', () => {
    const raised: Record<string, string[]> = {
      pte_access_within_table: runScenario('linux-6.18 -oob-fix', scenario('straddle-reclaim')).violations.map((v) => v.code),
      pte_access_within_vma: straddlingVmas('6.18: batched-unmap@v4-1 batched-unmap@v4-3'),
      mapcount_matches_mappings: afterCorruption((eng) => {
        const t = eng.mmOf(100).pmds.get(Math.floor(BASE / (2 << 20)))!;
        if (t.kind === 'table') t.clear(3);
      }),
      refcount_covers_references: afterCorruption((eng) => { [...eng.k.folios][0]!.refcount = 1; }),
      no_stale_tlb_for_freed_page: runScenario('linux-6.12 -lazyfree-thp +lazyfree-thp@v2', scenario('pmd-lazyfree-reclaim')).violations.map((v) => v.code),
      split_queue_len_matches_list: afterCorruption((eng) => { eng.k.deferred.split_queue_len++; }),
    };
    expect(Object.keys(raised).sort()).toEqual(Object.keys(VIOLATIONS).sort());
    for (const [code, codes] of Object.entries(raised)) expect([...new Set(codes)], code).toEqual([code]);
  });
});
