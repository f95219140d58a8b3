/**
 * munmap over several VMAs: unmap_region() zaps every VMA first (unmap_vmas()), then
 * free_pgtables() walks the whole range once — the PTE tables in address order, then the PMD
 * table of their 1 GiB, then the PUD table — so a table of the first VMA's upper levels never
 * goes before a PTE table of a later VMA. On 6.1 the gather's pages are released with list_add()
 * (last added freed first); on 6.12 in the order they were added.
 *
 *   P           P+2M        P+4M
 *   |-- vma A --|-- vma B --|     one PTE table each; A's first fault allocated PUD and PMD
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { buildConfig } from './presets.js';
import type { Emission } from './emit.js';
import type { AllocFact, Op } from './ops.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;
const P = 0x7f0000000000;
const PUD = 0x5001;
const PMD = 0x5002;
const PTE_A = 0x5003;
const PTE_B = 0x5004;
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const user = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user' });

function run(preset: string): { tables: number[]; pages: number[] } {
  const eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } }), { checkInvariants: true });
  let i = 0;
  const step = (op: Record<string, unknown>): Emission[] => {
    const r = eng.step({ ...base, at: { index: i, line: ++i }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return r.emitted;
  };
  step({ kind: 'mmap', addr: P, len: 4 * MB, prot: 3, flags: 0x22, anon: true });
  // MADV_NOHUGEPAGE on the first half: two VMAs with different flags.
  step({ kind: 'madvise', addr: P, len: 2 * MB, advice: 15 });
  step({ kind: 'fault', addr: P, write: true, allocs: [pgtable(PUD), pgtable(PMD), pgtable(PTE_A), user(0x100)] });
  step({ kind: 'fault', addr: P + 2 * MB, write: true, allocs: [pgtable(PTE_B), user(0x200)] });
  expect(eng.mmOf(10).vmas.length).toBe(2);
  const out = step({ kind: 'munmap', addr: P, len: 4 * MB });
  const frees = out.flatMap((e) => (e.ev === 'mm_page_free' ? [e] : []));
  return {
    tables: frees.filter((e) => e.what === 'pgtable').map((e) => e.pfn),
    pages: frees.filter((e) => e.what !== 'pgtable').map((e) => e.pfn),
  };
}

describe('munmap of two VMAs: free_pgtables() after every zap', () => {
  it('linux-6.1: the PTE tables, PMD and PUD are added in that order and freed last added first', () => {
    const r = run('linux-6.1');
    expect(r.tables).toEqual([PUD, PMD, PTE_B, PTE_A]);
    expect(r.pages).toEqual([0x200, 0x100]);
  });
  it('linux-6.12: freed in the order free_pgd_range() added them, after the pages', () => {
    const r = run('linux-6.12');
    expect(r.tables).toEqual([PTE_A, PTE_B, PMD, PUD]);
    expect(r.pages).toEqual([0x100, 0x200]);
  });
});
