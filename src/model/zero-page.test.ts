/**
 * The zero page (issue 15, mechanism 8), driven through the Engine: a read fault on untouched
 * anonymous memory maps the shared zero page (no folio, no rss, no flush); a write then copies
 * from it (an order-0 folio, +1 rss, one 1-page flush of the zero-page entry); zap clears
 * zero-page entries inside its flush range and frees nothing for them. On a range where a PMD
 * THP is allowed the read maps the huge zero PMD; what a write does there depends on the release.
 */
import { describe, expect, it } from 'vitest';
import type { ThpSettings } from './config.js';
import type { Emission } from './emit.js';
import { Engine } from './engine.js';
import { pmdIndex, pteIndex } from './kernel/pgtable.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';
import { MM_ANONPAGES } from './state.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const MB = 1 << 20;
const PAGE = 4096;

let line = 0;
const at = () => ({ index: line, line: ++line });
const mmap = (len: number): Op => ({ ...base, at: at(), kind: 'mmap', addr: A, len, prot: 3, flags: 0x22, anon: true });
const fault = (addr: number, write: boolean, allocs: AllocFact[] = []): Op => ({ ...base, at: at(), kind: 'fault', addr, write, allocs });
const munmap = (len: number): Op => ({ ...base, at: at(), kind: 'munmap', addr: A, len });
const madvise = (len: number, advice: number): Op => ({ ...base, at: at(), kind: 'madvise', addr: A, len, advice });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const data = (pfn: number, order = 0): AllocFact => ({ pfn, order, use: 'user' });

/** The emitted events of one op, as short strings. */
function events(out: Emission[]): string[] {
  return out.map((e) => {
    switch (e.ev) {
      case 'tlb_flush': return `tlb_flush pages=${e.pages}`;
      case 'rss_stat': return `rss_stat ${e.delta > 0 ? '+' : ''}${e.delta}`;
      case 'mm_page_free': return `mm_page_free order=${e.order} ${e.what}`;
      default: return e.ev;
    }
  });
}

function engine(spec: string, thp?: ThpSettings): { eng: Engine; run: (op: Op) => string[] } {
  const eng = new Engine(buildConfig(spec, 'x86', thp), { checkInvariants: true });
  return {
    eng,
    run: (op) => {
      const r = eng.step(op);
      expect(r.violations).toEqual([]);
      return events(r.emitted);
    },
  };
}

describe('the 4 KiB zero page', () => {
  for (const spec of ['linux-6.12', 'linux-6.18']) {
    it(`${spec}: a read maps the zero page (no folio, no rss, no flush); a write after it copies (+1 rss, one 1-page flush); munmap frees only the copy`, () => {
      const { eng, run } = engine(spec);
      run(mmap(4 * MB));
      expect(run(fault(A, false, [pgtable(0x100)]))).toEqual([]);
      expect(run(fault(A + PAGE, false))).toEqual([]);
      expect(run(fault(A + 2 * PAGE, false))).toEqual([]);
      const mm = eng.mmOf(10);
      const t = mm.pmds.get(pmdIndex(A));
      if (!t || t.kind !== 'table') throw new Error('expected a PTE table');
      expect(t.isZero(pteIndex(A))).toBe(true);
      expect(t.none(pteIndex(A))).toBe(false);
      expect(eng.folios()).toHaveLength(0);
      expect(mm.rss[MM_ANONPAGES]).toBe(0);
      // A second read of a zero-page entry is no fault work at all.
      expect(run(fault(A, false))).toEqual([]);

      // The write: wp_page_copy() — rss first (under the PTE lock), then the zero-page entry's flush.
      expect(run(fault(A, true, [data(0x2000)]))).toEqual(['rss_stat +4096', 'tlb_flush pages=1']);
      expect(eng.folios()).toHaveLength(1);
      expect(mm.rss[MM_ANONPAGES]).toBe(1);
      expect(t.isZero(pteIndex(A))).toBe(false);

      // munmap: one flush over the whole cleared range, one rss update for the copy, and no
      // free for the zero-page entries — the copy is the only data page freed (6.12), or none
      // (6.18: the copy still sits in the per-CPU lru_add batch, which its munmap does not drain).
      const out = run(munmap(4 * MB));
      expect(out.filter((e) => e.startsWith('rss_stat'))).toEqual(['rss_stat -4096']);
      expect(out.filter((e) => e.startsWith('mm_page_free') && e.endsWith('folio'))).toEqual(spec === 'linux-6.12' ? ['mm_page_free order=0 folio'] : []);
      expect(out.filter((e) => e.startsWith('tlb_flush'))).toHaveLength(1);
    });
  }

  it('MADV_DONTNEED of zero-page entries only: they are cleared and flushed, with no rss update and no free', () => {
    // 6.12: the emptied table stays (6.14+ would free it, having zapped its whole 2 MiB).
    const { eng, run } = engine('linux-6.12');
    run(mmap(4 * MB));
    for (let i = 0; i < 4; i++) run(fault(A + i * PAGE, false));
    expect(run(madvise(4 * MB, 4))).toEqual(['tlb_flush pages=4']);
    const t = eng.mmOf(10).pmds.get(pmdIndex(A));
    if (!t || t.kind !== 'table') throw new Error('expected a PTE table');
    expect(t.used).toBe(0);
    expect(t.none(pteIndex(A))).toBe(true);
  });

  it('MADV_FREE, MADV_COLD and MADV_PAGEOUT skip zero-page entries (vm_normal_folio() is NULL): nothing flushed', () => {
    const { run } = engine('linux-6.18');
    run(mmap(4 * MB));
    for (let i = 0; i < 4; i++) run(fault(A + i * PAGE, false));
    for (const advice of [8, 20, 21]) expect(run(madvise(4 * MB, advice))).toEqual([]);
  });

  it('a write next to a zero-page entry in a 64 KiB-mTHP VMA allocates order 0: the block is not all none', () => {
    const { eng, run } = engine('linux-6.18', { enabled: 'madvise', sizes: { 64: 'always', 2048: 'inherit' } });
    run(mmap(4 * MB));
    run(fault(A, false));
    // No recorded allocation: the policy decides (alloc_anon_folio()).
    expect(run(fault(A + PAGE, true))).toEqual(['rss_stat +4096']);
    expect(eng.folios().map((f) => f.order)).toEqual([0]);
    // A write to the zero-page entry itself copies one page, whatever mTHP sizes are enabled.
    expect(run(fault(A, true))).toEqual(['rss_stat +4096', 'tlb_flush pages=1']);
    expect(eng.folios().map((f) => f.order)).toEqual([0, 0]);
  });
});

