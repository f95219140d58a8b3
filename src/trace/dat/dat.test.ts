/**
 * trace.dat read directly, against the text of the same recording (fixtures/traces/trace-cmd-s1:
 * one ring buffer read as the tracefs `trace` file and with `trace-cmd extract`; see
 * layouts-equivalence.test.ts), and damaged in the ways a file gets damaged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { grammarsDir, packageRoot } from '../../paths.js';
import { collectTrace, FormatRegistry, type TraceEvent } from '../index.js';
import { summariseTrace } from '../summary.js';
import { readDatFile } from './file.js';

const S1 = join(packageRoot, 'fixtures/traces/trace-cmd-s1');
const OVERWRITTEN = join(packageRoot, 'fixtures/traces/overwritten-s1');
const registry = FormatRegistry.fromDirectory(grammarsDir);
const release = registry.matchRelease('6.18.44-fc-v1147');

const DATS = ['trace-v6.dat.gz', 'trace-v7.dat.gz', 'trace-v7-zstd.dat'];

function load(name: string): Buffer {
  const b = readFileSync(join(S1, name));
  return b[0] === 0x1f ? gunzipSync(b) : b;
}

async function read(input: string | Buffer, file = typeof input === 'string' ? input : 'mem.dat') {
  return collectTrace(typeof input === 'string' ? input : Readable.from([input]), { file, registry, release, decodeAll: true });
}

/**
 * The fields the lifter and the fidelity checker read (src/replay/lift.ts), per event name;
 * `*` is every field.
 */
const READ_BY_LIFTER: Record<string, string[] | '*'> = {
  print: ['buf'],
  rss_stat: ['mm_id', 'curr', 'member', 'size'],
  tlb_flush: ['pages', 'reason'],
  mm_page_free: ['pfn', 'order'],
  mm_page_alloc: ['pfn', 'order', 'gfp_flags', 'migratetype'],
  page_fault_user: ['address', 'error_code'],
  sched_switch: ['prev_pid', 'next_pid'],
  mm_vmscan_reclaim_pages: '*',
};

/**
 * Fields the two sources cannot agree on, by design: the kernel prints plain `%p` hashed
 * (`folio=00000000e305a7ec`), the .dat holds the pointer; `page=` of the mm_page_* events is
 * `vmemmap_base + pfn`, a kernel symbol the record does not carry, so the .dat leaves it out.
 */
const NOT_COMPARABLE = new Set(['mm_page_alloc.page', 'mm_page_free.page', 'mm_page_free_batched.page', 'mm_lru_insertion.folio', 'mm_lru_activate.folio']);

describe('trace.dat container', () => {
  it.each(DATS)('%s: version, compression, metadata and per-CPU data', (name) => {
    const f = readDatFile(load(name));
    expect(f.version).toBe(name.includes('v6') ? 6 : 7);
    expect(f.compression).toBe(name.includes('zstd') ? 'zstd' : 'none');
    expect(f.pageSize).toBe(4096);
    expect(f.cpuCount).toBe(2);
    // The workload ran pinned to CPU 1: only it has data.
    expect(f.cpus.map((c) => [c.cpu, c.data.length])).toEqual([[1, 548864]]);
    expect(f.headerPage).toMatch(/field: u64 timestamp;/);
    expect(f.formats.find((x) => /^name: tlb_flush$/m.test(x.text))?.system).toBe('tlb');
    expect(f.cmdlines).toMatch(/^\d+ s1_mthp64k_lazy$/m);
    expect(f.kallsyms).toMatch(/ tracing_mark_write\b/);
    expect(f.cpuStats).toHaveLength(2);
    expect(f.problems).toEqual([]);
  });
});

