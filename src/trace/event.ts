/**
 * One trace event. The fixed header is read eagerly into numbers and interned names; the
 * line itself is kept, and the timestamp text, latency flags and payload are sliced from it
 * only when asked for. `fields` decodes the payload on first access (most consumers read a
 * few event kinds; the rest are never decoded).
 */
import type { Fields } from './format/compile.js';
import type { DecodeTable, DecodeMethod } from './decode.js';

const MARKER_PREFIX_NAME = 'print';

export class TraceEvent {
  private decoded: Fields | undefined = undefined;
  private method: DecodeMethod | undefined = undefined;

  constructor(
    /** The text the source line is in (without its newline): the line, or its chunk of text. */
    readonly raw: string,
    /** Task name (`comm`), as printed; may hold spaces, dashes and slashes. */
    readonly comm: string,
    readonly pid: number,
    /** From the -tgid column when the trace has one. */
    readonly tgid: number | undefined,
    readonly cpu: number,
    /** Timestamp in nanoseconds (exact for µs and ns resolution). */
    readonly tsNs: number,
    /** Event name as in tracefs (`tlb_flush`, `sys_enter_madvise`, `print`). */
    readonly name: string,
    /** 1-based line number in the source. */
    readonly line: number,
    /** Byte offset of the line in the (decompressed) source. */
    readonly offset: number,
    /** Position in the input order, for stable sorting. */
    readonly seq: number,
    /** 0 = tracepoint, 1 = syscall enter (`sys_x(…)`), 2 = syscall exit (`sys_x -> r`). */
    readonly syscall: 0 | 1 | 2,
    private readonly tsStart: number,
    private readonly tsEnd: number,
    private readonly latStart: number,
    private readonly latEnd: number,
    private readonly payloadStart: number,
    private readonly payloadEnd: number,
    private readonly table: DecodeTable,
    /** Where the line starts in `raw` (a line scanned in place in its chunk of text). */
    private readonly lineStart = 0,
  ) {}

  /** Timestamp as printed (`4360.330584`). */
  get ts(): string {
    return this.raw.slice(this.tsStart, this.tsEnd);
  }

  /** Latency flags column (`d..1.`), '' when the layout has none. */
  get lat(): string {
    return this.raw.slice(this.latStart, this.latEnd);
  }

  /** Payload text (syscall enter: the argument list; exit: the return value; markers: `ip: buf`). */
  get payload(): string {
    return this.raw.slice(this.payloadStart, this.payloadEnd);
  }

  /** 1-based column where the payload starts, for diagnostics. */
  get payloadColumn(): number {
    return this.payloadStart - this.lineStart + 1;
  }

  /** Tracepoint system (`tlb`, `syscalls`, `ftrace`), '' when unknown. */
  get system(): string {
    return this.name === MARKER_PREFIX_NAME ? 'ftrace' : this.table.systemOf(this.name);
  }

  /** Typed fields, decoded from the payload by the event's print fmt (or a fallback). */
  get fields(): Fields {
    if (this.decoded === undefined) {
      this.decoded = this.table.decode(this);
      this.method = this.table.lastMethod;
    }
    return this.decoded;
  }

  /**
   * The spans of the line's columns, from the line's start (timestamp, latency flags, payload):
   * the chunk workers post them as columns.
   */
  writeSpans(into: Int32Array, at: number): void {
    const l = this.lineStart;
    into[at] = this.tsStart - l;
    into[at + 1] = this.tsEnd - l;
    into[at + 2] = this.latStart - l;
    into[at + 3] = this.latEnd - l;
    into[at + 4] = this.payloadStart - l;
    into[at + 5] = this.payloadEnd - l;
  }

  /**
   * How the payload was decoded, when that happened on another thread (a chunk worker, which
   * counted and reported it): `fields` then decodes it again here only if asked.
   */
  decodedElsewhere(m: DecodeMethod): void {
    this.method = m;
  }

  /** How the payload was decoded (decodes it if that has not happened yet). */
  get decodeMethod(): DecodeMethod {
    if (this.method === undefined) void this.fields;
    return this.method!;
  }

  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = {
      line: this.line,
      offset: this.offset,
      ts: this.ts,
      tsNs: this.tsNs,
      cpu: this.cpu,
      comm: this.comm,
      pid: this.pid,
    };
    if (this.tgid !== undefined) o.tgid = this.tgid;
    const lat = this.lat;
    if (lat) o.lat = lat;
    o.system = this.system;
    o.name = this.name;
    o.fields = this.fields;
    o.decodedBy = this.decodeMethod;
    return o;
  }
}
