/**
 * Stable total order of events: (timestamp, CPU, input position) — the order the kernel's own
 * merge of per-CPU buffers produces (ties go to the lower CPU). Input that is not in this
 * order (per-CPU extracts, concatenated trace_pipe captures) is sorted within a window of
 * `window` events: an event is held until `window` later events have arrived, so anything
 * displaced by less than that is put back in place. Events displaced further are emitted
 * late and reported. Design after Perfetto's TraceSorter (sorter/trace_sorter.h): in-order
 * input costs one comparison per event and no insertion.
 *
 * The window holds each event's scanned header in columns (typed arrays, plus the line and two
 * interned names), not as an object: an event waits for `window` later ones, long enough to
 * survive the young-generation collections, and ~16 k objects copied at each scavenge and then
 * promoted cost more than everything else the parser does (measured: a 1 M-event parse fell
 * from ~2.9 s to ~1.4 s with a window of 1 k objects instead of 16 k). The TraceEvent is made
 * when the event leaves the window, and dies young with the consumer.
 *
 * An event the consumer did not ask for (TraceParseOptions.only) takes its place in the window
 * like any other — so the window and the order are what they would be unfiltered — and is
 * dropped instead of emitted.
 */
import { TraceEvent } from './event.js';
import type { DecodeTable } from './decode.js';

/** The scanned fields of one line, as the parser hands them over (see HeaderScratch). */
export interface SortInput {
  pid: number;
  tgid: number | undefined;
  cpu: number;
  tsNs: number;
  latStart: number;
  latEnd: number;
  tsStart: number;
  tsEnd: number;
  payloadEnd: number;
}

/** Int32 columns per slot in `small`. */
const W = 12;

export class WindowSorter {
  /**
   * Column storage, one slot per held event; `free` lists the unused slots. The columns grow
   * (doubling) as the window fills, up to window + 1 slots: a large `--sort-window` costs memory
   * only once that many events are held.
   */
  private raw: Array<string | undefined> = [];
  private comm: Array<string | undefined> = [];
  private name: Array<string | undefined> = [];
  private num = new Float64Array(0); // tsNs, offset, seq, line: 4 per slot
  private small = new Int32Array(0); // pid, tgid (-1 none), cpu, syscall|placeholder<<2, tsStart, tsEnd, latStart, latEnd, payloadStart, payloadEnd, lineStart, textId: 12 per slot
  private free = new Int32Array(0);
  private freeTop = 0;
  private cap = 0;
  /** Held slots in order, in order[head..tail). */
  private order = new Int32Array(0);
  private head = 0;
  private tail = 0;
  private lastTs = -Infinity;
  private lastCpu = -1;
  private lastSeq = -1;
  private anyOut = false;
  /** Events that arrived before an already buffered later one and were moved. */
  reordered = 0;
  /** Events that arrived after a later event had already been emitted (beyond the window). */
  late: TraceEvent[] = [];
  lateCount = 0;
  /** The decode table events are made with (the parser swaps it if the layout changes). */
  table: DecodeTable;
  /**
   * When set, an event leaving the window is handed on as its columns (`num` from `n`: tsNs,
   * offset, seq, line; `small` from `m`: see above) instead of as a TraceEvent: the parse
   * worker copies them into the batch it posts.
   */
  emitSlot: ((num: Float64Array, small: Int32Array, n: number, m: number, comm: string, name: string, raw: string | undefined) => void) | undefined;
  /** Keep each event's text for `emitSlot` (a chunk worker decodes the payload from it). */
  keepRaw = false;

  constructor(
    private readonly window: number,
    table: DecodeTable,
    private readonly emit: (e: TraceEvent) => void,
    /** Told of every late arrival (timestamp, CPU, line), placeholders included. */
    private readonly onLate?: (tsNs: number, cpu: number, line: number) => void,
  ) {
    this.table = table;
    this.grow();
  }

