/**
 * `foliolab inspect`: it opens on the first op where the configs part — one line saying what
 * changed and which series caused it, and each config's steps of a folio through that op side
 * by side, what differs marked — above the timeline of the trace (rows where the configs part
 * marked), the folio's state under each config, and the summary of both runs. State lives in
 * a reducer (state.ts), keys are named commands (keys.ts). Only the visible rows are rendered.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import React, { memo, useEffect, useMemo, useRef, useState } from 'react';
import type { Inspection, ProbeResult } from '../diff/inspect.js';
import { StateProbe } from '../diff/inspect.js';
import { KEYS } from './keys.js';
import { clip, rowText } from './nav.js';
import { cursorOp, initialState, reduce, rowView, type Env, type Pane, type TuiAction, type TuiState } from './state.js';
import { itemLines, storyItems, wrap } from './story.js';

export interface AppProps {
  ins: Inspection;
  /** Terminal size (defaults: the terminal's, else 80×24). */
  width?: number;
  height?: number;
  noColor?: boolean;
  /** Config names offered by `c`, and how to re-run the trace under a new pair (an inspection that may still be loading). */
  presets?: string[];
  rerun?: (base: string, withCfg: string) => Inspection | string;
  /** Why these two configs (the comparison policy's reason), shown in the summary and help. */
  pairReason?: string;
  /** Open on this op (numbered as `diff` numbers ops) instead of the first divergence. */
  openOp?: number;
  /** Milliseconds the cursor must rest before the inspector recomputes. */
  settleMs?: number;
}

export { KEYS };

const Row = memo(function Row(props: { text: string; selected: boolean; diverges: boolean; violation: boolean; noColor: boolean }) {
  const mark = props.selected ? '>' : props.violation ? '!' : props.diverges ? '*' : ' ';
  if (props.noColor) return <Text>{`${mark}${props.text}`}</Text>;
  return (
    <Text inverse={props.selected} color={props.violation ? 'red' : props.diverges ? 'yellow' : undefined}>
      {`${mark}${props.text}`}
    </Text>
  );
});

/** A piece of an inspector line: `diff` for a step one config has and the other lacks, `head` for the headline. */
export interface Seg {
  text: string;
  hl?: 'diff' | 'head';
}
export type Line = Seg[];

const plain = (text: string): Line => [{ text }];

/** The op number `diff` prints for kept op `i`. */
export function opNumber(ins: Inspection, i: number): number {
  return i >= 0 ? ins.ops.index(i) : -1;
}

/**
 * The inspector's lines: at an op where the configs part, the headline (wrapped, never cut),
 * which folio is shown, and each config's steps of that folio through the op side by side
 * (wrapped, the differing ones marked); then the folio's state after the op under each config.
 */
