/**
 * Memcg reclaim: the priority walk of try_to_free_mem_cgroup_pages(), the pass sizes of the
 * classic LRU (lru_size >> priority, SWAP_CLUSTER_MAX at a time) and of the multi-gen LRU
 * (MIN_LRU_BATCH pages per eviction), frees per shrink_folio_list() call after its flushes,
 * folio_check_references(), and the charge fallback of an mTHP fault. Expected pass sizes are
 * computed from the kernel's rules, never copied from a capture.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { SYSCALL_BESIDES_RECLAIM, type Emission } from '../emit.js';
import type { Op } from '../ops.js';
import { buildConfig } from '../presets.js';
import type { ThpSettings } from '../config.js';
import { DEF_PRIORITY, MIN_LRU_BATCH, SWAP_CLUSTER_MAX } from './vmscan.js';

const base = { tid: 10, tgid: 10, cpu: 0 };
const MB = 1 << 20;
const A = 0x7f0000000000;
const B = 0x7f0040000000;
const NO_THP: ThpSettings = { enabled: 'never', sizes: {} };

class Run {
  readonly eng: Engine;
  private n = 0;
  constructor(preset: string, thp: ThpSettings) {
    this.eng = new Engine(buildConfig(preset, 'x86', thp), { checkInvariants: true });
  }
  step(op: Record<string, unknown>): Emission[] {
    const i = this.n++;
    const r = this.eng.step({ ...base, at: { index: i, line: i + 1 }, ...op } as Op);
    expect(r.violations).toEqual([]);
    return [...r.emitted];
  }
  /** mmap + write faults of `nr` folios of `order` at `addr`, pfns from `pfn0`. */
  populate(addr: number, nr: number, order: number, pfn0: number): void {
    this.step({ kind: 'mmap', addr, len: nr * (4096 << order), prot: 3, flags: 0x22, anon: true });
    for (let i = 0; i < nr; i++) {
      this.step({ kind: 'fault', addr: addr + i * (4096 << order), write: true, allocs: [{ pfn: pfn0 + (i << order), order, use: 'user' }] });
    }
  }
}

/** The reclaim's events as passes: each pass = the pages of its folios unmapped (rss), then its frees. */
function passes(out: Emission[]): Array<{ unmapped: number; freed: number[] }> {
  const res: Array<{ unmapped: number; freed: number[] }> = [];
  let cur: { unmapped: number; freed: number[] } | undefined;
  for (const e of out) {
    if (e.ev === 'rss_stat' && e.delta < 0) {
      if (!cur || cur.freed.length) res.push((cur = { unmapped: 0, freed: [] }));
      cur.unmapped += -e.delta / 4096;
    } else if (e.ev === 'mm_page_free') cur?.freed.push(e.pfn);
  }
  return res;
}

/**
 * The classic pass sizes of one try_to_free_mem_cgroup_pages(): shrink_lruvec() at each
 * priority scans (file LRU pages >> priority) in SWAP_CLUSTER_MAX steps until the request is
 * met; with order-0 lazyfree folios every scanned page is reclaimed.
 */
function classicPasses(lruPages: number, request: number): number[] {
  const out: number[] = [];
  const target = Math.max(request, SWAP_CLUSTER_MAX);
  let reclaimed = 0;
  for (let prio = DEF_PRIORITY; prio >= 0 && reclaimed < target; prio--) {
    let nr = lruPages >> prio;
    let here = 0;
    while (nr > 0 && here < target) {
      const n = Math.min(nr, SWAP_CLUSTER_MAX);
      nr -= n;
      out.push(n);
      here += n;
      lruPages -= n;
    }
    reclaimed += here;
  }
  return out;
}

