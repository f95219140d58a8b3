/**
 * Patch mail as lines: reading (binary and enormous-line checks), splitting an mbox into
 * messages, re-breaking mail that a list archive flattened onto one line, and quote depths.
 *
 * Every line keeps the 1-based line and column it came from, so a diagnostic or a review
 * comment can point at the input even after the text was re-broken or unquoted.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import { diag } from '../core/diagnostics.js';
import { work } from './budget.js';

export interface MailLine {
  /** The text with quote markers removed. */
  text: string;
  /** `>` quote depth. */
  depth: number;
  /** 1-based line in the input file. */
  line: number;
  /** 1-based column in that line where `text` starts. */
  column: number;
  /** The line was cut out of a longer flattened line. */
  refolded: boolean;
}

export interface MessageText {
  /** 1-based input line of the message's first line. */
  startLine: number;
  lines: MailLine[];
  /** The message was flattened by an archive (newlines lost) and re-broken by markers. */
  flattened: boolean;
}

/** Lines longer than this are reported and cut: nothing reasonable is that long. */
export const MAX_LINE = 1 << 20;

/**
 * Where a flattened mail is re-broken: before the markers patch mail always has at the start of
 * a line (diff headers, trailers, diffstat entries, changelog items, the cover letter shortlog).
 */
const REFOLD = new RegExp(
  [
    String.raw`(?<=(?:^|\s)From: [^<>\n]{1,80}<[^<>\s]+>)\s+`,
    String.raw`\s+(?=(?:From|Date|Subject|To|Message-I[Dd]|In-Reply-To|References): \S)`,
    String.raw`(?<=\bwrote:)\s+`,
    String.raw`(?<=(?:^|\s)Date: (?:\w{3},? )?(?:\w{3} \d{1,2} \d{4} - \d\d:\d\d:\d\d \w+|\d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}(?: \(\w+\))?))\s+`,
    String.raw`\s+(?=On [^\n]{4,100}? wrote:)`,
    String.raw`\s+(?=diff --git )`,
    String.raw`\s+(?=index [0-9a-f]{7,}\.\.[0-9a-f]{7,})`,
    String.raw`\s+(?=--- (?:a/|/dev/null))`,
    String.raw`\s+(?=\+\+\+ (?:b/|/dev/null))`,
    String.raw`\s+(?=@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@)`,
    String.raw`\s+(?=(?:Signed-off-by|Reviewed-by|Acked-by|Tested-by|Suggested-by|Reported-by|Co-developed-by|Cc|Fixes|Link|Closes): )`,
    String.raw`\s+(?=-v\d+:)`,
    String.raw`\s+(?=Changes (?:since|from|in) v\d+)`,
    String.raw`\s+(?=\d+ files? changed)`,
    String.raw`\s+(?=(?:\.\.\.)?[\w.-]+(?:/[\w.-]+)+\s+\|\s+(?:\d+\s*[+-]*|Bin\b))`,
    String.raw`\s+(?=--- (?=(?:\.\.\.)?[\w.-]+(?:/[\w.-]+)+\s+\|))`,
    String.raw`\s+(?=-- \d+\.\d+)`,
    String.raw`(?<!\b[A-Z][\w.'-]*)\s+(?=[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3} \(\d+\):)`,
    String.raw`\s+(?=base-commit: )`,
  ].join('|'),
  'g',
);

/** Splits the text of one flattened line at the markers; columns are kept. */
export function refold(text: string): Array<{ text: string; column: number }> {
  const out: Array<{ text: string; column: number }> = [];
  let last = 0;
  REFOLD.lastIndex = 0;
  for (let m = REFOLD.exec(text); m; m = REFOLD.exec(text)) {
    if (m[0].length === 0) {
      REFOLD.lastIndex++;
      continue;
    }
    if (m.index > last) out.push({ text: text.slice(last, m.index), column: last + 1 });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), column: last + 1 });
  // Quote markers of the lines that were joined end up at the end of each piece: drop them.
  for (const piece of out) piece.text = piece.text.replace(/\s+>[>\s]*$/, '');
  return out;
}

/** A line is flattened mail when it is long and holds several markers of separate lines. */
function looksFlattened(text: string): boolean {
  if (text.length < 400) return false;
  let n = 0;
  for (const re of [/ diff --git /, /Signed-off-by: /, / @@ -\d/, / \d+ files? changed/, / -v\d+: /, / --- /, / [\w.-]+\/[\w./-]+ +\| +\d+/]) if (re.test(text)) n++;
  return n >= 2;
}

/**
 * An mbox separator: `From <sender> <asctime>`, the sender also as `user at host` (Mailman
 * archives), the day of the month padded or not, a zone before or after the year where the
 * writer added one.
 */
const MBOX_FROM = /^From (?:\S+ at \S+|\S+)\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}\d{1,2} \d\d:\d\d:\d\d(?: [+-]\d{4})? \d{4}(?: [+-]\d{4})?$/;

export interface ReadResult {
  messages: MessageText[];
  diagnostics: Diagnostic[];
}

