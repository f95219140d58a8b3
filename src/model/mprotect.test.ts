/**
 * mprotect() driven on the Engine: VMA split through a PMD-mapped THP (the PMD split and its
 * flush), the flush of a permission change (RW→RO always; RO→RW where the entries are made
 * writable again, per release), the VMA merge when the permissions are restored, the write
 * fault on an entry left read-only, and a large folio cut by a VMA boundary.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { buildConfig } from './presets.js';
import type { Emission } from './emit.js';
import type { Op } from './ops.js';
import { pmdIndex, pteIndex } from './kernel/pgtable.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;
const P = 0x7f0000000000;
const PROT_READ = 1;
const PROT_RW = 3;
/** An op without the fields every op shares (each member of the union on its own). */
type OpIn = Op extends infer O ? (O extends Op ? Omit<O, 'tid' | 'tgid' | 'cpu' | 'at'> : never) : never;

class Run {
  readonly eng: Engine;
  private i = 0;
  constructor(preset: string, sizes: Record<number, 'always' | 'never' | 'inherit'> = { 64: 'never', 2048: 'inherit' }) {
    this.eng = new Engine(buildConfig(preset, 'x86', { enabled: 'madvise', sizes }), { checkInvariants: true });
  }
  step(op: OpIn): Emission[] {
    const r = this.eng.step({ ...base, at: { index: this.i, line: ++this.i }, ...op } as Op);
    expect(r.violations).toEqual([]);
    expect(r.unmodelled).toBeUndefined();
    return r.emitted;
  }
  flushes(e: Emission[]): number[] {
    return e.filter((x) => x.ev === 'tlb_flush').map((x) => (x as { pages: number }).pages);
  }
  get mm() {
    return this.eng.mmOf(10);
  }
  vmas(): Array<[number, number, boolean]> {
    return this.mm.vmas.map((v) => [v.vm_start - P, v.vm_end - P, v.write]);
  }
}

/** 8 MiB, MADV_HUGEPAGE, four PMD THPs written in. */
function pmdRegion(preset: string): Run {
  const r = new Run(preset);
  r.step({ kind: 'mmap', addr: P, len: 8 * MB, prot: PROT_RW, flags: 0x22, anon: true });
  r.step({ kind: 'madvise', addr: P, len: 8 * MB, advice: 14 });
  for (let t = 0; t < 4; t++) r.step({ kind: 'fault', addr: P + t * 2 * MB, write: true, allocs: [{ pfn: 0x1000 * t, order: 0, use: 'pgtable' }, { pfn: 0x200000 + 0x200 * t, order: 9, use: 'user' }] });
  return r;
}

/** 8 MiB of order-0 pages (or 64 KiB folios), written in. */
function pteRegion(preset: string, mthp = false): Run {
  const r = new Run(preset, mthp ? { 64: 'always', 2048: 'inherit' } : undefined);
  r.step({ kind: 'mmap', addr: P, len: 8 * MB, prot: PROT_RW, flags: 0x22, anon: true });
  const step = mthp ? 64 * 1024 : 4096;
  for (let a = 0; a < 8 * MB; a += step) r.step({ kind: 'fault', addr: P + a, write: true, allocs: [{ pfn: 0x100000 + a / 4096, order: mthp ? 4 : 0, use: 'user' }] });
  return r;
}

