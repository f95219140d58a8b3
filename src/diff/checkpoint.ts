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

/** One engine's state at a point of the replay, kept apart from the engine that made it. */
export class EngineCheckpoint {
  private constructor(private readonly engine: Engine) {}

  /** What every engine of a run shares and the copy must not duplicate. */
  private static shared(e: Engine): Set<object> {
    const k = e.k as unknown as Record<string, unknown>;
    const s = new Set<object>([e.config as object]);
    for (const name of ['config', 'hooks', 'owners', 'storyCodes', 'traits', 'op']) {
      const v = k[name];
      if (v && typeof v === 'object') s.add(v);
    }
    return s;
  }

  /** The state of `e` now, copied (later steps of `e` do not reach it). */
  static take(e: Engine): EngineCheckpoint {
    const [engine] = copyGraph([e], EngineCheckpoint.shared(e));
    const k = engine.k as unknown as Record<string, unknown>;
    // What the replaying run hung on its engine (its fidelity checker's sink) stays with it.
    k.emitSink = undefined;
    return new EngineCheckpoint(engine);
  }

  /** A fresh engine in this state: stepping it leaves the checkpoint as it is. */
  restore(): Engine {
    const [engine] = copyGraph([this.engine], EngineCheckpoint.shared(this.engine));
    return engine;
  }
}
