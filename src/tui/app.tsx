/**
 * `foliolab inspect`: the timeline of the trace with the rows where the configs part marked,
 * the model state of the folio an op touched under each config (before and after the op),
 * and the summary of both runs. Only the visible rows are ever rendered.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import React, { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { Inspection, StateView } from '../diff/inspect.js';
import { StateProbe } from '../diff/inspect.js';
import { allRows, clip, filterRows, opAtRow, rowText, searchRows, seekOp, type RowView } from './nav.js';

export interface AppProps {
  ins: Inspection;
  /** Terminal size (defaults: the terminal's, else 80×24). */
  width?: number;
  height?: number;
  noColor?: boolean;
  /** Config names offered by `c`, and how to re-run the kept ops under a new pair. */
  presets?: string[];
  rerun?: (base: string, withCfg: string) => Inspection | string;
  /** Milliseconds the cursor must rest before the inspector recomputes. */
  settleMs?: number;
}

type Pane = 'timeline' | 'inspector' | 'summary';
type Mode = { kind: 'normal' } | { kind: 'prompt'; what: 'search' | 'filter'; text: string } | { kind: 'help' } | { kind: 'configs'; pick: number; base?: string };

export const KEYS: Array<[string, string]> = [
  ['j / k, ↓ / ↑', 'next / previous row'],
  ['PgDn / PgUp', 'a page down / up'],
  ['g / G', 'first / last row'],
  ['n / N', 'next / previous row where the configs diverge'],
  ['v', 'next row with a violation'],
  ['/', 'search: event name, address, pfn, task or pid (Enter: next hit)'],
  ['f', 'filter by event name or process (empty: clear)'],
  ['e', 'show each config\'s predicted kernel events inline'],
  ['tab', 'switch pane: timeline, inspector, summary'],
  ['c', 'choose the two configs'],
  ['?', 'this help'],
  ['q', 'quit'],
];

const Row = memo(function Row(props: { text: string; selected: boolean; diverges: boolean; violation: boolean; noColor: boolean }) {
  const mark = props.selected ? '>' : props.violation ? '!' : props.diverges ? '*' : ' ';
  if (props.noColor) return <Text>{`${mark}${props.text}`}</Text>;
  return (
    <Text inverse={props.selected} color={props.violation ? 'red' : props.diverges ? 'yellow' : undefined}>
      {`${mark}${props.text}`}
    </Text>
  );
});

/** The inspector's lines: the most telling first, so a short pane still shows the entries. */
export function inspectorLines(ins: Inspection, views: StateView[] | undefined, computing: string | undefined, op: number, width: number): string[] {
  const lines: string[] = [];
  if (op < 0) return ['no op before this row: the model has not started'];
  if (!views) return [computing ?? 'settling…'];
  const colW = Math.max(20, Math.floor((width - 3 * (views.length - 1)) / views.length));
  const cols = views.map((v, c) => {
    const L: string[] = [];
    L.push(`${v.config} · op ${v.op}: ${v.opText}`);
    L.push(`emitted: ${ins.emitted[c]![v.op] || '(nothing)'}`);
    if (v.folio) {
      const f = v.folio;
      L.push(`folio #${f.id} pfn 0x${f.pfn.toString(16)} o${f.order} ref ${f.refcount} map ${f.mapcount}${f.entireMapcount ? ` entire ${f.entireMapcount}` : ''} pages ${f.pagesMapped}`);
      L.push(`${f.flags.join(' ')}${f.freed ? ' FREED' : ''} | lru ${f.lru}${f.deferredSplit ? ' | deferred split' : ''}${f.partiallyMapped ? ' | partial' : ''}${f.pendingTlbFlush ? ' | TLB flush pending' : ''}`);
    }
    if (v.note) L.push(v.note);
    const n = Math.max(v.entries.length, v.entriesBefore.length);
    if (n) L.push('entries: before → after (+ next table)');
    for (let i = 0; i < n; i++) {
      const b = v.entriesBefore[i];
      const a = v.entries[i];
      const e = a ?? b!;
      L.push(`${e.nextTable ? '+' : ' '}${e.where.replace(/^table /, '')} ${b?.text ?? '-'} → ${a?.text ?? '-'}`);
    }
    L.push(`rss ${v.rssPages} pages, split queue ${v.deferredQueue}${v.tlbBatchPending ? ', batched flush pending' : ''}${v.mmFlushPending ? ', mm flush pending' : ''}`);
    for (const m of v.vmas) L.push(`${m.here ? '▸' : ' '}vma ${m.start.toString(16)}-${m.end.toString(16)} ${m.flags}`);
    return L;
  });
  const rowsN = Math.max(...cols.map((c) => c.length));
  for (let i = 0; i < rowsN; i++) lines.push(cols.map((c) => clip(c[i] ?? '', colW).padEnd(colW)).join(' │ '));
  return lines;
}

