/**
 * What a real program's memory shows the model only in part, driven through the Engine:
 *  - a write-protect fault (error code P) on an entry the model never saw mapped, in memory
 *    whose mapping it did not see made (an exec'd data segment, bss): the recorded order-0
 *    allocation says the kernel copied — +1 anon rss and a one-page flush;
 *  - 6.12+ splits map zero-filled pages back as the zero page (what the split restored is the
 *    op's `restored` pages), and the caller's reference frees an unmapped head after the split;
 *  - without `fl: store` markers, MADV_FREE over entries the kernel already cleaned makes a
 *    flush that depends on whether the program touched them (an `uncertain` flush).
 */
import { describe, expect, it } from 'vitest';
import type { Emission } from './emit.js';
import { Engine } from './engine.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const PAGE = 4096;
const MADV_FREE = 8;

let line = 0;
const at = () => ({ index: line, line: ++line });
const data = (pfn: number, order = 0): AllocFact => ({ pfn, order, use: 'user' });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });

function events(out: Emission[]): string[] {
  return out.map((e) => {
    switch (e.ev) {
      case 'tlb_flush': return `tlb_flush pages=${e.pages}${e.uncertain ? ` uncertain:${e.uncertain}` : ''}`;
      case 'rss_stat': return `rss_stat ${e.delta > 0 ? '+' : ''}${e.delta}`;
      case 'mm_page_free': return `mm_page_free pfn=0x${e.pfn.toString(16)} ${e.what}`;
      default: return e.ev;
    }
  });
}

function engine(spec: string) {
  const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: true });
  return (op: Op): string[] => {
    const r = eng.step(op);
    expect(r.violations).toEqual([]);
    return events(r.emitted);
  };
}

describe('a write-protect fault on an entry the model never saw', () => {
  const fault = (addr: number, code: { write: boolean; present?: boolean }, allocs: AllocFact[]): Op =>
    ({ ...base, at: at(), kind: 'fault', addr, write: code.write, present: code.present, allocs });

  for (const spec of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${spec}: present + write + an order-0 allocation in unseen memory copies: +1 anon, one 1-page flush; the copy is then the model's`, () => {
      const run = engine(spec);
      const out = run(fault(A, { write: true, present: true }, [data(0x500)]));
      // 6.1 keeps the increment in the task's rss cache: no rss_stat yet.
      expect(out).toEqual(spec === 'linux-6.1' ? ['tlb_flush pages=1'] : ['rss_stat +4096', 'tlb_flush pages=1']);
      // The copy is present and writable: a later write fault there changes nothing.
      expect(run(fault(A, { write: true, present: true }, []))).toEqual([]);
    });
  }

  it('not present (a first write into bss or a private file page not yet mapped): no flush', () => {
    const run = engine('linux-6.18');
    expect(run(fault(A, { write: true, present: false }, [data(0x501)]))).toEqual(['rss_stat +4096']);
    expect(run(fault(A + PAGE, { write: true }, [data(0x502)]))).toEqual(['rss_stat +4096']);
  });

  it('in an anonymous mapping the model saw made, the error code does not override its state', () => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 16 * PAGE, prot: 3, flags: 0x22, anon: true });
    expect(run(fault(A, { write: true, present: true }, [pgtable(0x600), data(0x601)]))).toEqual(['rss_stat +4096']);
  });
});

