/**
 * The fixed line header, scanned by hand (the hot path: no regex, no lexer per line).
 *
 * tracefs `trace` (kernel/trace/trace_output.c), with the latency column and optional -tgid:
 *
 *    s1_mthp64k_lazy-18983   [001] .....  4360.330584: mm_page_alloc: page=… order=0 …
 *    └comm (right-aligned, may hold spaces/dashes)
 *                    └pid     └cpu  └irqs-off/need-resched/hardirq/preempt/migrate
 *                                          └timestamp (s.µs or s.ns)
 *                                                        └event   └payload (print fmt)
 *            bash-1234    (   1234) [000] d..1.   12.000001: tlb_flush: pages:1 reason:…
 *                         └tgid column (`(-------)` when unknown)
 *            bash-1234    [000]    12.000001: …        (irq-info off: no latency column)
 *    s1_mthp64k_lazy-18983   [001] .....  4360.331493: sys_brk(brk: 0)        (syscall enter)
 *    s1_mthp64k_lazy-18983   [001] .....  4360.331494: sys_brk -> 0x18075000  (syscall exit)
 *
 * trace-cmd report: same header without latency column by default, event names padded:
 *
 *    s1_mthp64k_lazy-18983 [001]  4360.330584: mm_page_alloc:        page=0x133689 pfn=…
 *
 * The scanner returns the column of the first thing it could not read, for diagnostics.
 */

export const enum LineKind {
  Event = 0,
  SyscallEnter = 1,
  SyscallExit = 2,
}

export interface ScannedHeader {
  comm: string;
  pid: number;
  tgid: number | undefined;
  cpu: number;
  /** Latency flags column (`d..1.`), or '' when absent. */
  lat: string;
  /** Timestamp text as printed (`4360.330584`). */
  ts: string;
  tsNs: number;
  kind: LineKind;
  /** Event name as printed (`tlb_flush`, `sys_madvise`, `tracing_mark_write`). */
  name: string;
  /** Payload text (for syscalls: the argument list without parentheses, or the return value). */
  payload: string;
}

