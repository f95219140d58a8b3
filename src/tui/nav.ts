/**
 * The inspector's navigation, apart from rendering: which rows are visible (a filter gives an
 * index list; no filter is the identity, never a million-entry array), where the next
 * divergence, violation or search hit is, and how a row is drawn as text.
 */
import type { Inspection } from '../diff/inspect.js';

export interface RowView {
  /** Number of visible rows. */
  count: number;
  /** Trace row of visible row `i`. */
  at(i: number): number;
  /** Visible index of trace row `r` (or of the nearest visible row after it); -1 if none. */
  indexOf(r: number): number;
}

export function allRows(n: number): RowView {
  return { count: n, at: (i) => i, indexOf: (r) => (r < n ? r : -1) };
}

/** Rows whose event name, task name or pid matches `term` (`name`, `comm`, or a number). */
export function filterRows(ins: Inspection, term: string): RowView {
  const R = ins.rows;
  const t = term.trim();
  const num = /^\d+$/.test(t) ? Number(t) : undefined;
  const nameIds = new Set<number>();
  R.strings.forEach((s, i) => {
    if (s === t || s.includes(t)) nameIds.add(i);
  });
  const keep: number[] = [];
  for (let r = 0; r < R.count; r++) {
    if (nameIds.has(R.name.at(r)) || nameIds.has(R.comm.at(r)) || (num !== undefined && R.pid.at(r) === num)) keep.push(r);
  }
  const idx = Int32Array.from(keep);
  return {
    count: idx.length,
    at: (i) => idx[i]!,
    indexOf: (r) => {
      let lo = 0;
      let hi = idx.length;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (idx[m]! < r) lo = m + 1;
        else hi = m;
      }
      return lo < idx.length ? lo : -1;
    },
  };
}

/** The op in force at trace row `r`: the last op that started at or before it (-1: none yet). */
export function opAtRow(ins: Inspection, r: number): number {
  let lo = 0;
  let hi = ins.ops.length - 1;
  let best = -1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    const row = ins.ops.row(m);
    if (row >= 0 && row <= r) {
      best = m;
      lo = m + 1;
    } else if (row < 0) {
      // An op without a row (lifted from state, not an event): look left of it.
      hi = m - 1;
    } else hi = m - 1;
  }
  return best;
}

/** Visible index of the next (dir 1) or previous (dir -1) row that starts one of `opList`'s ops. */
export function seekOp(ins: Inspection, view: RowView, cursor: number, opList: number[], dir: 1 | -1): number | undefined {
  const cur = view.at(cursor);
  const rows = opList.map((i) => ins.ops.row(i)).filter((r) => r >= 0);
  const cands = dir === 1 ? rows.filter((r) => r > cur) : rows.filter((r) => r < cur).reverse();
  for (const r of cands) {
    const v = view.indexOf(r);
    if (v >= 0 && view.at(v) === r) return v;
  }
  return undefined;
}

/** Search forward (wrapping) for `term` in the event name, task, pid or payload (hex addresses, pfns). */
export function searchRows(ins: Inspection, view: RowView, from: number, term: string): number | undefined {
  const R = ins.rows;
  const t = term.trim().toLowerCase();
  if (!t) return undefined;
  const hex = /^(?:0x)?([0-9a-f]+)$/.exec(t)?.[1];
  const match = (r: number): boolean => {
    const p = R.payload.at(r).toLowerCase();
    if (p.includes(t)) return true;
    if (hex && (p.includes(`0x${hex}`) || p.includes(`=${hex}`) || p.includes(`:${hex}`))) return true;
    return R.strings[R.name.at(r)]!.includes(t) || R.strings[R.comm.at(r)]!.toLowerCase().includes(t) || String(R.pid.at(r)) === t;
  };
  for (let k = 1; k <= view.count; k++) {
    const i = (from + k) % view.count;
    if (match(view.at(i))) return i;
  }
  return undefined;
}

export function rowText(ins: Inspection, r: number, width: number): string {
  const R = ins.rows;
  const task = `${R.strings[R.comm.at(r)]}-${R.pid.at(r)}`;
  const s = `${R.ts.at(r).toFixed(6).padStart(13)} ${task.slice(-18).padStart(18)} [${String(R.cpu.at(r)).padStart(3, '0')}] ${R.strings[R.name.at(r)]}: ${R.payload.at(r)}`;
  return s.length > width ? `${s.slice(0, Math.max(0, width - 1))}…` : s;
}

export function clip(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, Math.max(0, width - 1))}…` : s;
}
