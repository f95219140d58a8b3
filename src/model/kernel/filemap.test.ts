/**
 * File faults of a private file mapping made in the window, from their recorded page-cache
 * events (mm_filemap_map_pages, mm_filemap_fault, mm_filemap_add_to_page_cache):
 *
 *   L |p0 p1 p2 p3 ... p15|p16 ...        a library mmap()ed at file offset 0x10000 (page 16)
 *      ^ read fault at L+0x2000: fault-around's window is L..L+64K (file pages 16..31),
 *        cut at the file's end after page 19 (the event's `last`)
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { AllocFact, FileFaultEvent, Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { MM_ANONPAGES, MM_FILEPAGES } from '../state.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const L = 0x7f0000000000;
const FILE = '254:0:1234';
let line = 0;
const at = () => ({ index: line, line: ++line });
const pt = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });
const cow = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user', copy: true });
const mapPages = (first: number, last: number, file = FILE): FileFaultEvent => ({ file, first, last });
const filemapFault = (first: number, file = FILE): FileFaultEvent => ({ file, first });
const read = (addr: number, file: FileFaultEvent[], allocs: AllocFact[] = []): Op => ({ ...base, at: at(), kind: 'fault', addr, write: false, present: false, allocs, file });
const rss = (out: readonly Emission[]): string[] => out.flatMap((e) => (e.ev === 'rss_stat' ? [`${e.member === MM_FILEPAGES ? 'file' : e.member === MM_ANONPAGES ? 'anon' : e.member} ${e.delta / 4096}`] : []));
const flushes = (out: readonly Emission[]) => out.flatMap((e) => (e.ev === 'tlb_flush' ? [{ pages: e.pages, uncertain: e.uncertain }] : []));

function mapped(fileEvents = true): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'mmap', addr: L, len: 0x20000, prot: 1, flags: 0x02, anon: false, off: 0x10000, ...(fileEvents ? { fileEvents: true } : {}) });
  return eng;
}

describe('filemap: read faults map the pages their fault-around events name', () => {
  it('maps every none PTE of the window up to the file end, with one rss update', () => {
    const eng = mapped();
    const op = read(L + 0x2000, [mapPages(16, 19)], [pt(0x10)]);
    expect(eng.fileRssKnown(op)).toBe(true);
    const r = eng.step(op);
    expect(r.unmodelled).toBeUndefined();
    expect(rss(r.emitted)).toEqual(['file 4']);
    expect(eng.k.mms.get(10)!.rss[MM_FILEPAGES]).toBe(4);
  });

  it('a window over pages already mapped still traces its (empty) rss update', () => {
    const eng = mapped();
    eng.step(read(L + 0x2000, [mapPages(16, 19)], [pt(0x10)]));
    // A fault past the file's end in the same window (do_read_fault() before its SIGBUS): the
    // window's cached pages are all mapped already.
    expect(rss(eng.step(read(L + 0x4000, [mapPages(16, 19)])).emitted)).toEqual(['file 0']);
  });

  it('a filemap_fault() that ends the fault maps its one page (finish_fault()); one followed by fault-around again was a retried try', () => {
    const eng = mapped();
    expect(rss(eng.step(read(L + 0x11000, [filemapFault(33)], [pt(0x10)])).emitted)).toEqual(['file 1']);
    // Retried: the first fault-around could not map the faulting page (else no filemap_fault()),
    // filemap_fault() waited for it, the retry's fault-around mapped it.
    expect(rss(eng.step(read(L + 0x1000, [mapPages(16, 19), filemapFault(17), mapPages(16, 19)])).emitted)).toEqual(['file 3', 'file 1']);
  });

  it('an event that does not fit the VMA (another file offset) leaves its pages unknown', () => {
    const eng = mapped();
    const r = eng.step(read(L + 0x2000, [mapPages(40, 43)], [pt(0x10)]));
    expect(r.unmodelled).toBeDefined();
    expect(rss(r.emitted)).toEqual([]);
    expect(eng.fileRssKnown({ ...base, at: at(), kind: 'munmap', addr: L, len: 0x20000 })).toBe(false);
  });

  it('copy-on-write of a mapped file page moves one page from file to anon rss and flushes it', () => {
    const eng = mapped();
    eng.step(read(L + 0x2000, [mapPages(16, 19)], [pt(0x10)]));
    const r = eng.step({ ...base, at: at(), kind: 'fault', addr: L + 0x1000, write: true, present: true, allocs: [cow(0x200)] });
    expect(rss(r.emitted)).toEqual(['file -1', 'anon 1']);
    expect(flushes(r.emitted)).toEqual([{ pages: 1, uncertain: undefined }]);
  });

  it('munmap zaps the mapped file pages: their rss, and a flush of a range the model knows', () => {
    const eng = mapped();
    eng.step(read(L + 0x2000, [mapPages(16, 19)], [pt(0x10)]));
    const op: Op = { ...base, at: at(), kind: 'munmap', addr: L, len: 0x20000 };
    expect(eng.fileRssKnown(op)).toBe(true);
    const r = eng.step(op);
    expect(rss(r.emitted)).toEqual(['file -4']);
    const f = flushes(r.emitted);
    expect(f.length).toBeGreaterThan(0);
    expect(f.every((x) => x.uncertain === undefined)).toBe(true);
  });

  it('without recorded page-cache events the mapping stays outside the model: file rss not compared, flushes uncertain', () => {
    const eng = mapped(false);
    const op = read(L + 0x2000, [], [pt(0x10)]);
    expect(eng.fileRssKnown(op)).toBe(false);
    eng.step(op);
    const r = eng.step({ ...base, at: at(), kind: 'munmap', addr: L, len: 0x20000 });
    expect(flushes(r.emitted).some((x) => x.uncertain === 'unseen')).toBe(true);
  });

  it('a file whose page cache the window showed incomplete is not predicted from then on', () => {
    const eng = mapped();
    // Readahead added pages in this fault: which pages fault-around found uptodate is unknown.
    const first = read(L + 0x2000, [mapPages(16, 19), filemapFault(18), { file: FILE, first: 18, last: 19, added: true }], [pt(0x10)]);
    expect(eng.fileRssKnown(first)).toBe(false);
    eng.step(first);
    expect(eng.fileRssKnown(read(L + 0x12000, [mapPages(32, 35)]))).toBe(false);
    expect(eng.fileRssKnown({ ...base, at: at(), kind: 'exit' })).toBe(false);
  });

  it('the exec image: its file segments hold their pages once the capture records the events', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    const D = 0x555500000000;
    eng.step({ ...base, at: at(), kind: 'exec-image', vmas: [{ start: D, end: D + 0x8000, file: true, read: true, write: false }], fileEvents: true });
    // The segment's file offset is learned from the first event (window D..D+32K from page 0).
    expect(rss(eng.step(read(D + 0x3000, [mapPages(0, 7, '254:0:77')], [pt(0x11)])).emitted)).toEqual(['file 8']);
    const exit: Op = { ...base, at: at(), kind: 'exit' };
    expect(eng.fileRssKnown(exit)).toBe(true);
    expect(rss(eng.step(exit).emitted)).toEqual(['file -8']);
  });
});