describe('trace.dat events equal the text of the same ring buffer', () => {
  it.each(DATS)('%s: event by event, header and the fields lifting reads', async (name) => {
    const text = await read(join(S1, 'trace.txt.gz'));
    const dat = await read(join(S1, name));
    expect(dat.stats.layout).toBe('trace.dat');
    expect(dat.stats.diagnostics.kept).toEqual([]);
    expect(dat.stats.lost).toEqual([]);
    expect(dat.events).toHaveLength(14880);
    expect(dat.events).toHaveLength(text.events.length);
    const bad: string[] = [];
    for (let i = 0; i < text.events.length; i++) {
      const t = text.events[i]!;
      const d = dat.events[i]!;
      // The text prints microseconds, rounded (ns2usecs() adds 500 ns); the .dat has the
      // nanoseconds: equal once rounded the same way.
      // The latency flags too: replay tells a flush done in an IPI's handler by them.
      const head = (e: TraceEvent, ts: number): string => `${e.name} ${e.comm}-${e.pid} [${e.cpu}] ${e.lat} ${ts}`;
      if (head(t, t.tsNs) !== head(d, Math.round(d.tsNs / 1000) * 1000)) bad.push(`${i}: ${head(t, t.tsNs)} vs ${head(d, d.tsNs)}`);
      expect(d.syscall).toBe(t.syscall);
      const keys = READ_BY_LIFTER[t.name] ?? (t.name.startsWith('sys_') ? '*' : []);
      const tf = t.fields as Record<string, unknown>;
      const df = d.fields as Record<string, unknown>;
      for (const k of keys === '*' ? Object.keys(tf) : keys) {
        if (JSON.stringify(df[k]) !== JSON.stringify(tf[k])) bad.push(`${i} ${t.name}.${k}: ${JSON.stringify(tf[k])} vs ${JSON.stringify(df[k])}`);
      }
      // Beyond what lifting reads: every field, but the pointers the kernel hashes.
      for (const k of new Set([...Object.keys(tf), ...Object.keys(df)])) {
        if (NOT_COMPARABLE.has(`${t.name}.${k}`)) continue;
        if (JSON.stringify(df[k]) !== JSON.stringify(tf[k])) bad.push(`${i} ${t.name}.${k} (all fields): ${JSON.stringify(tf[k])} vs ${JSON.stringify(df[k])}`);
      }
      if (bad.length > 10) break;
    }
    expect(bad).toEqual([]);
  });

  it('decodes symbolic, flags and syscall fields to the same typed values', async () => {
    const dat = await read(join(S1, 'trace-v7-zstd.dat'));
    const first = (name: string, pred: (e: TraceEvent) => boolean = () => true): TraceEvent => dat.events.find((e) => e.name === name && pred(e))!;
    expect(first('tlb_flush', (e) => (e.fields.pages as number) === 16).fields).toEqual({ pages: 16, reason: { value: 3, name: 'local MM shootdown' } });
    expect(first('tlb_flush').fields).toEqual({ pages: -1, reason: { value: 0, name: 'flush on task switch' } });
    expect(first('mm_page_alloc').fields.gfp_flags).toEqual({ value: 0x440dc0, flags: ['GFP_KERNEL_ACCOUNT', '__GFP_ZERO', '__GFP_COMP'] });
    // `%ps` of the ip through the trace's kallsyms; buf without the newline trace_marker adds.
    expect(first('print').fields).toEqual({ ip: 'tracing_mark_write', buf: 'fl: counters-begin' });
    expect(first('sys_enter_madvise').fields).toEqual({ start: expect.any(Number), len_in: 0x8000000, behavior: 8 });
    expect(first('sys_exit_madvise').fields).toEqual({ ret: 0 });
    // The events' place: `trace-cmd report` prints event k on line k + 1, after `cpus=2`.
    const report = gunzipSync(readFileSync(join(S1, 'report.txt.gz'))).toString('utf8').split('\n');
    const e = first('sys_enter_madvise');
    expect(report[e.line - 1]).toContain(`sys_enter_madvise:    start: 0x${(e.fields.start as number).toString(16)}`);
  });

  it('parse summarises a .dat as it does the text', async () => {
    const t = await summariseTrace(join(S1, 'trace.txt.gz'), { file: 'text', registry, release });
    const d = await summariseTrace(join(S1, 'trace-v6.dat.gz'), { file: 'dat', registry, release });
    expect(d.format).toBe('trace.dat');
    expect(d.byName).toEqual(t.byName);
    expect(d.tasks).toEqual(t.tasks);
    expect(d.cpus).toEqual(t.cpus);
    expect(d.fallback).toEqual({});
    expect(d.complete).toBe(true);
  });
});

