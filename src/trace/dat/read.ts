/**
 * trace.dat → the TraceEvent stream the text parsers give: the container (file.ts), each CPU's
 * ring-buffer pages (ring.ts), merged by (timestamp, CPU) as `trace-cmd report` and the kernel's
 * `trace` file merge them, task names from the saved cmdlines, fields decoded from the binary
 * record by the formats the file carries (fields.ts).
 *
 * Where a text event has a line, a .dat event has its number in time order (`line`: the line
 * `trace-cmd report` prints it on, after its `cpus=N` line, when no loss is reported between)
 * and the byte offset of its record (`offset`: a file offset; for compressed data, the offset
 * in that CPU's decompressed data).
 */
import { diag, type DiagnosticSink } from '../../core/diagnostics.js';
import type { DecodeMethod } from '../decode.js';
import { TraceEvent } from '../event.js';
import { compileDecoder, type CompiledDecoder, type Fields } from '../format/compile.js';
import { parseFormatFile, type EventFormat } from '../format/format-file.js';
import { DatError, readDatFile, type DatFile } from './file.js';
import { Kallsyms, RecordPrinter, type RecordView } from './fields.js';
import { cpuRecords, pageLayout, type RingRecord } from './ring.js';

/**
 * One event id of the trace. The format text is parsed (print fmt and all) when the first record
 * of that id is met: a trace.dat carries every format of the kernel (~2300), a capture uses
 * a few dozen.
 */
/**
 * Formats parsed from trace.dat texts, by text: the files of one capture (or one kernel) carry
 * the same texts, and parsing them with the chevrotain grammar costs more than reading a small
 * file's records. Parsing is pure, so a text always gives the same format; the cache is
 * bounded. The compiled decoders are kept per format for the same reason.
 */
const FORMAT_CACHE = new Map<string, EventFormat>();
const DECODER_CACHE = new WeakMap<EventFormat, CompiledDecoder | null>();
const FORMAT_CACHE_MAX = 4096;

function cachedFormat(text: string, path: string, system: string): EventFormat {
  const key = `${system}\0${path}\0${text}`;
  let f = FORMAT_CACHE.get(key);
  if (f === undefined) {
    if (FORMAT_CACHE.size >= FORMAT_CACHE_MAX) FORMAT_CACHE.clear();
    f = parseFormatFile(text, path, system, 'trace.dat');
    FORMAT_CACHE.set(key, f);
  }
  return f;
}

function cachedDecoder(f: EventFormat): CompiledDecoder | null {
  let d = DECODER_CACHE.get(f);
  if (d === undefined) {
    d = compileDecoder(f) ?? null;
    DECODER_CACHE.set(f, d);
  }
  return d;
}

class EventKind {
  private fmt: EventFormat | undefined;
  private prn: RecordPrinter | undefined;
  decoder: CompiledDecoder | null | undefined;
  reported = false;
  readonly syscall: 0 | 1 | 2;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly system: string,
    private readonly text: string,
    private readonly path: string,
    private readonly longBits: number,
    private readonly syms: Kallsyms,
  ) {
    this.syscall = system === 'syscalls' ? (name.startsWith('sys_enter_') ? 1 : name.startsWith('sys_exit_') ? 2 : 0) : 0;
  }

  get format(): EventFormat {
    return (this.fmt ??= cachedFormat(this.text, this.path, this.system));
  }

  get printer(): RecordPrinter {
    return (this.prn ??= new RecordPrinter(this.format, this.longBits, this.syms));
  }

  /** Offset of common_pid in the record. */
  get pidOff(): number {
    return this.format.fieldByName.get('common_pid')?.offset ?? 4;
  }
}

/** A trace.dat event: the record's bytes stay in the CPU buffer until its fields are asked for. */
export class DatEvent extends TraceEvent {
  private datFields: Fields | undefined;
  private datMethod: DecodeMethod = 'binary';

  constructor(
    comm: string,
    pid: number,
    cpu: number,
    tsNs: number,
    line: number,
    offset: number,
    seq: number,
    private readonly kind: EventKind,
    private readonly rec: RecordView,
    private readonly src: DatSource,
  ) {
    super('', comm, pid, undefined, cpu, tsNs, kind.name, line, offset, seq, kind.syscall, 0, 0, 0, 0, 0, 0, undefined as never);
  }

  override get ts(): string {
    const s = Math.floor(this.tsNs / 1e9);
    return `${s}.${String(this.tsNs - s * 1e9).padStart(9, '0')}`;
  }

