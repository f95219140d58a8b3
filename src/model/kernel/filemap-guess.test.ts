/**
 * Fault-around over pages whose page-cache state before the window is in no event: the
 * mm_filemap_map_pages range is the one asked, not the pages mapped, so the model's count is a
 * guess (rss_stat `uncertain: 'fileCache'`), matched by position in the comparison.
 *
 *   L |p16 p17 p18 p19|        a library's first segment, mmap()ed at file page 16, 4 pages
 *      ^ read fault at L: fault-around asks for pages 16..19
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { AllocFact, FileFaultEvent, Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { MM_FILEPAGES } from '../state.js';
import { FidelityChecker } from '../../fidelity/compare.js';
import { Recorded } from '../../replay/lift.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const L = 0x7f0000000000;
const FILE = '254:0:1234';
let line = 0;
const at = () => ({ index: line, line: ++line });
const pt = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const mapPages = (first: number, last: number): FileFaultEvent => ({ file: FILE, first, last });
const filemapFault = (first: number): FileFaultEvent => ({ file: FILE, first });
const read = (addr: number, file: FileFaultEvent[], allocs: AllocFact[] = []): Op => ({ ...base, at: at(), kind: 'fault', addr, write: false, present: false, allocs, file });
const fileRss = (out: readonly Emission[]) => out.flatMap((e) => (e.ev === 'rss_stat' && e.member === MM_FILEPAGES ? [{ pages: e.delta / 4096, uncertain: e.uncertain }] : []));

function mapped(): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'mmap', addr: L, len: 0x4000, prot: 1, flags: 0x02, anon: false, off: 0x10000, fileEvents: true });
  return eng;
}

describe('filemap: fault-around over pages the window has not shown uptodate', () => {
  it('the first fault-around over a file\'s pages is a guess; pages filemap_fault() returned are not', () => {
    const eng = mapped();
    // filemap_fault() of page 17 (fault-around could not map it): the page is uptodate now.
    expect(fileRss(eng.step(read(L + 0x1000, [filemapFault(17)], [pt(0x10)])).emitted)).toEqual([{ pages: 1, uncertain: undefined }]);
    // The window's other pages (16, 18, 19) were never shown: the count of 3 is a guess.
    expect(fileRss(eng.step(read(L, [mapPages(16, 19)])).emitted)).toEqual([{ pages: 3, uncertain: 'fileCache' }]);
  });

  it('a window of pages all shown uptodate is predicted for certain', () => {
    const eng = mapped();
    eng.step(read(L + 0x1000, [filemapFault(17)], [pt(0x10)]));
    eng.step({ ...base, at: at(), kind: 'madvise', addr: L, len: 0x4000, advice: 4 } as Op);
    // MADV_DONTNEED unmapped page 17; a fault on page 17's neighbour asks for the same window.
    const r = eng.step(read(L, [mapPages(16, 17)]));
    expect(fileRss(r.emitted).length).toBe(1);
  });

  it('a later fault on a page the model guessed mapped shows the kernel had skipped it', () => {
    const eng = mapped();
    eng.step(read(L, [mapPages(16, 19)], [pt(0x10)]));
    expect(eng.k.mms.get(10)!.rss[MM_FILEPAGES]).toBe(4);
    // The kernel's window left page 18 out (PG_readahead): its fault finds no PTE, fault-around
    // maps nothing (page 18 still marked), filemap_fault() gets it and finish_fault() maps it.
    const r = eng.step(read(L + 0x2000, [mapPages(16, 19), filemapFault(18)]));
    expect(fileRss(r.emitted)).toEqual([{ pages: 0, uncertain: undefined }, { pages: 1, uncertain: undefined }]);
    expect(eng.k.mms.get(10)!.rss[MM_FILEPAGES]).toBe(4);
  });

  it('a zap over guessed pages makes its file rss update a guess', () => {
    const eng = mapped();
    eng.step(read(L, [mapPages(16, 19)], [pt(0x10)]));
    const r = eng.step({ ...base, at: at(), kind: 'munmap', addr: L, len: 0x4000 });
    expect(fileRss(r.emitted)).toEqual([{ pages: -4, uncertain: 'fileCache' }]);
  });
});

describe('compare: an uncertain file rss update takes the recorded one at its position', () => {
  it('counts it apart, agreed or not, and names it in the verdict when a value differed', () => {
    const eng = mapped();
    const op = read(L, [mapPages(16, 19)], [pt(0x10)]);
    const out = eng.step(op).emitted.filter((e) => e.ev === 'rss_stat' && e.member === MM_FILEPAGES);
    expect(out.length).toBe(1);
    const run = (pages: number) => {
      const c = new FidelityChecker();
      c.filePages = () => true;
      c.begin({ op, recorded: [new Recorded('rss_stat', 2, 0, 1, 1, MM_FILEPAGES, pages * 4096, undefined, true, 'MM_FILEPAGES')], compare: true, phase: '', failed: false });
      for (const e of out) c.see(e);
      c.end();
      return c.report();
    };
    // The guess (4) agrees with the kernel's count: nothing went unverified.
    const same = run(4);
    expect([same.opsMismatched, same.uncertainRss, same.verdict]).toEqual([0, { predicted: 1, agreed: 1, absent: 0 }, 'matched']);
    // The kernel skipped a page: the guess takes the recorded update, counted apart and named.
    const r = run(3);
    expect([r.opsMismatched, r.verdict]).toEqual([0, 'partial']);
    expect(r.uncertainRss).toEqual({ predicted: 1, agreed: 0, absent: 0 });
    expect(r.reasons.some((x) => x.includes('page cache held uptodate before the window'))).toBe(true);
  });
});
