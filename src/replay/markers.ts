/**
 * The trace_marker vocabulary foliolab adopts (and `record`, workloads and scenario traces use):
 * one line `fl: <verb> key=value …`, hex for addresses. Verbs: begin, end, phase, store, load,
 * thread, counters-begin, counters-end, reclaim, note. See README ("Markers").
 */
export interface Marker {
  verb: string;
  kv: Record<string, string>;
  text: string;
}

export function parseMarker(buf: string): Marker | undefined {
  const t = buf.trim();
  if (!t.startsWith('fl:')) return undefined;
  const body = t.slice(3).trim();
  const sp = body.indexOf(' ');
  const verb = sp < 0 ? body : body.slice(0, sp);
  const kv: Record<string, string> = {};
  if (sp >= 0) {
    for (const m of body.slice(sp + 1).matchAll(/([A-Za-z_][\w.-]*)=(\S*)/g)) kv[m[1]!] = m[2]!;
  }
  return { verb, kv, text: body };
}

/**
 * What a replay lacks to predict the output of memory the workload mapped before `fl: begin`
 * (its binary's data and bss, heap, stack, file pages), named in every verdict it limits.
 */
export const PRE_WINDOW_MISSING = 'memory mapped before the window (the trace has no snapshot of the address space at fl: begin)';
