/**
 * Stable total order of events: (timestamp, CPU, input position) — the order the kernel's own
 * merge of per-CPU buffers produces (ties go to the lower CPU). Input that is not in this
 * order (per-CPU extracts, concatenated trace_pipe captures) is sorted within a window of
 * `window` events: an event is held until `window` later events have arrived, so anything
 * displaced by less than that is put back in place. Events displaced further are emitted
 * late and reported. Design after Perfetto's TraceSorter (sorter/trace_sorter.h): in-order
 * input costs one comparison per event and no insertion.
 */
import type { TraceEvent } from './event.js';

/**
 * An event the consumer did not ask for (TraceParseOptions.only): it takes its place in the
 * window like any other — so the window and the order are what they would be unfiltered — and
 * is dropped instead of emitted.
 */
export interface Placeholder {
  readonly tsNs: number;
  readonly cpu: number;
  readonly seq: number;
  readonly placeholder: true;
}

type Entry = TraceEvent | Placeholder;

function before(a: Entry, b: Entry): boolean {
  if (a.tsNs !== b.tsNs) return a.tsNs < b.tsNs;
  if (a.cpu !== b.cpu) return a.cpu < b.cpu;
  return a.seq < b.seq;
}

export class WindowSorter {
  private buf: Entry[] = [];
  private head = 0;
  private lastOut: Entry | undefined;
  /** Events that arrived before an already buffered later one and were moved. */
  reordered = 0;
  /** Events that arrived after a later event had already been emitted (beyond the window). */
  late: TraceEvent[] = [];
  lateCount = 0;

  constructor(
    private readonly window: number,
    private readonly emit: (e: TraceEvent) => void,
  ) {}

  push(e: Entry): void {
    const buf = this.buf;
    const n = buf.length;
    if (n === this.head || !before(e, buf[n - 1]!)) {
      buf.push(e);
    } else {
      // Binary search for the insertion point within the live part of the buffer.
      let lo = this.head;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before(e, buf[mid]!)) hi = mid;
        else lo = mid + 1;
      }
      if (lo === this.head && this.lastOut && before(e, this.lastOut)) {
        this.lateCount++;
        if (this.late.length < 20 && !('placeholder' in e)) this.late.push(e);
      } else this.reordered++;
      buf.splice(lo, 0, e);
    }
    if (buf.length - this.head > this.window) this.shift();
  }

  private shift(): void {
    const e = this.buf[this.head]!;
    this.buf[this.head] = undefined as unknown as Entry;
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    this.lastOut = e;
    if (!('placeholder' in e)) this.emit(e);
  }

  flush(): void {
    while (this.head < this.buf.length) this.shift();
    this.buf = [];
    this.head = 0;
  }
}
