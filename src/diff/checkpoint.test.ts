/**
 * A checkpoint restored and replayed on gives what the engine it was taken from gives over the
 * same ops: every emission, violation and counter, on real captures (one task; two threads on
 * several CPUs, whose per-CPU TLB state the copy must carry; a fork).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../model/engine.js';
import { buildConfig } from '../model/presets.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { FormatRegistry } from '../trace/index.js';
import { EngineCheckpoint, PackedGraph, copyGraph } from './checkpoint.js';
import { loadInspection, StateProbe, startInspection, type Inspection, type OpList, type ProbeResult } from './inspect.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const T = (p: string): string => join(packageRoot, 'traces', p);

function runFrom(e: Engine, ops: OpList, from: number): string[] {
  const out: string[] = [];
  for (let i = from; i < ops.length; i++) {
    const lo = ops.lo(i);
    if (lo.failed) continue;
    const r = e.step(lo.op);
    out.push(JSON.stringify([i, r.emitted, r.violations.map((v) => v.code), r.hooks]));
  }
  out.push(JSON.stringify([...e.k.counters].sort()));
  return out;
}

describe('engine checkpoints', () => {
  it('a program\'s file-backed memory (page cache, guessed fault-around pages) is carried too', async () => {
    const cfg = buildConfig('linux-6.18-fc', 'x86');
    const ins = await loadInspection(T('6.18.44-fc-v1147/prog-sort.fm.rec/trace.txt.gz'), [cfg], { registry: reg });
    const n = ins.ops.length;
    const e = new Engine(cfg, { checkInvariants: false });
    const at = n >> 2;
    for (let i = 0; i < at; i++) if (!ins.ops.lo(i).failed) e.step(ins.ops.lo(i).op);
    expect(e.k.fileCaches.size).toBeGreaterThan(0);
    const cp = EngineCheckpoint.take(e);
    expect(runFrom(cp.restore(), ins.ops, at)).toEqual(runFrom(e, ins.ops, at));
  });

  for (const capture of ['6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout', '6.18.44-fc-v669/s6-two-threads.64k-spin', '6.18.44-fc-v669/s7-fork-shared.64k']) {
    for (const preset of ['linux-6.12', 'linux-6.18']) {
      it(`${capture} under ${preset}: restored at three points, the rest of the replay is the engine's own`, async () => {
        const cfg = buildConfig(preset, 'x86');
        const ins = await loadInspection(T(`${capture}/trace.txt.gz`), [cfg], { registry: reg });
        const n = ins.ops.length;
        expect(n).toBeGreaterThan(10);
        for (const at of [1, n >> 1, n - 3]) {
          const e = new Engine(cfg, { checkInvariants: false });
          for (let i = 0; i < at; i++) if (!ins.ops.lo(i).failed) e.step(ins.ops.lo(i).op);
          const cp = EngineCheckpoint.take(e);
          const straight = runFrom(e, ins.ops, at);
          // Twice: restoring leaves the checkpoint untouched.
          expect(runFrom(cp.restore(), ins.ops, at)).toEqual(straight);
          expect(runFrom(cp.restore(), ins.ops, at)).toEqual(straight);
        }
      });
    }
  }

  it('copies keep prototypes, cycles, shared objects and typed arrays apart', () => {
    class Node {
      next?: Node;
      constructor(public v: number) {}
      twice(): number {
        return this.v * 2;
      }
    }
    const a = new Node(1);
    const b = new Node(2);
    a.next = b;
    b.next = a;
    const keep = { fixed: true };
    const root = { a, list: [a, b], m: new Map([[a, new Set([b])]]), t: new Int32Array([1, 2]), keep };
    const [c] = copyGraph([root], new Set([keep]));
    expect(c.a).not.toBe(a);
    expect(c.a.twice()).toBe(2);
    expect(c.a.next!.next).toBe(c.a);
    expect(c.list[1]).toBe(c.a.next);
    expect([...c.m.get(c.a)!][0]).toBe(c.list[1]);
    expect(c.keep).toBe(keep);
    c.t[0] = 9;
    expect(root.t[0]).toBe(1);
  });

  it('a packed graph unpacks to what copyGraph copies: prototypes, cycles, shared objects, key and entry order, numbers of every kind', () => {
    class Node {
      next?: Node;
      constructor(public v: number) {}
      twice(): number {
        return this.v * 2;
      }
    }
    class Tagged extends Map<string, number> {
      label = 'x';
    }
    const a = new Node(1);
    const b = new Node(-0);
    a.next = b;
    b.next = a;
    const keep = { fixed: true };
    const fn = (): number => 7;
    const tagged = new Tagged([['z', 1], ['a', 2]]);
    const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const root = {
      a, list: [a, b, a], m: new Map<unknown, unknown>([[a, new Set([b, 'two', 2.5])], ['k', null]]), t: new Int32Array([1, -2, 3]), f: new Float64Array([0.5, NaN]),
      keep, fn, tagged, sparse, nums: [0, -0, 2 ** 31, -(2 ** 31), 1e300, NaN, Infinity, 0.1, -7], flags: [true, false, undefined, null], s: 'text', big: 10n,
    };
    const packed = PackedGraph.pack([root, keep], new Set([keep]));
    for (let round = 0; round < 2; round++) {
      const [c, k] = packed.unpack() as [typeof root, typeof keep];
      const copy = copyGraph([root], new Set([keep]))[0];
      expect(c).toEqual(copy);
      expect(Object.keys(c)).toEqual(Object.keys(root));
      expect(k).toBe(keep);
      expect(c.keep).toBe(keep);
      expect(c.fn).toBe(fn);
      expect(c.a).not.toBe(a);
      expect(c.a.twice()).toBe(2);
      expect(c.a.next!.next).toBe(c.a);
      expect(Object.is(c.a.next!.v, -0)).toBe(true);
      expect(c.list[2]).toBe(c.a);
      expect([...c.m.keys()]).toEqual([c.a, 'k']);
      expect([...(c.m.get(c.a) as Set<unknown>)]).toEqual([c.list[1], 'two', 2.5]);
      expect(c.tagged).toBeInstanceOf(Tagged);
      expect([...c.tagged]).toEqual([['z', 1], ['a', 2]]);
      expect(c.tagged.label).toBe('x');
      expect(1 in c.sparse).toBe(true);
      expect(c.nums.map((x) => Object.is(x, -0) ? '-0' : x)).toEqual([0, '-0', 2 ** 31, -(2 ** 31), 1e300, NaN, Infinity, 0.1, -7]);
      expect(c.t).toBeInstanceOf(Int32Array);
      expect([...c.t]).toEqual([1, -2, 3]);
      expect(c.f[1]).toBeNaN();
      c.t[0] = 9;
      c.a.v = 5;
      expect(root.t[0]).toBe(1);
      expect(a.v).toBe(1);
    }
  });

  it('the inspector from its checkpoints shows at every op what it shows replaying from the start, in any order', async () => {
    const cfgs = [buildConfig('linux-6.12', 'x86'), buildConfig('linux-6.18', 'x86')];
    const S1 = T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');
    const ins = await loadInspection(S1, cfgs, { registry: reg, checkpointEvery: 64 });
    expect(ins.checkpoints!.list.length).toBeGreaterThan(8);
    const none: Inspection = { ...ins, checkpoints: undefined };
    const at = (p: StateProbe, op: number, focus?: number): ProbeResult => {
      const g = p.viewAfter(op, focus, 100);
      for (;;) {
        const r = g.next();
        if (r.done) return r.value;
      }
    };
    const n = ins.ops.length;
    const ops = [...ins.divergentOps, n - 1, 5, n >> 1, 64, 63, 65, (n * 3) >> 2, 1, n - 2];
    const withCp = new StateProbe(ins);
    for (const op of ops) {
      const a = at(withCp, op);
      expect(a).toEqual(at(new StateProbe(none), op));
      // The folio the inspector follows, asked for by pfn.
      const pfn = a.story.groups[0]?.pfns.at(-1);
      if (pfn !== undefined) expect(at(withCp, op, pfn)).toEqual(at(new StateProbe(none), op, pfn));
    }
    expect(ins.checkpoints!.broken).toBe(false);
  });

  it('an inspection opens at once and fills as the trace is read, saying when it is whole', async () => {
    const ins = startInspection(T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz'), [buildConfig('linux-6.12', 'x86'), buildConfig('linux-6.18', 'x86')], { registry: reg });
    expect(ins.load!.loading).toBe(true);
    expect(ins.runs).toEqual([]);
    const seen: boolean[] = [];
    ins.load!.subscribe(() => seen.push(ins.load!.loading));
    await ins.load!.done;
    expect(seen.at(-1)).toBe(false);
    expect(ins.rows.count).toBe(ins.events);
    expect(ins.rows.ts.length).toBe(ins.rows.count);
    expect(ins.diverges.length).toBe(ins.ops.length);
    expect(ins.runs.length).toBe(2);
  });
});