describe('a split maps zero-filled pages back as the zero page (6.12+)', () => {
  const ops = (restoredSkip: number[]) => {
    const mmap: Op = { ...base, at: at(), kind: 'mmap', addr: A, len: 64 * 1024, prot: 3, flags: 0x22, anon: true };
    const fault: Op = { ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)] };
    const pages = Array.from({ length: 16 }, (_, i) => A + i * PAGE);
    // MADV_FREE of three pages in the middle of the 64K folio: the folio is split.
    const free: Op = {
      ...base, at: at(), kind: 'madvise', addr: A + 4 * PAGE, len: 3 * PAGE, advice: MADV_FREE,
      migrated: pages, restored: pages.filter((_, i) => !restoredSkip.includes(i)),
    };
    return { mmap, fault, free };
  };

  it('linux-6.18: an unrestored tail page: -1 anon rss in the restore loop, freed with the split', () => {
    const run = engine('linux-6.18');
    const { mmap, fault, free } = ops([3]);
    run(mmap);
    run(fault);
    const out = run(free);
    const rss = out.indexOf('rss_stat -4096');
    const freed = out.indexOf('mm_page_free pfn=0x2003 folio');
    expect(rss).toBeGreaterThan(0);
    expect(freed).toBeGreaterThan(rss);
    expect(out.filter((e) => e.startsWith('mm_page_free'))).toEqual(['mm_page_free pfn=0x2003 folio']);
  });

  it('linux-6.18: an unrestored head page is freed by the caller\'s folio_put(), after the pieces the split freed', () => {
    const run = engine('linux-6.18');
    const { mmap, fault, free } = ops([0, 9]);
    run(mmap);
    run(fault);
    const out = run(free);
    expect(out.filter((e) => e.startsWith('mm_page_free'))).toEqual(['mm_page_free pfn=0x2009 folio', 'mm_page_free pfn=0x2000 folio']);
    expect(out.filter((e) => e === 'rss_stat -4096')).toHaveLength(2);
  });

  it('linux-6.1: every page is restored; nothing is freed', () => {
    const run = engine('linux-6.1');
    const { mmap, free } = ops([3]);
    run(mmap);
    // 6.1 has no anon mTHP: a PMD-less 64K folio comes only from the recorded order.
    run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)] });
    expect(run(free).filter((e) => e.startsWith('mm_page_free') || e === 'rss_stat -4096')).toEqual([]);
  });

  it('without migration events every page is taken as holding data', () => {
    const run = engine('linux-6.18');
    const { mmap, fault, free } = ops([3]);
    run(mmap);
    run(fault);
    const { migrated: _m, restored: _r, ...bare } = free as Extract<Op, { kind: 'madvise' }>;
    expect(run(bare as Op).filter((e) => e.startsWith('mm_page_free'))).toEqual([]);
  });
});

describe('a PMD-mapped THP split (6.12+): its PMD froze into migration entries no event shows', () => {
  const MB = 1024 * 1024;
  const seq = (restored: number[] | undefined) => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
    run({ ...base, at: at(), kind: 'madvise', addr: A, len: 2 * MB, advice: 14 });
    run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [data(0x40000, 9), pgtable(0x1000)] });
    // MADV_FREE of one page in the second half: madvise_free_huge_pmd() splits the folio.
    return run({ ...base, at: at(), kind: 'madvise', addr: A + MB, len: PAGE, advice: MADV_FREE, ...(restored ? { restored } : {}) });
  };
  it('the pages not restored were zero-filled: each is mapped by the zero page (-1 anon rss) and freed', () => {
    const written = Array.from({ length: 15 }, (_, i) => A + i * PAGE);
    const out = seq(written);
    expect(out.filter((e) => e === 'rss_stat -4096')).toHaveLength(512 - 15);
    expect(out.filter((e) => e.startsWith('mm_page_free') && e.endsWith('folio'))).toHaveLength(512 - 15);
  });
  it('without migration events every page is taken as holding data', () => {
    const out = seq(undefined);
    expect(out.filter((e) => e === 'rss_stat -4096')).toEqual([]);
  });
});

