/**
 * A read fault on a special mapping whose handler installs the entry itself (the vDSO data
 * page: vvar_fault() → vmf_insert_pfn(), VM_FAULT_NOPAGE). No VMA of the model covers it. With
 * no PTE table there, do_fault() → __do_fault() preallocates one, the handler's insert
 * allocates and installs its own, and do_fault() frees the preallocation:
 *
 *   fault (read, not present) at V, no VMA known, no table for V's PMD
 *   allocs: [table A (prealloc_pte), table B (get_locked_pte())]   →   mm_page_free A
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const V = 0x7f2086dfe000;
let line = 0;
const at = () => ({ index: line, line: ++line });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const data = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user' });
const fault = (addr: number, write: boolean, allocs: AllocFact[]): Op => ({ ...base, at: at(), kind: 'fault', addr, write, present: false, allocs });

function step(spec: string, op: Op) {
  const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: true });
  const r = eng.step(op);
  expect(r.violations).toEqual([]);
  return { unmodelled: r.unmodelled, frees: r.emitted.flatMap((e) => (e.ev === 'mm_page_free' ? [[e.pfn, e.what]] : [])) };
}

describe('a VM_FAULT_NOPAGE fault on a special mapping (the vDSO data page)', () => {
  for (const spec of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${spec}: frees __do_fault()'s preallocated table, keeps the one the handler installed`, () => {
      expect(step(spec, fault(V, false, [pgtable(0x13ea3f), pgtable(0x13ea3e)]))).toEqual({ unmodelled: undefined, frees: [[0x13ea3f, 'pgtable']] });
    });
  }

  it('an upper-level table allocated first is not the preallocation', () => {
    expect(step('linux-6.18', fault(V, false, [pgtable(0x100), pgtable(0x101), pgtable(0x102)])).frees).toEqual([[0x101, 'pgtable']]);
  });

  it('one table only (a file read fault\'s fault-around installs its preallocation): outside the model', () => {
    const r = step('linux-6.18', fault(V, false, [pgtable(0x200)]));
    expect(r.frees).toEqual([]);
    expect(r.unmodelled).toMatch(/outside any anonymous mapping/);
  });

  it('a write fault, or one with a data folio, is not this path', () => {
    expect(step('linux-6.18', fault(V, true, [pgtable(0x300), pgtable(0x301)])).unmodelled).toMatch(/outside/);
    expect(step('linux-6.18', fault(V, false, [pgtable(0x400), pgtable(0x401), data(0x402)])).frees).toEqual([]);
  });
});
