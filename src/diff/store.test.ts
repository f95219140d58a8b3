/**
 * The inspector's compact stores give back what was put in: payload texts across chunk
 * boundaries (multi-byte characters, empty texts), read while the store fills, before and after
 * its chunks are deflated; kept ops across blocks; the line → row index.
 */
import { describe, expect, it } from 'vitest';
import { IntMap, OpStore, PayloadStore, type KeptOp } from './inspect.js';

/** Lets zlib's thread pool finish the deflates queued so far. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

describe('inspector stores', () => {
  it('payload texts read back as pushed, while filling and once deflated', async () => {
    const texts: string[] = [];
    const n = PayloadStore.ROWS * 3 + 17;
    for (let i = 0; i < n; i++) texts.push(i % 7 === 0 ? '' : `addr=0x${(i * 4096).toString(16)} ${i % 11 === 0 ? 'tâche→λ' : 'comm=x'} n=${i}`);
    const p = new PayloadStore();
    for (let i = 0; i < n; i++) {
      p.push(texts[i]!);
      // Read while filling: the row just pushed and one of an earlier (closed) chunk.
      if (i % 5000 === 0) {
        expect(p.at(i)).toBe(texts[i]);
        expect(p.at(i >> 1)).toBe(texts[i >> 1]);
      }
    }
    // Before the deflates are done, from memory.
    expect(p.at(PayloadStore.ROWS - 1)).toBe(texts[PayloadStore.ROWS - 1]);
    p.finish();
    await settle();
    expect(p.length).toBe(n);
    const order = [...texts.keys()];
    // Rows in an order that leaves and re-enters chunks (the cache keeps a few).
    for (let i = 0; i < n; i += 97) order.push((i * 7919) % n);
    for (const r of order) expect(p.at(r)).toBe(texts[r]);
  });

  it('a store of fewer rows than a chunk, and an empty one', async () => {
    const p = new PayloadStore();
    p.push('one');
    p.push('');
    p.push('three');
    p.finish();
    await settle();
    expect([p.at(0), p.at(1), p.at(2)]).toEqual(['one', '', 'three']);
    expect(new PayloadStore().finish().length).toBe(0);
  });

  it('kept ops read back as pushed, across blocks and out of order', async () => {
    const s = new OpStore();
    const ops: KeptOp[] = [];
    for (let i = 0; i < OpStore.BLOCK * 4 + 3; i++) {
      const lo = { op: { kind: 'fault', at: { index: i, line: i * 3 }, tgid: 10, tid: 10 + (i % 2), cpu: i % 4, addr: 0x7f0000000000 + i * 4096, write: i % 3 === 0, allocs: [] }, failed: i % 13 === 0 } as unknown as KeptOp;
      ops.push(lo);
      s.push(lo);
      if (i % 300 === 0) expect(s.get(i)).toEqual(lo);
    }
    await settle();
    for (const i of [0, ops.length - 1, OpStore.BLOCK, 5, OpStore.BLOCK * 3 + 1, OpStore.BLOCK - 1, ops.length - 4]) expect(s.get(i)).toEqual(ops[i]);
  });
});

describe('IntMap', () => {
  it('keeps what a Map<number, number> keeps: overwrites, size, keys of every kind, past its table', () => {
    const m = new IntMap();
    const ref = new Map<number, number>();
    const keys = [0, -0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, NaN, 7, 7];
    for (let i = 0; i < 140_000; i++) keys.push((i * 2654435761) % 3_000_000);
    keys.forEach((k, i) => {
      m.set(k, i);
      ref.set(k, i);
    });
    expect(m.size).toBe(ref.size);
    for (const k of [...keys, 5, -5, 3_000_001, 0.25]) expect(m.get(k)).toBe(ref.get(k));
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get(7)).toBeUndefined();
    m.set(7, 1);
    expect(m.get(7)).toBe(1);
  });
});
