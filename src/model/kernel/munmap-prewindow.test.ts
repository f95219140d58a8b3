/**
 * munmap() in an mm that held memory before the window (no snapshot): a range no call of the
 * window mapped, unmapped or moved may be a mapping made before it, whose pages' rss, flush and
 * frees the model cannot know — outside the model, never a mismatch. A range the window saw is
 * the model's, holes included (what was unmapped or moved away there left nothing).
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import type { Op } from '../ops.js';
import { buildConfig } from '../presets.js';

const base = { tid: 20, tgid: 20, cpu: 0 };
const A = 0x7f0000000000;
let line = 0;
const at = () => ({ index: line, line: ++line });

function preWindowMm(): Engine {
  const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
  eng.step({ ...base, at: at(), kind: 'prewindow', missing: 'memory mapped before the window' } as Op);
  eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: 0x4000, prot: 3, flags: 0x22, anon: true });
  return eng;
}

describe('munmap in an mm from before the window', () => {
  it('a range past what the window mapped is outside the model (memory mapped before the window)', () => {
    const eng = preWindowMm();
    // The tail of a library mapping made before the window, right after the window's mapping.
    const r = eng.step({ ...base, at: at(), kind: 'munmap', addr: A + 0x4000, len: 0xb643 });
    expect(r.unmodelled).toMatch(/munmap of memory mapped before the window/);
  });

  it('a range the window mapped, or unmapped before, is the model\'s', () => {
    const eng = preWindowMm();
    expect(eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: 0x2000 }).unmodelled).toBeUndefined();
    // Its first half is a hole now, one the window itself made.
    expect(eng.step({ ...base, at: at(), kind: 'munmap', addr: A, len: 0x4000 }).unmodelled).toBeUndefined();
  });

  it('an mm with no memory from before the window predicts munmap of a hole (nothing there)', () => {
    const eng = new Engine(buildConfig('linux-6.18'), { checkInvariants: true });
    eng.step({ ...base, at: at(), kind: 'mmap', addr: A, len: 0x4000, prot: 3, flags: 0x22, anon: true });
    expect(eng.step({ ...base, at: at(), kind: 'munmap', addr: A + 0x4000, len: 0x4000 }).unmodelled).toBeUndefined();
  });
});