describe('reclaim\'s split (split_folio_to_list): a piece the zero page now maps keeps the list\'s reference', () => {
  const MADV_PAGEOUT = 21;
  it('it is activated with the others and freed where the lru_add batch drains, not by the split', () => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 64 * 1024, prot: 3, flags: 0x22, anon: true });
    run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)] });
    const pages = Array.from({ length: 16 }, (_, i) => A + i * PAGE);
    const out = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 64 * 1024, advice: MADV_PAGEOUT, migrated: pages, restored: pages.filter((_, i) => i !== 5) });
    expect(out.filter((e) => e === 'rss_stat -4096')).toHaveLength(1);
    // No swap: all 16 pages fail and are activated (nr_activate_anon counts the zero-filled one).
    const reclaim = out.indexOf('mm_vmscan_reclaim_pages');
    expect(reclaim).toBeGreaterThan(0);
    expect(out.slice(0, reclaim).filter((e) => e.startsWith('mm_page_free'))).toEqual([]);
    // The next drain of the lru_add batch puts its last reference.
    const after = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 64 * 1024, advice: MADV_FREE });
    expect(after.filter((e) => e.startsWith('mm_page_free'))).toEqual(['mm_page_free pfn=0x2005 folio']);
  });
  for (const [spec, order] of [['linux-6.12', ['0x2005', '0x2009']], ['linux-6.18', ['0x2009', '0x2005']]] as const) {
    it(`${spec}: the pieces go back, and are freed at the drain, in the order the split made them (traits.splitTailsCreatedLastFirst)`, () => {
      const run = engine(spec);
      run({ ...base, at: at(), kind: 'mmap', addr: A, len: 64 * 1024, prot: 3, flags: 0x22, anon: true });
      run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)] });
      const pages = Array.from({ length: 16 }, (_, i) => A + i * PAGE);
      run({ ...base, at: at(), kind: 'madvise', addr: A, len: 64 * 1024, advice: MADV_PAGEOUT, migrated: pages, restored: pages.filter((_, i) => i !== 5 && i !== 9) });
      const after = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 64 * 1024, advice: MADV_FREE });
      expect(after.filter((e) => e.startsWith('mm_page_free')).map((e) => e.split(' ')[1]!.slice(4))).toEqual(order);
    });
  }
  it('when the record says the batch drained during the putback, the putback\'s folio_put() frees it there', () => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 64 * 1024, prot: 3, flags: 0x22, anon: true });
    run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)], lruAdded: [0x2000] });
    const pages = Array.from({ length: 16 }, (_, i) => A + i * PAGE);
    const pieces = Array.from({ length: 16 }, (_, i) => 0x2000 + i);
    const out = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 64 * 1024, advice: MADV_PAGEOUT, migrated: pages, restored: pages.slice(1), lruAdded: pieces });
    expect(out.filter((e) => e.startsWith('mm_page_free'))).toEqual(['mm_page_free pfn=0x2000 folio']);
  });
});

describe('MADV_FREE over entries the kernel already cleaned', () => {
  const seq = (markers: boolean) => {
    const run = engine('linux-6.18');
    if (markers) run({ ...base, at: at(), kind: 'marker', verb: 'begin', text: 'fl: begin' });
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < 4; i++) run({ ...base, at: at(), kind: 'fault', addr: A + i * PAGE, write: true, allocs: i === 0 ? [pgtable(0x3000), data(0x3001 + i)] : [data(0x3001 + i)] });
    const first = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 4 * PAGE, advice: MADV_FREE });
    const second = run({ ...base, at: at(), kind: 'madvise', addr: A, len: 4 * PAGE, advice: MADV_FREE });
    return { first, second };
  };

  it('without markers the second call\'s flush is uncertain (the program may have written the pages since)', () => {
    const { first, second } = seq(false);
    expect(first).toEqual(['tlb_flush pages=4']);
    expect(second).toEqual(['tlb_flush pages=4 uncertain:touched']);
  });

  it('inside a fl: begin window stores are marked: no store, no flush', () => {
    const { first, second } = seq(true);
    expect(first).toEqual(['tlb_flush pages=4']);
    expect(second).toEqual([]);
  });
});

describe('a private file mapping: its file pages are not modelled, its anonymous copies are', () => {
  const MAP_PRIVATE = 0x02;
  const MAP_FIXED = 0x10;
  const mmapFile = (len: number, flags = MAP_PRIVATE): Op => ({ ...base, at: at(), kind: 'mmap', addr: A, len, prot: 3, flags, anon: false });
  const fault = (addr: number, write: boolean, present: boolean, allocs: AllocFact[] = []): Op => ({ ...base, at: at(), kind: 'fault', addr, write, present, allocs });

  it('linux-6.18: a read maps a file page (nothing compared); a first write copies (+1 anon, no flush); a write to a present file page copies and flushes one page', () => {
    const run = engine('linux-6.18');
    expect(run(mmapFile(4 * PAGE))).toEqual([]);
    expect(run(fault(A, false, false, [pgtable(0x700)]))).toEqual([]);
    expect(run(fault(A + PAGE, true, false, [data(0x701)]))).toEqual(['rss_stat +4096']);
    expect(run(fault(A, true, true, [data(0x702)]))).toEqual(['rss_stat +4096', 'tlb_flush pages=1']);
    // munmap: both copies leave (-2 anon, freed), the table is freed; the file pages the reads
    // and fault-around mapped widen the flush range in a way no event shows.
    const out = run({ ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE });
    expect(out.filter((e) => e.startsWith('rss_stat'))).toEqual(['rss_stat -8192']);
    const flushes = out.filter((e) => e.startsWith('tlb_flush'));
    expect(flushes).toHaveLength(1);
    expect(flushes[0]).toMatch(/uncertain:unseen$/);
  });

  it('a private file mapping only written (no file page mapped) zaps with a certain flush', () => {
    const run = engine('linux-6.18');
    run(mmapFile(4 * PAGE));
    run(fault(A, true, false, [pgtable(0x710), data(0x711)]));
    const out = run({ ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE });
    expect(out.filter((e) => e.startsWith('tlb_flush'))).toEqual(['tlb_flush pages=1']);
  });

  it('a shared mapping stays outside the model, and its pages make a later zap\'s flush uncertain', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    eng.step(mmapFile(4 * PAGE, 0x01));
    expect(eng.step(fault(A, true, true, [])).unmodelled).toBeDefined();
    const out = events(eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE }).emitted);
    expect(out.every((e) => e.endsWith('uncertain:unseen'))).toBe(true);
  });

  it('mmap with MAP_FIXED over anonymous memory unmaps it first (6.1: rss, flush, then its table and page freed)', () => {
    const run = engine('linux-6.1');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
    run(fault(A, true, false, [pgtable(0x720), data(0x721)]));
    const out = run({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22 | MAP_FIXED, anon: true });
    // 6.1 release_pages() frees an order-0 batch in reverse: the table, then the page.
    expect(out.filter((e) => !e.startsWith('rss_stat'))).toEqual(['tlb_flush pages=1', 'mm_page_free pfn=0x720 pgtable', 'mm_page_free pfn=0x721 folio']);
  });
});

