/**
 * pfn → order of the workload's live allocations (the lifter's "is this free ours?" table).
 *
 * Every fault adds an entry and nearly every free removes one, so the table churns through
 * hundreds of thousands of entries over a long trace while holding only the live ones. A
 * `Map` did that badly: it reallocates its backing store as it grows and shrinks, and its
 * set/delete pair was the largest single cost of lifting (~10 % of lift + engine, CPU profile of
 * the bench replay). This is open addressing with linear probing over typed arrays: a removal
 * leaves a tombstone, and the table is rebuilt (sized for what is live) only when live entries
 * and tombstones fill half of it — so its size follows the peak of live allocations, not the
 * length of the trace.
 */
const EMPTY = -1;
const TOMB = -2;

export class PfnOrderTable {
  private keys: Float64Array;
  private vals: Int8Array;
  private mask: number;
  private bits: number;
  private live = 0;
  private used = 0;

  constructor(initialBits = 10) {
    this.bits = initialBits;
    this.keys = new Float64Array(1 << initialBits);
    this.vals = new Int8Array(1 << initialBits).fill(EMPTY);
    this.mask = (1 << initialBits) - 1;
  }

  get size(): number {
    return this.live;
  }

  private slot(pfn: number): number {
    // pfns are near-consecutive integers (up to 2^52): mix both 32-bit halves.
    const lo = pfn >>> 0;
    const hi = (pfn / 4294967296) >>> 0;
    return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits)) & this.mask;
  }

  /** The order stored for `pfn`, or -1. */
  get(pfn: number): number {
    const keys = this.keys;
    const vals = this.vals;
    for (let i = this.slot(pfn); ; i = (i + 1) & this.mask) {
      const v = vals[i]!;
      if (v === EMPTY) return -1;
      if (v !== TOMB && keys[i] === pfn) return v;
    }
  }

  has(pfn: number): boolean {
    return this.get(pfn) >= 0;
  }

  /** Record `pfn` → `order`; an order no allocation can have (a damaged trace) is not kept. */
  set(pfn: number, order: number): boolean {
    if (!Number.isInteger(order) || order < 0 || order > 127 || !Number.isFinite(pfn)) return false;
    const keys = this.keys;
    const vals = this.vals;
    let tomb = -1;
    let i = this.slot(pfn);
    for (; ; i = (i + 1) & this.mask) {
      const v = vals[i]!;
      if (v === EMPTY) break;
      if (v === TOMB) { if (tomb < 0) tomb = i; continue; }
      if (keys[i] === pfn) { vals[i] = order; return true; }
    }
    if (tomb >= 0) i = tomb;
    else this.used++;
    keys[i] = pfn;
    vals[i] = order;
    this.live++;
    if (this.used * 2 > this.mask + 1) this.rebuild();
    return true;
  }

  delete(pfn: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    for (let i = this.slot(pfn); ; i = (i + 1) & this.mask) {
      const v = vals[i]!;
      if (v === EMPTY) return false;
      if (v !== TOMB && keys[i] === pfn) {
        vals[i] = TOMB;
        this.live--;
        return true;
      }
    }
  }

  /** Re-insert the live entries into a table at most a quarter full (grows, or just sweeps tombstones). */
  private rebuild(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    let bits = this.bits;
    while (this.live * 4 > 1 << bits) bits++;
    this.bits = bits;
    this.keys = new Float64Array(1 << bits);
    this.vals = new Int8Array(1 << bits).fill(EMPTY);
    this.mask = (1 << bits) - 1;
    this.used = this.live;
    for (let j = 0; j < oldVals.length; j++) {
      const v = oldVals[j]!;
      if (v < 0) continue;
      const k = oldKeys[j]!;
      let i = this.slot(k);
      while (this.vals[i] !== EMPTY) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.vals[i] = v;
    }
  }
}
