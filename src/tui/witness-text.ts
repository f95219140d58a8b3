/**
 * A stepped race witness as text: the cells of the inspector's list and detail, and the whole
 * witness for a standard output that is not a terminal (`foliolab inspect witness.json | less`).
 */
import type { SideStep, SteppedWitness } from '../race/witness.js';

/** `file@function` → the function alone (the list's short form). */
export function fnName(fn: string): string {
  const at = fn.lastIndexOf('@');
  return at >= 0 ? fn.slice(at + 1) : fn;
}

/** A step's one-line head: number, preemption mark, racing mark, thread, CPU, function. */
export function stepHead(s: SideStep, long = false): string {
  return `${String(s.n).padStart(3)}${s.preempts ? '*' : ' '}${s.racing ? '◆' : ' '}${s.thread} cpu${s.cpu} ${long ? s.fn : fnName(s.fn)}`;
}

/** What a side's verdict on this schedule is, in one line. */
export function sideVerdict(sw: SteppedWitness, k: number, short = false): string {
  const s = sw.sides[k]!;
  const p = `${s.preemptions} preemption${s.preemptions === 1 ? '' : 's'}, ${s.steps.length} steps`;
  const stuck = s.stuck.length ? `; DEADLOCK: ${s.stuck.join(', ')} cannot go on` : '';
  return `${s.config}: ${short ? '' : `${sw.invariant} `}${s.failure ? `fails — ${s.failure}` : 'holds'} (${p}${stuck})`;
}

/** The detail of one cell: the step in full (CPU, file@function, locks, what, diff), or why there is none. */
export function cellDetail(sw: SteppedWitness, k: number, cell: { step?: number; why?: string }): string[] {
  if (cell.step === undefined) return [`— ${cell.why ?? ''}`];
  const s = sw.sides[k]!.steps[cell.step]!;
  const out = [`step ${s.n}${s.preempts ? ' (a preemption)' : ''}: ${s.thread} on cpu${s.cpu}`, s.fn, `locks held: ${s.locks.length ? s.locks.join(', ') : 'none'}`, s.what];
  if (s.racing) out.push(`◆ racing pair with step ${s.racesWith}`);
  if (s.diff.length) out.push(...s.diff.map((d) => `  ${d}`));
  else out.push('  (no state change)');
  return out;
}

/** Wrap `text` to `width` columns, continuation lines indented by `indent`. */
export function wrapText(text: string, width: number, indent = '  '): string[] {
  const w = Math.max(8, width);
  if (text.length <= w) return [text];
  const out: string[] = [];
  let rest = text;
  let first = true;
  while (rest.length) {
    const room = first ? w : w - indent.length;
    if (rest.length <= room) {
      out.push(first ? rest : indent + rest);
      break;
    }
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= room / 3) cut = room;
    out.push((first ? '' : indent) + rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, '');
    first = false;
  }
  return out;
}

/** The whole witness as text: every row, each side's step in full beside the other's. */
export function witnessPlainText(sw: SteppedWitness, width = 160): string {
  const out: string[] = [];
  const n = sw.sides.length;
  const colW = n === 1 ? width : Math.floor((width - 3) / 2);
  out.push(`${sw.scenario} "${sw.title}" — ${sw.invariant}`);
  sw.sides.forEach((_, k) => out.push(...wrapText(sideVerdict(sw, k), width)));
  if (sw.otherReason) out.push(...wrapText(`compared with ${sw.sides[1]?.config}: ${sw.otherReason}`, width));
  out.push('(* a preemption: the thread before it could have gone on; ◆ the racing pair)');
  if (n > 1) out.push(`${sw.sides.map((s) => s.config.padEnd(colW).slice(0, colW)).join(' │ ')}`, `${'─'.repeat(colW)}─┼─${'─'.repeat(colW)}`);
  for (const r of sw.rows) {
    const cols = r.cells.map((c, k) => {
      if (c.step === undefined) return wrapText(`       ${r.thread}: — ${c.why ?? ''}`, colW, '         ');
      const s = sw.sides[k]!.steps[c.step]!;
      const locks = s.locks.length ? ` [${s.locks.join(', ')}]` : '';
      return [...wrapText(`${stepHead(s, true)}${locks}: ${s.what}`, colW, '         '), ...s.diff.flatMap((d) => wrapText(`         ${d}`, colW, '           '))];
    });
    const h = Math.max(...cols.map((c) => c.length));
    for (let i = 0; i < h; i++) out.push(n === 1 ? cols[0]![i]! : `${(cols[0]![i] ?? '').padEnd(colW)} │ ${cols[1]![i] ?? ''}`.trimEnd());
  }
  return out.join('\n');
}