describe('memcg reclaim inside a fault (memory.max: try_charge_memcg() → try_to_free_mem_cgroup_pages())', () => {
  // 31 * 132 order-0 folios: MADV_FREE's lru_lazyfree batches (31 on 6.18) all drained.
  const NR = 31 * 132;
  function limitRun(preset: string): { r: Run; out: Emission[] } {
    const r = new Run(preset, NO_THP);
    r.populate(A, NR, 0, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: NR * 4096, advice: 8 });
    r.step({ kind: 'mmap', addr: B, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
    const out = r.step({ kind: 'fault', addr: B, write: true, allocs: [{ pfn: 0x200000, order: 0, use: 'user', memcgReclaim: 1 }] });
    return { r, out };
  }

  it('classic LRU (6.18): passes grow as the priority drops, each freed after its own flushes', () => {
    const { out } = limitRun('linux-6.18');
    const p = passes(out);
    expect(p.map((x) => x.unmapped)).toEqual(classicPasses(NR, 1));
    // Every pass frees what it unmapped before the next pass unmaps anything.
    for (const x of p) expect(x.freed.length).toBe(x.unmapped);
    // Oldest first: the folios MADV_FREE made lazyfree first are reclaimed first, in order.
    expect(p.flatMap((x) => x.freed)).toEqual(Array.from({ length: p.flatMap((x) => x.freed).length }, (_, i) => 0x100000 + i));
    // The fault's own page comes after the reclaim.
    const last = out.filter((e) => e.ev === 'rss_stat').at(-1);
    expect(last?.ev === 'rss_stat' && last.delta).toBe(4096);
  });

  it('6.1 frees a pass\'s order-0 folios last reclaimed first (a list built head-first)', () => {
    const { out } = limitRun('linux-6.1');
    const p = passes(out);
    expect(p.length).toBeGreaterThan(2);
    for (const x of p) {
      expect(x.freed).toEqual([...x.freed].sort((a, b) => b - a));
    }
  });

  it('multi-gen LRU (6.12): one eviction isolates MIN_LRU_BATCH pages and meets the request', () => {
    const { r, out } = limitRun('linux-6.12');
    const freed = out.filter((e) => e.ev === 'mm_page_free');
    expect(freed.length).toBe(MIN_LRU_BATCH);
    expect(r.eng.counters().pgsteal_file).toBe(MIN_LRU_BATCH);
  });

  it('a PMD THP charge reclaims the THP\'s 512 pages: one lazyfree THP per pass', () => {
    const r = new Run('linux-6.1', { enabled: 'always', sizes: { 2048: 'inherit' } });
    r.populate(A, 4, 9, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: 8 * MB, advice: 8 });
    r.step({ kind: 'mmap', addr: B, len: 2 * MB, prot: 3, flags: 0x22, anon: true });
    const out = r.step({ kind: 'fault', addr: B, write: true, allocs: [{ pfn: 0x400000, order: 9, use: 'user', memcgReclaim: 1 }, { pfn: 0x500, order: 0, use: 'pgtable' }] });
    const frees = out.filter((e) => e.ev === 'mm_page_free' && e.order === 9);
    // nr_to_reclaim = 512: the first pass (priority 12, 2048 >> 12 = 0 … priority 11: 1 page
    // asked, one THP taken) reclaims exactly one THP.
    expect(frees.map((e) => e.ev === 'mm_page_free' && e.pfn)).toEqual([0x100000]);
  });
});

describe('memcg reclaim of a charge made in a system call (Op chargeReclaim)', () => {
  const NR = 31 * 132;
  /** Lazyfree order-0 folios at A, then `op` run on a fresh engine. */
  function run(op: Record<string, unknown>): { r: Run; res: ReturnType<Engine['step']>; shared: string | undefined } {
    const r = new Run('linux-6.18', NO_THP);
    r.populate(A, NR, 0, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: NR * 4096, advice: 8 });
    const full = { ...base, at: { index: 99999, line: 99999 }, ...op } as Op;
    const shared = r.eng.sharesUnknownOutput(full);
    return { r, res: r.eng.step(full), shared };
  }

  it('a write(2) whose socket buffer charge ran reclaim: the reclaim is its output, the rest of the call shared', () => {
    const { res, shared } = run({ kind: 'syscall', name: 'write', chargeReclaim: 1 });
    // A charge below SWAP_CLUSTER_MAX pages asks for SWAP_CLUSTER_MAX, as a fault's order-0 charge does.
    expect(passes([...res.emitted]).map((x) => x.unmapped)).toEqual(classicPasses(NR, 1));
    expect(res.unmodelled).toBeUndefined();
    expect(shared).toBe(SYSCALL_BESIDES_RECLAIM);
  });

  it('each recorded reclaim of the charge runs again; without one the call is outside the model', () => {
    const once = run({ kind: 'syscall', name: 'write', chargeReclaim: 1 }).res.emitted.filter((e) => e.ev === 'mm_page_free').length;
    const twice = run({ kind: 'syscall', name: 'write', chargeReclaim: 2 }).res.emitted.filter((e) => e.ev === 'mm_page_free').length;
    expect(twice).toBe(2 * once);
    const none = run({ kind: 'syscall', name: 'write' });
    expect(none.res.emitted).toEqual([]);
    expect(none.res.unmodelled).toBe('syscall write');
    expect(none.shared).toBeUndefined();
  });

  it('a modelled call (mmap) reclaims before its own work and compares as before', () => {
    const { r, res, shared } = run({ kind: 'mmap', addr: B, len: 2 * MB, prot: 3, flags: 0x22, anon: true, chargeReclaim: 1 });
    expect(passes([...res.emitted]).map((x) => x.unmapped)).toEqual(classicPasses(NR, 1));
    expect(shared).toBeUndefined();
    expect(r.eng.counters().pgsteal_file).toBe(classicPasses(NR, 1).reduce((a, b) => a + b, 0));
    // Then the mapping itself.
    expect(r.eng.k.mms.get(base.tgid)?.vmas.some((v) => v.vm_start === B)).toBe(true);
  });
});

