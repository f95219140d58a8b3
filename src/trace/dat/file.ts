/**
 * The trace-cmd `trace.dat` container, versions 6 and 7 (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)):
 * the metadata a trace carries (header_page, header_event, ftrace and event format files,
 * kallsyms, printk formats, saved cmdlines, options) and, per CPU, the ring-buffer pages as the
 * kernel wrote them (ring.ts reads those).
 *
 *   "\x17\x08\x44tracing" "6\0"|"7\0"  endian(1)  long size(1)  page size(4)
 *   v6: header_page, header_event, ftrace formats, event formats, kallsyms, printk, cmdlines,
 *       cpu count, [options], "flyrecord\0", per CPU (offset u64, size u64)
 *   v7: "compression\0version\0", offset of the first OPTIONS section, then sections anywhere
 *       in the file, each with a 16-byte header (id u16, flags u16, string id u32, size u64);
 *       a section with flag 1 is compressed: (compressed size u32, size u32, data). Options
 *       give the other sections' offsets and the BUFFER (per-CPU data) layout; compressed
 *       per-CPU data is a list of chunks (count u32; per chunk: compressed size u32, size u32).
 *
 * Everything is read from one in-memory buffer with bounds checks: a short or inconsistent
 * file throws DatError with the byte offset where it went wrong.
 */
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';

export class DatError extends Error {
  constructor(
    readonly offset: number,
    message: string,
    /** The CPU whose data is affected (its events from here on are missing), if one is. */
    readonly cpu?: number,
    /** The file ends here, before its data does. */
    readonly cut = false,
  ) {
    super(message);
  }
}

/** Little/big-endian reads at absolute offsets, each checked against the end of the buffer. */
export class Bytes {
  constructor(
    readonly buf: Buffer,
    readonly little: boolean,
    /** Where `buf` starts in the file, for error offsets (0 for the file itself). */
    readonly base = 0,
    /** What this buffer is, for errors (`file`, `the EVENT_FORMATS section`). */
    readonly what = 'file',
  ) {}

  need(off: number, n: number, what: string): void {
    if (off < 0 || off + n > this.buf.length) {
      throw new DatError(this.base + Math.min(Math.max(off, 0), this.buf.length), `${what}: needs ${n} bytes at ${this.where(off)}, but the ${this.what} ends at byte ${this.base + this.buf.length}`);
    }
  }

  where(off: number): string {
    return this.base === 0 && this.what === 'file' ? `byte ${off}` : `byte ${off} of the ${this.what}`;
  }

