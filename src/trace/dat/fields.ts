/**
 * Binary event records → typed fields, the same fields the text layouts give.
 *
 * A record is read field by field from its format file (offset, size, signedness; `char x[N]`
 * and `__data_loc`/`__rel_loc` strings). Then each conversion of the print fmt is printed as the
 * kernel's trace output would print it (vsprintf conversions, __print_symbolic,
 * __print_flags as trace_print_flags_seq(), `%ps` through the trace's kallsyms), and the text is
 * handed to the setter the text decoder uses for that conversion (format/compile.ts): one
 * reading of each print fmt serves both sources, so both give the same values, the same
 * {value, name} and {value, flags} objects and the same bit-tested flag words.
 *
 * Syscall events are printed as the tracefs `trace` file prints them (every argument in hex,
 * kernel/trace/trace_syscalls.c) and read by the same functions as that text.
 *
 * Model deviation (of the kernel's output): plain `%p` prints the raw pointer in hex, where the
 * kernel prints a hashed value; arguments the printer cannot evaluate (pointer arithmetic on
 * kernel symbols such as `vmemmap_base + pfn`, __print_hex, __print_array) are left out.
 */
import type { FieldDef, EventFormat } from '../format/format-file.js';
import { binaryOp, type CompiledDecoder, type Conv, type Fields } from '../format/compile.js';
import type { Expr } from '../format/parser.js';
import { decodeSyscallEnter, decodeSyscallExit } from '../payload/syscalls.js';

/** Kernel text symbols from the trace's kallsyms, for `%ps`/`%pS`. Parsed on first use. */
export class Kallsyms {
  private addrs: BigUint64Array | undefined;
  private names: string[] = [];
  constructor(private readonly text: string) {}

  private load(): void {
    // `ffffffff81000000 T _stext`: text symbols (t, T, w, W) by address, as the pattern
    // /^([0-9a-fA-F]+) ([tTwW]) (\S+)/gm reads them, scanned by hand with the address as two
    // 32-bit halves (a BigInt per row of a ~150 k-row kallsyms cost more than the records of a
    // trace.dat of that many events). An address of more than 16 digits (damage) is read by
    // the pattern itself.
    const text = this.text;
    const hi: number[] = [];
    const lo: number[] = [];
    const names: string[] = [];
    const n = text.length;
    let p = 0;
    while (p <= n) {
      let q = p;
      let h = 0;
      let l = 0;
      while (q < n) {
        const d = hexDigit(text.charCodeAt(q));
        if (d < 0) break;
        h = ((h << 4) | (l >>> 28)) >>> 0;
        l = ((l << 4) | d) >>> 0;
        q++;
      }
      if (q - p > 16) { this.loadByPattern(); return; }
      const c = text.charCodeAt(q + 1);
      if (q > p && text.charCodeAt(q) === 32 && (c === 116 || c === 84 || c === 119 || c === 87) && text.charCodeAt(q + 2) === 32 && (h !== 0 || l !== 0)) {
        let e = q + 3;
        while (e < n && !isSpace(text.charCodeAt(e))) e++;
        if (e > q + 3) {
          hi.push(h);
          lo.push(l);
          names.push(text.slice(q + 3, e));
        }
      }
      // The next line: after \n, \r, U+2028 or U+2029 (where the pattern's `^` matches).
      while (q < n && !isLineEnd(text.charCodeAt(q))) q++;
      p = q + 1;
    }
    const order = hi.map((_, i) => i);
    // Stable, as the sort of the rows was: equal addresses keep their kallsyms order.
    order.sort((x, y) => hi[x]! - hi[y]! || lo[x]! - lo[y]! || x - y);
    const addrs = new BigUint64Array(order.length);
    for (let i = 0; i < order.length; i++) addrs[i] = (BigInt(hi[order[i]!]!) << 32n) | BigInt(lo[order[i]!]!);
    this.addrs = addrs;
    this.names = order.map((i) => names[i]!);
  }

