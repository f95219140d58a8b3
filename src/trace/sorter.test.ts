import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodeTable } from './decode.js';
import type { TraceEvent } from './event.js';
import { WindowSorter, type SortInput } from './sorter.js';

/** The plain reading of the sorter's contract: a held array, spliced. */
function reference(items: Array<{ ts: number; cpu: number; skip: boolean }>, window: number) {
  const before = (a: { ts: number; cpu: number; seq: number }, b: { ts: number; cpu: number; seq: number }): boolean =>
    a.ts !== b.ts ? a.ts < b.ts : a.cpu !== b.cpu ? a.cpu < b.cpu : a.seq < b.seq;
  const buf: Array<{ ts: number; cpu: number; seq: number; skip: boolean }> = [];
  const out: number[] = [];
  let last: { ts: number; cpu: number; seq: number } | undefined;
  let reordered = 0;
  let late = 0;
  const lateSeqs: number[] = [];
  const shift = (): void => {
    const e = buf.shift()!;
    last = e;
    if (!e.skip) out.push(e.seq);
  };
  items.forEach((it, seq) => {
    const e = { ...it, seq };
    let i = buf.length;
    while (i > 0 && before(e, buf[i - 1]!)) i--;
    if (i < buf.length) {
      if (i === 0 && last && before(e, last)) {
        late++;
        if (!e.skip && lateSeqs.length < 20) lateSeqs.push(seq);
      }
      else reordered++;
    }
    buf.splice(i, 0, e);
    if (buf.length > window) shift();
  });
  while (buf.length) shift();
  return { out, reordered, late, lateSeqs };
}

function run(items: Array<{ ts: number; cpu: number; skip: boolean }>, window: number) {
  const out: TraceEvent[] = [];
  const s = new WindowSorter(window, {} as DecodeTable, (e) => out.push(e));
  items.forEach((it, seq) => {
    const h: SortInput = { pid: seq, tgid: seq % 2 ? undefined : 7, cpu: it.cpu, tsNs: it.ts, latStart: 1, latEnd: 2, tsStart: 3, tsEnd: 4, payloadEnd: 9 };
    if (it.skip) s.pushPlaceholder(it.ts, it.cpu, seq);
    else s.push(`line ${seq}`, h, `t${seq % 3}`, 'ev', seq % 3, 5, seq + 1, seq * 10, seq);
  });
  s.flush();
  return { out, s };
}

describe('WindowSorter', () => {
  it('emits what a spliced array would, with the same reorder and late counts, and every field intact', () => {
    const item = fc.record({ ts: fc.integer({ min: 0, max: 40 }), cpu: fc.integer({ min: 0, max: 3 }), skip: fc.boolean() });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (items, window) => {
        const ref = reference(items, window);
        const { out, s } = run(items, window);
        expect(out.map((e) => e.seq)).toEqual(ref.out);
        expect(s.reordered).toBe(ref.reordered);
        expect(s.lateCount).toBe(ref.late);
        for (const e of out) {
          const seq = e.seq;
          expect([e.raw, e.comm, e.pid, e.tgid, e.cpu, e.tsNs, e.name, e.line, e.offset, e.syscall]).toEqual([
            `line ${seq}`, `t${seq % 3}`, seq, seq % 2 ? undefined : 7, items[seq]!.cpu, items[seq]!.ts, 'ev', seq + 1, seq * 10, seq % 3,
          ]);
        }
        // Late arrivals are kept for the report (up to 20), never placeholders.
        expect(s.late.map((e) => e.seq)).toEqual(ref.lateSeqs);
      }),
      { numRuns: 300 },
    );
  });

  it('grows its columns as the window fills, with the same result', () => {
    // 6000 events displaced by up to ~2500 places, a 3000-event window: the columns grow from
    // 1024 slots twice while events are held, and placeholders are mixed in.
    let x = 12345;
    const rnd = (): number => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    const items = Array.from({ length: 6000 }, (_v, i) => ({ ts: i - Math.floor(rnd() * 2500), cpu: Math.floor(rnd() * 2), skip: rnd() < 0.3 }));
    const ref = reference(items, 3000);
    const { out, s } = run(items, 3000);
    expect(ref.late).toBe(0);
    expect(ref.reordered).toBeGreaterThan(1000);
    expect(out.map((e) => e.seq)).toEqual(ref.out);
    expect(s.reordered).toBe(ref.reordered);
    expect(s.lateCount).toBe(0);
  });
});