describe('a fault that was retried (VM_FAULT_RETRY)', () => {
  it('a page table allocated after the first try\'s folio (its preallocated PTE table) is freed with it', () => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x02, anon: false });
    const out = run({ ...base, at: at(), kind: 'fault', addr: A, write: true, present: false, allocs: [data(0x741), pgtable(0x742), data(0x743), pgtable(0x744)] });
    expect(out).toEqual(['mm_page_free pfn=0x741 folio', 'mm_page_free pfn=0x742 pgtable', 'rss_stat +4096']);
  });

  it('the first try\'s folio is put (freed) before the retry maps the second; its page table stays', () => {
    const run = engine('linux-6.18');
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x02, anon: false });
    const out = run({ ...base, at: at(), kind: 'fault', addr: A, write: true, present: false, allocs: [pgtable(0x730), data(0x731), data(0x732)] });
    expect(out).toEqual(['mm_page_free pfn=0x731 folio', 'rss_stat +4096']);
    // One page is mapped: the unmap takes one page of rss.
    const unmap = run({ ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE });
    expect(unmap.filter((e) => e.startsWith('rss_stat'))).toEqual(['rss_stat -4096']);
  });
});

describe('the brk heap', () => {
  const H = 0x1000000;
  const brk = (arg: number, result: number): Op => ({ ...base, at: at(), kind: 'brk', brk: arg, result });

  it('is one VMA from the first break seen; shrinking the break unmaps the top (rss, flush)', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    const run = (op: Op) => events(eng.step(op).emitted);
    run(brk(0, H));
    run(brk(H + 8 * PAGE, H + 8 * PAGE));
    run({ ...base, at: at(), kind: 'fault', addr: H, write: true, allocs: [pgtable(0x900), data(0x901)] });
    run({ ...base, at: at(), kind: 'fault', addr: H + 6 * PAGE, write: true, allocs: [data(0x902)] });
    const mm = eng.k.mms.get(10)!;
    expect(mm.vmas.filter((v) => v.heap).map((v) => [v.vm_start, v.vm_end])).toEqual([[H, H + 8 * PAGE]]);
    expect(mm.vmas.some((v) => v.implicit)).toBe(false);
    expect(run(brk(H + 4 * PAGE, H + 4 * PAGE))).toEqual(['rss_stat -4096', 'tlb_flush pages=1']);
    // A refused call (another value returned) changes nothing.
    expect(run(brk(H + 64 * PAGE, H + 4 * PAGE))).toEqual([]);
    expect(mm.vmas.filter((v) => v.heap).map((v) => v.vm_end)).toEqual([H + 4 * PAGE]);
  });

  it('pages faulted before the heap was known join it', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    eng.step({ ...base, at: at(), kind: 'fault', addr: H + PAGE, write: true, allocs: [pgtable(0x910), data(0x911)] });
    eng.step(brk(0, H));
    eng.step(brk(H + 4 * PAGE, H + 4 * PAGE));
    const mm = eng.k.mms.get(10)!;
    expect(mm.vmas.map((v) => [v.vm_start, v.vm_end, v.heap ?? false, v.implicit])).toEqual([[H, H + 4 * PAGE, true, false]]);
  });
});

