/**
 * Lines that are not events. Real examples:
 *
 *   # tracer: nop
 *   # entries-in-buffer/entries-written: 14996/14996   #P:2
 *   cpus=2                                   (trace-cmd report)
 *   version = 6                              (trace-cmd report)
 *   CPU:1 [LOST 123 EVENTS]                  (trace_pipe)
 *   CPU:1 [LOST EVENTS]                      (the `trace` file: count unknown)
 *   CPU:1 [123 EVENTS DROPPED]               (trace-cmd)
 *   CPU:1 [EVENTS DROPPED]                   (trace-cmd: count unknown)
 *   ##### CPU 1 buffer started ####          (the `trace` file, after an overwrite)
 *   CPU 0 is empty                           (trace-cmd)
 */

export type SpecialLine =
  | { kind: 'comment'; tracer?: string; entries?: number; written?: number; cpus?: number }
  | { kind: 'trace-cmd-header'; cpus?: number }
  | { kind: 'lost'; cpu: number; count: number | null }
  | { kind: 'buffer-started'; cpu: number }
  | { kind: 'blank' };

const LOST_RE = /^\s*CPU:(\d+) \[(?:LOST (\d+) EVENTS|LOST EVENTS|(\d+) EVENTS DROPPED|EVENTS DROPPED)\]\s*$/;
const BUF_RE = /^#{3,} CPU (\d+) buffer started #{2,}\s*$/;

/** Classify a line that is not an event; undefined when it should be scanned as an event. */
export function specialLine(s: string): SpecialLine | undefined {
  if (s.length === 0 || /^\s*$/.test(s)) return { kind: 'blank' };
  const c0 = s.charCodeAt(0);
  if (c0 === 35 /* # */) {
    const b = BUF_RE.exec(s);
    if (b) return { kind: 'buffer-started', cpu: Number(b[1]) };
    const out: SpecialLine = { kind: 'comment' };
    const t = /^#\s*tracer:\s*(\S+)/.exec(s);
    if (t) out.tracer = t[1];
    const e = /entries-in-buffer\/entries-written:\s*(\d+)\/(\d+)\s+#P:(\d+)/.exec(s);
    if (e) { out.entries = Number(e[1]); out.written = Number(e[2]); out.cpus = Number(e[3]); }
    return out;
  }
  if (c0 === 67 /* C */ || c0 === 32) {
    const l = LOST_RE.exec(s);
    if (l) return { kind: 'lost', cpu: Number(l[1]), count: l[2] ? Number(l[2]) : l[3] ? Number(l[3]) : null };
    if (/^CPU \d+ is empty\s*$/.test(s)) return { kind: 'trace-cmd-header' };
  }
  if (c0 === 99 /* c */) {
    const m = /^cpus=(\d+)\s*$/.exec(s);
    if (m) return { kind: 'trace-cmd-header', cpus: Number(m[1]) };
  }
  if (c0 === 118 /* v */ && /^version = \d+\s*$/.test(s)) return { kind: 'trace-cmd-header' };
  return undefined;
}