describe('mprotect: a VMA split through a PMD-mapped THP', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: each cut PMD is split with its own flush, then one flush for the changed entries; the THP stays whole`, () => {
      const r = pmdRegion(preset);
      const before = r.eng.counters().thp_split_pmd ?? 0;
      const out = r.step({ kind: 'mprotect', addr: P + MB, len: 4 * MB, prot: PROT_READ });
      // split_vma() at P+1M and at P+5M: two PMD splits (2 MiB at 4 KiB stride: full flushes),
      // then tlb_finish_mmu() over [P+1M, P+5M) (PTEs and one PMD: 4 KiB stride, 1024 pages).
      expect(r.flushes(out)).toEqual([-1, -1, -1]);
      expect((r.eng.counters().thp_split_pmd ?? 0) - before).toBe(2);
      expect(r.vmas()).toEqual([[0, MB, true], [MB, 5 * MB, false], [5 * MB, 8 * MB, true]]);
      // The first THP: mapped by 512 PTEs across two VMAs, read-only only in the second.
      const t0 = r.mm.pmds.get(pmdIndex(P))!;
      expect(t0.kind).toBe('table');
      if (t0.kind !== 'table') return;
      expect(t0.folio[0]!.order).toBe(9);
      expect(t0.folio[0]!.partially_mapped).toBe(false);
      expect(t0.folio[0]!.large_mapcount).toBe(512);
      expect(t0.write(pteIndex(P))).toBe(true);
      expect(t0.write(pteIndex(P + MB))).toBe(false);
      // The second THP lies inside the range: still PMD-mapped, now read-only.
      const t1 = r.mm.pmds.get(pmdIndex(P + 2 * MB))!;
      expect(t1.kind === 'huge' && !t1.write).toBe(true);
    });
  }
});

describe('mprotect: which permission changes flush', () => {
  it('RW→RO of PTEs flushes their range once (8 pages: pages:8)', () => {
    const r = pteRegion('linux-6.18');
    expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: PROT_READ }))).toEqual([8]);
  });

  it('RO→RW: the written (dirty, exclusive) PTEs are made writable again, which flushes on x86; a later write takes no fault', () => {
    for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
      const r = pteRegion(preset);
      r.step({ kind: 'mprotect', addr: P, len: 8 * MB, prot: PROT_READ });
      expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * MB, prot: PROT_RW }))).toEqual([-1]);
      const t = r.mm.pmds.get(pmdIndex(P))!;
      expect(t.kind === 'table' && t.write(0)).toBe(true);
    }
  });

  it('RO→RW of clean PTEs: 6.1 leaves them read-only (no flush; the write fault reuses the page, no flush); 6.12 makes them writable', () => {
    const cleaned = (preset: string) => {
      const r = pteRegion(preset);
      r.step({ kind: 'madvise', addr: P, len: 8 * 4096, advice: 8 }); // MADV_FREE: clean and old
      r.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: PROT_READ });
      return r;
    };
    const r61 = cleaned('linux-6.1');
    expect(r61.flushes(r61.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: PROT_RW }))).toEqual([]);
    const t = r61.mm.pmds.get(pmdIndex(P))!;
    expect(t.kind === 'table' && t.write(0)).toBe(false);
    expect(r61.step({ kind: 'fault', addr: P, write: true, allocs: [] })).toEqual([]);
    expect(t.kind === 'table' && t.write(0) && t.dirty(0)).toBe(true);
    const r612 = cleaned('linux-6.12');
    expect(r612.flushes(r612.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: PROT_RW }))).toEqual([8]);
  });

  it('PMDs: RW→RO gathers each at 2 MiB stride (four THPs: pages:4); RO→RW does the same from 6.2, 6.1 leaves them read-only until a write fault', () => {
    for (const [preset, rwFlush] of [['linux-6.1', []], ['linux-6.12', [4]], ['linux-6.18', [4]]] as const) {
      const r = pmdRegion(preset);
      expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * MB, prot: PROT_READ }))).toEqual([4]);
      expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * MB, prot: PROT_RW }))).toEqual(rwFlush);
      const pmd = r.mm.pmds.get(pmdIndex(P))!;
      expect(pmd.kind === 'huge' && pmd.write).toBe(rwFlush.length > 0);
      // do_huge_pmd_wp_page() reuse: writable, no flush.
      expect(r.step({ kind: 'fault', addr: P, write: true, allocs: [] })).toEqual([]);
      expect(pmd.kind === 'huge' && pmd.write).toBe(true);
    }
  });

  it('PROT_NONE flushes every present entry, the zero page too; leaving PROT_NONE flushes nothing (the old entries were not present)', () => {
    const r = pteRegion('linux-6.18');
    r.step({ kind: 'munmap', addr: P + 7 * 4096, len: 4096 });
    r.step({ kind: 'mmap', addr: P + 7 * 4096, len: 4096, prot: PROT_RW, flags: 0x22, anon: true });
    r.step({ kind: 'fault', addr: P + 7 * 4096, write: false, allocs: [] }); // the zero page
    expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: 0 }))).toEqual([8]);
    expect(r.flushes(r.step({ kind: 'mprotect', addr: P, len: 8 * 4096, prot: PROT_RW }))).toEqual([]);
    const t = r.mm.pmds.get(pmdIndex(P))!;
    expect(t.kind === 'table' && t.write(0) && !t.write(7)).toBe(true);
  });

  it('an mprotect that changes no flags does nothing at all (no split, no flush)', () => {
    const r = pmdRegion('linux-6.18');
    expect(r.step({ kind: 'mprotect', addr: P + MB, len: 4 * MB, prot: PROT_RW })).toEqual([]);
    expect(r.vmas()).toEqual([[0, 8 * MB, true]]);
  });
});

describe('mprotect: VMAs merge back; a large folio cut by a boundary', () => {
  it('restoring the permissions merges the three VMAs (the split PMDs stay PTE-mapped)', () => {
    const r = pmdRegion('linux-6.18');
    r.step({ kind: 'mprotect', addr: P + MB, len: 4 * MB, prot: PROT_READ });
    r.step({ kind: 'mprotect', addr: P + MB, len: 4 * MB, prot: PROT_RW });
    expect(r.vmas()).toEqual([[0, 8 * MB, true]]);
    expect(r.mm.pmds.get(pmdIndex(P))!.kind).toBe('table');
  });

  it('a 64 KiB folio cut by the boundary is left whole by mprotect; MADV_FREE then sees it in two VMAs and splits it', () => {
    const r = pteRegion('linux-6.18', true);
    const out = r.step({ kind: 'mprotect', addr: P + 0x8000, len: 4 * MB, prot: PROT_READ });
    expect(r.flushes(out)).toEqual([-1]);
    const t = r.mm.pmds.get(pmdIndex(P))!;
    expect(t.kind === 'table' && t.folio[0]!.order === 4 && t.folio[8] === t.folio[0]).toBe(true);
    expect(r.eng.counters()['64kB/split'] ?? 0).toBe(0);
    const free = r.step({ kind: 'madvise', addr: P, len: 8 * MB, advice: 8 });
    // Both cut folios are split through migration entries: one flush per PTE (16 each).
    expect(r.flushes(free).filter((p) => p === 1).length).toBe(32);
    expect(r.eng.counters()['64kB/split']).toBe(2);
  });
});