  /**
   * The latency flags as tracefs prints them (`d.h1.`), from the record's common_flags and
   * common_preempt_count (kernel/trace/trace.h, enum trace_flag_type; trace_print_lat_fmt()):
   * irqs-off, need-resched, hardirq/softirq/NMI, preempt depth, migrate-disable depth.
   */
  override get lat(): string {
    const f = this.kind.format.fieldByName;
    const fo = f.get('common_flags')?.offset;
    const po = f.get('common_preempt_count')?.offset;
    const { buf, start, length } = this.rec;
    if (fo === undefined || po === undefined || fo >= length || po >= length) return '';
    const flags = buf[start + fo]!;
    const pc = buf[start + po]!;
    const irqs = flags & 0x01 ? 'd' : flags & 0x80 ? 'b' : '.';
    const resched = flags & 0x04 ? (flags & 0x20 ? 'N' : 'n') : flags & 0x20 ? 'p' : '.';
    const nmi = flags & 0x40, hard = flags & 0x08, soft = flags & 0x10;
    const ctx = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.';
    const depth = pc & 0x0f ? (pc & 0x0f).toString(16) : '.';
    const migrate = pc >> 4 ? (pc >> 4).toString(16) : '.';
    return `${irqs}${resched}${ctx}${depth}${migrate}`;
  }

  /** The fields as `key=value` text (the record has no printed payload). */
  override get payload(): string {
    return Object.entries(this.fields).map(([k, v]) => `${k}=${typeof v === 'object' ? ('name' in v ? v.name : v.flags.join('|')) : v}`).join(' ');
  }

  override get payloadColumn(): number {
    return 0;
  }

  override get system(): string {
    return this.kind.system;
  }

  override get fields(): Fields {
    if (this.datFields === undefined) {
      const r = this.src.decode(this.kind, this.rec, this);
      this.datFields = r.fields;
      this.datMethod = r.method;
    }
    return this.datFields;
  }

  override get decodeMethod(): DecodeMethod {
    void this.fields;
    return this.datMethod;
  }
}

export interface DatSinks {
  file: string;
  sink: DiagnosticSink;
  /** A lost-events record (gap or overwritten), with the CPU and the page's offset. */
  onLoss: (l: { kind: 'gap' | 'overwritten'; cpu: number; count: number | null; afterTsNs: number | null; offset: number; compressed?: boolean }) => void;
  methods: Map<string, Record<DecodeMethod, number>>;
  /** The file ends before its data does (a cut-short trace.dat). */
  onCut: (reason: string, bytes: number) => void;
}

const EMPTY_METHODS = (): Record<DecodeMethod, number> => ({ format: 0, override: 0, syscall: 0, raw: 0, generic: 0, binary: 0 });

export class DatSource {
  readonly kinds = new Map<number, EventKind>();
  private readonly comms = new Map<number, string>();
  private readonly syms: Kallsyms;
  private readonly unknownIds = new Set<number>();

