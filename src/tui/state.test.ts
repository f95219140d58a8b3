/**
 * The inspector without rendering: the reducer over key presses, the key table, and how a
 * folio's steps are compressed and compared.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInspection, type Inspection } from '../diff/inspect.js';
import { buildConfig } from '../model/presets.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { FormatRegistry } from '../trace/index.js';
import { BINDINGS, commandFor, KEYS } from './keys.js';
import { cursorOp, initialState, reduce, type Env, type KeyEvent, type TuiState } from './state.js';
import { compress, itemLines, storyItems } from './story.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
let oob: Inspection;
beforeAll(async () => {
  oob = await loadInspection(join(packageRoot, 'traces/scenarios/straddle-oob.trace'), [buildConfig('batched-unmap@v4-3'), buildConfig('linux-6.18')], { registry: reg });
});

const env = (): Env => ({ ins: oob, rowsVisible: 10, presets: ['linux-6.12', 'linux-6.18'] });
const press = (s: TuiState, ...keys: Array<string | Partial<KeyEvent>>): TuiState =>
  keys.reduce<TuiState>((st, k) => reduce(st, { type: 'key', key: typeof k === 'string' ? { input: k } : { input: '', ...k } }, env()), s);

describe('keys', () => {
  it('one table: every binding\'s keys run its command, no key runs two, and the help rows are the table', () => {
    const seen = new Set<string>();
    for (const b of BINDINGS) {
      for (const c of b.chars) {
        expect(seen.has(c)).toBe(false);
        seen.add(c);
        expect(commandFor({ input: c })).toBe(b.command);
      }
      for (const sp of b.special) expect(commandFor({ input: '', [sp]: true })).toBe(b.command);
    }
    expect(KEYS).toEqual(BINDINGS.map((b) => [b.label, b.help]));
    expect(commandFor({ input: 'z' })).toBeUndefined();
  });
});

describe('reducer', () => {
  it('opens on the first divergent op with the inspector focused', () => {
    const s = initialState(oob, 10);
    const first = oob.divergentOps[0]!;
    expect(cursorOp(oob, s)).toBe(first);
    expect(s.pane).toBe('inspector');
    expect(s.message).toBe(`divergence 1/${oob.divergentOps.length}`);
  });

  it('the inspector focused, j/k scroll it; tab gives the timeline the keys back; q asks to quit', () => {
    let s = initialState(oob, 10);
    const cursor = s.cursor;
    s = press(s, 'j', 'j', { downArrow: true });
    expect([s.cursor, s.inspScroll]).toEqual([cursor, 3]);
    s = press(s, { tab: true }, { tab: true });
    expect(s.pane).toBe('timeline');
    s = press(s, 'j');
    expect(s.cursor).toBe(cursor + 1);
    s = press(s, 'g');
    expect(s.cursor).toBe(0);
    s = press(s, 'n');
    expect(cursorOp(oob, s)).toBe(oob.divergentOps[0]);
    expect(press(s, 'q').effect).toEqual({ kind: 'quit' });
  });

  it('] and [ walk the folios of the op\'s story, } and { its groups', () => {
    const s = initialState(oob, 10);
    const story = { op: 0, groups: [
      { count: 2, order: 4, pfns: [0x10, 0x20], steps: [['a'], ['b']], differs: true },
      { count: 1, order: 4, pfns: [0x30], steps: [['c'], ['c']], differs: false },
    ], differing: 2, flushes: [1, 1], counters: [], cause: [] };
    const e = { ...env(), story, shownPfn: 0x10 };
    const k = (st: TuiState, input: string, shown: number) => reduce(st, { type: 'key', key: { input } }, { ...e, shownPfn: shown });
    const a = k(s, ']', 0x10);
    expect(a.focusPfn).toBe(0x20);
    expect(a.message).toBe('folio 2/3, group 1/2 (2 alike, steps differ)');
    expect(k(a, ']', 0x20).focusPfn).toBe(0x30);
    expect(k(a, '[', 0x20).focusPfn).toBe(0x10);
    expect(k(s, '}', 0x10).focusPfn).toBe(0x30);
    expect(k(s, '{', 0x30).focusPfn).toBe(0x10);
  });
});

describe('story', () => {
  it('runs of a step or a block of steps are written once with a count', () => {
    expect(compress(['x', 'x', 'x'])).toEqual([{ times: 3, steps: ['x'], differs: false }]);
    const c = compress(['q', 'a', 'b', 'a', 'b', 'a', 'b', 'z']);
    expect(c.map((i) => [i.times, i.steps.join('+')])).toEqual([[1, 'q'], [3, 'a+b'], [1, 'z']]);
  });

  it('the items one side has and the other lacks are marked, and no item is cut at the column', () => {
    const [a, b] = storyItems([['PTE cleared', 'tlb_flush pages=1', 'PTE cleared', 'tlb_flush pages=1', 'freed'], ['2 PTEs cleared at once', 'tlb_flush pages=2', 'freed']]);
    expect(a!.map((i) => i.differs)).toEqual([true, false]);
    expect(b!.map((i) => i.differs)).toEqual([true, true, false]);
    const lines = itemLines(a![0]!, 20);
    expect(lines.every((l) => l.length <= 20)).toBe(true);
    expect(lines.every((l) => l.startsWith('≠ '))).toBe(true);
    expect(lines.map((l) => l.slice(2).trim()).join(' ')).toBe('×2: PTE cleared · tlb_flush pages=1');
  });
});