describe('the huge zero page (MADV_HUGEPAGE range, use_zero_page)', () => {
  function readThenWrite(spec: string): { eng: Engine; read: string[]; write: string[]; orders: number[]; unmap: string[] } {
    const { eng, run } = engine(spec);
    run(mmap(4 * MB));
    run(madvise(4 * MB, 14));
    const read = run(fault(A, false, [pgtable(0x300)]));
    const e = eng.mmOf(10).pmds.get(pmdIndex(A));
    expect(e && e.kind === 'huge' && e.zero).toBe(true);
    expect(eng.folios()).toHaveLength(0);
    const write = run(fault(A + 5 * PAGE, true));
    const orders = eng.folios().map((f) => f.order);
    const unmap = run(munmap(4 * MB));
    return { eng, read, write, orders, unmap };
  }

  it('a read maps the huge zero PMD: no folio, no rss, no flush', () => {
    expect(readThenWrite('linux-6.18').read).toEqual([]);
  });

  it('6.18 (do_huge_zero_wp_pmd): a write maps a PMD THP in place — one 2 MiB flush, +2 MiB rss', () => {
    const { eng, write, orders, unmap } = readThenWrite('linux-6.18');
    expect(write).toEqual(['tlb_flush pages=-1', 'rss_stat +2097152']);
    expect(orders).toEqual([9]);
    expect(eng.counters().thp_split_pmd).toBeUndefined();
    // The deposited table stayed with the PMD: munmap frees it and the THP.
    expect(unmap.filter((x) => x.startsWith('mm_page_free'))).toEqual(['mm_page_free order=0 pgtable', 'mm_page_free order=9 folio']);
  });

  it('6.12 and 6.1: a write splits the zero PMD into zero-page PTEs (2 MiB flush) and copies one 4 KiB page', () => {
    const r12 = readThenWrite('linux-6.12');
    expect(r12.write).toEqual(['tlb_flush pages=-1', 'rss_stat +4096', 'tlb_flush pages=1']);
    expect(r12.eng.counters().thp_split_pmd).toBe(1);
    expect(r12.orders).toEqual([0]);
    // 6.1 caches the fault's rss update in the task (no event at the fault).
    expect(readThenWrite('linux-6.1').write).toEqual(['tlb_flush pages=-1', 'tlb_flush pages=1']);
  });

  it('munmap of a huge zero PMD frees its deposited table only', () => {
    const { eng, run } = engine('linux-6.18');
    run(mmap(4 * MB));
    run(madvise(4 * MB, 14));
    run(fault(A, false, [pgtable(0x300)]));
    const out = run(munmap(4 * MB));
    expect(out.filter((x) => x.startsWith('rss_stat'))).toEqual([]);
    expect(out.filter((x) => x.startsWith('mm_page_free'))).toEqual(['mm_page_free order=0 pgtable']);
    expect(eng.folios()).toHaveLength(0);
  });
});

describe('memory the model did not see mapped', () => {
  it('an implicit VMA for a fault outside every known VMA keeps the VMAs in address order (exit zaps in that order)', () => {
    const { eng, run } = engine('linux-6.18');
    run(mmap(4 * MB));
    const low = 0x55f400000000;
    run(fault(A, true, [pgtable(0x100), data(0x200)]));
    run(fault(low, true, [pgtable(0x101), data(0x201)]));
    // Both folios reach the LRU (the batch's reference would keep them past the exit).
    run({ ...base, at: at(), kind: 'lru-drain', pfns: [0x200, 0x201] });
    const mm = eng.k.mms.get(10)!;
    expect(mm.vmas.map((v) => v.vm_start)).toEqual([...mm.vmas.map((v) => v.vm_start)].sort((a, b) => a - b));
    const frees = eng.step({ ...base, at: at(), kind: 'exit' }).emitted.flatMap((e) => (e.ev === 'mm_page_free' && e.what === 'folio' ? [e.pfn] : []));
    expect(frees).toEqual([0x201, 0x200]);
  });
});