  constructor(
    readonly dat: DatFile,
    private readonly s: DatSinks,
  ) {
    this.syms = new Kallsyms(dat.kallsyms);
    const longBits = dat.longSize * 8;
    for (const ft of dat.formats) {
      const name = /^name:\s*(\S+)/m.exec(ft.text)?.[1];
      const id = Number(/^ID:\s*(\d+)/m.exec(ft.text)?.[1]);
      if (!name || !Number.isInteger(id)) continue;
      this.kinds.set(id, new EventKind(id, name, ft.system, ft.text, `${s.file}#${ft.system}/${name}/format`, longBits, this.syms));
    }
    for (const line of dat.cmdlines.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m) this.comms.set(Number(m[1]), m[2]!);
    }
  }

  comm(pid: number): string {
    if (pid === 0) return '<idle>';
    return this.comms.get(pid) ?? '<...>';
  }

  decode(k: EventKind, rec: RecordView, e: TraceEvent): { fields: Fields; method: DecodeMethod } {
    let m = this.s.methods.get(k.name);
    if (!m) this.s.methods.set(k.name, (m = EMPTY_METHODS()));
    let fields: Fields | undefined;
    if (k.syscall === 1) fields = k.printer.syscallEnter(rec);
    else if (k.syscall === 2) fields = k.printer.syscallExit(rec);
    else {
      if (k.decoder === undefined) {
        for (const p of k.format.problems) this.s.sink.add(diag('format_syntax', `${p.message} (format of \`${k.name}\` carried by the trace.dat)`, this.s.file, 0, 0));
        k.decoder = cachedDecoder(k.format);
      }
      if (k.decoder) fields = k.printer.decode(rec, k.decoder);
    }
    if (fields) {
      m.binary++;
      return { fields, method: 'binary' };
    }
    // No print fmt to read it by: the raw field values, by name.
    if (!k.reported) {
      k.reported = true;
      this.s.sink.add(diag('payload_mismatch', `event \`${k.name}\` at byte ${e.offset}: its record could not be read by its format (${k.format.path}); its fields are given raw`, this.s.file, 0, 0));
    }
    m.generic++;
    return { fields: k.printer.raw(rec), method: 'generic' };
  }

  /**
   * Every event in (timestamp, CPU) order. `only` filters by name before an event object is
   * made; `onEvent` gets the rest. Losses and damaged pages go to the sinks as they are met.
   */
  *events(only?: (name: string) => boolean): Generator<DatEvent | null> {
    const f = this.dat;
    const layout = pageLayout(f.headerPage);
    const file = this.s.file;
    const iters = f.cpus.map((cd) =>
      cpuRecords(
        f,
        layout,
        cd,
        (l) => this.s.onLoss({ kind: 'gap', cpu: l.cpu, count: l.count, afterTsNs: l.afterTsNs, offset: l.offset, compressed: l.compressed }),
        (p) => {
          this.s.sink.add(diag('dat_corrupt', `${p.message} (at byte ${p.offset})`, file, 0, 0));
          // What the damage hid is missing: a gap of unknown size on that CPU.
          if (p.lost) this.s.onLoss({ kind: 'gap', cpu: p.cpu, count: null, afterTsNs: null, offset: p.offset, compressed: f.cpus.find((c) => c.cpu === p.cpu)?.compressed });
        },
      ),
    );
    const heads: Array<RingRecord | undefined> = iters.map((it) => it.next().value ?? undefined);
    const little = f.little;
    let seq = 0;
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h === undefined) continue;
        if (best < 0 || h.ts < heads[best]!.ts || (h.ts === heads[best]!.ts && h.cpu < heads[best]!.cpu)) best = i;
      }
      if (best < 0) return;
      const r = heads[best]!;
      heads[best] = iters[best]!.next().value ?? undefined;
      const buf = f.cpus[best]!.data;
      const n = seq++;
      if (r.length < 8) {
        this.s.sink.add(diag('dat_corrupt', `CPU ${r.cpu}: a ${r.length}-byte record at byte ${r.offset} is too short for the common fields; skipped`, file, 0, 0));
        yield null;
        continue;
      }
      const id = little ? buf.readUInt16LE(r.start) : buf.readUInt16BE(r.start);
      const k = this.kinds.get(id);
      if (!k) {
        if (!this.unknownIds.has(id)) {
          this.unknownIds.add(id);
          this.s.sink.add(diag('unknown_event', `record of event id ${id} at byte ${r.offset} (CPU ${r.cpu}): the trace.dat carries no format with that id; such records are skipped`, file, 0, 0));
        }
        yield null;
        continue;
      }
      if (only && !only(k.name)) {
        yield null;
        continue;
      }
      const pid = k.pidOff + 4 <= r.length ? (little ? buf.readInt32LE(r.start + k.pidOff) : buf.readInt32BE(r.start + k.pidOff)) : -1;
      yield new DatEvent(this.comm(pid), pid, r.cpu, r.ts, n + 2, r.offset, n, k, { buf, start: r.start, length: r.length, little }, this);
    }
  }
}

/**
 * Open a trace.dat held in memory. A file that cannot be read at all gives `unreadable_input`
 * (with the byte offset) and undefined; damage past the metadata gives `dat_corrupt`
 * diagnostics and the events that could be read.
 */
export function openDat(buf: Buffer, s: DatSinks): DatSource | undefined {
  let dat: DatFile;
  try {
    dat = readDatFile(buf);
    pageLayout(dat.headerPage);
  } catch (e) {
    if (!(e instanceof DatError)) throw e;
    s.sink.add(diag('unreadable_input', `cannot read ${s.file} as a trace.dat: at byte ${e.offset}: ${e.message}`, s.file, 0, 0));
    return undefined;
  }
  for (const p of dat.problems) {
    s.sink.add(diag('dat_corrupt', `${p.message} (at byte ${p.offset})`, s.file, 0, 0));
    if (p.cpu !== undefined) s.onLoss({ kind: 'gap', cpu: p.cpu, count: null, afterTsNs: null, offset: p.offset });
    if (p.cut) s.onCut(p.message, p.offset);
  }
  // What the kernel overwrote before trace-cmd read the buffer: the per-CPU `overrun` of the
  // stats trace-cmd saved (the tracefs `trace` header's entries-written minus entries-in-buffer).
  dat.cpuStats.forEach((st, cpu) => {
    const overrun = Number(/^overrun:\s*(\d+)/m.exec(st)?.[1] ?? 0);
    if (overrun > 0) s.onLoss({ kind: 'overwritten', cpu, count: overrun, afterTsNs: null, offset: 0 });
  });
  return new DatSource(dat, s);
}
