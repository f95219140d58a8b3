/**
 * The inspector's state and the one function that changes it: `reduce(state, action, env)`
 * returns the next state and never draws, reads a clock or does I/O. What it needs of the
 * world (the inspection, the visible rows, the current op's folio stories) comes in `env`;
 * what it wants done (quit, re-run under other configs) goes out as `effect`.
 */
import type { Inspection, OpStory } from '../diff/inspect.js';
import { Command, commandFor, type KeyPress } from './keys.js';
import { allRows, filterRows, opAtRow, searchRows, seekOp, type RowView } from './nav.js';

export type Pane = 'timeline' | 'inspector' | 'summary';
export type Mode =
  | { kind: 'normal' }
  | { kind: 'prompt'; what: 'search' | 'filter'; text: string }
  | { kind: 'help' }
  | { kind: 'configs'; pick: number; base?: string };

export type Effect = { kind: 'quit' } | { kind: 'rerun'; base: string; with: string };

export interface TuiState {
  /** Index into the visible rows, and the first row drawn. */
  cursor: number;
  top: number;
  pane: Pane;
  mode: Mode;
  /** Each config's predicted events under op rows. */
  inline: boolean;
  message: string;
  filter: string;
  inspScroll: number;
  /** The folio the inspector follows at the current op (its pfn); undefined: the op's own pick. */
  focusPfn?: number;
  effect?: Effect;
}

export interface Env {
  ins: Inspection;
  /** Timeline rows on screen. */
  rowsVisible: number;
  /** Config names `c` offers. */
  presets: string[];
  /** The current op's folio stories, once computed. */
  story?: OpStory;
  /** The pfn the inspector shows now. */
  shownPfn?: number;
}

export type KeyEvent = KeyPress & { return?: boolean; escape?: boolean; backspace?: boolean; delete?: boolean };

export type TuiAction = { type: 'key'; key: KeyEvent } | { type: 'replaced'; ins: Inspection; message: string } | { type: 'effect-done' };

const views = new WeakMap<Inspection, Map<string, { count: number; view: RowView }>>();

/** The visible rows under a filter (cached per inspection, filter text and rows read so far). */
export function rowView(ins: Inspection, filter: string): RowView {
  let m = views.get(ins);
  if (!m) views.set(ins, (m = new Map()));
  let v = m.get(filter);
  if (!v || v.count !== ins.rows.count) m.set(filter, (v = { count: ins.rows.count, view: filter ? filterRows(ins, filter) : allRows(ins.rows.count) }));
  return v.view;
}

/** The op the cursor is on (index into ins.ops), -1 before the first. */
export function cursorOp(ins: Inspection, s: TuiState): number {
  const v = rowView(ins, s.filter);
  return v.count ? opAtRow(ins, v.at(Math.min(s.cursor, v.count - 1))) : -1;
}

/**
 * Opens on the first op where the configs part (the inspector focused), or on op `openOp` as
 * `diff` numbers ops, else on row 1.
 */
export function initialState(ins: Inspection, rowsVisible: number, openOp?: number): TuiState {
  const s: TuiState = { cursor: 0, top: 0, pane: 'timeline', mode: { kind: 'normal' }, inline: false, message: '', filter: '', inspScroll: 0 };
  if (openOp !== undefined) {
    const i = ins.ops.findIndex((o) => o.index === openOp);
    const row = i < 0 ? -1 : ins.ops.row(i);
    if (row < 0) return { ...s, message: `no op ${openOp} with a row of its own in this trace` };
    return place({ ...s, pane: 'inspector', message: `op ${openOp}` }, row, rowsVisible, 3);
  }
  const d = ins.divergentOps[0];
  const row = d === undefined ? -1 : ins.ops.row(d);
  if (row < 0) return s;
  const focused = { ...s, pane: 'inspector' as const, message: `divergence 1/${ins.divergentOps.length}` };
  return place(focused, row, rowsVisible, 3);
}

