import fc from 'fast-check';
import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectTrace, FormatRegistry, streamTrace, type TraceParseOptions } from './index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { summariseTrace } from './summary.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const fx = (n: string): string => join(packageRoot, 'fixtures/traces', n);
const opts = (file: string, extra: Partial<TraceParseOptions> = {}): TraceParseOptions => ({ file, registry: reg, release: '6.18.44-fc-v669', ...extra });

describe('tracefs layout variants (fixtures/traces/tracefs-variants.trace)', () => {
  it('reads tgid columns, odd task names, syscalls, markers and lost events', async () => {
    const f = fx('tracefs-variants.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    expect(stats.layout).toBe('tracefs');
    expect(events).toHaveLength(14);
    const [flush, rss, madv, madvRet, mmapRet, marker] = events;
    expect(flush).toMatchObject({ comm: 'my task-with-dashes', pid: 4242, tgid: 4242, cpu: 1, name: 'tlb_flush', system: 'tlb' });
    expect(flush!.fields).toEqual({ pages: 16, reason: { value: 3, name: 'local MM shootdown' } });
    expect(rss).toMatchObject({ comm: 'kworker/u4:1-events_unbound', pid: 123, tgid: undefined });
    expect(madv).toMatchObject({ name: 'sys_enter_madvise', system: 'syscalls' });
    expect(madv!.fields).toEqual({ start: 0x7f80a3600000, len_in: 0x200000, behavior: 0x15 });
    expect(madvRet!.fields).toEqual({ ret: 0 });
    expect(mmapRet!.fields).toEqual({ ret: -12 });
    expect(marker).toMatchObject({ name: 'print', system: 'ftrace' });
    expect(marker!.fields).toEqual({ ip: 'tracing_mark_write', buf: 'fl: store addr=0x7f80a3600000 len=0x10000' });
    // Every spelling of loss is recorded with its CPU and line, and the overwrite in the header too.
    expect(stats.lost).toEqual([
      { kind: 'overwritten', cpu: null, count: 2, line: 3, afterTsNs: null },
      { kind: 'gap', cpu: 1, count: 7, line: 19, afterTsNs: 100000006000 },
      { kind: 'gap', cpu: 0, count: null, line: 21, afterTsNs: 100000007000 },
    ]);
    expect(stats.complete).toBe(false);
    expect(stats.diagnostics.counts.get('lost_events')).toBe(3);
    expect(stats.diagnostics.kept.find((d) => d.code === 'lost_events' && d.line === 3)!.message).toMatch(/overwrote .* 2 events/);
  });

  it('falls back to key=value for an event with no format, and says so once', async () => {
    const f = fx('tracefs-variants.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    const unknown = events[events.length - 1]!;
    expect(unknown.name).toBe('some_new_event');
    expect(unknown.fields).toEqual({ foo: 1, bar: 'two words', baz: 16 });
    expect(unknown.decodeMethod).toBe('generic');
    const d = stats.diagnostics.kept.filter((x) => x.code === 'unknown_event');
    expect(d).toHaveLength(1);
    const text = readFileSync(f, 'utf8').split('\n');
    expect(text[d[0]!.line - 1]).toContain('some_new_event:');
  });
});

describe('trace-cmd report variants (fixtures/traces/trace-cmd-variants.trace)', () => {
  it('detects the layout and decodes plugin, raw and FAILED TO PARSE payloads', async () => {
    const f = fx('trace-cmd-variants.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    expect(stats.layout).toBe('trace-cmd');
    expect(stats.header.cpus).toBe(2);
    const byLine = new Map(events.map((e) => [e.line, e]));
    expect(byLine.get(3)!.fields).toEqual({ pages: -1, reason: { value: 0, name: 'flush on task switch' } });
    // plugin_tlb prints no name above 3: the kernel's own table supplies it.
    expect(byLine.get(4)!.fields).toEqual({ pages: -1, reason: { value: 4, name: 'remote IPI send' } });
    expect(byLine.get(5)!.fields).toEqual({ reason: { value: 3, name: 'local MM shootdown' }, pages: 16 });
    expect(byLine.get(5)!.decodeMethod).toBe('raw');
    expect(byLine.get(6)!.fields).toEqual({ mm_id: 1903756518, curr: 1, member: { value: 1, name: 'MM_ANONPAGES' }, size: 4096 });
    expect(byLine.get(8)!.fields).toMatchObject({ prev_comm: 's1_mthp64k_lazy', prev_pid: 18983, next_comm: 'swapper/1', next_pid: 0 });
    expect(byLine.get(10)!.fields).toEqual({ ret: 0x18075000 });
    expect(byLine.get(12)!.fields).toEqual({ ip: 'tracing_mark_write', buf: 'fl: counters-begin' });
    expect(stats.lost.map((l) => [l.cpu, l.count])).toEqual([[0, 12], [1, null]]);
  });
});

describe('order', () => {
  it('sorts out-of-order input by (timestamp, CPU, position) and counts the moves', async () => {
    const f = fx('out-of-order.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    // pfn 5 and pfn 2 share a timestamp: CPU 0 goes first, as the kernel's merge does.
    expect(events.map((e) => e.fields.pfn)).toEqual([1, 5, 2, 3, 4]);
    expect(stats.reordered).toBe(3);
    expect(stats.late).toBe(0);
  });

  it('emits events displaced beyond the window late, and reports them', async () => {
    const f = fx('out-of-order.trace');
    const { events, stats } = await collectTrace(f, opts(f, { sortWindow: 1 }));
    expect(events).toHaveLength(5);
    expect(stats.late).toBeGreaterThan(0);
    expect(stats.diagnostics.counts.get('out_of_order')).toBe(stats.late);
  });
});

describe('bad input is diagnosed, never thrown', () => {
  it('CRLF line endings parse like LF', async () => {
    const f = fx('crlf.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    expect(events.map((e) => e.name)).toEqual(['mm_page_free', 'tlb_flush']);
    expect(events[1]!.fields).toEqual({ pages: 1, reason: { value: 3, name: 'local MM shootdown' } });
    expect(stats.unparsedLines).toBe(0);
  });

  it('a truncated last line is reported as such, the rest parsed', async () => {
    const f = fx('truncated.trace');
    const { events, stats } = await collectTrace(f, opts(f));
    expect(events).toHaveLength(1);
    const d = stats.diagnostics.kept.find((x) => x.code === 'truncated_last_line')!;
    expect(d.line).toBe(3);
  });

  it('payloads that do not match their print fmt fall back, with line and column', async () => {
    const f = fx('mismatch.trace');
    const s = await summariseTrace(f, opts(f));
    expect(s.events).toBe(2);
    expect(s.fallback).toEqual({ tlb_flush: 1 });
    const mm = s.diagnostics.find((d) => d.code === 'payload_mismatch')!;
    const line2 = readFileSync(f, 'utf8').split('\n')[1]!;
    expect([mm.line, mm.column]).toEqual([2, line2.indexOf('pages=sixteen') + 1]);
    const bad = s.diagnostics.find((d) => d.code === 'bad_line_header')!;
    expect(bad.line).toBe(4);
    expect(bad.message).toMatch(/timestamp/);
  });

  it('a malformed format file is reported at its own line, and decoding goes on', async () => {
    const broken = FormatRegistry.fromDirectory(join(packageRoot, 'fixtures/grammars'));
    const f = fx('crlf.trace');
    const s = await summariseTrace(f, { file: f, registry: broken, release: 'broken-1.0' });
    const fmt = s.diagnostics.filter((d) => d.code === 'format_syntax');
    expect(fmt.map((d) => d.line).sort()).toEqual([5, 8]);
    expect(fmt[0]!.file).toMatch(/broken-1\.0\/tlb\/tlb_flush\/format$/);
    expect(s.events).toBe(2);
    expect(s.fallback).toEqual({ tlb_flush: 1, mm_page_free: 1 });
  });

  it('empty, binary and unreadable inputs', async () => {
    const e = await summariseTrace(Readable.from([]), opts('-'));
    expect(e.diagnosticCounts).toEqual({ empty_input: 1 });
    const bin = await summariseTrace(Readable.from([Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing6'), 0, 0, 0])]), opts('-'));
    expect(bin.diagnostics[0]!.message).toMatch(/trace\.dat/);
    const missing = await summariseTrace('/nonexistent/trace', opts('/nonexistent/trace'));
    expect(missing.diagnosticCounts.unreadable_input).toBe(1);
  });

  it('arbitrary bytes never throw, and every line is accounted for', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom(
        ' a-1 [000] ..... 1.000001: tlb_flush: pages:1 reason:local MM shootdown (3)',
        'CPU:0 [LOST 3 EVENTS]', '# tracer: nop', ' a-1 [000] ..... 1.000002: sys_brk(brk: 0)', '\u0000\u0001',
      )), { maxLength: 30 }), async (lines) => {
        const text = lines.join('\n');
        const s = await summariseTrace(Readable.from([Buffer.from(text)]), opts('-'));
        expect(s.events + s.unparsedLines).toBeLessThanOrEqual(s.lines);
      }),
      { numRuns: 300 },
    );
  });
});

describe('streamTrace', () => {
  const real = join(packageRoot, 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');

  it('hands on the same events in the same order as readTrace, in small batches', async () => {
    const { events, stats } = await collectTrace(real, opts(real));
    const seen: string[] = [];
    let largest = 0;
    const st = await streamTrace(real, opts(real), (b) => {
      largest = Math.max(largest, b.length);
      for (const e of b) seen.push(`${e.line} ${e.name} ${JSON.stringify(e.fields)}`);
    }, 100);
    expect(seen).toEqual(events.map((e) => `${e.line} ${e.name} ${JSON.stringify(e.fields)}`));
    expect(largest).toBe(100);
    expect(st.events).toBe(stats.events);
  });

  it('lets an error of the consumer through instead of reporting it as unreadable input', async () => {
    await expect(streamTrace(real, opts(real), () => { throw new Error('consumer bug'); })).rejects.toThrow('consumer bug');
  });
});

