/**
 * `foliolab parse` in one function: read a whole trace, decode every payload, and count.
 */
import type { Readable } from 'node:stream';
import type { Diagnostic } from '../core/diagnostics.js';
import { CF, chunkedBatches, chunkPlan, CI, rowTs, type ColumnSlice } from './chunked.js';
import { readTrace, type Layout, type LostRecord, type TraceEvent, type TraceParseOptions, type TraceStats, type TruncatedInput } from './index.js';

export interface TaskCount {
  comm: string;
  pid: number;
  tgid?: number;
  events: number;
}

export interface TraceSummary {
  file: string;
  format: Layout;
  formatDetected: boolean;
  release: string | null;
  events: number;
  byName: Record<string, number>;
  tasks: TaskCount[];
  cpus: Record<string, number>;
  firstTs: string | null;
  lastTs: string | null;
  spanNs: number;
  lines: number;
  bytes: number;
  header: TraceStats['header'];
  /**
   * Events known to be lost: the larger of the ring buffer's overwrite count (entries-written
   * minus entries-in-buffer, which covers every CPU) and the sum of the counted gaps.
   */
  lostEvents: number;
  /** Gaps whose size the kernel did not give (each may hide any number of events). */
  lostEventsUnknown: number;
  lost: LostRecord[];
  /** The input was cut short: events after this point are missing. */
  truncated: TruncatedInput | null;
  /** False when events are known to be missing (lost, overwritten, cut input). */
  complete: boolean;
  reordered: number;
  lateEvents: number;
  unparsedLines: number;
  /** Events per name decoded by the generic key=value fallback. */
  fallback: Record<string, number>;
  /** Events per name per decode method. */
  decodedBy: Record<string, Record<string, number>>;
  diagnosticCounts: Record<string, number>;
  diagnostics: Array<{ file: string; line: number; column: number; code: string; severity: string; message: string }>;
}

export async function summariseTrace(
  input: string | Readable,
  opts: TraceParseOptions,
  onEvent?: (e: TraceEvent) => void,
): Promise<TraceSummary> {
  const byName = new Map<string, number>();
  // Tasks by name and pid, in the order they first come.
  const taskIndex = new Map<string, Map<number, TaskCount>>();
  const taskList: TaskCount[] = [];
  const cpus = new Map<number, number>();
  const task = (comm: string, pid: number, tgid: number | undefined): void => {
    let byPid = taskIndex.get(comm);
    if (byPid === undefined) taskIndex.set(comm, (byPid = new Map()));
    const t = byPid.get(pid);
    if (t) t.events++;
    else {
      const n: TaskCount = tgid !== undefined ? { comm, pid, tgid, events: 1 } : { comm, pid, events: 1 };
      byPid.set(pid, n);
      taskList.push(n);
    }
  };
  let first: { ts: string; tsNs: number } | undefined;
  let last: TraceEvent | ColumnSlice | undefined;
  const count = (e: TraceEvent): void => {
    byName.set(e.name, (byName.get(e.name) ?? 0) + 1);
    task(e.comm, e.pid, e.tgid);
    cpus.set(e.cpu, (cpus.get(e.cpu) ?? 0) + 1);
    if (!first) first = e;
    last = e;
    onEvent?.(e);
  };
  // Rows of a chunked parse, counted from their columns (no event is made).
  const countRows = (sl: ColumnSlice): void => {
    const { F, I, strs } = sl.c;
    for (let i = sl.from; i < sl.to; i++) {
      const b = i * CI;
      const name = strs[I[b + 11]!]!;
      byName.set(name, (byName.get(name) ?? 0) + 1);
      const tgid = I[b + 1]!;
      task(strs[I[b + 12]!]!, I[b]!, tgid < 0 ? undefined : tgid);
      const cpu = I[b + 2]!;
      cpus.set(cpu, (cpus.get(cpu) ?? 0) + 1);
    }
    if (sl.to > sl.from) {
      if (!first) first = { ts: rowTs(sl.c, sl.from), tsNs: F[sl.from * CF]! };
      last = sl;
    }
  };
  const out: { stats?: TraceStats } = {};
  const o = { ...opts, decodeAll: true };
  const plan = onEvent ? undefined : chunkPlan(input, o);
  if (plan) {
    const it = chunkedBatches(plan, o);
    for (;;) {
      const r = await it.next();
      if (r.done) {
        out.stats = r.value;
        break;
      }
      if (Array.isArray(r.value)) for (const e of r.value) count(e);
      else countRows(r.value);
    }
  } else {
    for await (const batch of readTrace(input, o, out)) for (const e of batch) count(e);
  }
  const lastSeen: TraceEvent | ColumnSlice | undefined = last;
  const lastTs =
    lastSeen === undefined ? undefined : 'c' in lastSeen ? { ts: rowTs(lastSeen.c, lastSeen.to - 1), tsNs: lastSeen.c.F[(lastSeen.to - 1) * CF]! } : lastSeen;
  const tasks = taskList;
  const st = out.stats!;
  const fallback: Record<string, number> = {};
  const decodedBy: Record<string, Record<string, number>> = {};
  for (const [name, m] of [...st.methods].sort((a, b) => a[0].localeCompare(b[0]))) {
    const nz = Object.fromEntries(Object.entries(m).filter(([, n]) => n > 0));
    decodedBy[name] = nz;
    if (m.generic > 0) fallback[name] = m.generic;
  }
  const diags: Diagnostic[] = [...st.diagnostics.kept].sort((a, b) => a.line - b.line || a.column - b.column);
  return {
    file: opts.file,
    format: st.layout,
    formatDetected: st.layoutDetected,
    release: st.release ?? null,
    events: st.events,
    byName: Object.fromEntries([...byName].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    tasks: tasks.sort((a, b) => b.events - a.events),
    cpus: Object.fromEntries([...cpus].sort((a, b) => a[0] - b[0]).map(([c, n]) => [String(c), n])),
    firstTs: first?.ts ?? null,
    lastTs: lastTs?.ts ?? null,
    spanNs: first && lastTs ? lastTs.tsNs - first.tsNs : 0,
    lines: st.lines,
    bytes: st.bytes,
    header: st.header,
    lostEvents: lostCount(st.lost),
    lostEventsUnknown: st.lost.filter((l) => l.count === null).length,
    lost: st.lost,
    truncated: st.truncated ?? null,
    complete: st.complete,
    reordered: st.reordered,
    lateEvents: st.late,
    unparsedLines: st.unparsedLines,
    fallback,
    decodedBy,
    diagnosticCounts: st.diagnostics.countsObject(),
    diagnostics: diags.map((d) => ({ file: d.file, line: d.line, column: d.column, code: d.code, severity: d.severity, message: d.message })),
  };
}

/**
 * Events lost, from the records of one input. The header's overwrite count is the ring
 * buffer's total over every CPU (its overruns); counted gaps (`[LOST N EVENTS]`, trace.dat
 * pages that stored their count) may be part of the same loss, so the two are not added.
 */
export function lostCount(lost: readonly LostRecord[]): number {
  let gaps = 0;
  let overwritten = 0;
  for (const l of lost) {
    if (l.kind === 'overwritten') overwritten += l.count ?? 0;
    else gaps += l.count ?? 0;
  }
  return Math.max(gaps, overwritten);
}
