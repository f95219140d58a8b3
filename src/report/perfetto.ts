/**
 * Chrome JSON trace events (the format the Perfetto UI and chrome://tracing open): one process
 * per config, one thread per workload task; each replayed op is a slice, each predicted kernel
 * event an instant inside it, so two configs' timelines can be read side by side.
 */
import type { Emission } from '../model/emit.js';
import type { Op } from '../model/ops.js';

export interface ChromeEvent {
  name: string;
  ph: 'X' | 'i' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid?: number;
  s?: 't';
  cat?: string;
  args?: Record<string, unknown>;
}

export function processNames(configs: string[]): ChromeEvent[] {
  return configs.map((name, i) => ({ name: 'process_name', ph: 'M', pid: i + 1, args: { name } }));
}

function opName(op: Op): string {
  switch (op.kind) {
    case 'madvise': return `madvise(${typeof op.advice === 'number' ? op.advice : op.advice})`;
    case 'marker': return `fl: ${op.text}`;
    default: return op.kind;
  }
}

/** The events of one op under each config; `nextTsUs` bounds the slice (the next op's start). */
export function opEvents(op: Op, perConfig: Emission[][], tsUs: number, durUs: number): ChromeEvent[] {
  const out: ChromeEvent[] = [];
  const dur = Math.max(durUs, 0.001);
  perConfig.forEach((emitted, i) => {
    const pid = i + 1;
    const args: Record<string, unknown> = { line: op.at.line, op: op.at.index };
    if ('addr' in op) args.addr = `0x${op.addr.toString(16)}`;
    if ('len' in op) args.len = op.len;
    out.push({ name: opName(op), ph: 'X', ts: tsUs, dur, pid, tid: op.tid, cat: op.kind, args });
    const step = dur / (emitted.length + 1);
    emitted.forEach((e, j) => {
      const { ev, cpu, ...rest } = e as Emission & Record<string, unknown>;
      out.push({ name: ev, ph: 'i', s: 't', ts: tsUs + step * (j + 1), pid, tid: op.tid, cat: 'kernel', args: { cpu, ...rest } });
    });
  });
  return out;
}
