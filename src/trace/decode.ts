/**
 * The decode table: for each event name, the chain of decoders tried in order, resolved once
 * per name and cached:
 *
 *   1. a layout override (trace-cmd's own printers: plugin_tlb, plugin_sched_switch)
 *   2. tracefs syscall forms (`sys_x(a: …)`, `sys_x -> ret`)
 *   3. the print fmt of the preferred release, then of the other releases
 *   4. raw `field=value` (libtraceevent's `[FAILED TO PARSE]`, `trace-cmd report -R`)
 *   5. generic key=value / key:value — the fallback, counted and reported
 */
import { diag, type DiagnosticSink } from '../core/diagnostics.js';
import { takeRangeFault, type CompiledDecoder, type Fields } from './format/compile.js';
import type { FormatEntry, FormatRegistry } from './format/registry.js';
/** What decoding reads of an event (a TraceEvent, or a chunk worker's reused cursor). */
export interface DecodeSubject {
  readonly name: string;
  readonly payload: string;
  readonly syscall: 0 | 1 | 2;
  readonly line: number;
  readonly payloadColumn: number;
}
import { decodeGeneric } from './payload/generic.js';
import { TRACE_CMD_OVERRIDES, type Override } from './payload/overrides.js';
import { decodeRaw, FAILED_TO_PARSE } from './payload/raw.js';
import { decodeSyscallEnter, decodeSyscallExit } from './payload/syscalls.js';

/** `binary`: read from a trace.dat record by its format's field offsets (dat/fields.ts). */
export type DecodeMethod = 'format' | 'override' | 'syscall' | 'raw' | 'generic' | 'binary';
export type Layout = 'tracefs' | 'trace-cmd' | 'trace.dat';

interface Chain {
  override: Override | undefined;
  /**
   * The decoders compiled so far, in the order they are tried: a release's format is parsed
   * and compiled only once the ones before it did not decode a payload (most traces never
   * need the other releases' formats, and parsing a format costs ~1-3 ms).
   */
  decoders: CompiledDecoder[];
  entries: FormatEntry[];
  nextEntry: number;
  system: string;
  /** Reported once per name: no format at all. */
  unknownReported: boolean;
}

export class DecodeTable {
  private readonly chains = new Map<string, Chain>();
  /** Events per name decoded by each method. */
  readonly methods = new Map<string, Record<DecodeMethod, number>>();

  constructor(
    private readonly registry: FormatRegistry,
    private readonly release: string | undefined,
    private readonly layout: Layout,
    private readonly sink: DiagnosticSink,
    private readonly file: string,
  ) {}

  systemOf(name: string): string {
    return this.chain(name).system;
  }

  private lastName = '';
  private lastCountName = '';
  private lastCount: Record<DecodeMethod, number> | undefined;
  private lastChain: Chain | undefined;

  private chain(name: string): Chain {
    if (name === this.lastName && this.lastChain) return this.lastChain;
    let c = this.chains.get(name);
    if (!c) {
      c = {
        override: this.layout === 'trace-cmd' ? TRACE_CMD_OVERRIDES.get(name) : undefined,
        decoders: [],
        entries: this.registry.entries(name, this.release),
        nextEntry: 0,
        system: '',
        unknownReported: false,
      };
      this.decoderAt(c, name, 0);
      const before = this.registry.issues.length;
      const fmt = this.registry.format(name, this.release);
      this.reportIssues(name, before);
      c.system = fmt?.system ?? (name.startsWith('sys_enter_') || name.startsWith('sys_exit_') ? 'syscalls' : '');
      this.chains.set(name, c);
    }
    this.lastName = name;
    this.lastChain = c;
    return c;
  }

  /** The k-th decoder of the chain, compiling the formats before it as needed. */
  private decoderAt(c: Chain, name: string, k: number): CompiledDecoder | undefined {
    while (c.decoders.length <= k && c.nextEntry < c.entries.length) {
      const before = this.registry.issues.length;
      const d = this.registry.compile(c.entries[c.nextEntry++]!);
      this.reportIssues(name, before);
      if (d) c.decoders.push(d);
    }
    return c.decoders[k];
  }

  /** A malformed format file is reported where it is wrong, once, when first needed. */
  private reportIssues(name: string, from: number): void {
    for (const is of this.registry.issues.slice(from)) {
      this.sink.add(diag('format_syntax', `${is.problem.message} (event \`${name}\` falls back to other formats or generic decoding)`, is.path, is.problem.line, is.problem.column));
    }
  }

  private count(name: string, m: DecodeMethod): void {
    let r = name === this.lastCountName ? this.lastCount : this.methods.get(name);
    if (!r) {
      r = { format: 0, override: 0, syscall: 0, raw: 0, generic: 0, binary: 0 };
      this.methods.set(name, r);
    }
    this.lastCountName = name;
    this.lastCount = r;
    r[m]++;
  }

  /** How the last decode() read its payload (kept here, not in a result object per event). */
  lastMethod: DecodeMethod = 'format';

  decode(ev: DecodeSubject): Fields {
    takeRangeFault();
    const f = this.decodeInner(ev);
    this.count(ev.name, this.lastMethod);
    const rf = takeRangeFault();
    if (rf) {
      this.sink.add(
        diag(
          'number_out_of_range',
          `\`${ev.name}\`: ${rf.field.name}=${rf.text.length > 40 ? `${rf.text.slice(0, 40)}…` : rf.text} does not fit its ${rf.field.size}-byte field (${rf.field.type}); kept as text`,
          this.file,
          ev.line,
          ev.payloadColumn,
        ),
      );
    }
    return f;
  }

  private done(f: Fields, m: DecodeMethod): Fields {
    this.lastMethod = m;
    return f;
  }

  private decodeInner(ev: DecodeSubject): Fields {
    const c = this.chain(ev.name);
    const first = c.decoders[0];
    const p = ev.payload;
    if (ev.syscall === 1) {
      const f = decodeSyscallEnter(p, first?.format);
      if (f) return this.done(f, 'syscall');
    } else if (ev.syscall === 2) {
      const f = decodeSyscallExit(p);
      if (f) return this.done(f, 'syscall');
    } else {
      if (c.override) {
        const f = c.override(p, first);
        if (f) return this.done(f, 'override');
      }
      for (let k = 0, d: CompiledDecoder | undefined = first; d !== undefined; d = this.decoderAt(c, ev.name, ++k)) {
        const f = d.decode(p);
        if (f) return this.done(f, 'format');
      }
      if (first !== undefined) {
        const strictRaw = !p.startsWith(FAILED_TO_PARSE);
        for (const d of c.decoders) {
          const f = decodeRaw(p, d, strictRaw);
          if (f) return this.done(f, 'raw');
        }
      }
    }
    if (first === undefined && ev.syscall === 0) {
      if (!c.unknownReported) {
        c.unknownReported = true;
        this.sink.add(diag('unknown_event', `no format file for event \`${ev.name}\` (add grammars/<release>/<system>/${ev.name}/format); decoded as key=value`, this.file, ev.line, 1));
      }
    } else {
      this.sink.add(
        diag(
          'payload_mismatch',
          `payload of \`${ev.name}\` does not match its print fmt${c.decoders[0] ? ` (${c.decoders[0].format.path})` : ''}: ${JSON.stringify(p.length > 80 ? `${p.slice(0, 80)}…` : p)}`,
          this.file,
          ev.line,
          ev.payloadColumn,
        ),
      );
    }
    return this.done(decodeGeneric(p), 'generic');
  }
}