describe('trace.dat: lost and damaged data is counted, never a crash', () => {
  it('an overwritten ring buffer: the same loss as the text of that buffer says', async () => {
    const text = await summariseTrace(join(OVERWRITTEN, 'trace.txt.gz'), { file: 'text', registry, release });
    const dat = await summariseTrace(join(OVERWRITTEN, 'trace.dat'), { file: 'dat', registry, release });
    expect(text.lostEvents).toBe(14601);
    expect(dat.events).toBe(text.events);
    expect(dat.lostEvents).toBe(14601);
    expect(dat.complete).toBe(false);
    // trace-cmd saved the CPU's stats (overrun 14601), and the first page carries the kernel's
    // missed-events flag with the count stored after its data.
    expect(dat.lost).toEqual([
      { kind: 'overwritten', cpu: 1, count: 14601, line: 0, afterTsNs: null, offset: 0 },
      { kind: 'gap', cpu: 1, count: 14601, line: 0, afterTsNs: null, offset: 0 },
    ]);
    expect(dat.diagnosticCounts.lost_events).toBe(2);
  });

  it('a header cut short is unreadable input with the offset, not an exception', async () => {
    const r = await read(load('trace-v6.dat.gz').subarray(0, 300));
    expect(r.events).toEqual([]);
    const d = r.stats.diagnostics.kept;
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: 'unreadable_input', severity: 'error' });
    expect(d[0]!.message).toMatch(/at byte \d+: .*needs \d+ bytes at byte \d+, but the file ends at byte 300/);
  });

  it('an unknown version is named, at its offset', async () => {
    const b = Buffer.from(load('trace-v6.dat.gz').subarray(0, 4096));
    b[10] = '9'.charCodeAt(0);
    const r = await read(b);
    expect(r.stats.diagnostics.kept[0]!.message).toMatch(/at byte 10: trace.dat version "9" is not supported/);
  });

  it('CPU data cut short: the pages present are read, the rest is a gap and an error with its offset', async () => {
    const full = load('trace-v6.dat.gz');
    const f = readDatFile(full);
    const start = f.cpus[0]!.fileOffset;
    const cut = full.subarray(0, start + 10 * 4096 + 100);
    const r = await read(cut);
    const all = await read(full);
    expect(r.events.length).toBeGreaterThan(0);
    expect(r.events.length).toBeLessThan(all.events.length);
    // What was read is the start of the whole file's events, unchanged.
    expect(r.events.map((e) => `${e.tsNs} ${e.name}`)).toEqual(all.events.slice(0, r.events.length).map((e) => `${e.tsNs} ${e.name}`));
    const corrupt = r.stats.diagnostics.kept.filter((d) => d.code === 'dat_corrupt');
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]!.message).toContain(`CPU 1 data (548864 bytes at byte ${start}) is cut short: the file ends after ${10 * 4096 + 100} of them`);
    expect(r.stats.lost).toEqual([{ kind: 'gap', cpu: 1, count: null, line: 0, afterTsNs: null, offset: cut.length }]);
    expect(r.stats.truncated).toMatchObject({ bytes: cut.length });
    expect(r.stats.complete).toBe(false);
  });

  it('a damaged page (commit beyond the page) is skipped and named; the pages after it are read', async () => {
    const b = Buffer.from(load('trace-v6.dat.gz'));
    const f = readDatFile(b);
    const page = f.cpus[0]!.fileOffset + 3 * 4096;
    b.writeBigUInt64LE(0x0fffffffn, page + 8);
    const r = await read(b);
    const all = await read(load('trace-v6.dat.gz'));
    const d = r.stats.diagnostics.kept.filter((x) => x.code === 'dat_corrupt');
    expect(d).toHaveLength(1);
    expect(d[0]!.message).toMatch(new RegExp(`CPU 1 page at byte ${page}: commit says \\d+ bytes of events, more than the 4080 a page holds; page skipped \\(at byte ${page + 8}\\)`));
    expect(r.stats.lost).toEqual([{ kind: 'gap', cpu: 1, count: null, line: 0, afterTsNs: null, offset: page + 8 }]);
    expect(r.events.length).toBeLessThan(all.events.length);
    expect(r.events.length).toBeGreaterThan(all.events.length - 200);
    expect(r.events.at(-1)!.tsNs).toBe(all.events.at(-1)!.tsNs);
  });

  it('random damage to the metadata and the data never throws', async () => {
    const base = load('trace-v7-zstd.dat');
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 10; i++) {
      const b = Buffer.from(base);
      // Damage the first 64 KiB (header, sections) or the compressed CPU chunks.
      const region = i % 2 === 0 ? [0, 65536] : [readDatFile(base).cpus[0]!.fileOffset, base.length];
      for (let k = 0; k < 8; k++) b[region[0]! + rand(region[1]! - region[0]!)] = rand(256);
      const r = await read(b, `damaged-${i}.dat`);
      for (const d of r.stats.diagnostics.kept) expect(d.message).not.toMatch(/TypeError|RangeError|undefined/);
    }
  });
});