describe('implicit VMAs of one page table', () => {
  it('grow into one (one rss update per table at the zap), but not across a VMA the model knows', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    const X = 0x600000;
    eng.step({ ...base, at: at(), kind: 'fault', addr: X, write: true, allocs: [pgtable(0x920), data(0x921)] });
    eng.step({ ...base, at: at(), kind: 'fault', addr: X + 5 * PAGE, write: true, allocs: [data(0x922)] });
    eng.step({ ...base, at: at(), kind: 'mmap', addr: X + 8 * PAGE, len: PAGE, prot: 3, flags: 0x32, anon: true });
    eng.step({ ...base, at: at(), kind: 'fault', addr: X + 10 * PAGE, write: true, allocs: [data(0x923)] });
    const mm = eng.k.mms.get(10)!;
    expect(mm.vmas.filter((v) => v.implicit).map((v) => [v.vm_start - X, v.vm_end - X])).toEqual([[0, 6 * PAGE], [10 * PAGE, 11 * PAGE]]);
  });
});

describe('an unmap larger than the mmu_gather\'s batches', () => {
  // 6.1: each page one entry, a batch full at its size: 8 + 19 x 510 = 9698 pages fit.
  // 6.18: a batch counts full one entry early: 7 + 19 x 509 = 9678.
  for (const [spec, fit] of [['linux-6.1', 9698], ['linux-6.18', 9678]] as const) {
    it(`${spec}: the zap flushes and frees after ${fit} pages, then goes on (the table's rss in two updates)`, () => {
      const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: false });
      const n = 10240;
      eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: n * PAGE, prot: 3, flags: 0x22, anon: true });
      for (let i = 0; i < n; i++) {
        const allocs = i % 512 === 0 ? [pgtable(0x100000 + i), data(0x200000 + i)] : [data(0x200000 + i)];
        eng.step({ ...base, at: at(), kind: 'fault', addr: A + i * PAGE, write: true, allocs });
      }
      // Out of the lru_add batch, so that the unmap frees what it zaps.
      eng.step({ ...base, at: at(), kind: 'lru-drain', pfns: [] });
      const out = eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: n * PAGE }).emitted;
      const firstFlush = out.findIndex((e) => e.ev === 'tlb_flush');
      // (6.1 may also sync its per-task rss cache here: a positive update, not the zap's.)
      const zapped = out.slice(0, firstFlush).filter((e) => e.ev === 'rss_stat' && e.delta < 0).reduce((s, e) => s + (e as { delta: number }).delta, 0);
      expect(-zapped / PAGE).toBe(fit);
      expect(out.filter((e) => e.ev === 'tlb_flush').length).toBe(2);
    });
  }
});

describe('what the model holds no page for, kept apart', () => {
  it('a first write into a shared mapping (its page is shmem\'s) leaves the zap\'s flush uncertain', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x21, anon: false });
    expect(eng.step({ ...base, at: at(), kind: 'fault', addr: A, write: true, present: false, allocs: [data(0x940)] }).unmodelled).toBeDefined();
    const out = events(eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: 4 * PAGE }).emitted);
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((e) => e.endsWith('uncertain:unseen'))).toBe(true);
  });

  it('a break first seen growing (not brk(0)) makes no heap: its start is not known', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: true });
    eng.step({ ...base, at: at(), kind: 'brk', brk: 0x2000000, result: 0x2000000 });
    eng.step({ ...base, at: at(), kind: 'brk', brk: 0x2004000, result: 0x2004000 });
    expect(eng.k.mms.get(10)!.vmas.some((v) => v.heap)).toBe(false);
  });

  it('mmap without MAP_FIXED over an implicit VMA zaps nothing: the implicit VMA gives the range up', () => {
    const eng = new Engine(buildConfig('linux-6.1', 'x86'), { checkInvariants: false });
    const X = 0x600000;
    eng.step({ ...base, at: at(), kind: 'fault', addr: X, write: true, allocs: [pgtable(0x950), data(0x951)] });
    eng.step({ ...base, at: at(), kind: 'fault', addr: X + 6 * PAGE, write: true, allocs: [data(0x952)] });
    const out = eng.step({ ...base, at: at(), kind: 'mmap', addr: X + 2 * PAGE, len: 2 * PAGE, prot: 3, flags: 0x22, anon: true }).emitted;
    expect(out).toEqual([]);
    const mm = eng.k.mms.get(10)!;
    expect(mm.vmas.map((v) => [v.vm_start - X, v.vm_end - X, v.implicit])).toEqual([[0, 2 * PAGE, true], [2 * PAGE, 4 * PAGE, false], [4 * PAGE, 7 * PAGE, true]]);
  });
});

