/**
 * The race-witness inspector's state and the one function that changes it, as state.ts is for
 * the trace inspector: `reduceWitness(state, key, env)` returns the next state and never draws.
 */
import type { SteppedWitness } from '../race/witness.js';
import { Command, commandFor, WITNESS_BINDINGS, type KeyPress } from './keys.js';

export interface WitnessTuiState {
  /** Which witness of the file. */
  w: number;
  /** Row (schedule entry) under the cursor, and the first row drawn. */
  cursor: number;
  top: number;
  help: boolean;
  quit: boolean;
  message: string;
}

export interface WitnessEnv {
  witnesses: SteppedWitness[];
  /** Step rows on screen. */
  rowsVisible: number;
}

/** Rows holding a step of the racing pair (the first side's pair; the other side's if it has none). */
export function racingRows(sw: SteppedWitness): number[] {
  for (let k = 0; k < sw.sides.length; k++) {
    const rows: number[] = [];
    sw.rows.forEach((r, i) => {
      const c = r.cells[k];
      if (c?.step !== undefined && sw.sides[k]!.steps[c.step]!.racing) rows.push(i);
    });
    if (rows.length) return rows;
  }
  return [];
}

/** The state a witness opens in: on the first step of its racing pair (the first row without one). */
export function openWitness(env: WitnessEnv, w: number): WitnessTuiState {
  const sw = env.witnesses[w]!;
  const pair = racingRows(sw);
  const cursor = pair[0] ?? 0;
  const message = pair.length ? 'on the racing pair (r: its other step)' : '';
  return { w, cursor, top: Math.max(0, cursor - Math.floor(env.rowsVisible / 3)), help: false, quit: false, message };
}

function moveTo(s: WitnessTuiState, env: WitnessEnv, i: number): WitnessTuiState {
  const n = env.witnesses[s.w]!.rows.length;
  const c = Math.max(0, Math.min(n - 1, i));
  const room = Math.max(1, env.rowsVisible);
  const top = c < s.top ? c : c >= s.top + room ? c - room + 1 : s.top;
  return { ...s, cursor: c, top, message: '' };
}

export function reduceWitness(s: WitnessTuiState, key: KeyPress, env: WitnessEnv): WitnessTuiState {
  if (s.help) return { ...s, help: false };
  const cmd = commandFor(key, WITNESS_BINDINGS);
  const page = Math.max(1, env.rowsVisible - 1);
  switch (cmd) {
    case Command.Down:
      return moveTo(s, env, s.cursor + 1);
    case Command.Up:
      return moveTo(s, env, s.cursor - 1);
    case Command.PageDown:
      return moveTo(s, env, s.cursor + page);
    case Command.PageUp:
      return moveTo(s, env, s.cursor - page);
    case Command.First:
      return moveTo(s, env, 0);
    case Command.Last:
      return moveTo(s, env, Number.MAX_SAFE_INTEGER);
    case Command.RacingPair: {
      const pair = racingRows(env.witnesses[s.w]!);
      if (!pair.length) return { ...s, message: 'no racing pair in this schedule' };
      const next = pair.find((r) => r > s.cursor) ?? pair[0]!;
      const m = moveTo(s, env, next);
      return { ...m, message: `racing pair: step ${pair.indexOf(next) + 1} of ${pair.length}` };
    }
    case Command.NextWitness:
    case Command.PrevWitness: {
      const n = env.witnesses.length;
      if (n === 1) return { ...s, message: 'the file holds one witness' };
      return openWitness(env, (s.w + (cmd === Command.NextWitness ? 1 : n - 1)) % n);
    }
    case Command.Help:
      return { ...s, help: true };
    case Command.Quit:
      return { ...s, quit: true };
    default:
      return s;
  }
}
