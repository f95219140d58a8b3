/**
 * `foliolab inspect witness.json`: a race witness stepped through. The schedule's steps as a
 * list (one row per schedule entry; the witness's own config on the left, the same schedule
 * re-executed under another config on the right), the racing pair marked ◆ and the step under
 * the cursor in full below: CPU and thread, `file@function`, the locks held after it, what it
 * does and the state it changed. The keys are the trace inspector's (keys.ts, one table for
 * the handler and the help); state changes in witness-state.ts.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import React, { useRef, useState } from 'react';
import type { SteppedWitness } from '../race/witness.js';
import { WITNESS_BINDINGS } from './keys.js';
import { clip } from './nav.js';
import { openWitness, reduceWitness, type WitnessEnv, type WitnessTuiState } from './witness-state.js';
import { cellDetail, sideVerdict, stepHead, wrapText } from './witness-text.js';

export interface WitnessAppProps {
  witnesses: SteppedWitness[];
  width?: number;
  height?: number;
  noColor?: boolean;
}

interface Layout {
  colW: number;
  header: string[][];
  listH: number;
  detailH: number;
}

/** Where everything goes on a width × height screen (the status line is the last row). */
export function witnessLayout(sw: SteppedWitness, width: number, height: number): Layout {
  const n = sw.sides.length;
  const colW = n === 1 ? width : Math.floor((width - 3) / 2);
  const header = sw.sides.map((_, k) => wrapText(sideVerdict(sw, k, true), colW).slice(0, 3));
  const headerH = 1 + Math.max(...header.map((h) => h.length));
  const bodyH = Math.max(8, height - 1);
  const listH = Math.max(3, Math.floor((bodyH - headerH - 2) * 0.45));
  const detailH = Math.max(2, bodyH - headerH - 2 - listH);
  return { colW, header, listH, detailH };
}

/** Cells of a row of columns, padded to the column width and joined by │. */
function joinCols(cells: string[], colW: number): string {
  return cells.length === 1 ? cells[0]! : cells.map((c) => clip(c, colW).padEnd(colW)).join(' │ ');
}

export function WitnessApp(props: WitnessAppProps): React.ReactElement {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const width = props.width ?? stdout?.columns ?? 80;
  const height = props.height ?? stdout?.rows ?? 24;
  const noColor = props.noColor ?? !!process.env.NO_COLOR;
  const layoutOf = (w: number): Layout => witnessLayout(props.witnesses[w]!, width, height);
  const envOf = (w: number): WitnessEnv => ({ witnesses: props.witnesses, rowsVisible: layoutOf(w).listH });
  // Keys can come faster than renders: the reducer runs on the latest state, kept here.
  const stRef = useRef<WitnessTuiState | undefined>(undefined);
  stRef.current ??= openWitness(envOf(0), 0);
  const [st, setSt] = useState(stRef.current);

  useInput((input, key) => {
    const cur = stRef.current!;
    const next = reduceWitness(cur, { ...key, input }, envOf(cur.w));
    stRef.current = next;
    setSt(next);
    if (next.quit) exit();
  });

  const sw = props.witnesses[st.w]!;
  const { colW, header, listH, detailH } = layoutOf(st.w);
  const n = sw.sides.length;
  const row = sw.rows[st.cursor]!;
  const status = `step ${st.cursor + 1}/${sw.rows.length} | witness ${st.w + 1}/${props.witnesses.length} ${sw.scenario} ${sw.invariant} | ${st.message || '? help  q quit'}`;

  if (st.help) {
    return (
      <Box flexDirection="column" width={width}>
        <Box flexDirection="column" height={Math.max(8, height - 1)}>
          <Text>{clip('keys (any key closes)', width)}</Text>
          {WITNESS_BINDINGS.map((b) => (
            <Text key={b.command}>{clip(`  ${b.label.padEnd(8)} ${b.help}`, width)}</Text>
          ))}
          <Text>{clip('  * a preemption (the thread before it could have gone on); ◆ the racing pair', width)}</Text>
        </Box>
        <Text inverse={!noColor}>{clip(status, width).padEnd(width)}</Text>
      </Box>
    );
  }

  const headRows: string[] = [];
  const hH = Math.max(...header.map((h) => h.length));
  for (let i = 0; i < hH; i++) headRows.push(joinCols(header.map((h) => h[i] ?? ''), colW));

  const list: React.ReactElement[] = [];
  for (let i = st.top; i < Math.min(sw.rows.length, st.top + listH); i++) {
    const r = sw.rows[i]!;
    const sel = i === st.cursor;
    const segs = r.cells.map((c, k) => {
      const s = c.step !== undefined ? sw.sides[k]!.steps[c.step]! : undefined;
      const text = clip(`${sel ? '>' : ' '}${s ? stepHead(s) : `       ${r.thread}: — ${c.why ?? ''}`}`, colW).padEnd(n === 1 ? 0 : colW);
      return { text, racing: s?.racing ?? false, missing: !s };
    });
    list.push(
      <Text key={i} wrap="truncate">
        {segs.map((g, k) => (
          <React.Fragment key={k}>
            {k > 0 ? <Text>{' │ '}</Text> : null}
            {noColor ? (
              <Text>{g.text}</Text>
            ) : (
              <Text inverse={sel} color={g.racing ? 'magenta' : g.missing ? 'gray' : undefined} bold={g.racing}>
                {g.text}
              </Text>
            )}
          </React.Fragment>
        ))}
      </Text>,
    );
  }

  const details = row.cells.map((c, k) => cellDetail(sw, k, c).flatMap((l) => wrapText(l, colW, '    ')));
  const dH = Math.max(...details.map((d) => d.length));
  const detailRows: string[] = [];
  for (let i = 0; i < Math.min(dH, detailH); i++) {
    const cut = i === detailH - 1 && dH > detailH;
    detailRows.push(joinCols(details.map((d) => (cut && d.length > detailH ? '  …' : d[i] ?? '')), colW));
  }

  const sep = n === 1 ? '─'.repeat(width) : `${'─'.repeat(colW)}─┼─${'─'.repeat(colW)}`;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold={!noColor}>{clip(`${sw.scenario} "${sw.title}" — ${sw.invariant}${sw.otherReason ? ` · right: ${sw.otherReason}` : ''}`, width)}</Text>
      {headRows.map((h, i) => (
        <Text key={`h${i}`}>{h}</Text>
      ))}
      <Text>{sep}</Text>
      <Box flexDirection="column" height={listH}>
        {list}
      </Box>
      <Text>{sep}</Text>
      <Box flexDirection="column" height={detailH}>
        {detailRows.map((d, i) => (
          <Text key={`d${i}`}>{d}</Text>
        ))}
      </Box>
      <Text inverse={!noColor}>{clip(status, width).padEnd(width)}</Text>
    </Box>
  );
}
