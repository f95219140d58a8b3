/**
 * File rss updates the model cannot predict are named by what it lacked for them, per op: no
 * page-cache events recorded, memory from before the window with no snapshot, a page cache the
 * window showed incomplete.
 */
import { describe, expect, it } from 'vitest';
import { FidelityChecker } from './compare.js';
import { Recorded, type LiftedOp } from '../replay/lift.js';
import { Engine } from '../model/engine.js';
import type { FileFaultEvent, Op } from '../model/ops.js';
import { buildConfig } from '../model/presets.js';
import { FILE_RSS_CACHE, FILE_RSS_NO_EVENTS, FILE_RSS_PRE_WINDOW } from '../model/kernel/filemap.js';

const base = { tid: 30, tgid: 30, cpu: 0 };
const L = 0x7f0000000000;
let line = 0;
const at = () => ({ index: line, line: ++line });
const read = (file?: FileFaultEvent[]): Op => ({ ...base, at: at(), kind: 'fault', addr: L + 0x2000, write: false, present: false, allocs: [{ pfn: 0x10, order: 0, use: 'pgtable' }], ...(file ? { file } : {}) });

function engine(fileEvents: boolean, preWindow = false): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  if (preWindow) eng.step({ ...base, at: at(), kind: 'prewindow', missing: 'memory mapped before the window' } as Op);
  eng.step({ ...base, at: at(), kind: 'mmap', addr: L, len: 0x10000, prot: 1, flags: 0x02, anon: false, off: 0, ...(fileEvents ? { fileEvents: true } : {}) });
  return eng;
}

describe('why file rss is not compared', () => {
  it('the model names what it lacks, per op', () => {
    expect(engine(false).fileRssUnknownWhy(read())).toBe(FILE_RSS_NO_EVENTS);
    expect(engine(true, true).fileRssUnknownWhy(read([{ file: '254:0:9', first: 0, last: 15 }]))).toBe(FILE_RSS_PRE_WINDOW);
    const eng = engine(true);
    const ok = read([{ file: '254:0:9', first: 0, last: 15 }]);
    expect(eng.fileRssUnknownWhy(ok)).toBeUndefined();
    // Readahead added pages in the fault: the page cache was not whole.
    expect(eng.fileRssUnknownWhy(read([{ file: '254:0:9', first: 0, last: 15 }, { file: '254:0:9', first: 2 }, { file: '254:0:9', first: 2, last: 3, added: true }]))).toBe(FILE_RSS_CACHE);
  });

  it('the report counts the set-aside updates by that reason', () => {
    const c = new FidelityChecker();
    c.filePages = () => FILE_RSS_NO_EVENTS;
    const lo: LiftedOp = { op: read(), recorded: [new Recorded('rss_stat', 2, 0, 1, 1, 0, 65536, undefined, true, 'MM_FILEPAGES')], compare: true, phase: '', failed: false };
    c.begin(lo);
    c.end();
    const r = c.report();
    expect(r.fileRssWhy).toEqual({ [FILE_RSS_NO_EVENTS]: 1 });
    expect(r.reasons.join(' ')).toContain('filemap:mm_filemap_map_pages');
  });
});