export interface ScanError {
  /** 0-based column of the problem. */
  col: number;
  message: string;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isNameChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95;

/** Offsets of one scanned line, written into a reused object (the hot path allocates nothing). */
export interface HeaderScratch {
  /** Task name and event name as offsets (the caller interns them: no string per line). */
  commStart: number;
  commEnd: number;
  nameEnd: number;
  pid: number;
  tgid: number | undefined;
  cpu: number;
  latStart: number;
  latEnd: number;
  tsStart: number;
  tsEnd: number;
  tsNs: number;
  /** Digits of the timestamp's fraction (6: µs, 9: ns). */
  tsFrac: number;
  kind: LineKind;
  nameStart: number;
  payloadStart: number;
  payloadEnd: number;
  /** On failure: 0-based column and message. */
  errCol: number;
  errMessage: string;
  /** On failure: true when a number was read but is out of its column's range. */
  errRange: boolean;
}

export function newScratch(): HeaderScratch {
  return {
    commStart: 0, commEnd: 0, nameEnd: 0, pid: 0, tgid: undefined, cpu: 0, latStart: 0, latEnd: 0, tsStart: 0, tsEnd: 0, tsNs: 0, tsFrac: 0,
    kind: LineKind.Event, nameStart: 0, payloadStart: 0, payloadEnd: 0, errCol: 0, errMessage: '', errRange: false,
  };
}

function fail(o: HeaderScratch, col: number, message: string, range = false): boolean {
  o.errCol = col;
  o.errMessage = message;
  o.errRange = range;
  return false;
}

/**
 * Bounds of the header's numbers. The kernel's own limits: NR_CPUS is at most 8192 (a CPU
 * column above 65535 cannot be real), PID_MAX_LIMIT is 4194304 (2^22). Digits are counted
 * too, so that a 2^64 never overflows into an ordinary-looking value (a CPU of 2^64 stored in
 * the sorter's Int32Array read as CPU 0). A timestamp of more than 12 digits of seconds is over
 * 30,000 years of uptime.
 */
export const MAX_CPU = 65535;
export const MAX_PID = 4194304;
const MAX_SECS_DIGITS = 12;
/** The latency column is 4 or 5 flag characters (`d..1.`); a few more are allowed for other printers. */
const MAX_LAT = 8;

/** Scan one line into `o`; false (with errCol/errMessage set) when the header cannot be read. */
export function scanInto(s: string, padPayload: boolean, o: HeaderScratch): boolean {
  return scanRange(s, 0, s.length, padPayload, o);
}

/**
 * Scan the line `s[from, lim)` into `o` (offsets in `o` are offsets into `s`): a whole chunk of
 * text is scanned in place, one line after another, with no string made per line. A search
 * that finds its character at or past `lim` found nothing; the character at `lim` (the line's
 * newline or CR, or none) is never one the scanner accepts where it looks past the line.
 */
export function scanRange(s: string, from0: number, lim: number, padPayload: boolean, o: HeaderScratch): boolean {
  // 1. The CPU bracket: the first ` [digits]`.
  let b = -1;
  let from = from0;
  for (;;) {
    const i = s.indexOf('[', from);
    if (i < 0 || i >= lim) break;
    if (i > from0 && s.charCodeAt(i - 1) === 32 && i + 1 < lim && isDigit(s.charCodeAt(i + 1))) {
      let j = i + 1;
      while (j < lim && isDigit(s.charCodeAt(j))) j++;
      if (j < lim && s.charCodeAt(j) === 93 /* ] */) { b = i; break; }
    }
    from = i + 1;
  }
  if (b < 0) return fail(o, from0, 'expected `TASK-PID [CPU]` at the start of the line');
  let close = b + 1;
  let cpu = 0;
  while (isDigit(s.charCodeAt(close))) { cpu = cpu * 10 + (s.charCodeAt(close) - 48); close++; }
  if (close - b - 1 > 5 || cpu > MAX_CPU) return fail(o, b + 1, `CPU column ${s.slice(b + 1, close)} is out of range (at most ${MAX_CPU})`, true);

  // 2. comm-pid, and the optional `(tgid)` column before the bracket.
  let end = b - 1;
  while (end >= from0 && s.charCodeAt(end) === 32) end--;
  let tgid: number | undefined;
  if (end >= from0 && s.charCodeAt(end) === 41 /* ) */) {
    const open = s.lastIndexOf('(', end);
    if (open < from0) return fail(o, end, 'unbalanced `)` in the tgid column');
    const t = s.slice(open + 1, end).trim();
    if (t !== '' && !/^-+$/.test(t)) {
      const v = Number(t);
      if (!Number.isInteger(v)) return fail(o, open + 1, `tgid column is not a number: ${JSON.stringify(t)}`);
      if (v < 0 || v > MAX_PID) return fail(o, open + 1, `tgid ${t} is out of range (at most ${MAX_PID})`, true);
      tgid = v;
    }
    end = open - 1;
    while (end >= from0 && s.charCodeAt(end) === 32) end--;
  }
  let start = from0;
  while (start < end && s.charCodeAt(start) === 32) start++;
  const dash = s.lastIndexOf('-', end);
  if (dash <= start - 1 || dash === end) return fail(o, start, 'expected `TASK-PID` before the CPU column');
  let pid = 0;
  for (let k = dash + 1; k <= end; k++) {
    const c = s.charCodeAt(k);
    if (!isDigit(c)) return fail(o, k, 'PID after the last `-` of TASK-PID is not a number');
    pid = pid * 10 + (c - 48);
  }
  if (end - dash > 7 || pid > MAX_PID) return fail(o, dash + 1, `PID ${s.slice(dash + 1, end + 1)} is out of range (at most ${MAX_PID})`, true);

  // 3. Optional latency column, then the timestamp `secs.frac:`.
  let p = close + 1;
  while (p < lim && s.charCodeAt(p) === 32) p++;
  let latStart = p;
  let latEnd = p;
  if (p < lim && !isDigit(s.charCodeAt(p))) {
    const sp = indexBefore(s, ' ', p, lim);
    if (sp < 0) return fail(o, p, 'expected a timestamp after the CPU column');
    if (sp - p > MAX_LAT) return fail(o, p, `expected latency flags (at most ${MAX_LAT} characters, \`d..1.\`) or a timestamp after the CPU column`);
    latEnd = sp;
    p = sp;
    while (p < lim && s.charCodeAt(p) === 32) p++;
  } else if (p < lim) {
    // A latency column may start with a digit in other printers: it has no `:` before its space.
    const sp = indexBefore(s, ' ', p, lim);
    if (sp > 0 && s.charCodeAt(sp - 1) !== 58 /* : */) {
      if (sp - p > MAX_LAT) return fail(o, p, `expected latency flags (at most ${MAX_LAT} characters) or a timestamp \`SECONDS.FRACTION:\` after the CPU column`);
      latEnd = sp;
      p = sp;
      while (p < lim && s.charCodeAt(p) === 32) p++;
    }
  }
  if (latEnd === latStart) latStart = latEnd = from0;
  const tsStart = p;
  let secs = 0;
  while (p < lim && isDigit(s.charCodeAt(p))) { secs = secs * 10 + (s.charCodeAt(p) - 48); p++; }
  if (p === tsStart || p >= lim || s.charCodeAt(p) !== 46 /* . */) return fail(o, tsStart, 'expected a timestamp `SECONDS.FRACTION:`');
  if (p - tsStart > MAX_SECS_DIGITS) return fail(o, tsStart, `timestamp ${s.slice(tsStart, p)} s is out of range (more than ${MAX_SECS_DIGITS} digits of seconds)`, true);
  p++;
  const fracStart = p;
  let frac = 0;
  while (p < lim && isDigit(s.charCodeAt(p))) { frac = frac * 10 + (s.charCodeAt(p) - 48); p++; }
  const fracLen = p - fracStart;
  if (fracLen === 0 || fracLen > 9 || p >= lim || s.charCodeAt(p) !== 58) return fail(o, tsStart, 'expected a timestamp `SECONDS.FRACTION:`');
  const tsEnd = p;
  p++; // ':'
  if (p < lim && s.charCodeAt(p) === 32) p++;

  // 4. Event name, and which of the three shapes follows it: what follows the name's last
  // character decides (`:` an event, `(` a syscall entry, ` ->` its exit). A line that reads
  // as none of them is read again below, for the message.
  const nameStart = p;
  while (p < lim && isNameChar(s.charCodeAt(p))) p++;
  let kind: LineKind | -1 = -1;
  let nameEnd = p;
  let payloadStart = p + 1;
  let payloadEnd = lim;
  if (p > nameStart && p < lim) {
    const c = s.charCodeAt(p);
    if (c === 58 /* : */) {
      kind = LineKind.Event;
      if (padPayload) while (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
      else if (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
    } else if (c === 40 /* ( */ && s.charCodeAt(lim - 1) === 41 /* ) */) {
      kind = LineKind.SyscallEnter;
      payloadEnd = lim - 1;
    } else if (c === 32 && p + 2 < lim && s.charCodeAt(p + 1) === 45 && s.charCodeAt(p + 2) === 62 /* -> */) {
      kind = LineKind.SyscallExit;
      payloadStart = p + 3;
      while (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
      while (payloadEnd > payloadStart && s.charCodeAt(payloadEnd - 1) === 32) payloadEnd--;
    }
  }
  if (kind === -1) {
    // Read again by the delimiters, for a name with other characters or the message.
    p = nameStart;
    const colon = indexBefore(s, ':', p, lim);
    const space = indexBefore(s, ' ', p, lim);
    const paren = indexBefore(s, '(', p, lim);
    payloadEnd = lim;
    if (paren > nameStart && (colon < 0 || paren < colon) && (space < 0 || paren < space) && s.charCodeAt(lim - 1) === 41 /* ) */) {
      kind = LineKind.SyscallEnter;
      nameEnd = paren;
      payloadStart = paren + 1;
      payloadEnd = lim - 1;
    } else if (space > nameStart && (colon < 0 || space < colon) && space + 2 < lim && s.charCodeAt(space + 1) === 45 && s.charCodeAt(space + 2) === 62 /* -> */) {
      kind = LineKind.SyscallExit;
      nameEnd = space;
      payloadStart = space + 3;
      while (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
      while (payloadEnd > payloadStart && s.charCodeAt(payloadEnd - 1) === 32) payloadEnd--;
    } else if (colon > nameStart && (space < 0 || colon < space)) {
      kind = LineKind.Event;
      nameEnd = colon;
      payloadStart = colon + 1;
      if (padPayload) while (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
      else if (payloadStart < lim && s.charCodeAt(payloadStart) === 32) payloadStart++;
    } else {
      if (colon === nameStart || space === nameStart || nameStart >= lim) return fail(o, nameStart, 'expected an event name after the timestamp');
      const stop = Math.min(...[colon, space, paren].filter((x) => x > nameStart), lim);
      return fail(o, stop, `expected \`:\` after the event name ${JSON.stringify(s.slice(nameStart, stop))}`);
    }
    for (let k = nameStart; k < nameEnd; k++) {
      if (!isNameChar(s.charCodeAt(k))) {
        return fail(o, k, nameStart === k ? 'expected an event name after the timestamp' : `unexpected ${JSON.stringify(s[k])} in the event name`);
      }
    }
  }
  o.commStart = start;
  o.commEnd = dash;
  o.pid = pid;
  o.tgid = tgid;
  o.cpu = cpu;
  o.latStart = latStart;
  o.latEnd = latEnd;
  o.tsStart = tsStart;
  o.tsEnd = tsEnd;
  o.tsNs = secs * 1e9 + frac * POW10[9 - fracLen]!;
  o.tsFrac = fracLen;
  o.kind = kind;
  o.nameEnd = nameEnd;
  o.nameStart = nameStart;
  o.payloadStart = payloadStart;
  o.payloadEnd = payloadEnd;
  return true;
}

/** `s.indexOf(c, from)` within the line that ends at `lim`: -1 when not before it. */
function indexBefore(s: string, c: string, from: number, lim: number): number {
  const i = s.indexOf(c, from);
  return i < lim ? i : -1;
}

/** Object-returning form of scanInto, for tests and slow paths. */
export function scanHeader(s: string, padPayload: boolean): ScannedHeader | ScanError {
  const o = newScratch();
  if (!scanInto(s, padPayload, o)) return { col: o.errCol, message: o.errMessage };
  return {
    comm: s.slice(o.commStart, o.commEnd), pid: o.pid, tgid: o.tgid, cpu: o.cpu, lat: s.slice(o.latStart, o.latEnd), ts: s.slice(o.tsStart, o.tsEnd),
    tsNs: o.tsNs, kind: o.kind, name: s.slice(o.nameStart, o.nameEnd), payload: s.slice(o.payloadStart, o.payloadEnd),
  };
}

const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

export function isScanError(x: ScannedHeader | ScanError): x is ScanError {
  return (x as ScanError).col !== undefined;
}