export function inspectorLines(ins: Inspection, result: ProbeResult | undefined, computing: string | undefined, op: number, width: number): Line[] {
  const lines: Line[] = [];
  if (op < 0) return [plain('no op before this row: the model has not started')];
  if (!result) return [plain(computing ?? 'settling…')];
  const { views, story } = result;
  const n = views.length;
  const colW = Math.max(20, Math.floor((width - 3 * (n - 1)) / n));
  const div = ins.divergentOps.indexOf(op);
  if (story.headline) for (const l of wrap(story.headline, width)) lines.push([{ text: l, hl: 'head' }]);
  const shown = views[0]?.folio?.pfn;
  const group = story.groups.find((g) => shown !== undefined && g.pfns.includes(shown));
  const order = story.groups.flatMap((g) => g.pfns);
  const where = `op ${opNumber(ins, op)}: ${views[0]?.opText ?? ''}${div >= 0 ? ` · divergence ${div + 1}/${ins.divergentOps.length}` : ''}`;
  const folioText = group
    ? `folio 0x${shown!.toString(16)} (${4 << group.order} KiB) ${order.indexOf(shown!) + 1}/${order.length} · group ${story.groups.indexOf(group) + 1}/${story.groups.length}: ${group.count} alike${group.differs ? ', steps differ' : ''}`
    : story.groups.length ? `${order.length} folio${order.length === 1 ? '' : 's'} changed by this op (] walks them)` : 'no folio changed by this op';
  for (const l of wrap(where, width)) lines.push(plain(l));
  for (const l of wrap(folioText, width)) lines.push(plain(l));
  // The steps, side by side, each item wrapped to its column.
  if (group) {
    const items = storyItems(group.steps);
    const cols = items.map((its, c) => {
      const L: Line[] = [[{ text: clip(`${views[c]!.config}: ${its.length ? `${group.steps[c]!.length} steps` : 'nothing'}`, colW) }]];
      for (const it of its) for (const t of itemLines(it, colW)) L.push([{ text: t, hl: it.differs ? 'diff' : undefined }]);
      return L;
    });
    const rowsN = Math.max(...cols.map((c) => c.length));
    for (let i = 0; i < rowsN; i++) {
      const line: Line = [];
      cols.forEach((c, k) => {
        const seg = c[i]?.[0] ?? { text: '' };
        line.push({ text: seg.text.padEnd(colW), hl: seg.hl });
        if (k < cols.length - 1) line.push({ text: ' │ ' });
      });
      lines.push(line);
    }
  }
  const cols = views.map((v, c) => {
    const L: string[] = [];
    L.push(`${v.config} after op ${opNumber(ins, v.op)}`);
    if (!group) L.push(`emitted: ${ins.emitted[c]!.at(v.op) || '(nothing)'}`);
    if (v.folio) {
      const f = v.folio;
      L.push(`folio #${f.id} pfn 0x${f.pfn.toString(16)} o${f.order} ref ${f.refcount} map ${f.mapcount}${f.entireMapcount ? ` entire ${f.entireMapcount}` : ''} pages ${f.pagesMapped}`);
      L.push(`${f.flags.join(' ')}${f.freed ? ' FREED' : ''} | lru ${f.lru}${f.deferredSplit ? ' | deferred split' : ''}${f.partiallyMapped ? ' | partial' : ''}${f.pendingTlbFlush ? ' | TLB flush pending' : ''}`);
    }
    if (v.note) L.push(v.note);
    const m = Math.max(v.entries.length, v.entriesBefore.length);
    // Slots of the folio's first table by index alone (the table named once); a slot in the
    // next table (a straddling folio) with its table, marked +.
    const first = (v.entries[0] ?? v.entriesBefore[0])?.where;
    const table = first?.startsWith('table ') ? first.slice(6).replace(/\[\d+\]$/, '') : undefined;
    if (m) L.push('entries: before → after (+ next table)');
    if (m && table) L.push(`[i]: slot i of table ${table}`);
    for (let i = 0; i < m; i++) {
      const b = v.entriesBefore[i];
      const a = v.entries[i];
      const e = a ?? b!;
      const where = e.where.replace(/^table /, '');
      L.push(`${e.nextTable ? '+' : ' '}${table && !e.nextTable && where.startsWith(`${table}[`) ? where.slice(table.length) : where} ${b?.text ?? '-'} → ${a?.text ?? '-'}`);
    }
    L.push(`rss ${v.rssPages} pages, split queue ${v.deferredQueue}${v.tlbBatchPending ? ', batched flush pending' : ''}${v.mmFlushPending ? ', mm flush pending' : ''}`);
    for (const x of v.vmas) L.push(`${x.here ? '▸' : ' '}vma ${x.start.toString(16)}-${x.end.toString(16)} ${x.flags}`);
    return L;
  });
  // Row i of every column side by side. A row whose cells differ between the configs is
  // wrapped (what differs is never cut off), its continuation lines beside each other; a row
  // alike in every config is cut to the column.
  const rowsN = Math.max(...cols.map((c) => c.length));
  for (let i = 0; i < rowsN; i++) {
    const alike = cols.every((c) => c[i] === cols[0]![i]);
    const cells = cols.map((c) => (c[i] === undefined ? [''] : alike ? [clip(c[i]!, colW)] : wrap(c[i]!, colW, '    ')));
    const h = Math.max(...cells.map((x) => x.length));
    for (let k = 0; k < h; k++) lines.push(plain(cells.map((x) => (x[k] ?? '').padEnd(colW)).join(' │ ')));
  }
  return lines;
}

function InspectorPane({ lines, scroll, height, noColor }: { lines: Line[]; scroll: number; height: number; noColor: boolean }): React.ReactElement {
  const top = Math.max(0, Math.min(scroll, lines.length - height));
  const shown = lines.slice(top, top + height);
  return (
    <Box flexDirection="column" height={height}>
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l.map((seg, k) =>
            noColor || !seg.hl ? (
              <Text key={k}>{seg.text}</Text>
            ) : (
              <Text key={k} color={seg.hl === 'diff' ? 'yellow' : 'cyan'} bold={seg.hl === 'head'}>
                {seg.text}
              </Text>
            ),
          )}
        </Text>
      ))}
    </Box>
  );
}