  private loadByPattern(): void {
    const rows: Array<[bigint, string]> = [];
    const re = /^([0-9a-fA-F]+) ([tTwW]) (\S+)/gm;
    for (let m = re.exec(this.text); m; m = re.exec(this.text)) {
      const a = BigInt(`0x${m[1]}`);
      if (a !== 0n) rows.push([a, m[3]!]);
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    this.addrs = BigUint64Array.from(rows.map((r) => r[0]));
    this.names = rows.map((r) => r[1]);
  }

  /** The symbol holding `addr` and the offset into it; undefined outside kernel text. */
  lookup(addr: bigint): { name: string; off: bigint; size: bigint } | undefined {
    if (!this.addrs) this.load();
    const a = this.addrs!;
    let lo = 0;
    let hi = a.length - 1;
    if (hi < 0 || addr < a[0]! || addr >= a[hi]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (a[mid]! <= addr) lo = mid;
      else hi = mid - 1;
    }
    return { name: this.names[lo]!, off: addr - a[lo]!, size: a[lo + 1]! - a[lo]! };
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function isLineEnd(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

/** Whether `\S` of a regular expression does not match `c`. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

export type RawValue = bigint | string | undefined;

/** One record's bytes: the CPU data buffer and where the record lies in it. */
export interface RecordView {
  buf: Buffer;
  start: number;
  length: number;
  little: boolean;
}

export function readField(r: RecordView, fd: FieldDef): RawValue {
  const { buf, start, length, little } = r;
  if (fd.type.startsWith('__data_loc') || fd.type.startsWith('__rel_loc')) {
    if (fd.offset + 4 > length) return undefined;
    const v = little ? buf.readUInt32LE(start + fd.offset) : buf.readUInt32BE(start + fd.offset);
    let off = v & 0xffff;
    const len = v >>> 16;
    if (fd.type.startsWith('__rel_loc')) off += fd.offset + fd.size;
    if (off + len > length) return undefined;
    if (!fd.isString) return undefined;
    return cString(buf, start + off, start + off + len);
  }
  if (fd.isString) {
    // `char comm[16]`, or `char buf[]` (size 0): the text up to its NUL, within the record.
    const end = fd.size > 0 ? Math.min(length, fd.offset + fd.size) : length;
    if (fd.offset > length) return undefined;
    return cString(buf, start + fd.offset, start + end);
  }
  if (/\[/.test(fd.type)) return undefined;
  if (fd.offset + fd.size > length) return undefined;
  const p = start + fd.offset;
  switch (fd.size) {
    case 1: return BigInt(fd.signed ? buf.readInt8(p) : buf.readUInt8(p));
    case 2: return BigInt(fd.signed ? (little ? buf.readInt16LE(p) : buf.readInt16BE(p)) : little ? buf.readUInt16LE(p) : buf.readUInt16BE(p));
    case 4: return BigInt(fd.signed ? (little ? buf.readInt32LE(p) : buf.readInt32BE(p)) : little ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
    case 8: return fd.signed ? (little ? buf.readBigInt64LE(p) : buf.readBigInt64BE(p)) : little ? buf.readBigUInt64LE(p) : buf.readBigUInt64BE(p);
    default: return undefined;
  }
}

function cString(buf: Buffer, from: number, to: number): string {
  const nul = buf.indexOf(0, from);
  return buf.toString('utf8', from, nul >= 0 && nul < to ? nul : to);
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** What a C cast does to an integer: `bool`, a width in bits (0: none known), and signedness. */
interface CastKind {
  bool: boolean;
  pointer: boolean;
  bits: number;
  unsigned: boolean;
}

/** Cast kinds by type text and long size: a print fmt casts with a few types, each read once. */
const castKinds = new Map<string, CastKind>();

function castKind(type: string, longBits: number): CastKind {
  const key = `${longBits}:${type}`;
  let k = castKinds.get(key);
  if (k !== undefined) return k;
  const t = type.replace(/\s+/g, ' ').trim();
  const unsigned = /\bunsigned\b|\bu(8|16|32|64)\b|\bsize_t\b|\bgfp_t\b|\bbool\b/.test(t);
  let bits = 0;
  if (/\blong long\b|\b[us]64\b/.test(t)) bits = 64;
  else if (/\blong\b|\bsize_t\b|\bssize_t\b/.test(t)) bits = longBits;
  else if (/\bshort\b|\b[us]16\b/.test(t)) bits = 16;
  else if (/\bchar\b|\b[us]8\b/.test(t)) bits = 8;
  else if (/\bint\b|\b[us]32\b|\bunsigned\b|\bgfp_t\b/.test(t)) bits = 32;
  k = { bool: t === 'bool' || t === '_Bool', pointer: t.includes('*'), bits, unsigned };
  castKinds.set(key, k);
  return k;
}

/** A C cast of an integer: the width and signedness the type names. */
function castInt(type: string, v: bigint, longBits: number): bigint {
  const k = castKind(type, longBits);
  if (k.pointer) return BigInt.asUintN(longBits, v);
  if (k.bool) return v !== 0n ? 1n : 0n;
  if (k.bits === 0) return v;
  return k.unsigned ? BigInt.asUintN(k.bits, v) : BigInt.asIntN(k.bits, v);
}

export class RecordPrinter {
  constructor(
    private readonly fmt: EventFormat,
    private readonly longBits: number,
    private readonly syms: Kallsyms,
  ) {}

  private rec!: RecordView;

  field(name: string): RawValue {
    const fd = this.fmt.fieldByName.get(name);
    return fd ? readField(this.rec, fd) : undefined;
  }

  eval(e: Expr): RawValue {
    switch (e.k) {
      case 'num': case 'char': return e.v;
      case 'str': return e.v;
      case 'member': return e.obj.k === 'id' && e.obj.name === 'REC' ? this.field(e.name) : undefined;
      case 'cast': {
        const v = this.eval(e.e);
        return typeof v === 'bigint' ? castInt(e.type, v, this.longBits) : v;
      }
      case 'un': {
        const v = this.eval(e.e);
        if (typeof v !== 'bigint') return undefined;
        switch (e.op) {
          case '-': return -v;
          case '+': return v;
          case '~': return ~v;
          case '!': return v === 0n ? 1n : 0n;
          default: return undefined;
        }
      }
      case 'bin': {
        if (e.op === '&&' || e.op === '||') {
          const l = this.eval(e.l);
          if (typeof l !== 'bigint') return undefined;
          if (e.op === '&&' && l === 0n) return 0n;
          if (e.op === '||' && l !== 0n) return 1n;
          const r = this.eval(e.r);
          return typeof r === 'bigint' ? (r !== 0n ? 1n : 0n) : undefined;
        }
        const l = this.eval(e.l);
        const r = this.eval(e.r);
        if (typeof l !== 'bigint' || typeof r !== 'bigint') return undefined;
        // `REC->pfn != -1UL`: compared as the unsigned longs they are.
        if (e.op === '==' || e.op === '!=') return binaryOp(e.op, U64(l), U64(r));
        return binaryOp(e.op, l, r);
      }
      case 'cond': {
        const c = this.eval(e.c);
        if (typeof c !== 'bigint') return undefined;
        return c !== 0n ? this.eval(e.a) : this.eval(e.b);
      }
      case 'call': return this.call(e.fn, e.args);
      default: return undefined;
    }
  }

  private call(fn: string, args: Expr[]): RawValue {
    switch (fn) {
      case '__print_symbolic':
      case '__print_symbolic_u64': {
        const v = args[0] ? this.eval(args[0]) : undefined;
        if (typeof v !== 'bigint') return undefined;
        for (const a of args.slice(1)) {
          if (a.k !== 'list' || a.items.length < 2 || a.items[1]!.k !== 'str') continue;
          const key = this.eval(a.items[0]!);
          if (typeof key === 'bigint' && U64(key) === U64(v)) return (a.items[1] as { v: string }).v;
        }
        // trace_print_symbols_seq(): no name, the value in hex.
        return `0x${U64(v).toString(16)}`;
      }
      case '__print_flags':
      case '__print_flags_u64': {
        const v = args[0] ? this.eval(args[0]) : undefined;
        if (typeof v !== 'bigint') return undefined;
        const d = args[1] && args[1].k === 'str' ? args[1].v : '';
        // trace_print_flags_seq(): each named mask wholly set, in table order, while bits
        // remain; then what no name covers, in hex.
        let flags = U64(v);
        const out: string[] = [];
        for (const a of args.slice(2)) {
          if (flags === 0n) break;
          if (a.k !== 'list' || a.items.length < 2 || a.items[1]!.k !== 'str') continue;
          const m = this.eval(a.items[0]!);
          if (typeof m !== 'bigint') continue;
          const mask = U64(m);
          if ((flags & mask) !== mask) continue;
          flags &= ~mask;
          out.push((a.items[1] as { v: string }).v);
        }
        if (flags !== 0n) out.push(`0x${flags.toString(16)}`);
        return out.join(d);
      }
      case '__get_str':
      case '__get_rel_str': {
        const a = args[0];
        const name = a && a.k === 'id' ? a.name : a && a.k === 'member' ? a.name : undefined;
        if (!name) return undefined;
        const v = this.field(name);
        return typeof v === 'string' ? v : undefined;
      }
      default:
        return undefined;
    }
  }

  /** The text one conversion prints, or undefined when it cannot be worked out. */
  print(c: Conv, arg: Expr | undefined): string | undefined {
    if (!arg) return undefined;
    const v = this.eval(arg);
    if (v === undefined) return undefined;
    // A line of text cannot hold a newline: the ftrace print event's buf ends with the one
    // trace_marker added, which the text layouts show as the end of the line.
    if (typeof v === 'string') return c.type === 's' || c.type === 'p' || c.type === 'c' ? v.replace(/\n+$/, '') : undefined;
    const lenBits = c.length === 'hh' ? 8 : c.length === 'h' ? 16 : c.length === '' ? 32 : c.length === 'l' || c.length === 'z' || c.length === 't' ? this.longBits : 64;
    switch (c.type) {
      case 'd': case 'i': return BigInt.asIntN(lenBits, v).toString();
      case 'u': return BigInt.asUintN(lenBits, v).toString();
      case 'x': case 'X': case 'o': {
        const u = BigInt.asUintN(lenBits, v);
        let t = u.toString(c.type === 'o' ? 8 : 16);
        if (c.type === 'X') t = t.toUpperCase();
        if (c.flags.includes('#') && u !== 0n) t = (c.type === 'o' ? '0' : c.type === 'X' ? '0X' : '0x') + t;
        return t;
      }
      case 'c': return String.fromCharCode(Number(BigInt.asUintN(8, v)));
      case 's': return v.toString();
      case 'p': {
        const a = BigInt.asUintN(this.longBits, v);
        if (c.ext === 's' || c.ext === 'S' || c.ext === 'f' || c.ext === 'F') {
          const s = this.syms.lookup(a);
          if (!s) return `0x${a.toString(16)}`;
          return c.ext === 'S' || c.ext === 'F' ? `${s.name}+0x${s.off.toString(16)}/0x${s.size.toString(16)}` : s.name;
        }
        return `0x${a.toString(16)}`;
      }
      default: return undefined;
    }
  }

  /** The record's fields, through the text decoder's setters. */
  decode(rec: RecordView, decoder: CompiledDecoder): Fields {
    this.rec = rec;
    const out: Fields = {};
    for (const a of decoder.args) {
      const t = this.print(a.conv, a.arg);
      if (t !== undefined) a.set(t, out);
    }
    return out;
  }

  /** Every non-common field, raw (numbers, 64-bit values beyond 2^53 as hex text, strings). */
  raw(rec: RecordView): Fields {
    const out: Fields = {};
    for (const fd of this.fmt.fields) {
      if (fd.name.startsWith('common_')) continue;
      const v = readField(rec, fd);
      if (typeof v === 'string') out[fd.name] = v;
      else if (typeof v === 'bigint') out[fd.name] = v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${BigInt.asUintN(64, v).toString(16)}`;
    }
    return out;
  }

  /** A syscall entry as the tracefs `trace` file prints it: every argument in hex. */
  syscallEnter(rec: RecordView): Fields | undefined {
    this.rec = rec;
    const parts: string[] = [];
    for (const fd of this.fmt.fields) {
      if (fd.name.startsWith('common_') || fd.name === '__syscall_nr') continue;
      const v = readField(rec, fd);
      if (typeof v !== 'bigint') return undefined;
      parts.push(`${fd.name}: 0x${BigInt.asUintN(64, v).toString(16)}`);
    }
    return decodeSyscallEnter(parts.join(', '), this.fmt);
  }

  syscallExit(rec: RecordView): Fields | undefined {
    this.rec = rec;
    const v = this.field('ret');
    if (typeof v !== 'bigint') return undefined;
    return decodeSyscallExit(`0x${BigInt.asUintN(64, v).toString(16)}`);
  }
}
