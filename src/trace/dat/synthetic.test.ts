/**
 * trace.dat files written here, byte by byte, to reach what the real captures do not: zlib
 * compression (this host's trace-cmd offers zstd only), two CPUs with equal timestamps, time
 * extends, absolute time stamps, padding, long (type_len 0) records, __data_loc strings, a
 * page flagged with lost events, big-endian data.
 */
import { Readable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { collectTrace, FormatRegistry } from '../index.js';
import { readDatFile } from './file.js';

const PAGE = 4096;

const HEADER_PAGE = `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
`;
const HEADER_EVENT = '# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n';

const FORMAT = `name: probe
ID: 42
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int reason;\toffset:8;\tsize:4;\tsigned:1;
\tfield:unsigned long pages;\toffset:16;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:24;\tsize:4;\tsigned:0;

print fmt: "pages:%ld reason:%s (%d) name=%s", REC->pages, __print_symbolic(REC->reason, { 0, "zero" }, { 3, "three" }), REC->reason, __get_str(name)
`;

type Item =
  | { t: 'ev'; delta: number; pid: number; reason: number; pages: bigint; name: string }
  | { t: 'extend'; delta: number; ext: number }
  | { t: 'abs'; ts: number }
  | { t: 'pad'; delta: number; len: number };

class W {
  parts: Buffer[] = [];
  len = 0;
  constructor(readonly little: boolean) {}
  push(b: Buffer): number {
    const at = this.len;
    this.parts.push(b);
    this.len += b.length;
    return at;
  }
  u16(v: number): Buffer { const b = Buffer.alloc(2); if (this.little) b.writeUInt16LE(v); else b.writeUInt16BE(v); return b; }
  u32(v: number): Buffer { const b = Buffer.alloc(4); if (this.little) b.writeUInt32LE(v); else b.writeUInt32BE(v); return b; }
  u64(v: number | bigint): Buffer { const b = Buffer.alloc(8); if (this.little) b.writeBigUInt64LE(BigInt(v)); else b.writeBigUInt64BE(BigInt(v)); return b; }
  s32(v: number): Buffer { const b = Buffer.alloc(4); if (this.little) b.writeInt32LE(v); else b.writeInt32BE(v); return b; }
}

function record(w: W, it: Extract<Item, { t: 'ev' }>): Buffer {
  const name = Buffer.from(`${it.name}\0`);
  return Buffer.concat([w.u16(42), Buffer.from([0, 0]), w.s32(it.pid), w.s32(it.reason), Buffer.alloc(4), w.u64(it.pages), w.u32((name.length << 16) | 28), name]);
}

function header(w: W, typeLen: number, delta: number): Buffer {
  return w.u32(w.little ? ((delta << 5) | typeLen) >>> 0 : ((typeLen << 27) | delta) >>> 0);
}

function page(w: W, ts: number, items: Item[], missed?: number): Buffer {
  const body: Buffer[] = [];
  for (const it of items) {
    if (it.t === 'ev') {
      const rec = record(w, it);
      const padded = Buffer.concat([rec, Buffer.alloc((4 - (rec.length % 4)) % 4)]);
      if (padded.length <= 28 * 4) body.push(header(w, padded.length / 4, it.delta), padded);
      else body.push(header(w, 0, it.delta), w.u32(rec.length + 4), padded);
    } else if (it.t === 'extend') body.push(header(w, 30, it.delta), w.u32(it.ext));
    else if (it.t === 'abs') body.push(header(w, 31, it.ts % 2 ** 27), w.u32(Math.floor(it.ts / 2 ** 27)));
    // A discarded event: its length word counts itself and what follows.
    else body.push(header(w, 29, it.delta), w.u32(it.len), Buffer.alloc(it.len - 4));
  }
  const data = Buffer.concat(body);
  let commit = data.length;
  if (missed !== undefined) commit |= 0x80000000 | 0x40000000;
  const out = Buffer.alloc(PAGE);
  w.u64(ts).copy(out, 0);
  w.u64(commit >>> 0).copy(out, 8);
  data.copy(out, 16);
  if (missed !== undefined) w.u64(missed).copy(out, 16 + data.length);
  return out;
}

/** A version 7 file: sections (zlib-compressed or not), one OPTIONS section, per-CPU chunks. */
function v7(w: W, compression: 'zlib' | 'none', cpus: Array<{ cpu: number; pages: Buffer[] }>): Buffer {
  const comp = compression === 'zlib';
  w.push(Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing7\0', 'latin1'), Buffer.from([w.little ? 0 : 1, 8]), w.u32(PAGE)]));
  w.push(Buffer.from(comp ? 'zlib\x001.2\0' : 'none\0\0', 'latin1'));
  const optPtr = w.push(w.u64(0));
  const section = (id: number, body: Buffer): number => {
    if (!comp) return w.push(Buffer.concat([w.u16(id), w.u16(0), w.u32(0), w.u64(body.length), body]));
    const z = deflateSync(body);
    return w.push(Buffer.concat([w.u16(id), w.u16(1), w.u32(0), w.u64(z.length + 8), w.u32(z.length), w.u32(body.length), z]));
  };
  const hp = Buffer.from(HEADER_PAGE);
  const he = Buffer.from(HEADER_EVENT);
  const hi = section(16, Buffer.concat([Buffer.from('header_page\0'), w.u64(hp.length), hp, Buffer.from('header_event\0'), w.u64(he.length), he]));
  const f = Buffer.from(FORMAT);
  const ef = section(18, Buffer.concat([w.u32(1), Buffer.from('probe_sys\0'), w.u32(1), w.u64(f.length), f]));
  const cl = Buffer.from('100 alpha\n200 beta two\n');
  const cm = section(21, Buffer.concat([w.u64(cl.length), cl]));
  const fly = w.push(Buffer.concat([w.u16(3), w.u16(comp ? 1 : 0), w.u32(0), w.u64(0)]));
  const where: Array<[number, number, number]> = [];
  for (const c of cpus) {
    const raw = Buffer.concat(c.pages);
    let data = raw;
    if (comp) {
      // Two chunks, to read more than one.
      const half = Math.ceil(c.pages.length / 2) * PAGE;
      const chunks = [raw.subarray(0, half), raw.subarray(half)].filter((x) => x.length > 0);
      data = Buffer.concat([w.u32(chunks.length), ...chunks.map((ch) => { const z = deflateSync(ch); return Buffer.concat([w.u32(z.length), w.u32(ch.length), z]); })]);
    }
    where.push([c.cpu, w.push(data), data.length]);
  }
  const opt = (id: number, body: Buffer): Buffer => Buffer.concat([w.u16(id), w.u32(body.length), body]);
  const buffer = Buffer.concat([w.u64(fly), Buffer.from('\0local\0'), w.u32(PAGE), w.u32(cpus.length), ...where.map(([cpu, off, size]) => Buffer.concat([w.u32(cpu), w.u64(off), w.u64(size)]))]);
  const opts = Buffer.concat([opt(16, w.u64(hi)), opt(18, w.u64(ef)), opt(21, w.u64(cm)), opt(2, Buffer.from('entries: 3\noverrun: 0\n\0')), opt(3, buffer), opt(0, w.u64(0))]);
  const optOff = section(0, opts);
  const file = Buffer.concat(w.parts);
  w.u64(optOff).copy(file, optPtr);
  return file;
}

const registry = new FormatRegistry();

async function read(buf: Buffer) {
  return collectTrace(Readable.from([buf]), { file: 'synthetic.dat', registry, decodeAll: true });
}

function build(little: boolean, compression: 'zlib' | 'none'): Buffer {
  const w = new W(little);
  const long = 'x'.repeat(150);
  const cpu0 = [
    page(w, 1_000_000_000, [
      { t: 'ev', delta: 0, pid: 100, reason: 3, pages: 16n, name: 'a' },
      { t: 'pad', delta: 7, len: 12 },
      { t: 'ev', delta: 500, pid: 100, reason: 0, pages: 0xffffffffffffffffn, name: long },
      // 3 << 27 ns later, plus 5.
      { t: 'extend', delta: 5, ext: 3 },
      { t: 'ev', delta: 0, pid: 100, reason: 7, pages: 1n, name: 'after-extend' },
    ]),
    page(w, 2_000_000_000, [
      { t: 'abs', ts: 2_500_000_123 },
      { t: 'ev', delta: 0, pid: 200, reason: 3, pages: 2n, name: 'abs' },
    ], 42),
  ];
  const cpu1 = [page(w, 1_000_000_000, [{ t: 'ev', delta: 0, pid: 999, reason: 0, pages: 3n, name: 'tie' }, { t: 'ev', delta: 500, pid: 200, reason: 3, pages: 4n, name: 'b' }])];
  return v7(w, compression, [{ cpu: 0, pages: cpu0 }, { cpu: 1, pages: cpu1 }]);
}

describe('synthetic trace.dat', () => {
  it.each([
    ['little-endian, zlib', true, 'zlib'],
    ['little-endian, uncompressed', true, 'none'],
    ['big-endian, zlib', false, 'zlib'],
  ] as const)('%s: order, times, records and losses', async (_name, little, compression) => {
    const r = await read(build(little, compression));
    expect(r.stats.diagnostics.kept.filter((d) => d.code !== 'lost_events')).toEqual([]);
    const rows = r.events.map((e) => [e.tsNs, e.cpu, e.comm, e.pid, e.fields]);
    const ext = 1_000_000_500 + 5 + 3 * 2 ** 27;
    expect(rows).toEqual([
      // Equal times: the lower CPU first.
      [1_000_000_000, 0, 'alpha', 100, { pages: 16, reason: { value: 3, name: 'three' }, name: 'a' }],
      [1_000_000_000, 1, '<...>', 999, { pages: 3, reason: { value: 0, name: 'zero' }, name: 'tie' }],
      // Padding does not move the time; a record longer than 112 bytes (type_len 0); an
      // unsigned long printed by %ld is -1.
      [1_000_000_500, 0, 'alpha', 100, { pages: -1, reason: { value: 0, name: 'zero' }, name: 'x'.repeat(150) }],
      [1_000_000_500, 1, 'beta two', 200, { pages: 4, reason: { value: 3, name: 'three' }, name: 'b' }],
      // No name for 7: the kernel prints it in hex, and %d gives the number.
      [ext, 0, 'alpha', 100, { pages: 1, reason: { value: 7, name: '0x7' }, name: 'after-extend' }],
      [2_500_000_123, 0, 'beta two', 200, { pages: 2, reason: { value: 3, name: 'three' }, name: 'abs' }],
    ]);
    expect(r.events.map((e) => e.name)).toEqual(Array(6).fill('probe'));
    expect(r.events[0]!.system).toBe('probe_sys');
    // The second page of CPU 0 says 42 events were lost before it.
    expect(r.stats.lost).toEqual([{ kind: 'gap', cpu: 0, count: 42, line: 0, afterTsNs: ext, offset: expect.any(Number) }]);
    expect(r.stats.complete).toBe(false);
  });

  it('a zlib chunk that does not inflate: the CPU\'s data from there is a gap and an error, the other CPU is read', async () => {
    const b = build(true, 'zlib');
    // CPU 1's only chunk (count, compressed size, size, then the zlib stream): damage the stream.
    const at = readDatFile(b).cpus.find((c) => c.cpu === 1)!.fileOffset + 12;
    for (let i = 2; i < 12; i++) b[at + i] ^= 0xa5;
    const r = await read(b);
    const d = r.stats.diagnostics.kept.filter((x) => x.code === 'dat_corrupt');
    expect(d).toHaveLength(1);
    expect(d[0]!.message).toMatch(/CPU 1: zlib data does not decompress: .*; the rest of this CPU's data \(chunks 1-1\) is skipped \(at byte \d+\)/);
    expect(r.events.every((e) => e.cpu === 0)).toBe(true);
    expect(r.events).toHaveLength(4);
    expect(r.stats.lost.some((l) => l.kind === 'gap' && l.cpu === 1 && l.count === null)).toBe(true);
  });
});
