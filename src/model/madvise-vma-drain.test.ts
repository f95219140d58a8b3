/**
 * MADV_FREE drains this CPU's batches for each VMA it walks (madvise_free_single_vma() →
 * lru_add_drain()), not once per call: what one VMA left in the lru_lazyfree batch moves to
 * the file LRU (pglazyfree) when the next VMA begins, and only the last VMA's remainder waits.
 *
 *   A: 43 order-0 pages, split by mprotect(PROT_READ) of its first 3
 *   |V1: 3 RO|V2: 40 RW ...........................|
 *   MADV_FREE [A, A+43 pages): V1's 3 move when V2 begins; V2 moves 31 when the batch fills, 9 wait
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import type { AllocFact, Op } from './ops.js';
import { buildConfig } from './presets.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const A = 0x7f0000000000;
const PAGE = 4096;
const N = 43;
const MADV_FREE = 8;
let line = 0;
const at = () => ({ index: line, line: ++line });
const data = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'user' });
const pgtable = (pfn: number): AllocFact => ({ pfn, order: 0, use: 'pgtable' });

function lazyfreed(spec: string, split: boolean): number {
  const eng = new Engine(buildConfig(spec, 'x86'), { checkInvariants: true });
  const step = (op: Op) => expect(eng.step(op).violations).toEqual([]);
  step({ ...base, at: at(), kind: 'mmap', addr: A, len: 64 * PAGE, prot: 3, flags: 0x22, anon: true });
  for (let i = 0; i < N; i++) step({ ...base, at: at(), kind: 'fault', addr: A + i * PAGE, write: true, allocs: i === 0 ? [pgtable(0x10), data(0x100 + i)] : [data(0x100 + i)] });
  if (split) step({ ...base, at: at(), kind: 'mprotect', addr: A, len: 3 * PAGE, prot: 1 });
  step({ ...base, at: at(), kind: 'madvise', addr: A, len: N * PAGE, advice: MADV_FREE });
  return eng.counters().pglazyfree ?? 0;
}

describe('MADV_FREE drains the lru_lazyfree batch at each VMA', () => {
  for (const spec of ['linux-6.12', 'linux-6.18']) {
    it(`${spec}: over two VMAs, the first VMA's folios move when the second begins`, () => {
      expect(lazyfreed(spec, true)).toBe(3 + 31);
    });
    it(`${spec}: over one VMA, only full batches move`, () => {
      expect(lazyfreed(spec, false)).toBe(31);
    });
  }
});
