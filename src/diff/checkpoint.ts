/**
 * Checkpoints of model state for the inspector: a copy of whole engines (every object their
 * state reaches: mms, page tables, folios and their list links, queues, counters), taken while
 * the trace is replayed once, and restored as fresh copies so that the state after any op is a
 * checkpoint plus the few ops after it, not a replay from the start.
 *
 * The copy walks the object graph generically (prototypes kept, cycles and shared references
 * preserved, Map/Set/typed arrays copied), so it follows the model as it grows without a copy
 * function per type. What is not state is shared, not copied: functions, the config and the
 * composed hooks (immutable for a run), the table of story codes (append-only, shared by the
 * engines of one run on purpose) and the ops (inputs).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Engine } from '../model/engine.js';

/** A deep copy of `roots` (one graph: an object two roots reach is copied once). */
export function copyGraph<T extends unknown[]>(roots: T, shared: ReadonlySet<object>): T {
  const memo = new Map<object, object>();
  // Objects copied as empty shells first, filled from a work list: the folio lists and page
  // tables form long chains that a recursive copy would overflow the stack on.
  const work: Array<[object, object]> = [];
  const copy = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || shared.has(v)) return v;
    const m = memo.get(v);
    if (m !== undefined) return m;
    let c: object;
    if (ArrayBuffer.isView(v)) {
      c = (v as unknown as { slice(): object }).slice();
      memo.set(v, c);
      return c;
    }
    if (Array.isArray(v)) c = new Array(v.length);
    else if (v instanceof Map) c = new Map();
    else if (v instanceof Set) c = new Set();
    else c = Object.create(Object.getPrototypeOf(v) as object | null) as object;
    if ((v instanceof Map || v instanceof Set) && Object.getPrototypeOf(v) !== Object.getPrototypeOf(c)) Object.setPrototypeOf(c, Object.getPrototypeOf(v) as object);
    memo.set(v, c);
    work.push([v, c]);
    return c;
  };
  const out = roots.map(copy) as T;
  while (work.length) {
    const [src, dst] = work.pop()!;
    if (Array.isArray(src)) {
      const d = dst as unknown[];
      for (let i = 0; i < src.length; i++) d[i] = copy(src[i]);
      continue;
    }
    if (src instanceof Map) for (const [k, x] of src) (dst as Map<unknown, unknown>).set(copy(k), copy(x));
    else if (src instanceof Set) for (const x of src) (dst as Set<unknown>).add(copy(x));
    const s = src as Record<string, unknown>;
    const d = dst as Record<string, unknown>;
    for (const key of Object.keys(s)) d[key] = copy(s[key]);
  }
  return out;
}

/** What a value in a packed graph is (one byte per value). */
const enum Tag {
  Undefined,
  Null,
  True,
  False,
  /** An int32: in the int stream. */
  Int,
  /** Any other number: in the doubles. */
  Double,
  /** A string or other primitive: its index in the primitives. */
  Prim,
  /** A copied object: its id. */
  Ref,
  /** A shared object or a function: its index in the shared list. */
  Shared,
}

/** How an object of a packed graph is rebuilt. */
const enum Kind {
  Object,
  Array,
  Map,
  Set,
  Typed,
}

/** The index of `v` in `list`, appended (and indexed) the first time it is seen. */
function intern<T>(list: T[], index: Map<T, number>, v: T): number {
  let i = index.get(v);
  if (i === undefined) {
    i = list.length;
    list.push(v);
    index.set(v, i);
  }
  return i;
}