/** The cursor on trace row `row` (visible rows), the window around it. */
function place(s: TuiState, visibleIndex: number, rowsVisible: number, part: number): TuiState {
  return { ...s, cursor: visibleIndex, top: Math.max(0, visibleIndex - Math.floor(rowsVisible / part)), focusPfn: undefined, inspScroll: 0 };
}

function moveTo(s: TuiState, env: Env, i: number): TuiState {
  const view = rowView(env.ins, s.filter);
  const c = Math.max(0, Math.min(view.count - 1, i));
  // Rows the cursor may use: the inline lines under an op row take some of the window.
  const room = Math.max(1, env.rowsVisible - (s.inline ? env.ins.configs.length : 0));
  const top = c < s.top ? c : c >= s.top + room ? Math.max(0, c - room + 1) : s.top;
  const sameOp = cursorOp(env.ins, s) === cursorOp(env.ins, { ...s, cursor: c });
  return { ...s, cursor: c, top, focusPfn: sameOp ? s.focusPfn : undefined, inspScroll: sameOp ? s.inspScroll : 0 };
}

/** The folios of the current op in the order `]` walks them, and where each group starts. */
function folioOrder(story: OpStory | undefined): { pfns: number[]; groupStart: number[] } {
  const pfns: number[] = [];
  const groupStart: number[] = [];
  for (const g of story?.groups ?? []) {
    groupStart.push(pfns.length);
    for (const p of g.pfns) pfns.push(p);
  }
  return { pfns, groupStart };
}

function stepFolio(s: TuiState, env: Env, cmd: Command): TuiState {
  const { pfns, groupStart } = folioOrder(env.story);
  if (!pfns.length) return { ...s, message: env.story ? 'this op changed no folio' : 'the op is still being replayed' };
  const cur = env.shownPfn === undefined ? -1 : pfns.indexOf(env.shownPfn);
  let next: number;
  if (cmd === Command.NextFolio) next = Math.min(pfns.length - 1, cur + 1);
  else if (cmd === Command.PrevFolio) next = Math.max(0, cur - 1);
  else {
    const g = groupStart.findLastIndex((st) => st <= Math.max(0, cur));
    const ng = cmd === Command.NextGroup ? Math.min(groupStart.length - 1, cur < 0 ? 0 : g + 1) : Math.max(0, g - 1);
    next = groupStart[ng]!;
  }
  const g = groupStart.findLastIndex((st) => st <= next);
  const group = env.story!.groups[g]!;
  return { ...s, focusPfn: pfns[next], inspScroll: 0, message: `folio ${next + 1}/${pfns.length}, group ${g + 1}/${groupStart.length} (${group.count} alike${group.differs ? ', steps differ' : ''})` };
}