function SummaryPane({ ins, width, height, pairReason }: { ins: Inspection; width: number; height: number; pairReason?: string }): React.ReactElement {
  const [a, b] = ins.runs;
  const L: string[] = [];
  if (!a) {
    // The runs as a whole are known when the whole trace is read.
    L.push(ins.load?.error ? `the trace could not be read to the end: ${ins.load.error}` : `reading the trace: ${ins.rows.count} events, ${ins.ops.length} ops, ${ins.divergentOps.length} divergent ops so far`);
    return (
      <Box flexDirection="column" height={height}>
        {L.map((l, i) => (
          <Text key={i}>{clip(l, width)}</Text>
        ))}
      </Box>
    );
  }
  L.push(`${'counter'.padEnd(34)} ${clip(a!.config.name, 14).padStart(14)} ${clip(b?.config.name ?? '', 14).padStart(14)}   delta`);
  const names = [...new Set([...Object.keys(a!.counters), ...Object.keys(b?.counters ?? {})])].sort();
  const rows = names
    .map((n) => ({ n, x: a!.counters[n] ?? 0, y: b?.counters[n] ?? 0 }))
    .sort((p, q) => Math.abs(q.y - q.x) - Math.abs(p.y - p.x));
  const reasonLines = pairReason ? wrap(`pair: ${pairReason}`, width).length : 0;
  for (const r of rows.slice(0, Math.max(3, height - 8 - reasonLines))) L.push(`${clip(r.n, 34).padEnd(34)} ${String(r.x).padStart(14)} ${String(r.y).padStart(14)}   ${r.y - r.x > 0 ? '+' : ''}${r.y - r.x}`);
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
  L.push(`cost ${us(a!.cost.ns)} vs ${us(b?.cost.ns ?? 0)}${b && b.cost.ns ? ` (${(a!.cost.ns / b.cost.ns).toFixed(2)}×)` : ''}`);
  L.push(`violations ${a!.violationCount} vs ${b?.violationCount ?? 0}${ins.violations.length ? `: first ${ins.violations[0]!.code} at op ${ins.violations[0]!.op} (${ins.configs[ins.violations[0]!.config]!.name})` : ''}`);
  const fid = (r: typeof a) => (r!.fidelity.compared ? (r!.fidelity.matched ? `matched ${r!.fidelity.equal}/${r!.fidelity.compared}` : `${r!.fidelity.equal}/${r!.fidelity.compared}`) : 'nothing to compare');
  L.push(`fidelity vs the recording: ${fid(a)} | ${b ? fid(b) : ''}`);
  L.push(`${ins.events} events, ${ins.ops.length} ops, ${ins.divergentOps.length} divergent ops${ins.lostEvents ? `, ${ins.lostEvents} LOST-EVENT GAPS` : ''}`);
  if (pairReason) L.push(...wrap(`pair: ${pairReason}`, width));
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
  const presets = props.presets ?? [];

  // Layout: status line 1; the rest split between the timeline and the lower pane.
  const wide = width >= 160;
  const bodyH = Math.max(4, height - 1);
  const timelineHFor = (pane: Pane): number => (wide ? bodyH : pane === 'timeline' ? Math.max(3, Math.floor(bodyH * 0.5)) : Math.max(3, Math.floor(bodyH * 0.25)));

  const [ins, setIns] = useState(props.ins);
  const insRef = useRef(ins);
  // Keys can arrive faster than React re-renders (a paste, a test): the reducer runs on the
  // state in this ref, which always holds the latest.
  const stRef = useRef<TuiState | undefined>(undefined);
  const opening = (i: Inspection): TuiState => initialState(i, timelineHFor(i.divergentOps.length || props.openOp !== undefined ? 'inspector' : 'timeline'), props.openOp);
  stRef.current ??= opening(props.ins);
  const [st, setSt] = useState<TuiState>(stRef.current);
  // No key pressed since the inspection (re)opened: while it loads, the first screen follows
  // what has been read (the first divergence, or the op asked for, once they are there).
  const untouched = useRef(true);
  const [, setLoadTick] = useState(0);
  const [result, setResult] = useState<ProbeResult | undefined>();
  const resultRef = useRef<ProbeResult | undefined>(undefined);
  const [computing, setComputing] = useState<string | undefined>();
  const probe = useRef<StateProbe | undefined>(undefined);

  const view = rowView(ins, st.filter);
  const timelineH = timelineHFor(st.pane);
  const lowerH = wide ? bodyH : bodyH - timelineH;
  const timelineW = wide ? Math.floor(width * 0.5) : width;
  const lowerW = wide ? width - timelineW - 1 : width;
  const op = cursorOp(ins, st);

  const dispatch = (a: TuiAction): void => {
    if (a.type === 'key') untouched.current = false;
    const cur = stRef.current!;
    const r = resultRef.current;
    const env: Env = {
      ins: insRef.current,
      rowsVisible: timelineHFor(cur.pane),
      presets,
      story: r && r.story.op === cursorOp(insRef.current, cur) ? r.story : undefined,
      shownPfn: r?.views[0]?.folio?.pfn,
    };
    let next = reduce(cur, a, env);
    const eff = next.effect;
    if (eff) {
      next = reduce(next, { type: 'effect-done' }, env);
      if (eff.kind === 'quit') {
        stRef.current = next;
        exit();
        return;
      }
      const out = props.rerun?.(eff.base, eff.with);
      if (typeof out === 'string') next = { ...next, message: out };
      else if (out) {
        probe.current = undefined;
        insRef.current = out;
        setIns(out);
        untouched.current = true;
        const what = out.load?.loading ? 'reading the trace again' : `${out.divergentOps.length} divergent ops`;
        next = reduce(next, { type: 'replaced', ins: out, message: `configs: ${eff.base} vs ${eff.with}; ${what}` }, { ...env, ins: out });
      }
    }
    stRef.current = next;
    setSt(next);
  };

  // One render shortly after opening, before any key: the first key press then does not pay for
  // compiling the update path.
  const [, setWarm] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => setWarm(1), 20);
    return () => clearTimeout(t);
  }, []);
  // While the inspection loads: redraw as rows come in, and open where the first screen would
  // have opened had it all been read (unless a key moved the cursor since).
  const loading = ins.load?.loading ?? false;
  useEffect(() => {
    const load = ins.load;
    if (!load) return;
    const onLoad = (): void => {
      if (untouched.current && insRef.current === ins) {
        const cur = stRef.current!;
        const init = opening(ins);
        const stillLoading = ins.load?.loading ?? false;
        // The opening's own messages follow the load; one a re-run set stays, its count filled in at the end.
        let message = !cur.message || /^(divergence |looking for op )/.test(cur.message) ? init.message : cur.message;
        if (stillLoading && props.openOp !== undefined && init.pane !== 'inspector') message = `looking for op ${props.openOp}…`;
        if (!stillLoading) message = message.replace(/; reading the trace again$/, `; ${ins.divergentOps.length} divergent ops`);
        // Placed as before (the folio the inspector settled on stays): only the message follows.
        const next = init.cursor !== cur.cursor || init.pane !== cur.pane ? { ...init, inline: cur.inline, message } : message !== cur.message ? { ...cur, message } : undefined;
        if (next) {
          stRef.current = next;
          setSt(next);
        }
      }
      setLoadTick((t) => t + 1);
    };
    const off = load.subscribe(onLoad);
    if (!load.loading) onLoad();
    return () => {
      off();
    };
  }, [ins]);
  const violationSet = useMemo(() => new Set(ins.violations.map((v) => v.op)), [ins, ins.violations.length, loading]);

  // Inspector: recompute when the cursor rests, in slices, dropping stale work.
  useEffect(() => {
    resultRef.current = undefined;
    setResult(undefined);
    if (op < 0) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = setTimeout(() => {
      probe.current ??= new StateProbe(ins);
      const gen = probe.current.viewAfter(op, st.focusPfn);
      const stepOnce = (): void => {
        if (cancelled) return;
        const r = gen.next();
        if (r.done) {
          setComputing(undefined);
          // A divergent op opens on a folio whose steps differ, when the op's own pick has none.
          const differing = r.value.story.groups.find((g) => g.differs);
          const shown = r.value.views[0]?.folio?.pfn;
          if (st.focusPfn === undefined && differing && !r.value.story.groups.some((g) => g.differs && shown !== undefined && g.pfns.includes(shown))) {
            const next = { ...stRef.current!, focusPfn: differing.pfns[0] };
            stRef.current = next;
            setSt(next);
            return;
          }
          resultRef.current = r.value;
          setResult(r.value);
        } else {
          setComputing(`replaying to op ${opNumber(ins, op)}: ${r.value}/${op}`);
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
  }, [ins, op, st.focusPfn, props.settleMs]);

  useInput((input, key) => dispatch({ type: 'key', key: { ...key, input } }));

  // Timeline window: only the rows that fit are built.
  const lines: React.ReactElement[] = [];
  let used = 0;
  for (let i = st.top; i < view.count && used < timelineH; i++) {
    const r = view.at(i);
    const o = ins.rows.op.at(r);
    lines.push(<Row key={`r${r}`} text={rowText(ins, r, timelineW - 1)} selected={i === st.cursor} diverges={o >= 0 && ins.diverges[o] === 1} violation={o >= 0 && violationSet.has(o)} noColor={noColor} />);
    used++;
    if (st.inline && o >= 0 && ins.emitted.some((e) => e.at(o))) {
      for (let c = 0; c < ins.configs.length && used < timelineH; c++) {
        lines.push(<Text key={`r${r}c${c}`}>{clip(`      ${ins.configs[c]!.name}: ${ins.emitted[c]!.at(o) || '(nothing)'}`, timelineW)}</Text>);
        used++;
      }
    }
  }
  if (view.count === 0) lines.push(<Text key="empty">{st.filter ? `no row matches filter "${st.filter}" (f, then Enter on an empty line, clears it)` : 'the trace holds no events'}</Text>);

  const mode = st.mode;
  const where = `row ${view.count ? st.cursor + 1 : 0}/${view.count}${st.filter ? ` [${st.filter}]` : ''} op ${opNumber(ins, op)} | ${ins.divergentOps.length} div${st.pane !== 'timeline' ? ` | ${st.pane}` : ''}`;
  const load = ins.load;
  const reading = load?.error ? ` | the trace stopped: ${load.error}` : loading ? ` | reading ${load!.bytes >> 20} MiB` : '';
  const status = mode.kind === 'prompt' ? `${mode.what === 'search' ? '/' : 'filter: '}${mode.text}▏` : `${where} | ${st.message || '? help  q quit'} | ${ins.configs.map((c) => c.name).join(' vs ')}${reading}`;

  // Help and the config chooser take the whole body; otherwise timeline + inspector/summary.
  const overlay =
    mode.kind === 'help' ? (
      <Box flexDirection="column" height={bodyH}>
        <Text>{clip('keys (any key closes)', width)}</Text>
        {KEYS.map(([k, d]) => (
          <Text key={k}>{clip(`  ${k.padEnd(8)} ${d}`, width)}</Text>
        ))}
        {props.pairReason && KEYS.length + 1 + wrap(`pair: ${props.pairReason}`, width).length <= bodyH
          ? wrap(`pair: ${props.pairReason}`, width).map((l, i) => <Text key={`p${i}`}>{l}</Text>)
          : null}
      </Box>
    ) : mode.kind === 'configs' ? (
      <Box flexDirection="column" height={bodyH}>
        <Text>{clip(mode.base ? `base: ${mode.base} — now pick the config to compare with (Enter; Esc cancels)` : 'pick the base config (Enter; Esc cancels)', width)}</Text>
        {presets.slice(0, bodyH - 1).map((p, i) => (
          <Text key={p} inverse={!noColor && i === mode.pick}>{`${i === mode.pick ? '>' : ' '} ${p}`}</Text>
        ))}
      </Box>
    ) : undefined;
  const summaryH = Math.min(12, Math.floor(lowerH / 3));
  const lower = wide ? (
    <Box flexDirection="column">
      <InspectorPane lines={inspectorLines(ins, result, computing, op, lowerW)} scroll={st.inspScroll} height={lowerH - summaryH} noColor={noColor} />
      <SummaryPane ins={ins} width={lowerW} height={summaryH} pairReason={props.pairReason} />
    </Box>
  ) : st.pane === 'summary' ? (
    <SummaryPane ins={ins} width={lowerW} height={lowerH} pairReason={props.pairReason} />
  ) : (
    <InspectorPane lines={inspectorLines(ins, result, computing, op, lowerW)} scroll={st.inspScroll} height={lowerH} noColor={noColor} />
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