/** Splits a file's bytes into messages of lines, or says why it cannot. */
export function readMail(bytes: Buffer, file: string): ReadResult {
  const diagnostics: Diagnostic[] = [];
  if (bytes.length === 0) {
    diagnostics.push(diag('empty_input', 'the file is empty', file, 0));
    return { messages: [], diagnostics };
  }
  const head = bytes.subarray(0, 8192);
  const nul = head.indexOf(0);
  if (nul >= 0) {
    const line = head.subarray(0, nul).toString('latin1').split('\n').length;
    diagnostics.push(diag('binary_input', 'the file holds NUL bytes: it is not patch mail (a binary attachment should be saved as the mail that carries it)', file, line));
    return { messages: [], diagnostics };
  }
  let text = bytes.toString('utf8');
  if (text.includes('\uFFFD') && !bytes.toString('latin1').includes('\uFFFD')) {
    const bad = text.indexOf('\uFFFD');
    const line = text.slice(0, bad).split('\n').length;
    diagnostics.push(diag('patch_encoding', 'the text is not valid UTF-8; it was read as Latin-1', file, line, bad - text.lastIndexOf('\n', bad)));
    text = bytes.toString('latin1');
  }
  // A byte-order mark some editors write would hide the first header.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Lines end in LF or CRLF; a file with CRs and no LF at all has classic Mac line ends.
  const raw = text.includes('\n') || !text.includes('\r') ? text.split(/\r?\n/) : text.split('\r');
  if (raw.length && raw[raw.length - 1] === '') raw.pop();
  if (!/\S/.test(text)) {
    diagnostics.push(diag('empty_input', `the input holds only whitespace (${bytes.length} byte${bytes.length === 1 ? '' : 's'} in ${raw.length} line${raw.length === 1 ? '' : 's'}): no mail to read`, file, 0));
    return { messages: [], diagnostics };
  }

  const messages: MessageText[] = [];
  let cur: MessageText | undefined;
  for (let i = 0; i < raw.length; i++) {
    work.steps++;
    let t = raw[i]!;
    const no = i + 1;
    if (t.length > MAX_LINE) {
      diagnostics.push(diag('line_too_long', `line of ${t.length} characters cut to ${MAX_LINE}`, file, no, MAX_LINE + 1));
      t = t.slice(0, MAX_LINE);
    }
    if (MBOX_FROM.test(t)) {
      cur = { startLine: no, lines: [], flattened: false };
      messages.push(cur);
      continue;
    }
    if (!cur) {
      cur = { startLine: no, lines: [], flattened: false };
      messages.push(cur);
    }
    const ctl = /[\x00-\x08\x0b\x0c\x0e-\x1f]/.exec(t);
    if (ctl) {
      diagnostics.push(diag('non_text_line', `control character 0x${ctl[0].charCodeAt(0).toString(16)} in the text; the line is kept without it`, file, no, ctl.index + 1));
      t = t.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
    }
    const { depth, column } = quoteDepth(t);
    const body = t.slice(column - 1);
    if (looksFlattened(body)) {
      cur.flattened = true;
      for (const piece of refold(body)) cur.lines.push({ text: piece.text, depth, line: no, column: column + piece.column - 1, refolded: true });
    } else {
      cur.lines.push({ text: body, depth, line: no, column, refolded: false });
    }
  }
  let kept = messages.filter((m) => m.lines.some((l) => l.text.trim() !== ''));
  // Text above the first mbox separator with no header or diff line in it (an archive's note
  // about the file): not a message.
  const lead = kept[0];
  if (lead && kept.length > 1 && lead.startLine === 1 && !MBOX_FROM.test(raw[0] ?? '') && !lead.lines.some((l) => /^(?:(?:From|Subject|Date|Message-I[Dd]):\s|diff --git |@@ -\d)/.test(l.text))) {
    const first = lead.lines.find((l) => l.text.trim() !== '')!;
    const n = lead.lines.filter((l) => l.text.trim() !== '').length;
    diagnostics.push(diag('mail_preamble', `${n} line(s) above the first mbox message skipped: ${JSON.stringify(first.text.trim().slice(0, 60))}`, file, first.line, first.column));
    kept = kept.slice(1);
  }
  if (!kept.length) {
    diagnostics.push(diag('empty_input', 'the input holds no mail text (only mbox separators, quote markers, control characters or blank lines)', file, 0));
  }
  return { messages: kept, diagnostics };
}

/** `>> > text` → depth 3, column of `text`. A lone `>` is depth 1 with empty text. */
export function quoteDepth(t: string): { depth: number; column: number } {
  let i = 0;
  let depth = 0;
  for (;;) {
    let j = i;
    while (j < t.length && t[j] === ' ' && j - i < 2) j++;
    if (t[j] === '>') {
      depth++;
      i = j + 1;
      continue;
    }
    break;
  }
  if (depth > 0 && t[i] === ' ') i++;
  return { depth, column: i + 1 };
}