export function reduce(s: TuiState, a: TuiAction, env: Env): TuiState {
  if (a.type === 'effect-done') return s.effect ? { ...s, effect: undefined } : s;
  if (a.type === 'replaced') {
    const init = initialState(a.ins, env.rowsVisible);
    return { ...init, filter: '', inline: s.inline, message: a.message };
  }
  const key = a.key;
  const ins = env.ins;
  const view = rowView(ins, s.filter);
  const m = s.mode;
  if (m.kind === 'help') return { ...s, mode: { kind: 'normal' } };
  if (m.kind === 'prompt') {
    if (key.escape) return { ...s, mode: { kind: 'normal' } };
    if (key.return) {
      const text = m.text.trim();
      if (m.what === 'filter') {
        const before = view.count ? view.at(Math.min(s.cursor, view.count - 1)) : 0;
        const nv = rowView(ins, text);
        const at = Math.max(0, nv.indexOf(before));
        const next = { ...s, mode: { kind: 'normal' } as Mode, filter: text, message: text ? `filter "${text}": ${nv.count} rows` : 'filter cleared' };
        return { ...place(next, at, env.rowsVisible, 2), focusPfn: s.focusPfn };
      }
      const hit = searchRows(ins, view, s.cursor, m.text);
      if (hit === undefined) return { ...s, mode: { kind: 'normal' }, message: `"${m.text}" not found` };
      return place({ ...s, mode: { kind: 'normal' }, message: `found "${m.text}"` }, hit, env.rowsVisible, 2);
    }
    if (key.backspace || key.delete) return { ...s, mode: { ...m, text: m.text.slice(0, -1) } };
    if (key.input && !key.ctrl && !key.meta) return { ...s, mode: { ...m, text: m.text + key.input } };
    return s;
  }
  if (m.kind === 'configs') {
    const list = env.presets;
    const c = commandFor(key);
    if (key.escape || c === Command.Quit) return { ...s, mode: { kind: 'normal' } };
    if (c === Command.Down) return { ...s, mode: { ...m, pick: Math.min(list.length - 1, m.pick + 1) } };
    if (c === Command.Up) return { ...s, mode: { ...m, pick: Math.max(0, m.pick - 1) } };
    if (key.return && list.length) {
      const chosen = list[m.pick]!;
      if (!m.base) return { ...s, mode: { kind: 'configs', pick: m.pick, base: chosen } };
      return { ...s, mode: { kind: 'normal' }, effect: { kind: 'rerun', base: m.base, with: chosen } };
    }
    return s;
  }
  const cmd = commandFor(key);
  if (cmd === undefined) return s;
  // With the inspector focused, the movement keys scroll it.
  if (s.pane === 'inspector' && (cmd === Command.Down || cmd === Command.Up || cmd === Command.PageDown || cmd === Command.PageUp)) {
    const d = cmd === Command.Down ? 1 : cmd === Command.Up ? -1 : cmd === Command.PageDown ? 10 : -10;
    return { ...s, inspScroll: Math.max(0, s.inspScroll + d) };
  }
  switch (cmd) {
    case Command.Quit:
      return { ...s, effect: { kind: 'quit' } };
    case Command.Help:
      return { ...s, mode: { kind: 'help' } };
    case Command.SwitchPane:
      return { ...s, pane: s.pane === 'timeline' ? 'inspector' : s.pane === 'inspector' ? 'summary' : 'timeline' };
    case Command.Down:
      return moveTo(s, env, s.cursor + 1);
    case Command.Up:
      return moveTo(s, env, s.cursor - 1);
    case Command.PageDown:
      return moveTo(s, env, s.cursor + env.rowsVisible - 1);
    case Command.PageUp:
      return moveTo(s, env, s.cursor - env.rowsVisible + 1);
    case Command.First:
      return moveTo(s, env, 0);
    case Command.Last:
      return moveTo(s, env, view.count - 1);
    case Command.ToggleEvents:
      return { ...s, inline: !s.inline };
    case Command.Search:
      return { ...s, mode: { kind: 'prompt', what: 'search', text: '' } };
    case Command.Filter:
      return { ...s, mode: { kind: 'prompt', what: 'filter', text: s.filter } };
    case Command.ChooseConfigs:
      return env.presets.length ? { ...s, mode: { kind: 'configs', pick: 0 } } : { ...s, message: 'no configs to choose from' };
    case Command.NextFolio:
    case Command.PrevFolio:
    case Command.NextGroup:
    case Command.PrevGroup:
      return stepFolio(s, env, cmd);
    case Command.NextDivergence:
    case Command.PrevDivergence:
    case Command.NextViolation: {
      const violation = cmd === Command.NextViolation;
      const list = violation ? [...new Set(ins.violations.map((v) => v.op))].sort((x, y) => x - y) : ins.divergentOps;
      const dir = cmd === Command.PrevDivergence ? -1 : 1;
      const hit = seekOp(ins, view, s.cursor, list, dir);
      if (hit === undefined) {
        return { ...s, message: violation ? 'no further violation' : `no ${dir < 0 ? 'earlier' : 'further'} divergence${list.length ? '' : ' (the configs never diverge here)'}` };
      }
      const op = opAtRow(ins, view.at(hit));
      const message = violation ? `violation at op ${ins.ops.index(op)}` : `divergence ${list.indexOf(op) + 1}/${list.length}`;
      return place({ ...s, message }, hit, env.rowsVisible, 3);
    }
    default:
      return s;
  }
}
