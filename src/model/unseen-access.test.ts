/**
 * Accesses to present memory leave no event. A reclaim decision that took an entry's accessed
 * bit as old, where a thread that does not mark its accesses could have set it, is reported as
 * unseen (StepResult `unseen`) instead of being taken as the kernel's.
 *
 *   thread 10 (the window's driver, CPU 0): mmap A (4 order-0 pages), write faults, MADV_FREE,
 *     then MADV_PAGEOUT or memory.reclaim of A
 *   thread 11 (CPU 1): a reader of A (`fl: note role=reader`), a marking spinner (`fl: thread`
 *     only), or a thread that announced nothing — running during the call, or switched out
 *     before it
 */
import { describe, expect, it } from 'vitest';
import { Engine, type StepResult } from './engine.js';
import type { Op } from './ops.js';
import { buildConfig } from './presets.js';
import type { ThpSettings } from './config.js';

const A = 0x7f0000000000;
const PAGE = 4096;
const NO_THP: ThpSettings = { enabled: 'never', sizes: {} };

type Sibling = 'reader' | 'spinner' | 'unannounced';

class Run {
  readonly eng: Engine;
  private n = 0;
  constructor(preset: string) {
    this.eng = new Engine(buildConfig(preset, 'x86', NO_THP), { checkInvariants: true });
  }
  step(op: Record<string, unknown>, tid = 10, cpu = 0): StepResult {
    const i = this.n++;
    const r = this.eng.step({ tid, tgid: 10, cpu, at: { index: i, line: i + 1 }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return r;
  }
}

/** Sets up the window, thread 11 as `sibling`, and A's four lazyfree pages. */
function lazyfree(preset: string, sibling: Sibling | undefined, window = true): Run {
  const r = new Run(preset);
  if (window) r.step({ kind: 'marker', verb: 'begin', text: 'begin scenario=T variant=v pid=10' });
  r.step({ kind: 'run', on: true });
  if (sibling) {
    r.step({ kind: 'thread', child: 11 });
    if (sibling !== 'unannounced') r.step({ kind: 'accesses' }, 11, 1);
    if (sibling === 'reader') r.step({ kind: 'accesses', reads: [A, 4 * PAGE] }, 11, 1);
    r.step({ kind: 'run', on: true }, 11, 1);
  }
  r.step({ kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
  for (let i = 0; i < 4; i++) {
    r.step({ kind: 'fault', addr: A + i * PAGE, write: true, allocs: [...(i === 0 ? [{ pfn: 0x10, order: 0, use: 'pgtable' }] : []), { pfn: 0x100 + i, order: 0, use: 'user' }] });
  }
  r.step({ kind: 'madvise', addr: A, len: 4 * PAGE, advice: 'MADV_FREE' });
  return r;
}

const pageout = (r: Run): StepResult => r.step({ kind: 'madvise', addr: A, len: 4 * PAGE, advice: 'MADV_PAGEOUT' });
const reclaim = (r: Run): StepResult => r.step({ kind: 'memcg-reclaim', bytes: 4 * PAGE, how: 'memcg-reclaim' });
const frees = (s: StepResult): number => s.emitted.filter((e) => e.ev === 'mm_page_free').length;

describe('MADV_PAGEOUT while another thread of the process runs on another CPU', () => {
  it('6.1 (reclaim_pages() checks references after the walk aged them): a reader of the range makes each check unseen', () => {
    const s = pageout(lazyfree('linux-6.1', 'reader'));
    expect(s.unseen?.what).toBe('accessed');
    expect(s.unseen?.why).toMatch(/thread 11 of pid 10, which reads 0x7f0000000000\+0x4000 .* CPU 1/);
    // The model's own answer stays: every page discarded.
    expect(frees(s)).toBe(4);
  });

  it('6.12 (references ignored): only the discard is unseen — the reader may hold a passing reference', () => {
    const s = pageout(lazyfree('linux-6.12', 'reader'));
    expect(s.unseen?.what).toBe('reference');
    expect(s.unseen?.n).toBe(4);
  });

  it('a thread that announced itself (`fl: thread`) and declared no unmarked reads leaves every decision known', () => {
    for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) expect(pageout(lazyfree(preset, 'spinner')).unseen).toBeUndefined();
  });

  it('a thread that announced nothing may touch anything', () => {
    expect(pageout(lazyfree('linux-6.1', 'unannounced')).unseen?.why).toMatch(/^thread 11 of pid 10 was running during the call on CPU 1/);
  });

  it('with the reader switched out before the call, the walk\'s aging comes after its reads: nothing unseen', () => {
    const r = lazyfree('linux-6.1', 'reader');
    r.step({ kind: 'run', on: false, idle: true }, 11, 1);
    expect(pageout(r).unseen).toBeUndefined();
  });

  it('a reader of another range is not a reader of this one', () => {
    const r = new Run('linux-6.1');
    r.step({ kind: 'marker', verb: 'begin', text: 'begin' });
    r.step({ kind: 'thread', child: 11 });
    r.step({ kind: 'accesses', reads: [A + 0x100000, 4 * PAGE] }, 11, 1);
    r.step({ kind: 'run', on: true }, 11, 1);
    r.step({ kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < 4; i++) r.step({ kind: 'fault', addr: A + i * PAGE, write: true, allocs: [...(i === 0 ? [{ pfn: 0x10, order: 0, use: 'pgtable' }] : []), { pfn: 0x100 + i, order: 0, use: 'user' }] });
    r.step({ kind: 'madvise', addr: A, len: 4 * PAGE, advice: 'MADV_FREE' });
    expect(pageout(r).unseen).toBeUndefined();
  });
});

describe('memory.reclaim after MADV_FREE aged the entries', () => {
  it('a reader that ran in between (switched out since) may have made them young: unseen', () => {
    const r = lazyfree('linux-6.18', 'reader');
    r.step({ kind: 'run', on: false, idle: true }, 11, 1);
    const s = reclaim(r);
    expect(s.unseen?.what).toBe('accessed');
    expect(s.unseen?.why).toMatch(/thread 11 of pid 10 ran unmarked user code on CPU 1/);
  });

  it('a single-threaded workload in a `fl: begin` window marks its accesses: known', () => {
    expect(reclaim(lazyfree('linux-6.18', undefined)).unseen).toBeUndefined();
  });

  it('without the window (a recorded program, no markers) the program itself ran between: unseen', () => {
    const s = reclaim(lazyfree('linux-6.18', undefined, false));
    expect(s.unseen?.what).toBe('accessed');
    expect(s.unseen?.why).toMatch(/thread 10 of pid 10 ran unmarked user code before line/);
  });

  it('a recorded pass that kept none of its pages decides them (mm_vmscan_lru_shrink_inactive nr_ref_keep=0)', () => {
    const r = lazyfree('linux-6.12', undefined, false);
    const s = r.step({ kind: 'memcg-reclaim', bytes: 4 * PAGE, how: 'memcg-reclaim', inactivePasses: [{ scanned: 4, refKeep: 0 }] });
    expect(s.unseen).toBeUndefined();
  });
});

describe('MADV_FREE over entries it already left clean and old', () => {
  const flushes = (s: StepResult) => s.emitted.filter((e) => e.ev === 'tlb_flush');
  it('with only the marking driver, no flush is predicted; with a reader running, the flush is predicted and uncertain', () => {
    const alone = lazyfree('linux-6.18', undefined);
    expect(flushes(alone.step({ kind: 'madvise', addr: A, len: 4 * PAGE, advice: 'MADV_FREE' }))).toEqual([]);
    const read = lazyfree('linux-6.18', 'reader');
    const f = flushes(read.step({ kind: 'madvise', addr: A, len: 4 * PAGE, advice: 'MADV_FREE' }));
    expect(f.length).toBeGreaterThan(0);
    expect(f.every((e) => e.ev === 'tlb_flush' && e.uncertain === 'touched')).toBe(true);
  });
});

describe('a marked load (`fl: load`)', () => {
  const freed = (s: StepResult): number[] => s.emitted.flatMap((e) => (e.ev === 'mm_page_free' ? [e.pfn] : []));
  it('sets the accessed bit: memory.reclaim\'s first pass keeps the page read (FOLIOREF_KEEP), a later one frees it', () => {
    const plain = freed(reclaim(lazyfree('linux-6.18', undefined)));
    const r = lazyfree('linux-6.18', undefined);
    r.step({ kind: 'store', addr: A, len: 1, stride: 0, count: 1, read: true });
    const s = reclaim(r);
    expect(s.unseen).toBeUndefined();
    expect(plain[plain.length - 1]).not.toBe(0x100);
    expect(freed(s)).toEqual([...plain.filter((p) => p !== 0x100), 0x100]);
  });
});

describe('a fault that overlapped another task\'s fault on the same page (Op fault racedWith)', () => {
  const run = (raced?: { line: number; tgid: number }) => {
    const r = new Run('linux-6.18');
    r.step({ kind: 'marker', verb: 'begin', text: 'begin' });
    r.step({ kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
    return r.step({ kind: 'fault', addr: A + 0x650, write: true, allocs: [{ pfn: 0x10, order: 0, use: 'pgtable' }, { pfn: 0x100, order: 0, use: 'user' }], ...(raced ? { racedWith: raced.line, racedTgid: raced.tgid } : {}) });
  };
  it('of the same process: an unseen decision of kind order, naming both lines and the page', () => {
    const s = run({ line: 40, tgid: 10 });
    expect(s.unseen?.what).toBe('order');
    expect(s.unseen?.why).toBe('the faults at lines 3 and 40 on page 0x7f0000000000 overlapped, one task switched out in the middle of its fault');
    expect(s.unseen?.tgids).toEqual([10]);
  });
  it('of another process on a page the two do not share, or without the mark: nothing unseen', () => {
    expect(run({ line: 40, tgid: 20 }).unseen).toBeUndefined();
    expect(run().unseen).toBeUndefined();
  });
});

describe('a zap whose gather may also hold pages the model does not hold (Vma.unseenPages)', () => {
  /** munmap of `n` faulted order-0 pages; the VMA marked as holding unseen pages or not. */
  const munmap = (n: number, unseenPages: boolean): StepResult => {
    const r = new Run('linux-6.18');
    r.step({ kind: 'marker', verb: 'begin', text: 'begin' });
    r.step({ kind: 'mmap', addr: A, len: n * PAGE, prot: 3, flags: 0x22, anon: true });
    let pfn = 0x100000;
    for (let i = 0; i < n; i++) {
      const allocs = [...(i % 512 === 0 ? [{ pfn: 0x10 + i / 512, order: 0, use: 'pgtable' }] : []), { pfn: pfn++, order: 0, use: 'user' }];
      r.step({ kind: 'fault', addr: A + i * PAGE, write: true, allocs });
    }
    const vma = r.eng.mmOf(10).vmas.find((v) => v.vm_start === A)!;
    if (unseenPages) vma.unseenPages = true;
    return r.step({ kind: 'munmap', addr: A, len: n * PAGE });
  };
  it('near the gather\'s capacity, where its batches filled is named as unknown (StepResult unseenOutput)', () => {
    expect(munmap(9600, true).unseenOutput).toMatch(/^the zap gathered up to 9600 pages the model does not hold beside its own 9600 entries/);
  });
  it('far below it, or with no such pages, nothing is unknown', () => {
    expect(munmap(512, true).unseenOutput).toBeUndefined();
    expect(munmap(9600, false).unseenOutput).toBeUndefined();
  });
});

describe('an exit of an mm that holds memory mapped before the window (no snapshot)', () => {
  const exit = (preWindow: boolean): StepResult => {
    const r = new Run('linux-6.18');
    if (preWindow) r.step({ kind: 'prewindow', missing: 'memory mapped before the window', cpus: [0] });
    r.step({ kind: 'mmap', addr: A, len: 4 * PAGE, prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < 4; i++) r.step({ kind: 'fault', addr: A + i * PAGE, write: true, allocs: [...(i === 0 ? [{ pfn: 0x10, order: 0, use: 'pgtable' }] : []), { pfn: 0x100 + i, order: 0, use: 'user' }] });
    return r.step({ kind: 'exit' });
  };
  it('names where its gather filled as unknown (the kernel zaps those pages in the same batches); without such memory, nothing', () => {
    expect(exit(true).unseenOutput).toMatch(/^the zap gathered pages of memory mapped before the window \(how many is in no event\) beside its own \d+ entries/);
    expect(exit(false).unseenOutput).toBeUndefined();
  });
});

describe('a thread of a forked child that no longer maps the folio (its copy-on-write broke the sharing)', () => {
  it('cannot make the parent\'s entries young: the parent\'s MADV_PAGEOUT on 6.1 decides them known', () => {
    const run = (childWrites: boolean) => {
      const eng = new Engine(buildConfig('linux-6.1', 'x86', NO_THP), { checkInvariants: true });
      let i = 0;
      const step = (op: Record<string, unknown>, tid: number, tgid: number, cpu: number) => eng.step({ tid, tgid, cpu, at: { index: i, line: ++i }, ...op } as Op);
      step({ kind: 'marker', verb: 'begin', text: 'begin' }, 10, 10, 0);
      step({ kind: 'mmap', addr: A, len: PAGE, prot: 3, flags: 0x22, anon: true }, 10, 10, 0);
      step({ kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x10, order: 0, use: 'pgtable' }, { pfn: 0x100, order: 0, use: 'user' }] }, 10, 10, 0);
      step({ kind: 'fork', child: 20, allocs: [] }, 10, 10, 0);
      if (childWrites) step({ kind: 'fault', addr: A, write: true, present: true, allocs: [{ pfn: 0x200, order: 0, use: 'user' }] }, 20, 20, 1);
      step({ kind: 'thread', child: 21 }, 20, 20, 1);
      step({ kind: 'run', on: true }, 21, 20, 1);
      return step({ kind: 'madvise', addr: A, len: PAGE, advice: 'MADV_PAGEOUT' }, 10, 10, 0);
    };
    const s = run(true);
    expect(s.emitted.some((e) => e.ev === 'mm_page_free' && e.pfn === 0x100)).toBe(false);
    expect(s.unseen).toBeUndefined();
  });
});