  u8(off: number, what = 'byte'): number {
    this.need(off, 1, what);
    return this.buf[off]!;
  }
  u16(off: number, what = 'u16'): number {
    this.need(off, 2, what);
    return this.little ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number, what = 'u32'): number {
    this.need(off, 4, what);
    return this.little ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  u64big(off: number, what = 'u64'): bigint {
    this.need(off, 8, what);
    return this.little ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
  }
  /** A u64 used as an offset or size: must fit a JS number. */
  u64(off: number, what = 'u64'): number {
    const v = this.u64big(off, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DatError(this.base + off, `${what}: ${v} at ${this.where(off)} is not a plausible size or offset`);
    return Number(v);
  }
  /** NUL-terminated string at `off`; returns the text and the offset after the NUL. */
  cstr(off: number, what = 'string'): [string, number] {
    const end = this.buf.indexOf(0, off);
    if (off >= this.buf.length || end < 0) throw new DatError(this.base + off, `${what}: no terminating NUL after ${this.where(off)}`);
    return [this.buf.toString('latin1', off, end), end + 1];
  }
  text(off: number, n: number, what: string): string {
    this.need(off, n, what);
    return this.buf.toString('utf8', off, off + n);
  }
}

export interface DatFormatText {
  system: string;
  text: string;
}

export interface DatCpuData {
  cpu: number;
  /** The CPU's ring-buffer pages (decompressed). */
  data: Buffer;
  /** File offset of the data (of its first compressed chunk when compressed). */
  fileOffset: number;
  /** True when `data` was decompressed: byte offsets inside it are not file offsets. */
  compressed: boolean;
}

export interface DatFile {
  version: number;
  little: boolean;
  longSize: number;
  pageSize: number;
  compression: string;
  headerPage: string;
  headerEvent: string;
  formats: DatFormatText[];
  kallsyms: string;
  printk: string;
  cmdlines: string;
  /** CPUs with trace data, in file order. */
  cpus: DatCpuData[];
  /** CPU count the file records (CPUs without data included). */
  cpuCount: number;
  /** `per_cpu/cpuN/stats` text saved by trace-cmd (CPUSTAT options), in order. */
  cpuStats: string[];
  clock: string | undefined;
  uname: string | undefined;
  /** Problems that did not stop the read (an unknown section, a chunk that would not inflate). */
  problems: DatError[];
}

export const DAT_MAGIC = Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing', 'latin1')]);

export function isDat(first: Buffer): boolean {
  return first.length >= DAT_MAGIC.length && first.subarray(0, DAT_MAGIC.length).equals(DAT_MAGIC);
}

// Option ids (trace-cmd.dat.v7(5), OPTIONS SECTION; v6 uses the same ids).
const OPT_DONE = 0;
const OPT_CPUSTAT = 2;
const OPT_BUFFER = 3;
const OPT_TRACECLOCK = 4;
const OPT_UNAME = 5;
const OPT_HEADER_INFO = 16;
const OPT_FTRACE_EVENTS = 17;
const OPT_EVENT_FORMATS = 18;
const OPT_KALLSYMS = 19;
const OPT_PRINTK = 20;
const OPT_CMDLINES = 21;

/** Section ids equal the option ids that point at them. */
const SECTION_OPTIONS = 0;

const SECTION_COMPRESSED = 1;

function inflate(alg: string, data: Buffer, expect: number, at: number): Buffer {
  let out: Buffer;
  try {
    if (alg === 'zstd') out = Buffer.from(zstdDecompress(data));
    else if (alg === 'zlib') out = inflateSync(data);
    else throw new DatError(at, `compression \`${alg}\` is not supported (zstd and zlib are)`);
  } catch (e) {
    if (e instanceof DatError) throw e;
    throw new DatError(at, `${alg} data does not decompress: ${(e as Error).message}`);
  }
  if (out.length !== expect) throw new DatError(at, `${alg} data decompresses to ${out.length} bytes, the file says ${expect}`);
  return out;
}

/** v6 and v7 share these layouts inside their (v7: section) bodies. */
function readHeaderInfo(b: Bytes, off: number, f: DatFile): number {
  const [hp, o1] = b.cstr(off, 'header_page tag');
  if (hp !== 'header_page') throw new DatError(b.base + off, `expected "header_page" at ${b.where(off)}, found ${JSON.stringify(hp.slice(0, 20))}`);
  const n1 = b.u64(o1, 'header_page size');
  f.headerPage = b.text(o1 + 8, n1, 'header_page');
  let p = o1 + 8 + n1;
  const [he, o2] = b.cstr(p, 'header_event tag');
  if (he !== 'header_event') throw new DatError(b.base + p, `expected "header_event" at ${b.where(p)}, found ${JSON.stringify(he.slice(0, 20))}`);
  const n2 = b.u64(o2, 'header_event size');
  f.headerEvent = b.text(o2 + 8, n2, 'header_event');
  p = o2 + 8 + n2;
  return p;
}

function readFtraceFormats(b: Bytes, off: number, f: DatFile): number {
  const count = b.u32(off, 'ftrace format count');
  let p = off + 4;
  for (let i = 0; i < count; i++) {
    const n = b.u64(p, 'ftrace format size');
    f.formats.push({ system: 'ftrace', text: b.text(p + 8, n, `ftrace format ${i + 1} of ${count}`) });
    p += 8 + n;
  }
  return p;
}

function readEventFormats(b: Bytes, off: number, f: DatFile): number {
  const systems = b.u32(off, 'event system count');
  let p = off + 4;
  for (let s = 0; s < systems; s++) {
    const [name, q] = b.cstr(p, 'event system name');
    const count = b.u32(q, `event count of system ${name}`);
    p = q + 4;
    for (let i = 0; i < count; i++) {
      const n = b.u64(p, `format size in system ${name}`);
      f.formats.push({ system: name, text: b.text(p + 8, n, `format ${i + 1} of system ${name}`) });
      p += 8 + n;
    }
  }
  return p;
}

function readSized32(b: Bytes, off: number, what: string): [string, number] {
  const n = b.u32(off, `${what} size`);
  return [b.text(off + 4, n, what), off + 4 + n];
}

function readSized64(b: Bytes, off: number, what: string): [string, number] {
  const n = b.u64(off, `${what} size`);
  return [b.text(off + 8, n, what), off + 8 + n];
}

function emptyFile(version: number, little: boolean, longSize: number, pageSize: number): DatFile {
  return {
    version, little, longSize, pageSize, compression: 'none', headerPage: '', headerEvent: '', formats: [], kallsyms: '', printk: '', cmdlines: '',
    cpus: [], cpuCount: 0, cpuStats: [], clock: undefined, uname: undefined, problems: [],
  };
}

/** Read the container. Throws DatError (with its offset) when the file cannot be read at all. */
export function readDatFile(buf: Buffer): DatFile {
  if (!isDat(buf)) throw new DatError(0, 'not a trace-cmd trace.dat (no "\\x17\\x08\\x44tracing" magic)');
  const probe = new Bytes(buf, true);
  const [ver, afterVer] = probe.cstr(10, 'file version');
  const version = Number(ver);
  if (version !== 6 && version !== 7) throw new DatError(10, `trace.dat version ${JSON.stringify(ver)} is not supported (6 and 7 are)`);
  const endian = probe.u8(afterVer, 'endianness');
  if (endian > 1) throw new DatError(afterVer, `endianness byte is ${endian} (0 little, 1 big)`);
  const little = endian === 0;
  const b = new Bytes(buf, little);
  const longSize = b.u8(afterVer + 1, 'long size');
  if (longSize !== 4 && longSize !== 8) throw new DatError(afterVer + 1, `long size is ${longSize} (4 or 8)`);
  const pageSize = b.u32(afterVer + 2, 'page size');
  if (pageSize < 64 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) throw new DatError(afterVer + 2, `page size ${pageSize} is not a power of two between 64 and 16 MiB`);
  const f = emptyFile(version, little, longSize, pageSize);
  const p = afterVer + 6;
  if (version === 6) readV6(b, p, f);
  else readV7(b, p, f);
  if (!f.headerPage) throw new DatError(p, 'no header_page: the ring-buffer page layout is unknown');
  return f;
}

function readV6(b: Bytes, start: number, f: DatFile): void {
  let p = readHeaderInfo(b, start, f);
  p = readFtraceFormats(b, p, f);
  p = readEventFormats(b, p, f);
  [f.kallsyms, p] = readSized32(b, p, 'kallsyms');
  [f.printk, p] = readSized32(b, p, 'printk formats');
  [f.cmdlines, p] = readSized64(b, p, 'saved cmdlines');
  f.cpuCount = b.u32(p, 'CPU count');
  p += 4;
  let instances = false;
  for (;;) {
    const [tag] = [b.text(p, 10, 'data tag (options / latency / flyrecord)')];
    if (tag === 'options  \0') {
      p += 10;
      for (;;) {
        const id = b.u16(p, 'option id');
        p += 2;
        if (id === OPT_DONE) break;
        if (id === OPT_BUFFER) instances = true;
        const size = b.u32(p, 'option size');
        b.need(p + 4, size, `option ${id}`);
        readOption(b, id, p + 4, size, f, 6);
        p += 4 + size;
      }
      continue;
    }
    if (tag === 'latency  \0') throw new DatError(p, 'this trace.dat holds a latency-tracer text trace, not ring-buffer data: run `trace-cmd report` on it');
    if (tag !== 'flyrecord\0') throw new DatError(p, `expected "options", "latency" or "flyrecord" at byte ${p}, found ${JSON.stringify(tag.replace(/\0/g, ''))}`);
    p += 10;
    break;
  }
  let end = p + 16 * f.cpuCount;
  for (let cpu = 0; cpu < f.cpuCount; cpu++) {
    const off = b.u64(p, `CPU ${cpu} data offset`);
    const size = b.u64(p + 8, `CPU ${cpu} data size`);
    p += 16;
    if (size === 0) continue;
    end = Math.max(end, off + size);
    cpuData(b, cpu, off, size, f, false);
  }
  // The CPU data are the end of a version 6 file (instance buffers, which follow them, are
  // named by BUFFER options): whole pages past the last CPU's data belong to no CPU, and the
  // CPU table that should cover them is damaged (sizes read as 0 drop every event silently).
  const aligned = Math.ceil(end / f.pageSize) * f.pageSize;
  if (!instances && b.buf.length > aligned) {
    f.problems.push(new DatError(aligned, `bytes ${aligned}-${b.buf.length} are no CPU's data (the CPU table's data end at byte ${end}): the CPU table is damaged, and events in them are not read`));
  }
}

function cpuData(b: Bytes, cpu: number, off: number, size: number, f: DatFile, chunked: boolean): void {
  if (!chunked) {
    // trace-cmd writes a version 6 file's CPU data at page boundaries: an offset off one is a
    // damaged CPU table, whose pages would be read shifted (garbage taken for page headers).
    if (f.version === 6 && off % f.pageSize !== 0) {
      f.problems.push(new DatError(off, `CPU ${cpu} data starts at byte ${off}, not at a ${f.pageSize}-byte page boundary as trace-cmd writes it: the CPU table is damaged, and the pages are read as they stand`));
    }
    if (off + size > b.buf.length) {
      // A file cut short: keep the whole pages that are there, and say what is missing.
      const have = Math.max(0, b.buf.length - off);
      f.problems.push(new DatError(b.buf.length, `CPU ${cpu} data (${size} bytes at byte ${off}) is cut short: the file ends after ${have} of them; events after byte ${b.buf.length} are missing`, cpu, true));
      if (have <= 0) return;
      size = have - (have % f.pageSize);
    }
    f.cpus.push({ cpu, data: b.buf.subarray(off, off + size), fileOffset: off, compressed: false });
    return;
  }
  // Compressed: count u32, then per chunk (compressed size u32, size u32, data).
  const parts: Buffer[] = [];
  const count = b.u32(off, `CPU ${cpu} chunk count`);
  let p = off + 4;
  for (let i = 0; i < count; i++) {
    try {
      const csize = b.u32(p, `CPU ${cpu} chunk ${i + 1} compressed size`);
      const usize = b.u32(p + 4, `CPU ${cpu} chunk ${i + 1} size`);
      b.need(p + 8, csize, `CPU ${cpu} chunk ${i + 1} of ${count}`);
      parts.push(inflate(f.compression, b.buf.subarray(p + 8, p + 8 + csize), usize, p));
      p += 8 + csize;
    } catch (e) {
      if (!(e instanceof DatError)) throw e;
      f.problems.push(new DatError(e.offset, `CPU ${cpu}: ${e.message}; the rest of this CPU's data (chunks ${i + 1}-${count}) is skipped`, cpu));
      break;
    }
  }
  f.cpus.push({ cpu, data: Buffer.concat(parts), fileOffset: off, compressed: true });
}

function readOption(b: Bytes, id: number, off: number, size: number, f: DatFile, version: number, pending?: Map<number, number>, buffers?: Array<{ off: number; size: number }>): void {
  switch (id) {
    case OPT_CPUSTAT: f.cpuStats.push(b.buf.toString('utf8', off, off + size).replace(/\0+$/, '')); return;
    case OPT_TRACECLOCK: f.clock = b.buf.toString('utf8', off, off + size).replace(/\0+$/, ''); return;
    case OPT_UNAME: f.uname = b.buf.toString('utf8', off, off + size).replace(/\0+$/, ''); return;
    case OPT_BUFFER:
      if (version === 7) buffers?.push({ off, size });
      return;
    case OPT_HEADER_INFO: case OPT_FTRACE_EVENTS: case OPT_EVENT_FORMATS: case OPT_KALLSYMS: case OPT_PRINTK: case OPT_CMDLINES:
      if (version === 7) pending?.set(id, b.u64(off, `option ${id} section offset`));
      return;
    default:
      return;
  }
}

interface Section {
  id: number;
  /** The section's body (decompressed when it was compressed). */
  body: Bytes;
  /** File offset just past the section header (and compression header). */
  dataOffset: number;
  flags: number;
}

function readSection(b: Bytes, off: number, f: DatFile, what: string): Section {
  const id = b.u16(off, `${what} section id`);
  const flags = b.u16(off + 2, `${what} section flags`);
  const size = b.u64(off + 8, `${what} section size`);
  const start = off + 16;
  b.need(start, size, `${what} section`);
  if (flags & SECTION_COMPRESSED) {
    const csize = b.u32(start, `${what} compressed size`);
    const usize = b.u32(start + 4, `${what} uncompressed size`);
    b.need(start + 8, csize, `${what} compressed data`);
    const out = inflate(f.compression, b.buf.subarray(start + 8, start + 8 + csize), usize, start);
    return { id, flags, dataOffset: start + 8, body: new Bytes(out, b.little, start + 8, `${what} section (decompressed)`) };
  }
  return { id, flags, dataOffset: start, body: new Bytes(b.buf.subarray(start, start + size), b.little, start, `${what} section`) };
}

function readV7(b: Bytes, start: number, f: DatFile): void {
  const [alg, q] = b.cstr(start, 'compression name');
  const [, r] = b.cstr(q, 'compression version');
  f.compression = alg;
  let optOff = b.u64(r, 'first options section offset');
  const pending = new Map<number, number>();
  const buffers: Array<{ off: number; size: number }> = [];
  const seen = new Set<number>();
  while (optOff !== 0) {
    if (seen.has(optOff)) throw new DatError(optOff, `options sections loop back to byte ${optOff}`);
    seen.add(optOff);
    const sec = readSection(b, optOff, f, 'OPTIONS');
    if (sec.id !== SECTION_OPTIONS) throw new DatError(optOff, `expected an OPTIONS section (id 0) at byte ${optOff}, found id ${sec.id}`);
    const ob = sec.body;
    let p = 0;
    let next = 0;
    for (;;) {
      const id = ob.u16(p, 'option id');
      const size = ob.u32(p + 2, 'option size');
      ob.need(p + 6, size, `option ${id}`);
      if (id === OPT_DONE) {
        next = size >= 8 ? ob.u64(p + 6, 'next options section offset') : 0;
        break;
      }
      // Options are read from the section body; a BUFFER option's offsets are file offsets.
      readOption(ob, id, p + 6, size, f, 7, pending, buffers);
      for (const bo of buffers.splice(0)) readBufferOption(ob, bo.off, bo.size, b, f);
      p += 6 + size;
    }
    optOff = next;
  }
  const body = (id: number, what: string): Bytes | undefined => {
    const off = pending.get(id);
    if (off === undefined) return undefined;
    const sec = readSection(b, off, f, what);
    if (sec.id !== id) throw new DatError(off, `expected the ${what} section (id ${id}) at byte ${off}, found id ${sec.id}`);
    return sec.body;
  };
  const hi = body(OPT_HEADER_INFO, 'HEADER_INFO');
  if (hi) readHeaderInfo(hi, 0, f);
  const fe = body(OPT_FTRACE_EVENTS, 'FTRACE_EVENTS');
  if (fe) readFtraceFormats(fe, 0, f);
  const ef = body(OPT_EVENT_FORMATS, 'EVENT_FORMATS');
  if (ef) readEventFormats(ef, 0, f);
  const ks = body(OPT_KALLSYMS, 'KALLSYMS');
  if (ks) f.kallsyms = readSized32(ks, 0, 'kallsyms')[0];
  const pk = body(OPT_PRINTK, 'PRINTK');
  if (pk) f.printk = readSized32(pk, 0, 'printk formats')[0];
  const cl = body(OPT_CMDLINES, 'CMDLINES');
  if (cl) f.cmdlines = readSized64(cl, 0, 'saved cmdlines')[0];
}

/**
 * BUFFER option: flyrecord section offset u64, instance name, clock, page size u32, CPU count
 * u32, per CPU (id u32, data offset u64, data size u64). Only the top instance (name "") is
 * read: the text layouts show that one.
 */
function readBufferOption(ob: Bytes, off: number, size: number, b: Bytes, f: DatFile): void {
  const secOff = ob.u64(off, 'BUFFER section offset');
  const [name, p1] = ob.cstr(off + 8, 'BUFFER instance name');
  const [clock, p2] = ob.cstr(p1, 'BUFFER clock');
  if (name !== '') return;
  f.clock ??= clock;
  const pageSize = ob.u32(p2, 'BUFFER page size');
  if (pageSize !== f.pageSize) throw new DatError(ob.base + p2, `BUFFER page size ${pageSize} differs from the file's ${f.pageSize}`);
  const count = ob.u32(p2 + 4, 'BUFFER CPU count');
  if (p2 + 8 + count * 20 > off + size) throw new DatError(ob.base + p2 + 4, `BUFFER option says ${count} CPUs, more than its ${size} bytes hold`);
  const sec = b.u16(secOff, 'flyrecord section id');
  const flags = b.u16(secOff + 2, 'flyrecord section flags');
  if (sec !== OPT_BUFFER) throw new DatError(secOff, `expected the flyrecord section (id ${OPT_BUFFER}) at byte ${secOff}, found id ${sec}`);
  const chunked = (flags & SECTION_COMPRESSED) !== 0 && f.compression !== 'none';
  f.cpuCount = Math.max(f.cpuCount, count);
  let p = p2 + 8;
  for (let i = 0; i < count; i++) {
    const cpu = ob.u32(p, 'BUFFER CPU id');
    const doff = ob.u64(p + 4, `CPU ${cpu} data offset`);
    const dsize = ob.u64(p + 12, `CPU ${cpu} data size`);
    p += 20;
    f.cpuCount = Math.max(f.cpuCount, cpu + 1);
    if (dsize === 0) continue;
    cpuData(b, cpu, doff, dsize, f, chunked);
  }
}
