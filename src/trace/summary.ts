/**
 * `foliolab parse` in one function: read a whole trace, decode every payload, and count.
 */
import type { Readable } from 'node:stream';
import type { Diagnostic } from '../core/diagnostics.js';
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
  const tasks = new Map<string, TaskCount>();
  const cpus = new Map<number, number>();
  let first: TraceEvent | undefined;
  let last: TraceEvent | undefined;
  const out: { stats?: TraceStats } = {};
  for await (const batch of readTrace(input, { ...opts, decodeAll: true }, out)) {
    for (const e of batch) {
      byName.set(e.name, (byName.get(e.name) ?? 0) + 1);
      const key = `${e.comm}\u0000${e.pid}`;
      const t = tasks.get(key);
      if (t) t.events++;
      else tasks.set(key, e.tgid !== undefined ? { comm: e.comm, pid: e.pid, tgid: e.tgid, events: 1 } : { comm: e.comm, pid: e.pid, events: 1 });
      cpus.set(e.cpu, (cpus.get(e.cpu) ?? 0) + 1);
      if (!first) first = e;
      last = e;
      onEvent?.(e);
    }
  }
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
    tasks: [...tasks.values()].sort((a, b) => b.events - a.events),
    cpus: Object.fromEntries([...cpus].sort((a, b) => a[0] - b[0]).map(([c, n]) => [String(c), n])),
    firstTs: first?.ts ?? null,
    lastTs: last?.ts ?? null,
    spanNs: first && last ? last.tsNs - first.tsNs : 0,
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
