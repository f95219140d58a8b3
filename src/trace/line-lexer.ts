/**
 * A chevrotain lexer for whole trace lines. It is the slow, precise path: the hot path scans
 * the header by hand (header.ts), and this lexer is used to explain a line the scanner
 * rejected (which token is missing, at which column) and, in tests, as an independent
 * reading of every real line that the hand scanner must agree with.
 *
 * Token order follows the line: TaskPid, optional Tgid, Cpu, optional LatencyFlags,
 * Timestamp, EventName (with `:`, `(` or ` ->` after it), then the payload as one token.
 */
import type { IToken } from 'chevrotain';
import { createToken, Lexer } from '../core/chevrotain.js';

const Spaces = createToken({ name: 'Spaces', pattern: /[ \t]+/, group: Lexer.SKIPPED });
const Cpu = createToken({ name: 'Cpu', pattern: /\[\d+\]/ });
const Tgid = createToken({ name: 'Tgid', pattern: /\(\s*(?:\d+|-+)\)/ });
const LatencyFlags = createToken({ name: 'LatencyFlags', pattern: /[.dDXNnpPhHsSbB0-9]{4,5}(?= )/ });
/** comm-pid: anything up to the last `-digits` before the CPU (or tgid) column. */
const TaskPid = createToken({ name: 'TaskPid', pattern: /\S(?:.*?\S)?-\d+(?=\s+(?:\(|\[\d+\]))/, push_mode: 'cols' });
const Timestamp = createToken({ name: 'Timestamp', pattern: /\d+\.\d{1,9}:/, push_mode: 'event' });
const EventHead = createToken({ name: 'EventHead', pattern: /[A-Za-z0-9_]+(?::|\(| ->)/, push_mode: 'payload' });
const Rest = createToken({ name: 'Rest', pattern: /.+/ });

/**
 * Built on first use: only a line the hand scanner rejects needs it, and building a chevrotain
 * lexer (its self-analysis) costs every run that never meets one.
 */
let built: InstanceType<typeof Lexer> | undefined;
export function lineLexer(): InstanceType<typeof Lexer> {
  return (built ??= new Lexer(
    {
      modes: {
        task: [Spaces, TaskPid],
        cols: [Spaces, Tgid, Cpu, Timestamp, LatencyFlags],
        event: [Spaces, EventHead],
        payload: [Rest],
      },
      defaultMode: 'task',
    },
    { ensureOptimizations: false, positionTracking: 'onlyOffset' },
  ));
}

export interface LexedLine {
  comm?: string;
  pid?: number;
  tgid?: number;
  cpu?: number;
  lat?: string;
  ts?: string;
  name?: string;
  shape?: ':' | '(' | '->';
  payload?: string;
  /** 0-based column of the first problem, and what was expected there. */
  error?: { col: number; message: string };
}

const EXPECT: Record<string, string> = {
  task: 'TASK-PID followed by the CPU column `[NNN]`',
  cols: 'the CPU column `[NNN]`, latency flags, or a timestamp `SECONDS.FRACTION:`',
  event: 'an event name followed by `:`',
  payload: 'the payload',
};

export function lexLine(line: string): LexedLine {
  const r = lineLexer().tokenize(line);
  const out: LexedLine = {};
  let mode = 'task';
  for (const t of r.tokens as IToken[]) {
    switch (t.tokenType.name) {
      case 'TaskPid': {
        const d = t.image.lastIndexOf('-');
        out.comm = t.image.slice(0, d);
        out.pid = Number(t.image.slice(d + 1));
        mode = 'cols';
        break;
      }
      case 'Tgid': {
        const v = t.image.slice(1, -1).trim();
        if (/^\d+$/.test(v)) out.tgid = Number(v);
        break;
      }
      case 'Cpu': out.cpu = Number(t.image.slice(1, -1)); break;
      case 'LatencyFlags': out.lat = t.image; break;
      case 'Timestamp': out.ts = t.image.slice(0, -1); mode = 'event'; break;
      case 'EventHead': {
        const img = t.image;
        if (img.endsWith(' ->')) { out.name = img.slice(0, -3); out.shape = '->'; }
        else { out.name = img.slice(0, -1); out.shape = img.endsWith('(') ? '(' : ':'; }
        mode = 'payload';
        break;
      }
      case 'Rest': out.payload = t.image; break;
    }
  }
  const err = r.errors[0];
  if (err) out.error = { col: err.offset, message: `expected ${EXPECT[mode] ?? 'more'}` };
  else if (out.name === undefined) out.error = { col: line.length, message: `expected ${EXPECT[mode] ?? 'more'}` };
  if (out.payload !== undefined && out.shape === ':') out.payload = out.payload.replace(/^ /, '');
  return out;
}
