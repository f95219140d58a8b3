/**
 * mm/swap.c: a folio whose mappings went while it waited in a CPU's lru_add batch is freed by
 * the drain that drops the batch's reference — through release_pages(), which on 6.1 frees the
 * order-0 pages of a batch last put first (list_add() onto the free list).
 *
 *   CPU1: thread B faults three pages (they wait in CPU1's lru_add batch)
 *   CPU0: thread A zaps them (MADV_DONTNEED): the batch's reference keeps them
 *   CPU1: B's MADV_DONTNEED elsewhere drains CPU1's batch (zap_page_range_single()): freed
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Op } from '../ops.js';

const A = 100;
const B = 101;
const BASE = 0x7f0000000000;

function run(preset: string): { faulted: number[]; freedAtZap: number; freedAtDrain: number[] } {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>) => e.step({ tid: A, tgid: A, cpu: 0, at: { index: line, line: line++ }, ...op } as unknown as Op).emitted;
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  for (let i = 0; i < 3; i++) step({ kind: 'fault', tid: B, cpu: 1, addr: BASE + i * 0x1000, write: true, allocs: [{ pfn: 0x1000 + i, order: 0, use: 'user' }] });
  step({ kind: 'fault', addr: BASE + 0x200000, write: true, allocs: [] });
  const zap = step({ kind: 'madvise', addr: BASE, len: 0x3000, advice: 'MADV_DONTNEED' });
  const drain = step({ kind: 'madvise', tid: B, cpu: 1, addr: BASE + 0x200000, len: 0x1000, advice: 'MADV_DONTNEED' });
  const frees = (es: typeof zap, pfns: number[]) => es.flatMap((x) => (x.ev === 'mm_page_free' && pfns.includes(x.pfn) ? [x.pfn] : []));
  const faulted = [0x1000, 0x1001, 0x1002];
  return { faulted, freedAtZap: frees(zap, faulted).length, freedAtDrain: frees(drain, faulted) };
}

describe('lru_add batch drain frees what was unmapped while it waited', () => {
  it('6.1: release_pages() frees the batch order-0 pages last first', () => {
    const r = run('linux-6.1');
    expect(r.freedAtZap).toBe(0);
    expect(r.freedAtDrain).toEqual([...r.faulted].reverse());
  });
  it('6.12: folios_put() frees them in batch order', () => {
    const r = run('linux-6.12');
    expect(r.freedAtZap).toBe(0);
    expect(r.freedAtDrain).toEqual(r.faulted);
  });
});