function InspectorPane({ lines, scroll, width, height }: { lines: string[]; scroll: number; width: number; height: number }): React.ReactElement {
  const shown = lines.slice(scroll, scroll + height);
  return (
    <Box flexDirection="column" height={height}>
      {shown.map((l, i) => (
        <Text key={i}>{clip(l, width)}</Text>
      ))}
    </Box>
  );
}

function SummaryPane({ ins, width, height }: { ins: Inspection; width: number; height: number }): React.ReactElement {
  const [a, b] = ins.runs;
  const L: string[] = [];
  L.push(`${'counter'.padEnd(34)} ${clip(a!.config.name, 14).padStart(14)} ${clip(b?.config.name ?? '', 14).padStart(14)}   delta`);
  const names = [...new Set([...Object.keys(a!.counters), ...Object.keys(b?.counters ?? {})])].sort();
  const rows = names
    .map((n) => ({ n, x: a!.counters[n] ?? 0, y: b?.counters[n] ?? 0 }))
    .sort((p, q) => Math.abs(q.y - q.x) - Math.abs(p.y - p.x));
  for (const r of rows.slice(0, Math.max(3, height - 8))) L.push(`${clip(r.n, 34).padEnd(34)} ${String(r.x).padStart(14)} ${String(r.y).padStart(14)}   ${r.y - r.x > 0 ? '+' : ''}${r.y - r.x}`);
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
  L.push(`cost ${us(a!.cost.ns)} vs ${us(b?.cost.ns ?? 0)}${b && b.cost.ns ? ` (${(a!.cost.ns / b.cost.ns).toFixed(2)}×)` : ''}`);
  L.push(`violations ${a!.violationCount} vs ${b?.violationCount ?? 0}${ins.violations.length ? `: first ${ins.violations[0]!.code} at op ${ins.violations[0]!.op} (${ins.configs[ins.violations[0]!.config]!.name})` : ''}`);
  const fid = (r: typeof a) => (r!.fidelity.compared ? (r!.fidelity.matched ? `matched ${r!.fidelity.equal}/${r!.fidelity.compared}` : `${r!.fidelity.equal}/${r!.fidelity.compared}`) : 'nothing to compare');
  L.push(`fidelity vs the recording: ${fid(a)} | ${b ? fid(b) : ''}`);
  L.push(`${ins.events} events, ${ins.ops.length} ops, ${ins.divergentOps.length} divergent ops${ins.lostEvents ? `, ${ins.lostEvents} LOST-EVENT GAPS` : ''}`);
  return (
    <Box flexDirection="column" height={height}>
      {L.slice(0, height).map((l, i) => (
        <Text key={i}>{clip(l, width)}</Text>
      ))}
    </Box>
  );
}