  private grow(): void {
    const old = this.cap;
    const cap = Math.min(this.window + 1, Math.max(1024, old * 2));
    const num = new Float64Array(cap * 4);
    num.set(this.num);
    this.num = num;
    const small = new Int32Array(cap * W);
    small.set(this.small);
    this.small = small;
    for (let i = old; i < cap; i++) {
      this.raw.push(undefined);
      this.comm.push(undefined);
      this.name.push(undefined);
    }
    // Free slots: the new ones (the old ones are all in use when the columns grow).
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.freeTop));
    let top = this.freeTop;
    for (let i = cap - 1; i >= old; i--) free[top++] = i;
    this.free = free;
    this.freeTop = top;
    const order = new Int32Array(Math.max(2 * cap, 64));
    order.set(this.order.subarray(this.head, this.tail));
    this.tail -= this.head;
    this.head = 0;
    this.order = order;
    this.cap = cap;
  }

  /** (tsNs, cpu, seq) of slot a before that of the incoming event? */
  private slotBefore(slot: number, ts: number, cpu: number, seq: number): boolean {
    const t = this.num[slot * 4]!;
    if (t !== ts) return t < ts;
    const c = this.small[slot * W + 2]!;
    if (c !== cpu) return c < cpu;
    return this.num[slot * 4 + 2]! < seq;
  }

  /** An event the consumer takes (`comm` and `name` interned by the caller, `syscall` 0/1/2). */
  push(raw: string, h: SortInput, comm: string, name: string, syscall: number, payloadStart: number, line: number, offset: number, seq: number, lineStart = 0, textId = 0): void {
    const s = this.place(h.tsNs, h.cpu, seq);
    // Events handed on as columns refer to their text by its number: the text is not held here
    // (the worker's chunks of text then die young instead of outliving its scavenges).
    this.raw[s] = this.emitSlot && !this.keepRaw ? undefined : raw;
    this.comm[s] = comm;
    this.name[s] = name;
    const n = this.num;
    n[s * 4 + 1] = offset;
    n[s * 4 + 3] = line;
    const m = this.small;
    const b = s * W;
    m[b] = h.pid;
    m[b + 1] = h.tgid === undefined ? -1 : h.tgid;
    m[b + 3] = syscall;
    m[b + 4] = h.tsStart;
    m[b + 5] = h.tsEnd;
    m[b + 6] = h.latStart;
    m[b + 7] = h.latEnd;
    m[b + 8] = payloadStart;
    m[b + 9] = h.payloadEnd;
    m[b + 10] = lineStart;
    m[b + 11] = textId;
    this.settle();
  }

  /** An event the consumer did not ask for: it holds its place in the window only. */
  pushPlaceholder(tsNs: number, cpu: number, seq: number, line = 0): void {
    const s = this.place(tsNs, cpu, seq);
    this.small[s * W + 3] = 4;
    this.num[s * 4 + 3] = line;
    this.settle();
  }

  /** Take a slot for (ts, cpu, seq) and put it in order; returns the slot. */
  private place(ts: number, cpu: number, seq: number): number {
    if (this.freeTop === 0) this.grow();
    const s = this.free[--this.freeTop]!;
    this.num[s * 4] = ts;
    this.num[s * 4 + 2] = seq;
    this.small[s * W + 2] = cpu;
    this.raw[s] = undefined;
    if (this.tail === this.order.length) {
      // Compact the live part to the front (the order array is twice the window).
      this.order.copyWithin(0, this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    const o = this.order;
    const n = this.tail;
    if (n === this.head || this.slotBefore(o[n - 1]!, ts, cpu, seq)) {
      o[this.tail++] = s;
      return s;
    }
    // Binary search for the insertion point within the held events.
    let lo = this.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.slotBefore(o[mid]!, ts, cpu, seq)) lo = mid + 1;
      else hi = mid;
    }
    const late = lo === this.head && this.anyOut && (ts < this.lastTs || (ts === this.lastTs && (cpu < this.lastCpu || (cpu === this.lastCpu && seq < this.lastSeq))));
    o.copyWithin(lo + 1, lo, n);
    o[lo] = s;
    this.tail++;
    if (late) {
      this.lateCount++;
      this.lateSlot = s;
    } else this.reordered++;
    return s;
  }

  /** The slot of the last late arrival, kept for the report once its fields are in. */
  private lateSlot = -1;

  private settle(): void {
    if (this.lateSlot >= 0) {
      const s = this.lateSlot;
      this.lateSlot = -1;
      if (this.late.length < 20 && (this.small[s * W + 3]! & 4) === 0 && !this.emitSlot) this.late.push(this.make(s));
      this.onLate?.(this.num[s * 4]!, this.small[s * W + 2]!, this.num[s * 4 + 3]!);
    }
    if (this.tail - this.head > this.window) this.shift();
  }

  private make(s: number): TraceEvent {
    const n = this.num;
    const m = this.small;
    const b = s * W;
    const tgid = m[b + 1]!;
    return new TraceEvent(
      this.raw[s]!, this.comm[s]!, m[b]!, tgid < 0 ? undefined : tgid, m[b + 2]!, n[s * 4]!, this.name[s]!, n[s * 4 + 3]!, n[s * 4 + 1]!, n[s * 4 + 2]!,
      m[b + 3] as 0 | 1 | 2, m[b + 4]!, m[b + 5]!, m[b + 6]!, m[b + 7]!, m[b + 8]!, m[b + 9]!, this.table, m[b + 10]!,
    );
  }

  private shift(): void {
    const s = this.order[this.head++]!;
    this.lastTs = this.num[s * 4]!;
    this.lastCpu = this.small[s * W + 2]!;
    this.lastSeq = this.num[s * 4 + 2]!;
    this.anyOut = true;
    const placeholder = (this.small[s * W + 3]! & 4) !== 0;
    const e = placeholder || this.emitSlot ? undefined : this.make(s);
    if (!placeholder && this.emitSlot) this.emitSlot(this.num, this.small, s * 4, s * W, this.comm[s]!, this.name[s]!, this.raw[s]);
    this.raw[s] = undefined;
    this.comm[s] = undefined;
    this.name[s] = undefined;
    this.free[this.freeTop++] = s;
    if (this.head === this.tail) this.head = this.tail = 0;
    if (e) this.emit(e);
  }

  flush(): void {
    while (this.head < this.tail) this.shift();
  }
}