/** A growable typed array (doubling; `view()` / `done()` is the filled part). */
export class Growable<T extends Float64Array | Int32Array | Uint8Array> {
  n = 0;
  constructor(
    public buf: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.n === this.buf.length) {
      const b = this.make(this.n * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = v;
  }
  bytes(src: ArrayLike<number>): void {
    while (this.n + src.length > this.buf.length) {
      const b = this.make(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf.set(src, this.n);
    this.n += src.length;
  }
  view(): T {
    return this.buf.subarray(0, this.n) as T;
  }
  done(): T {
    return this.view();
  }
  /** The values in an array of their own size (the spare room let go). */
  trim(): T {
    this.buf = this.buf.slice(0, this.n) as T;
    return this.buf;
  }
}

type TypedCtor = new (n: number) => ArrayBufferView & { length: number };

/**
 * An object graph packed flat, the copy copyGraph() makes (same prototypes, same sharing, same
 * order of keys and of Map/Set entries) but held as bytes: one tag byte per value, int32 numbers
 * and object ids in an int stream, typed arrays' contents as bytes, deflated. What the graph
 * shares with the live program (prototypes, shared objects, functions) and its strings stay as
 * references. A checkpoint of an engine is a few hundred kB this way instead of megabytes of
 * heap objects, and holds no young objects for the collector to promote.
 */
export class PackedGraph {
  private constructor(
    private readonly data: Buffer,
    /** Byte lengths of the shells, tags, ints and typed-array bytes in `data` (inflated). */
    private readonly sizes: [number, number, number, number],
    private readonly doubles: number[],
    private readonly prims: unknown[],
    private readonly shared: unknown[],
    /** Prototypes (and typed-array constructors) the objects are made with. */
    private readonly protos: unknown[],
    /** Key lists of the plain objects (and own keys of Maps and Sets), by shape index. */
    private readonly shapes: string[][],
    private readonly roots: number,
  ) {}

  /** Packs `roots` (one graph) leaving `shared` objects as references. */
  static pack(roots: unknown[], shared: ReadonlySet<object>): PackedGraph {
    const tags = new Growable(new Uint8Array(1 << 16), (n) => new Uint8Array(n));
    const ints = new Growable(new Int32Array(1 << 14), (n) => new Int32Array(n));
    const bytes = new Growable(new Uint8Array(1 << 14), (n) => new Uint8Array(n));
    const doubles: number[] = [];
    const prims: unknown[] = [];
    const primIndex = new Map<unknown, number>();
    const sharedList: unknown[] = [];
    const sharedIndex = new Map<unknown, number>();
    const protos: unknown[] = [];
    const protoIndex = new Map<unknown, number>();
    const shapes: string[][] = [];
    /** Shapes seen per prototype index (most have one). */
    const shapesOf = new Map<number, number[]>();
    const ids = new Map<object, number>();
    // Shells: each object's kind, prototype (or typed-array constructor) and length, in id order,
    // packed ahead of the contents, so that every object exists before any refers to it.
    const shell: number[] = [];
    const work: object[] = [];
    const protoOf = (p: unknown): number => {
      let i = protoIndex.get(p);
      if (i === undefined) {
        i = protos.length;
        protos.push(p);
        protoIndex.set(p, i);
      }
      return i;
    };
    const shapeOf = (proto: number, keys: string[]): number => {
      let list = shapesOf.get(proto);
      if (!list) shapesOf.set(proto, (list = []));
      for (const s of list) {
        const k = shapes[s]!;
        if (k.length !== keys.length) continue;
        let same = true;
        for (let i = 0; i < k.length && same; i++) same = k[i] === keys[i];
        if (same) return s;
      }
      shapes.push(keys);
      list.push(shapes.length - 1);
      return shapes.length - 1;
    };
    const id = (v: object): number => {
      let i = ids.get(v);
      if (i !== undefined) return i;
      i = ids.size;
      ids.set(v, i);
      if (ArrayBuffer.isView(v)) {
        const t = v as unknown as { length: number; byteOffset: number; byteLength: number; buffer: ArrayBufferLike };
        shell.push(Kind.Typed, protoOf(v.constructor), t.length);
        bytes.bytes(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
        return i;
      }
      if (Array.isArray(v)) shell.push(Kind.Array, 0, v.length);
      else if (v instanceof Map) shell.push(Kind.Map, protoOf(Object.getPrototypeOf(v)), 0);
      else if (v instanceof Set) shell.push(Kind.Set, protoOf(Object.getPrototypeOf(v)), 0);
      else shell.push(Kind.Object, protoOf(Object.getPrototypeOf(v)), 0);
      work.push(v);
      return i;
    };
    const value = (v: unknown): void => {
      switch (typeof v) {
        case 'undefined':
          tags.push(Tag.Undefined);
          return;
        case 'boolean':
          tags.push(v ? Tag.True : Tag.False);
          return;
        case 'number':
          if ((v | 0) === v && !Object.is(v, -0)) {
            tags.push(Tag.Int);
            ints.push(v);
          } else {
            tags.push(Tag.Double);
            doubles.push(v);
          }
          return;
        case 'object':
        case 'function':
          if (v === null) {
            tags.push(Tag.Null);
            return;
          }
          if (typeof v === 'function' || shared.has(v)) {
            tags.push(Tag.Shared);
            ints.push(intern(sharedList, sharedIndex, v));
            return;
          }
          tags.push(Tag.Ref);
          ints.push(id(v));
          return;
        default:
          tags.push(Tag.Prim);
          ints.push(intern(prims, primIndex, v));
      }
    };
    const ownKeys = (v: object, proto: number): void => {
      const keys = Object.keys(v);
      ints.push(shapeOf(proto, keys));
      const o = v as Record<string, unknown>;
      for (const k of keys) value(o[k]);
    };
    for (const r of roots) value(r);
    // Contents in work-list order, each prefixed by its object's id.
    while (work.length) {
      const v = work.pop()!;
      const i = ids.get(v)!;
      ints.push(i);
      const kind = shell[i * 3]!;
      if (kind === Kind.Array) {
        const a = v as unknown[];
        for (let j = 0; j < a.length; j++) value(a[j]);
        continue;
      }
      if (kind === Kind.Map) {
        const m = v as Map<unknown, unknown>;
        ints.push(m.size);
        for (const [k, x] of m) {
          value(k);
          value(x);
        }
      } else if (kind === Kind.Set) {
        const s = v as Set<unknown>;
        ints.push(s.size);
        for (const x of s) value(x);
      }
      ownKeys(v, shell[i * 3 + 1]!);
    }
    const t = tags.view();
    const n = ints.view();
    const b = bytes.view();
    const sh = Int32Array.from(shell);
    const raw = Buffer.concat([Buffer.from(sh.buffer, sh.byteOffset, sh.byteLength), Buffer.from(t.buffer, t.byteOffset, t.byteLength), Buffer.from(n.buffer, n.byteOffset, n.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
    const data = deflateRawSync(raw, { level: 1 });
    return new PackedGraph(data, [sh.byteLength, t.byteLength, n.byteLength, b.byteLength], doubles, prims, sharedList, protos, shapes, roots.length);
  }

  /** Bytes the packed graph holds (deflated), for reports. */
  get size(): number {
    return this.data.length;
  }

  /** A fresh copy of the graph's roots. */
  unpack(): unknown[] {
    const raw = inflateRawSync(this.data);
    const protos = this.protos;
    const [shellBytes, tagBytes, intBytes, typedBytes] = this.sizes;
    // Copied out to aligned arrays (the inflated buffer may sit at any offset of a pool).
    const shell = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + shellBytes));
    const tags = raw.subarray(shellBytes, shellBytes + tagBytes);
    const ints = new Int32Array(raw.buffer.slice(raw.byteOffset + shellBytes + tagBytes, raw.byteOffset + shellBytes + tagBytes + intBytes));
    const bytes = raw.subarray(shellBytes + tagBytes + intBytes, shellBytes + tagBytes + intBytes + typedBytes);
    const count = shell.length / 3;
    const objs: unknown[] = new Array(count);
    let off = 0;
    for (let i = 0; i < count; i++) {
      const kind = shell[i * 3]!;
      const p = shell[i * 3 + 1]!;
      const len = shell[i * 3 + 2]!;
      if (kind === Kind.Typed) {
        const t = new (protos[p] as TypedCtor)(len);
        const tb = t as unknown as { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
        new Uint8Array(tb.buffer, tb.byteOffset, tb.byteLength).set(bytes.subarray(off, off + tb.byteLength));
        off += tb.byteLength;
        objs[i] = t;
      } else if (kind === Kind.Array) objs[i] = new Array(len);
      else if (kind === Kind.Object) objs[i] = Object.create(protos[p] as object | null);
      else {
        const c = kind === Kind.Map ? new Map() : new Set();
        if (Object.getPrototypeOf(c) !== protos[p]) Object.setPrototypeOf(c, protos[p] as object);
        objs[i] = c;
      }
    }
    let ti = 0;
    let ni = 0;
    let di = 0;
    const { doubles, prims, shared, shapes } = this;
    const value = (): unknown => {
      switch (tags[ti++] as Tag) {
        case Tag.Undefined:
          return undefined;
        case Tag.Null:
          return null;
        case Tag.True:
          return true;
        case Tag.False:
          return false;
        case Tag.Int:
          return ints[ni++];
        case Tag.Double:
          return doubles[di++];
        case Tag.Prim:
          return prims[ints[ni++]!];
        case Tag.Ref:
          return objs[ints[ni++]!];
        case Tag.Shared:
          return shared[ints[ni++]!];
      }
    };
    const roots: unknown[] = [];
    for (let r = 0; r < this.roots; r++) roots.push(value());
    while (ni < ints.length) {
      const i = ints[ni++]!;
      const kind = shell[i * 3]!;
      const o = objs[i] as Record<string, unknown>;
      if (kind === Kind.Array) {
        const a = o as unknown as unknown[];
        for (let j = 0; j < a.length; j++) a[j] = value();
        continue;
      }
      if (kind === Kind.Map) {
        const m = o as unknown as Map<unknown, unknown>;
        for (let n = ints[ni++]!; n > 0; n--) {
          const k = value();
          m.set(k, value());
        }
      } else if (kind === Kind.Set) {
        const s = o as unknown as Set<unknown>;
        for (let n = ints[ni++]!; n > 0; n--) s.add(value());
      }
      for (const k of shapes[ints[ni++]!]!) o[k] = value();
    }
    return roots;
  }
}

/** One engine's state at a point of the replay, packed apart from the engine that made it. */
export class EngineCheckpoint {
  private constructor(private readonly packed: PackedGraph) {}

  /** What every engine of a run shares and the copy must not duplicate. */
  private static shared(e: Engine): Set<object> {
    const k = e.k as unknown as Record<string, unknown>;
    const s = new Set<object>([e.config as object]);
    for (const name of ['config', 'hooks', 'owners', 'storyCodes', 'traits', 'op']) {
      const v = k[name];
      if (v && typeof v === 'object') s.add(v);
    }
    // What the replaying run hung on its engine (its fidelity checker's sink) stays with it.
    if (k.emitSink) s.add(k.emitSink as object);
    return s;
  }

  /** The state of `e` now, packed (later steps of `e` do not reach it). */
  static take(e: Engine): EngineCheckpoint {
    return new EngineCheckpoint(PackedGraph.pack([e], EngineCheckpoint.shared(e)));
  }

  /** Bytes the checkpoint holds. */
  get size(): number {
    return this.packed.size;
  }

  /** A fresh engine in this state: stepping it leaves the checkpoint as it is. */
  restore(): Engine {
    const [engine] = this.packed.unpack() as [Engine];
    (engine.k as unknown as Record<string, unknown>).emitSink = undefined;
    return engine;
  }
}