export function App(props: AppProps): React.ReactElement {
  const { exit } = useApp();
  const { stdout } = useStdout();
  const width = props.width ?? stdout?.columns ?? 80;
  const height = props.height ?? stdout?.rows ?? 24;
  const noColor = props.noColor ?? !!process.env.NO_COLOR;
  const [ins, setIns] = useState(props.ins);
  const [filter, setFilter] = useState('');
  const view: RowView = useMemo(() => (filter ? filterRows(ins, filter) : allRows(ins.rows.count)), [ins, filter]);
  const insRef = useRef(ins);
  insRef.current = ins;
  const [cursor, setCursorState] = useState(0);
  const [top, setTopState] = useState(0);
  const [pane, setPane] = useState<Pane>('timeline');
  const [mode, setModeState] = useState<Mode>({ kind: 'normal' });
  // Keys can arrive faster than React re-renders (a paste, a test): handlers read these refs,
  // which always hold the latest state.
  const cursorRef = useRef(0);
  const topRef = useRef(0);
  const modeRef = useRef<Mode>({ kind: 'normal' });
  const viewRef = useRef<RowView | undefined>(undefined);
  const setCursor = (c: number): void => {
    cursorRef.current = c;
    setCursorState(c);
  };
  const setTop = (t: number | ((t: number) => number)): void => {
    topRef.current = typeof t === 'function' ? t(topRef.current) : t;
    setTopState(topRef.current);
  };
  const setMode = (m: Mode): void => {
    modeRef.current = m;
    setModeState(m);
  };
  const [inline, setInline] = useState(false);
  const [message, setMessage] = useState('');
  const [views, setViews] = useState<StateView[] | undefined>();
  const [inspScroll, setInspScroll] = useState(0);
  const paneRef = useRef<Pane>('timeline');
  const [computing, setComputing] = useState<string | undefined>();
  const probe = useRef<StateProbe | undefined>(undefined);
  // One render shortly after opening, before any key: the first key press then does not pay for
  // compiling the update path.
  const [, setWarm] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => setWarm(1), 20);
    return () => clearTimeout(t);
  }, []);
  const violationOps = useMemo(() => [...new Set(ins.violations.map((v) => v.op))].sort((a, b) => a - b), [ins]);
  const violationSet = useMemo(() => new Set(violationOps), [violationOps]);

  // Layout: status line 1; the rest split between the timeline and the lower pane.
  const wide = width >= 160;
  const bodyH = Math.max(4, height - 1);
  const timelineH = wide ? bodyH : pane === 'timeline' ? Math.max(3, Math.floor(bodyH * 0.5)) : Math.max(3, Math.floor(bodyH * 0.25));
  const lowerH = wide ? bodyH : bodyH - timelineH;
  const timelineW = wide ? Math.floor(width * 0.5) : width;
  const lowerW = wide ? width - timelineW - 1 : width;

  const row = view.count ? view.at(Math.min(cursor, view.count - 1)) : -1;
  const op = row >= 0 ? opAtRow(ins, row) : -1;

  // Inspector: recompute when the cursor rests, in slices, dropping stale work.
  useEffect(() => {
    setViews(undefined);
    setInspScroll(0);
    if (op < 0) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = setTimeout(() => {
      probe.current ??= new StateProbe(ins);
      const gen = probe.current.viewAfter(op);
      const stepOnce = (): void => {
        if (cancelled) return;
        const r = gen.next();
        if (r.done) {
          setComputing(undefined);
          setViews(r.value);
        } else {
          setComputing(`replaying to op ${op}: ${r.value}/${op}`);
          timer = setTimeout(stepOnce, 0);
        }
      };
      stepOnce();
    }, props.settleMs ?? 80);
    return () => {
      cancelled = true;
      clearTimeout(start);
      if (timer) clearTimeout(timer);
    };
  }, [ins, op, props.settleMs]);

  const rowsVisible = timelineH;
  viewRef.current = view;
  const moveTo = (i: number): void => {
    const view = viewRef.current!;
    const c = Math.max(0, Math.min(view.count - 1, i));
    setCursor(c);
    // Rows the cursor may use: the inline lines under an op row take some of the window.
    const room = Math.max(1, rowsVisible - (inline ? ins.configs.length : 0));
    setTop((t) => (c < t ? c : c >= t + room ? Math.max(0, c - room + 1) : t));
  };

  useInput((input, key) => {
    const mode = modeRef.current;
    const cursor = cursorRef.current;
    const view = viewRef.current!;
    const ins = insRef.current;
    const row = view.count ? view.at(Math.min(cursor, view.count - 1)) : -1;
    if (mode.kind === 'help') {
      setMode({ kind: 'normal' });
      return;
    }
    if (mode.kind === 'prompt') {
      if (key.escape) return setMode({ kind: 'normal' });
      if (key.return) {
        setMode({ kind: 'normal' });
        if (mode.what === 'filter') {
          const before = row;
          setFilter(mode.text.trim());
          const nv = mode.text.trim() ? filterRows(ins, mode.text.trim()) : allRows(ins.rows.count);
          viewRef.current = nv;
          const at = Math.max(0, nv.indexOf(before));
          setCursor(at);
          setTop(Math.max(0, at - Math.floor(rowsVisible / 2)));
          setMessage(mode.text.trim() ? `filter "${mode.text.trim()}": ${nv.count} rows` : 'filter cleared');
          return;
        }
        const hit = searchRows(ins, view, cursor, mode.text);
        if (hit === undefined) setMessage(`"${mode.text}" not found`);
        else {
          setMessage(`found "${mode.text}"`);
          moveTo(hit);
          setTop(Math.max(0, hit - Math.floor(rowsVisible / 2)));
        }
        return;
      }
      if (key.backspace || key.delete) return setMode({ ...mode, text: mode.text.slice(0, -1) });
      if (input && !key.ctrl && !key.meta) setMode({ ...mode, text: mode.text + input });
      return;
    }
    if (mode.kind === 'configs') {
      const list = props.presets ?? [];
      if (key.escape || input === 'q') return setMode({ kind: 'normal' });
      if (key.downArrow || input === 'j') return setMode({ ...mode, pick: Math.min(list.length - 1, mode.pick + 1) });
      if (key.upArrow || input === 'k') return setMode({ ...mode, pick: Math.max(0, mode.pick - 1) });
      if (key.return && list.length) {
        const chosen = list[mode.pick]!;
        if (!mode.base) return setMode({ kind: 'configs', pick: mode.pick, base: chosen });
        setMode({ kind: 'normal' });
        const r = props.rerun?.(mode.base, chosen);
        if (typeof r === 'string') setMessage(r);
        else if (r) {
          probe.current = undefined;
          insRef.current = r;
          setIns(r);
          setMessage(`configs: ${mode.base} vs ${chosen}; ${r.divergentOps.length} divergent ops`);
        }
      }
      return;
    }
    if (input === 'q') return exit();
    if (input === '?') return setMode({ kind: 'help' });
    if (key.tab) {
      const next: Pane = paneRef.current === 'timeline' ? 'inspector' : paneRef.current === 'inspector' ? 'summary' : 'timeline';
      paneRef.current = next;
      return setPane(next);
    }
    // With the inspector focused, the movement keys scroll it.
    if (paneRef.current === 'inspector' && (input === 'j' || input === 'k' || key.downArrow || key.upArrow || key.pageDown || key.pageUp)) {
      const d = input === 'j' || key.downArrow ? 1 : input === 'k' || key.upArrow ? -1 : key.pageDown ? 10 : -10;
      return setInspScroll((x) => Math.max(0, x + d));
    }
    if (input === 'j' || key.downArrow) return moveTo(cursor + 1);
    if (input === 'k' || key.upArrow) return moveTo(cursor - 1);
    if (key.pageDown) return moveTo(cursor + rowsVisible - 1);
    if (key.pageUp) return moveTo(cursor - rowsVisible + 1);
    if (input === 'g') return moveTo(0);
    if (input === 'G') return moveTo(view.count - 1);
    if (input === 'e') return setInline((x) => !x);
    if (input === '/') return setMode({ kind: 'prompt', what: 'search', text: '' });
    if (input === 'f') return setMode({ kind: 'prompt', what: 'filter', text: filter });
    if (input === 'c') {
      if (!props.presets?.length) return setMessage('no configs to choose from');
      return setMode({ kind: 'configs', pick: 0 });
    }
    if (input === 'n' || input === 'N' || input === 'v') {
      const list = input === 'v' ? violationOps : ins.divergentOps;
      const hit = seekOp(ins, view, cursor, list, input === 'N' ? -1 : 1);
      if (hit === undefined) setMessage(input === 'v' ? 'no further violation' : `no ${input === 'N' ? 'earlier' : 'further'} divergence${list.length ? '' : ' (the configs never diverge here)'}`);
      else {
        setMessage(input === 'v' ? `violation at op ${opAtRow(ins, view.at(hit))}` : `divergence ${list.indexOf(opAtRow(ins, view.at(hit))) + 1}/${list.length}`);
        moveTo(hit);
        setTop(Math.max(0, hit - Math.floor(rowsVisible / 3)));
      }
    }
  });

  // Timeline window: only the rows that fit are built.
  const lines: React.ReactElement[] = [];
  let used = 0;
  for (let i = top; i < view.count && used < timelineH; i++) {
    const r = view.at(i);
    const o = ins.rows.op[r]!;
    lines.push(<Row key={`r${r}`} text={rowText(ins, r, timelineW - 1)} selected={i === cursor} diverges={o >= 0 && ins.diverges[o] === 1} violation={o >= 0 && violationSet.has(o)} noColor={noColor} />);
    used++;
    if (inline && o >= 0 && ins.emitted.some((e) => e[o])) {
      for (let c = 0; c < ins.configs.length && used < timelineH; c++) {
        lines.push(<Text key={`r${r}c${c}`}>{clip(`      ${ins.configs[c]!.name}: ${ins.emitted[c]![o] || '(nothing)'}`, timelineW)}</Text>);
        used++;
      }
    }
  }
  if (view.count === 0) lines.push(<Text key="empty">{filter ? `no row matches filter "${filter}" (f, then Enter on an empty line, clears it)` : 'the trace holds no events'}</Text>);

  const where = `row ${view.count ? cursor + 1 : 0}/${view.count}${filter ? ` [${filter}]` : ''} op ${op} | ${ins.divergentOps.length} div${pane !== 'timeline' ? ` | ${pane}` : ''}`;
  const status = mode.kind === 'prompt' ? `${mode.what === 'search' ? '/' : 'filter: '}${mode.text}▏` : `${where} | ${message || '? help  q quit'} | ${ins.configs.map((c) => c.name).join(' vs ')}`;

  // Help and the config chooser take the whole body; otherwise timeline + inspector/summary.
  const overlay =
    mode.kind === 'help' ? (
      <Box flexDirection="column" height={bodyH}>
        <Text>{clip('keys (any key closes)', width)}</Text>
        {KEYS.map(([k, d]) => (
          <Text key={k}>{clip(`  ${k.padEnd(14)} ${d}`, width)}</Text>
        ))}
      </Box>
    ) : mode.kind === 'configs' ? (
      <Box flexDirection="column" height={bodyH}>
        <Text>{clip(mode.base ? `base: ${mode.base} — now pick the config to compare with (Enter; Esc cancels)` : 'pick the base config (Enter; Esc cancels)', width)}</Text>
        {(props.presets ?? []).slice(0, bodyH - 1).map((p, i) => (
          <Text key={p} inverse={!noColor && i === mode.pick}>{`${i === mode.pick ? '>' : ' '} ${p}`}</Text>
        ))}
      </Box>
    ) : undefined;
  const lower = wide ? (
    <Box flexDirection="column">
      <InspectorPane lines={inspectorLines(ins, views, computing, op, lowerW)} scroll={inspScroll} width={lowerW} height={lowerH - Math.min(12, Math.floor(lowerH / 3))} />
      <SummaryPane ins={ins} width={lowerW} height={Math.min(12, Math.floor(lowerH / 3))} />
    </Box>
  ) : pane === 'summary' ? (
    <SummaryPane ins={ins} width={lowerW} height={lowerH} />
  ) : (
    <InspectorPane lines={inspectorLines(ins, views, computing, op, lowerW)} scroll={inspScroll} width={lowerW} height={lowerH} />
  );

  return (
    <Box flexDirection="column" width={width}>
      {overlay ?? (
        <Box flexDirection={wide ? 'row' : 'column'}>
          <Box flexDirection="column" height={timelineH} width={timelineW}>
            {lines}
          </Box>
          {wide ? <Box width={1} /> : null}
          <Box flexDirection="column" width={lowerW} height={lowerH}>
            {lower}
          </Box>
        </Box>
      )}
      <Text inverse={!noColor}>{clip(status, width).padEnd(width)}</Text>
    </Box>
  );
}
