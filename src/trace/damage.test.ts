/**
 * Damaged input is never read as if it were whole: each kind of damage a mutation campaign
 * found accepted silently gives a diagnostic here, with its position.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { collectTrace, FormatRegistry, type TraceParseOptions } from './index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { smallDat } from '../fuzz/trace.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const opts = (extra: Partial<TraceParseOptions> = {}): TraceParseOptions => ({ file: '-', registry: reg, release: '6.18.44-fc-v669', ...extra });
const read = (text: string | Buffer, extra: Partial<TraceParseOptions> = {}) =>
  collectTrace(Readable.from([typeof text === 'string' ? Buffer.from(text) : text]), opts(extra));
const codes = (r: Awaited<ReturnType<typeof read>>): Record<string, number> => r.stats.diagnostics.countsObject();

const HEAD = (entries: number): string => `# tracer: nop\n#\n# entries-in-buffer/entries-written: ${entries}/${entries}   #P:2\n#\n`;
const ev = (cpu: number, ts: string, pfn: number): string => `            a-1     [00${cpu}] .....    ${ts}: mm_page_free: page=0000000000000001 pfn=0x${pfn.toString(16)} order=0`;
const BODY = [ev(0, '10.000001', 1), ev(1, '10.000002', 2), ev(0, '10.000003', 3)];

describe('line ends', () => {
  it('CR-only line ends are read as line ends, and said so with the first CR position', async () => {
    const lf = await read(`${HEAD(3)}${BODY.join('\n')}\n`);
    const cr = await read(`${HEAD(3)}${BODY.join('\n')}\n`.replace(/\n/g, '\r'));
    expect(cr.events.map((e) => [e.ts, e.cpu, e.fields])).toEqual(lf.events.map((e) => [e.ts, e.cpu, e.fields]));
    expect(codes(cr)).toEqual({ cr_line_ends: 1 });
    const d = cr.stats.diagnostics.kept[0]!;
    expect([d.line, d.column]).toEqual([1, '# tracer: nop'.length + 1]);
  });
});

describe("the header's entry count", () => {
  it('a header promising entries over an empty body is data loss', async () => {
    const r = await read(HEAD(718));
    expect(r.events).toHaveLength(0);
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'entries_missing')!;
    expect(d).toMatchObject({ severity: 'data_loss', line: 3 });
    expect(d.message).toMatch(/718 entries.*0 events/);
  });

  it('more events than entries-in-buffer (a repeated line) is said', async () => {
    const r = await read(`${HEAD(3)}${[...BODY, ...BODY].join('\n')}\n`);
    expect(codes(r).entries_extra).toBe(1);
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'entries_extra')!.message).toMatch(/3 entries.*6 events/);
    // A count that matches, and unparsed lines that explain a shortfall, add nothing.
    expect(codes(await read(`${HEAD(3)}${BODY.join('\n')}\n`))).toEqual({});
    expect(codes(await read(`${HEAD(3)}${BODY[0]}\ngarbage line\n${BODY[2]}\n`))).toEqual({ bad_line_header: 1 });
  });
});

describe('a last line with no newline', () => {
  it('is suspect even when it still parses (pfn=0x1234 cut to pfn=0x12)', async () => {
    const whole = ev(0, '10.000004', 0x1234);
    const cut = whole.slice(0, whole.indexOf('pfn=0x12') + 'pfn=0x12'.length);
    const r = await read(`${HEAD(4)}${BODY.join('\n')}\n${cut}`);
    expect(r.events).toHaveLength(4);
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'truncated_last_line')!;
    expect(d.line).toBe(8);
  });
});

describe('a listing cut inside its header', () => {
  it('a last header line with no newline is suspect; a header with no entries line and no event is cut', async () => {
    const r = await read('# tracer: n');
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'truncated_last_line')).toMatchObject({ line: 1 });
    const r2 = await read('# tracer: nop\n#\n');
    expect(r2.stats.diagnostics.kept.find((x) => x.code === 'entries_missing')).toMatchObject({ severity: 'data_loss', line: 2 });
  });
});

describe('time order', () => {
  const shuffled = `${HEAD(3)}${[ev(0, '10.000003', 3), ev(1, '10.000002', 2), ev(0, '10.000001', 1)].join('\n')}\n`;

  it('events late beyond the sort window are reported each, also when the consumer filters them out', async () => {
    const all = await read(shuffled, { sortWindow: 1 });
    const filtered = await read(shuffled, { sortWindow: 1, only: (n) => n === 'tlb_flush' });
    // Held 10.000003, then 10.000002 put before it and let out; 10.000001 comes too late.
    expect(all.stats.late).toBe(1);
    expect(codes(all).out_of_order).toBe(1);
    expect(filtered.events).toHaveLength(0);
    expect(filtered.stats.late).toBe(1);
    expect(codes(filtered).out_of_order).toBe(1);
    expect(filtered.stats.diagnostics.kept.filter((d) => d.code === 'out_of_order').map((d) => d.line)).toEqual([7]);
  });

  it('time going backwards on one CPU is an error at its timestamp, even inside the sort window', async () => {
    const r = await read(shuffled);
    expect(r.events.map((e) => e.fields.pfn)).toEqual([1, 2, 3]);
    const d = r.stats.diagnostics.kept.filter((x) => x.code === 'time_backwards');
    expect(d).toHaveLength(1);
    expect([d[0]!.line, d[0]!.column, d[0]!.severity]).toEqual([7, ev(0, '10.000001', 1).indexOf('10.000001') + 1, 'error']);
    // CPUs interleaved out of order (per-CPU extracts joined) are not damage.
    const joined = await read(`${HEAD(3)}${[ev(1, '10.000002', 2), ev(0, '10.000001', 1), ev(0, '10.000003', 3)].join('\n')}\n`);
    expect(codes(joined)).toEqual({});
  });
});

describe('repeated lines', () => {
  it('an exact repeat with a nanosecond timestamp is flagged; at microseconds it can be two events', async () => {
    const ns = ev(0, '10.000000001', 1);
    const r = await read(`${ns}\n${ns}\n`);
    expect(codes(r).duplicate_line).toBe(1);
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'duplicate_line')!.line).toBe(2);
    const us = ev(0, '10.000001', 1);
    expect(codes(await read(`${us}\n${us}\n`)).duplicate_line).toBeUndefined();
  });
});

describe('numbers out of range', () => {
  it('a CPU column of 2^64 is out of range, not CPU 0', async () => {
    const line = BODY[0]!.replace('[000]', '[18446744073709551616]');
    const r = await read(`${HEAD(1)}${line}\n`);
    expect(r.events).toHaveLength(0);
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'number_out_of_range')!;
    expect([d.line, d.column]).toEqual([5, line.indexOf('[') + 2]);
  });

  it('a PID beyond PID_MAX_LIMIT and a timestamp of 20 digits are out of range', async () => {
    const r = await read(`${BODY[0]!.replace('a-1 ', 'a-99999999999 ')}\n${BODY[1]!.replace('10.000002', '99999999999999999999.000002')}\n`);
    expect(r.events).toHaveLength(0);
    expect(codes(r).number_out_of_range).toBe(2);
  });

  it('a number in the latency column is no latency flags: the line is reported, not read', async () => {
    const r = await read(`${HEAD(1)}${BODY[0]!.replace('.....', '..18446744073709551616.')}\n`);
    expect(r.events).toHaveLength(0);
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'bad_line_header')).toMatchObject({ line: 5 });
  });

  it('a payload value wider than its field is reported (when decoded) and kept as text', async () => {
    const r = await read(`${HEAD(1)}${BODY[0]!.replace('order=0', 'order=99999999999999999999')}\n`);
    expect(r.events[0]!.fields.order).toBe('99999999999999999999');
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'number_out_of_range')!;
    expect(d.line).toBe(5);
    expect(d.message).toMatch(/order=99999999999999999999 does not fit its 4-byte field/);
    // 2^32 fits no `unsigned int` either, though it is a safe number.
    const r2 = await read(`${HEAD(1)}${BODY[0]!.replace('order=0', 'order=4294967296')}\n`);
    expect(r2.events[0]!.fields.order).toBe('4294967296');
    expect(codes(r2).number_out_of_range).toBe(1);
    // -1 in an unsigned field is how the kernel prints it with %d: accepted.
    const r3 = await read(`${HEAD(1)}${BODY[0]!.replace('order=0', 'order=-1')}\n`);
    expect(r3.events[0]!.fields.order).toBe(-1);
    expect(codes(r3)).toEqual({});
  });

  it("trace-cmd's tlb_flush printer: pages wider than unsigned long are reported", async () => {
    const r = await read(`cpus=2\n  a-1  [000]   10.000001: tlb_flush:            pages=99999999999999999999999 reason=remote shootdown (1)\n`);
    expect(r.stats.layout).toBe('trace-cmd');
    expect(r.events[0]!.fields.pages).toBe('99999999999999999999999');
    expect(codes(r).number_out_of_range).toBe(1);
  });
});

describe('NUL bytes', () => {
  it('a NUL inside a line that would still scan is damage: the line is skipped and said so', async () => {
    const line = BODY[0]!.replace('a-1 ', 'a\0-1 ');
    const r = await read(`${HEAD(1)}${line}\n`);
    expect(r.events).toHaveLength(0);
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'non_text_line')).toMatchObject({ line: 5, column: line.indexOf('\0') + 1 });
  });
});

describe('empty and binary input have a position', () => {
  it('empty input is at 1:1', async () => {
    const r = await read(Buffer.alloc(0));
    expect(r.stats.diagnostics.kept[0]).toMatchObject({ code: 'empty_input', line: 1, column: 1 });
  });

  it('binary input is at its first NUL or control byte', async () => {
    const r = await read(Buffer.concat([Buffer.from('# tracer: nop\nab'), Buffer.alloc(64)]));
    expect(r.stats.diagnostics.kept[0]).toMatchObject({ code: 'binary_input', line: 2, column: 3 });
  });
});

describe('trace.dat records', () => {
  it('a record length of 2^31 or more is damage at its offset, not a jump backwards', async () => {
    const dat = smallDat(gunzipSync(readFileSync(join(packageRoot, 'fixtures/traces/trace-cmd-s1/trace-v6.dat.gz'))), 1);
    const b = Buffer.from(dat.bytes);
    // The first record of the first page (after its 8-byte timestamp and 8-byte commit): a long
    // record (type_len 0) whose length word says 0x80000004.
    const rec = dat.dataStart + 16;
    b.writeUInt32LE(0, rec);
    b.writeUInt32LE(0x80000004, rec + 4);
    const r = await read(b);
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'dat_corrupt')!;
    expect(d.message).toMatch(new RegExp(`event at ${rec}\\b`));
  });
});

describe('trace.dat CPU table', () => {
  it('pages that no CPU covers (sizes damaged to 0) are a damaged table, not an empty trace', async () => {
    const dat = smallDat(gunzipSync(readFileSync(join(packageRoot, 'fixtures/traces/trace-cmd-s1/trace-v6.dat.gz'))), 2);
    const b = Buffer.from(dat.bytes);
    for (let c = 0; c < dat.cpus; c++) b.writeBigUInt64LE(0n, dat.cpuTable + 16 * c + 8);
    const r = await read(b);
    expect(r.events).toHaveLength(0);
    expect(r.stats.diagnostics.kept.find((x) => x.code === 'dat_corrupt')!.message).toMatch(new RegExp(`bytes ${dat.dataStart}-${b.length} are no CPU's data`));
  });

  it('CPU data that does not start at a page boundary is a damaged table', async () => {
    const dat = smallDat(gunzipSync(readFileSync(join(packageRoot, 'fixtures/traces/trace-cmd-s1/trace-v6.dat.gz'))), 2);
    const b = Buffer.from(dat.bytes);
    const cpu = [...Array(dat.cpus).keys()].find((c) => b.readBigUInt64LE(dat.cpuTable + 16 * c + 8) > 0n)!;
    const at = dat.cpuTable + 16 * cpu;
    b.writeBigUInt64LE(b.readBigUInt64LE(at) - 812n, at);
    const r = await read(b);
    const d = r.stats.diagnostics.kept.find((x) => x.code === 'dat_corrupt')!;
    expect(d.message).toMatch(new RegExp(`CPU ${cpu} data starts at byte ${dat.dataStart - 812}, not at a 4096-byte page boundary`));
  });
});