describe('an unmap of many 64K folios (6.18: two entries per folio run)', () => {
  it('fills the bundle after 4 folios (8 entries >= 8 - 1) and each batch after 255 (510 >= 510 - 1): the zap flushes after 4 + 19 x 255 folios', () => {
    const eng = new Engine(buildConfig('linux-6.18', 'x86'), { checkInvariants: false });
    const folios = 4 + 19 * 255 + 8;
    const F = 16 * PAGE;
    eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: folios * F, prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < folios; i++) {
      const allocs = (i * 16) % 512 === 0 ? [pgtable(0x100000 + i), data(0x1000000 + i * 16, 4)] : [data(0x1000000 + i * 16, 4)];
      eng.step({ ...base, at: at(), kind: 'fault', addr: A + i * F, write: true, allocs });
    }
    const out = eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: folios * F }).emitted;
    const firstFlush = out.findIndex((e) => e.ev === 'tlb_flush');
    const zapped = out.slice(0, firstFlush).filter((e) => e.ev === 'rss_stat').reduce((s, e) => s + (e as { delta: number }).delta, 0);
    expect(-zapped / F).toBe(4 + 19 * 255);
  });
});

describe('the CPUs the task ran on before the window (`prewindow` cpus)', () => {
  const seq = (spec: string) => {
    const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: true });
    const step = (op: Op) => eng.step(op).emitted;
    step({ ...base, at: at(), kind: 'prewindow', missing: 'x', cpus: [0, 1] });
    step({ ...base, at: at(), kind: 'mmap', addr: A, len: 64 * 1024, prot: 3, flags: 0x22, anon: true });
    step({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [pgtable(0x1000), data(0x2000, 4)] });
    const pages = Array.from({ length: 16 }, (_, i) => A + i * PAGE);
    // MADV_FREE of three pages inside the 64K folio: the folio is split (unmap_folio()).
    return step({ ...base, at: at(), kind: 'madvise', addr: A + 4 * PAGE, len: 3 * PAGE, advice: MADV_FREE, migrated: pages, restored: pages })
      .filter((e) => e.ev === 'tlb_flush').map((e) => `${(e as { pages: number }).pages}/${(e as { reason: number }).reason}`);
  };
  it('6.18: CPU 1 stays in mm_cpumask (lazily); the split defers its 16 per-PTE flushes into one batched flush (TTU_BATCH_FLUSH)', () => {
    const flushes = seq('linux-6.18');
    expect(flushes.filter((f) => f === '1/3')).toHaveLength(0);
    expect(flushes).toContain('-1/2');
  });
  it('6.1: the switch away took CPU 1 out of mm_cpumask, and the split flushes each entry', () => {
    expect(seq('linux-6.1').filter((f) => f === '1/3')).toHaveLength(16);
  });
});

describe('mprotect RO then RW across a PMD THP (traits.pmdSplitPtesDirty)', () => {
  const MB = 1024 * 1024;
  const seq = (spec: string) => {
    const run = engine(spec);
    run({ ...base, at: at(), kind: 'mmap', addr: A, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
    run({ ...base, at: at(), kind: 'madvise', addr: A, len: 2 * MB, advice: 14 });
    run({ ...base, at: at(), kind: 'fault', addr: A, write: true, allocs: [data(0x40000, 9), pgtable(0x1000)] });
    run({ ...base, at: at(), kind: 'mprotect', addr: A + MB, len: 16 * PAGE, prot: 1 });
    return run({ ...base, at: at(), kind: 'mprotect', addr: A + MB, len: 16 * PAGE, prot: 3 });
  };
  it('6.1: the split left the PTEs clean, can_change_pte_writable() refuses them: nothing changes, no flush', () => {
    expect(seq('linux-6.1')).toEqual([]);
  });
  it('6.12: the split PTEs are dirty: write access comes back and is flushed', () => {
    expect(seq('linux-6.12').filter((e) => e.startsWith('tlb_flush'))).toEqual(['tlb_flush pages=16']);
  });
});
