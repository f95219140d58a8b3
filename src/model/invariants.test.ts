/**
 * The structural invariants on a small address space driven op by op: clean state gives no
 * violation; an entry cleared behind the rmap's back, or a refcount below the mappings, does.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { checkInvariants } from './invariants.js';
import type { Op } from './ops.js';
import { buildConfig } from './presets.js';

const at = (index: number) => ({ index, line: 0 });
const base = { tid: 100, tgid: 100, cpu: 0 };
const START = 0x7f0000000000;

/** An anonymous 2 MiB mapping with its first `n` 64 KiB folios faulted in (recorded order-4 allocations). */
function mapped(n: number): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: false });
  const ops: Op[] = [{ ...base, kind: 'mmap', addr: START, len: 2 << 20, prot: 3, flags: 0x22, anon: true, at: at(0) }];
  for (let i = 0; i < n; i++) {
    ops.push({ ...base, kind: 'fault', addr: START + i * 0x10000, write: true, allocs: [{ pfn: 0x100000 + i * 16, order: 4, use: 'user' }], at: at(i + 1) });
  }
  for (const op of ops) eng.step(op);
  return eng;
}

function violations(eng: Engine): string[] {
  eng.k.violations = [];
  checkInvariants(eng.k);
  return eng.k.violations.map((v) => v.code);
}

describe('invariants', () => {
  it('a clean address space has none', () => {
    const eng = mapped(4);
    expect(eng.k.folios.size).toBe(4);
    expect(violations(eng)).toEqual([]);
  });

  it('an entry cleared without the rmap knowing breaks mapcount = mappings', () => {
    const eng = mapped(4);
    const table = [...eng.k.mms.get(100)!.pmds.values()][0]!;
    if (table.kind !== 'table') throw new Error('expected a PTE table');
    table.clear(17); // page 1 of the second folio
    expect(violations(eng)).toEqual(['mapcount_matches_mappings']);
  });

  it('a refcount below the mappings is reported', () => {
    const eng = mapped(2);
    const f = [...eng.k.folios][1]!;
    f.refcount -= 2;
    expect(violations(eng)).toEqual(['refcount_covers_references']);
  });
});