describe('memory.reclaim and force_empty', () => {
  it('6.1 memory.reclaim of 8 MiB of lazyfree THPs: one THP per pass, freed before the next is unmapped', () => {
    const r = new Run('linux-6.1', { enabled: 'always', sizes: { 2048: 'inherit' } });
    r.populate(A, 4, 9, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: 8 * MB, advice: 8 });
    const out = r.step({ kind: 'memcg-reclaim', bytes: 8 * MB, how: 'memcg-reclaim' });
    const seq = out.filter((e) => e.ev === 'mm_page_free' || (e.ev === 'tlb_flush' && e.pages === -1)).map((e) => e.ev);
    // 6.1 splits each PMD (one full flush) and unmaps its 512 PTEs; the THP is freed before
    // the next THP's PMD is split.
    expect(seq).toEqual(['tlb_flush', 'mm_page_free', 'tlb_flush', 'mm_page_free', 'tlb_flush', 'mm_page_free', 'tlb_flush', 'mm_page_free']);
  });

  it('force_empty keeps a folio with one young entry, then finds it dirty: activated, never freed', () => {
    const r = new Run('linux-6.18', { enabled: 'never', sizes: { 64: 'always' } });
    r.populate(A, 4, 4, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: 4 * 65536, advice: 8 });
    // Written again after MADV_FREE: one PTE of the first folio is young and dirty.
    r.step({ kind: 'store', addr: A + 0x123, len: 1, stride: 0, count: 1 });
    const out = r.step({ kind: 'memcg-reclaim', bytes: 4 * 65536, how: 'memcg-force-empty' });
    const freed = out.filter((e) => e.ev === 'mm_page_free').map((e) => e.ev === 'mm_page_free' && e.pfn);
    expect(freed).toEqual([0x100010, 0x100020, 0x100030]);
    const first = [...r.eng.k.folios].find((f) => f.pfn === 0x100000);
    expect(first?.swapbacked).toBe(true);
    expect(first?.active).toBe(true);
  });
});

describe('mTHP charge fallback (alloc_anon_folio(): mem_cgroup_charge() failed)', () => {
  it('frees the 64 KiB folio whose charge failed, then maps the order-0 one', () => {
    const r = new Run('linux-6.18', { enabled: 'never', sizes: { 64: 'always' } });
    r.step({ kind: 'mmap', addr: A, len: MB, prot: 3, flags: 0x22, anon: true });
    const out = r.step({ kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x100000, order: 4, use: 'user', anonFault: true }, { pfn: 0x2345, order: 0, use: 'user', anonFault: true }] });
    const kinds = out.map((e) => (e.ev === 'mm_page_free' ? `free ${e.order}` : e.ev === 'rss_stat' ? `rss ${e.delta}` : e.ev));
    expect(kinds).toEqual(['free 4', 'rss 4096']);
    expect(r.eng.counters()['64kB/anon_fault_fallback_charge']).toBe(1);
  });

  it('a smaller page allocated another way after the fault (a read()\'s page cache) is no fallback: the large folio is mapped', () => {
    const r = new Run('linux-6.18', { enabled: 'never', sizes: { 64: 'always' } });
    r.step({ kind: 'mmap', addr: A, len: MB, prot: 3, flags: 0x22, anon: true });
    const out = r.step({ kind: 'fault', addr: A, write: true, allocs: [{ pfn: 0x100000, order: 4, use: 'user', anonFault: true }, { pfn: 0x2345, order: 0, use: 'user' }, { pfn: 0x2346, order: 0, use: 'user' }] });
    const kinds = out.map((e) => (e.ev === 'mm_page_free' ? `free ${e.order}` : e.ev === 'rss_stat' ? `rss ${e.delta}` : e.ev));
    expect(kinds).toEqual(['rss 65536']);
    expect(r.eng.counters()['64kB/anon_fault_fallback_charge']).toBeUndefined();
  });
});

describe('memcg reclaim runs the deferred-split shrinker between LRU passes (shrink_node_memcgs())', () => {
  const THP64: ThpSettings = { enabled: 'madvise', sizes: { 64: 'always', 2048: 'inherit' } };
  /** Two 64K folios, the second half of the first unmapped (partially mapped: on the split queue). */
  const setup = (): Run => {
    const r = new Run('linux-6.18', THP64);
    r.populate(A, 2, 4, 0x10000);
    r.step({ kind: 'munmap', addr: A + 32 * 1024, len: 32 * 1024 });
    return r;
  };
  const splits = (out: Emission[]) => out.filter((e) => e.ev === 'tlb_flush' && e.pages === 1).length;
  it('the recorded budget of each pass decides: none at priority 12, the queue\'s one folio at 11', () => {
    const r = setup();
    const out = r.step({ kind: 'memcg-reclaim', bytes: 4096, how: 'memcg-reclaim', shrinks: [{ priority: DEF_PRIORITY, totalScan: 0 }, { priority: DEF_PRIORITY - 1, totalScan: 1 }] });
    // try_to_migrate_one() flushes each of the 8 mapped pages of the split folio.
    expect(splits(out)).toBe(8);
    expect(r.eng.k.deferred.split_queue_len).toBe(0);
  });
  it('a budget below the queue and below SHRINK_BATCH scans nothing', () => {
    const r = setup();
    const out = r.step({ kind: 'memcg-reclaim', bytes: 4096, how: 'memcg-reclaim', shrinks: [{ priority: DEF_PRIORITY, totalScan: 0 }] });
    expect(splits(out)).toBe(0);
    expect(r.eng.k.deferred.split_queue_len).toBe(1);
  });
  it('the queue is counted once before the scan loop: a budget of 200 over 200 folios scans one batch of 128', () => {
    const r = new Run('linux-6.18', THP64);
    r.populate(A, 200, 4, 0x100000);
    for (let i = 0; i < 200; i++) r.step({ kind: 'munmap', addr: A + i * 64 * 1024 + 32 * 1024, len: 32 * 1024 });
    expect(r.eng.k.deferred.split_queue_len).toBe(200);
    r.step({ kind: 'memcg-reclaim', bytes: 4096, how: 'memcg-reclaim', shrinks: [{ priority: DEF_PRIORITY, totalScan: 200 }] });
    // 200 >= 128: one batch; then 72 is below both SHRINK_BATCH and the 200 counted.
    expect(r.eng.k.deferred.split_queue_len).toBe(72);
  });
  it('every engine stepping the same op walks its recorded calls (a diff\'s two configs)', () => {
    const a = setup();
    const b = setup();
    const op = { kind: 'memcg-reclaim', bytes: 4096, how: 'memcg-reclaim', shrinks: [{ priority: DEF_PRIORITY, totalScan: 0 }, { priority: DEF_PRIORITY - 1, totalScan: 1 }] };
    const shared = { ...base, at: { index: 99, line: 100 }, ...op } as Op;
    a.eng.step(shared);
    b.eng.step(shared);
    expect([a.eng.k.deferred.split_queue_len, b.eng.k.deferred.split_queue_len]).toEqual([0, 0]);
  });
  it('without the record the shrinker is not run', () => {
    const r = setup();
    expect(splits(r.step({ kind: 'memcg-reclaim', bytes: 4096, how: 'memcg-reclaim' }))).toBe(0);
  });
});

describe('the recorded reference checks of each inactive-list pass (Op inactivePasses)', () => {
  // Four lazyfree PMD THPs; memory.reclaim of 4 MiB on 6.18 (classic LRU): one THP per pass.
  function reclaim(passes: Array<{ scanned: number; refKeep: number }> | undefined): number[] {
    const r = new Run('linux-6.18', { enabled: 'always', sizes: { 2048: 'inherit' } });
    r.populate(A, 4, 9, 0x100000);
    r.step({ kind: 'madvise', addr: A, len: 8 * MB, advice: 8 });
    const out = r.step({ kind: 'memcg-reclaim', bytes: 4 * MB, how: 'memcg-reclaim', ...(passes ? { inactivePasses: passes } : {}) });
    return out.flatMap((e) => (e.ev === 'mm_page_free' && e.order === 9 ? [e.pfn] : []));
  }

  it('without them the model\'s own accessed bits decide: the oldest THPs go first', () => {
    expect(reclaim(undefined)).toEqual([0x100000, 0x100200]);
  });

  it('a pass whose checks kept its one THP (nr_ref_keep = its pages) keeps it; the next THP is reclaimed instead', () => {
    expect(reclaim([{ scanned: 512, refKeep: 512 }, { scanned: 512, refKeep: 0 }, { scanned: 512, refKeep: 0 }])).toEqual([0x100200, 0x100400]);
  });

  it('a recorded pass of another size is not this pass: ignored', () => {
    expect(reclaim([{ scanned: 32, refKeep: 32 }])).toEqual(reclaim(undefined));
  });
});
