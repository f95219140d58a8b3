/**
 * One message of patch mail → what a reviewer wants to know of it: identity (series, version,
 * part, author, date, message-id, links, changelog, the parts a cover letter lists), the code
 * it touches (files, lines, functions), the claims it makes, the review comments it carries
 * (who, what, and the hunk and line each answers), and which modelled series it is.
 *
 * Forms handled: git format-patch and mbox (RFC 5322 headers, in-body From), text copied from
 * list archives (headers as plain lines, the subject on a line of its own, leading whitespace
 * of every line lost, To/Cc/Subject wrapped without indentation), mail flattened onto one line
 * (re-broken by text.ts; hunks whose lines were joined are reported as unrecoverable), and
 * replies quoting a patch with `>` at any depth — or with the quote markers stripped.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import { diag } from '../core/diagnostics.js';
import { extractClaims, type Claim } from './claims.js';
import { extractDiff, looksLikeProse, type DiffResult, type FileDiff, type Hunk, type HunkLine } from './diff.js';
import { decodeRfc2047, parseSubject, parseTrailer, type SubjectInfo, type Trailer } from './grammar.js';
import { work } from './budget.js';
import { expandMime, partHeaders } from './mime.js';
import type { MailLine, MessageText } from './text.js';

export interface Person {
  name: string;
  email?: string;
}

export interface ChangelogEntry {
  /** The version whose changes these are (`v6` for "Changes since v5"). */
  version: string;
  since?: string;
  entries: string[];
  line: number;
}

export interface FileSummary {
  path: string;
  from?: string;
  status: string;
  additions: number;
  deletions: number;
  /** Where the counts come from: the diff itself, or only the diffstat. */
  counted: 'diff' | 'diffstat' | 'diffstat-scaled';
  hunks: Array<{ header: string; oldStart: number; oldLines: number; newStart: number; newLines: number; function?: string; functions: string[]; truncated: boolean; unrecoverable: boolean; line: number }>;
}

export interface ReviewComment {
  by?: string;
  /** Quote depth the comment was written at (0 = this mail's sender). */
  depth: number;
  text: string;
  line: number;
  column: number;
  /** What it answers: a hunk line, or the commit message. */
  on: { kind: 'hunk'; file: string; hunk: string; function?: string; newLine?: number; oldLine?: number; quoted: string } | { kind: 'message'; quoted: string } | { kind: 'mail' };
  /** Index of the comment this one replies to (a reply to a review). */
  replyTo?: number;
}

export interface PatchInfo {
  file: string;
  /** Index of the message in the file (mbox). */
  index: number;
  line: number;
  form: string[];
  subject?: string;
  title?: string;
  series?: string;
  version?: number;
  versionFrom?: 'subject' | 'changelog' | 'default';
  part?: number;
  total?: number;
  rfc: boolean;
  tree?: string;
  coverLetter: boolean;
  reply: boolean;
  author?: Person;
  sender?: Person;
  date?: string;
  dateRaw?: string;
  messageId?: string;
  inReplyTo?: string;
  base?: string;
  links: string[];
  changelog: ChangelogEntry[];
  parts: Array<{ part: number; title: string }>;
  files: FileSummary[];
  functions: string[];
  claims: Claim[];
  trailers: Trailer[];
  reviews: ReviewComment[];
  /** What the text did not allow to recover, in words. */
  unrecovered: string[];
  diagnostics: Diagnostic[];
}

const HEADER_NAMES = /^(from|date|subject|message-id|to|cc|bcc|in-reply-to|references|reply-to|sender|mime-version|content-type|content-transfer-encoding|return-path|received|delivered-to|user-agent|organization|list-[\w-]+|x-[\w-]+|archived-at|precedence|authentication-results|arc-[\w-]+|dkim-signature|thread-topic|thread-index|accept-language|content-language)$/i;
const HEADER_LINE = /^([A-Za-z][\w-]*):[ \t]?(.*)$/;
const SUBJECT_LINE = /^(?:(?:re|fwd?|aw)\s*:\s*)*\[[^\]]*\b(?:PATCH|RFC)\b[^\]]*\]/i;
const ATTRIBUTION = /^.{0,160}\b(?:wrote|writes|said)\s*:\s*$/;

function parsePerson(v: string): Person | undefined {
  const t = v.trim().replace(/^"|"(?=\s*<)/g, '');
  if (!t) return undefined;
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(t);
  if (m) return { name: m[1]!.replace(/^"|"$/g, '').trim() || m[2]!, email: m[2] };
  const p = /^([^\s@]+@\S+)\s*\((.+)\)$/.exec(t);
  if (p) return { name: p[2]!, email: p[1] };
  return /@/.test(t) ? { name: t, email: t } : { name: t };
}

/** Dates as mail and archives write them, to ISO 8601 (UTC); undefined when unreadable. */
export function parseMailDate(raw: string): string | undefined {
  let s = raw.trim();
  // Archive form: "Tue May 21 2024 - 00:03:25 EST".
  const a = /^(?:\w{3},?\s+)?(\w{3})\s+(\d{1,2})\s+(\d{4})\s+-\s+(\d{1,2}:\d{2}:\d{2})\s+(\w+)$/.exec(s);
  if (a) s = `${a[2]} ${a[1]} ${a[3]} ${a[4]} ${a[5]}`;
  const zones: Record<string, string> = { EST: '-0500', EDT: '-0400', CST: '-0600', CDT: '-0500', MST: '-0700', MDT: '-0600', PST: '-0800', PDT: '-0700', UTC: '+0000', GMT: '+0000', CET: '+0100', CEST: '+0200' };
  s = s.replace(/\b([A-Z]{3,4})$/, (z) => zones[z] ?? z).replace(/\s*\([^)]*\)\s*$/, '');
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

interface Headers {
  map: Map<string, string>;
  subjectLine?: string;
  /** The lines the subject was read from (header or archive subject line, and its continuations). */
  subjectSrc: MailLine[];
  /** The first header line read, if any. */
  first?: MailLine;
  /** Index of the first body line. */
  end: number;
}

/** Text above the headers longer than this is the mail's body, not a preamble. */
const MAX_PREAMBLE = 40;

const clip = (t: string, n: number): string => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

/**
 * The mail's header block: at the top, or below a few lines of text above it (a list
 * archive's note, "---------- Forwarded message ---------"). A block below such text counts
 * when it has a From: or a Subject: and one more header (or an archive subject line and a
 * From:), and no diff line comes before it.
 */
function mailHeaders(lines: MailLine[]): Headers & { preamble?: { count: number; src: MailLine } } {
  const H = readHeaders(lines, 0, 0);
  if (H.map.size || H.subjectLine) return H;
  let top = 0;
  while (top < lines.length && top < MAX_PREAMBLE && lines[top]!.text.trim() === '') top++;
  for (let k = top + 1; k < lines.length && k <= top + MAX_PREAMBLE; k++) {
    work.steps++;
    const L = lines[k]!;
    if (L.depth !== 0) continue;
    if (/^(?:diff --git |@@ -\d|--- a\/|\+\+\+ b\/)/.test(L.text)) break;
    const h = HEADER_LINE.exec(L.text);
    if (!(h && /^(?:from|subject|date|message-id)$/i.test(h[1]!)) && !SUBJECT_LINE.test(L.text)) continue;
    const G = readHeaders(lines, k, 0);
    const ok = (G.map.has('from') || G.map.has('subject')) && G.map.size + (G.subjectLine ? 1 : 0) >= 2;
    if (!ok) continue;
    let count = 0;
    for (let j = top; j < k; j++) if (lines[j]!.text.trim() !== '') count++;
    return { ...G, preamble: { count, src: lines[top]! } };
  }
  return H;
}

/** Impossible part numbering (k > M, M = 0, numbers past 2^53) and versions: reported, then dropped. */
function checkNumbering(s: SubjectInfo, H: Headers, file: string, diagnostics: Diagnostic[]): void {
  const where = (image: string | undefined): { line: number; column: number } => {
    for (const L of H.subjectSrc) {
      const k = image ? L.text.indexOf(image) : -1;
      if (k >= 0) return { line: L.line, column: L.column + k };
    }
    const L = H.subjectSrc[0] ?? H.first;
    return L ? { line: L.line, column: L.column } : { line: 0, column: 1 };
  };
  if (s.part !== undefined && s.total !== undefined) {
    const k = s.part;
    const m = s.total;
    const problems = [
      !Number.isSafeInteger(k) || !Number.isSafeInteger(m) ? 'a number too large to count parts' : undefined,
      m === 0 ? 'M = 0, and a series has at least one part' : undefined,
      m > 0 && k > m ? `part ${k} is beyond the total of ${m}` : undefined,
    ].filter(Boolean);
    const problem = problems.join('; ');
    if (problem) {
      const at = where(s.partImage);
      diagnostics.push(diag('subject_numbering', `subject numbers the part ${JSON.stringify(s.partImage ?? `${k}/${m}`)}: ${problem}; part and total left unknown`, file, at.line, at.column));
      s.part = undefined;
      s.total = undefined;
    }
  }
  if (s.version !== undefined && !(s.version <= Number.MAX_SAFE_INTEGER)) {
    const at = where(s.versionImage);
    diagnostics.push(diag('subject_numbering', `subject version ${JSON.stringify(s.versionImage)} is not a version a series can have; left unknown`, file, at.line, at.column));
    s.version = undefined;
  }
}

/** Reads a header block: RFC 5322, or an archive's plain lines. */
function readHeaders(lines: MailLine[], from: number, depth: number): Headers {
  const map = new Map<string, string>();
  let subjectLine: string | undefined;
  const subjectSrc: MailLine[] = [];
  let first: MailLine | undefined;
  let i = from;
  let last: string | undefined;
  let seen = 0;
  const at = (k: number) => (k < lines.length && lines[k]!.depth === depth ? lines[k]!.text : undefined);
  for (; i < lines.length; i++) {
    work.steps++;
    const t = at(i);
    if (t === undefined) break;
    if (/^\[<prev\]|^\s*\[?(?:<prev|next>)/.test(t)) continue; // archive navigation
    if (seen === 0 && /^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.test(t)) continue; // an mbox separator the archive joined in
    if (t.trim() === '') {
      if (seen === 0 && !subjectLine) continue;
      // Archives put blank lines between the subject line and From/Date: go on when a header follows.
      let k = i + 1;
      while (at(k)?.trim() === '') {
        work.steps++;
        k++;
      }
      const nt = at(k);
      const h = nt !== undefined ? HEADER_LINE.exec(nt) : null;
      if (h && HEADER_NAMES.test(h[1]!) && !map.has(h[1]!.toLowerCase())) {
        i = k - 1;
        continue;
      }
      i++;
      break;
    }
    const h = HEADER_LINE.exec(t);
    if (h && HEADER_NAMES.test(h[1]!)) {
      const key = h[1]!.toLowerCase();
      if (map.has(key) && (key === 'from' || key === 'subject' || key === 'date')) break; // in-body header
      map.set(key, h[2]!.trim());
      first ??= lines[i];
      if (key === 'subject') subjectSrc.push(lines[i]!);
      last = key;
      seen++;
      continue;
    }
    if (seen === 0 && !subjectLine && (SUBJECT_LINE.test(t) || /^re:\s/i.test(t))) {
      subjectLine = t.trim();
      first ??= lines[i];
      subjectSrc.push(lines[i]!);
      last = 'subject-line';
      continue;
    }
    // Continuations: RFC folding, or an archive's unindented wrap of To/Cc/Subject.
    if (last && /^[ \t]/.test(t)) {
      if (last === 'subject-line') subjectLine += ` ${t.trim()}`;
      else map.set(last, `${map.get(last)} ${t.trim()}`);
      if (last === 'subject-line' || last === 'subject') subjectSrc.push(lines[i]!);
      continue;
    }
    if (last && (last === 'to' || last === 'cc') && /@/.test(t) && !/\s{2,}/.test(t.trim())) {
      map.set(last, `${map.get(last)} ${t.trim()}`);
      continue;
    }
    if (last === 'subject' && map.get('subject')!.length >= 60 && !/^(?:hi|hello|dear|on)\b/i.test(t) && !/[,:]\s*$/.test(t) && t.trim().split(/\s+/).length <= 6) {
      map.set('subject', `${map.get('subject')} ${t.trim()}`);
      subjectSrc.push(lines[i]!);
      continue;
    }
    break;
  }
  return { map, subjectLine, subjectSrc, first, end: i };
}

function pushEntry(c: ChangelogEntry, e: string): void {
  if (e) c.entries.push(e);
}

function changelogOf(lines: MailLine[]): ChangelogEntry[] {
  const out: ChangelogEntry[] = [];
  let cur: ChangelogEntry | undefined;
  for (const L of lines) {
    work.steps++;
    const t = L.text.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(?:changes\s+)?(?:since|from)\s+v(\d+)\b.*?:?$/i.exec(t)) || (m = /^changes\s+(?:since|from|in)\s+v(\d+)/i.exec(t))) {
      cur = { version: `v${Number(m[1]) + 1}`, since: `v${m[1]}`, entries: [], line: L.line };
      out.push(cur);
      // A flattened mail keeps the items on the header's line: "… ==== - item - item".
      const rest = t.slice(m[0].length).replace(/^\s*(?:\[\d+\])?\s*:?\s*=*\s*/, '');
      if (L.refolded && rest) for (const e of rest.split(/\s+-\s+(?=\S)/)) pushEntry(cur, e.replace(/^-\s*/, '').trim());
      continue;
    }
    if ((m = /^v(\d+)\s*(?:->|→|=>|to|\.\.)\s*v(\d+)\s*:?\s*(.*)$/i.exec(t))) {
      cur = { version: `v${m[2]}`, since: `v${m[1]}`, entries: m[3] ? [m[3]] : [], line: L.line };
      out.push(cur);
      continue;
    }
    if ((m = /^-?\s*v(\d+)\s*:\s*(.*)$/i.exec(t)) && (t.startsWith('-') || t.length < 200)) {
      cur = { version: `v${m[1]}`, entries: [], line: L.line };
      const rest = m[2]!.trim();
      if (rest) for (const e of rest.split(/\s+\*\s+|^\*\s+/)) pushEntry(cur, e.replace(/^\*\s*/, '').trim());
      out.push(cur);
      continue;
    }
    if (cur) {
      if (/^\S.* \(\d+\):/.test(t) || /\s\|\s+\d+/.test(t) || /^\d+ files? changed/.test(t) || /^(?:base-commit|Signed-off-by|--)\b/.test(t)) {
        cur = undefined;
        continue;
      }
      if (t === '' || /^=+$/.test(t)) continue;
      if (/^[-*•]\s+/.test(t) || /^\s{2,}/.test(L.text)) cur.entries.push(t.replace(/^[-*•]\s+/, ''));
      else if (cur.entries.length && (/^[a-z(]/.test(t) || !/[.!)]$/.test(cur.entries[cur.entries.length - 1]!))) cur.entries[cur.entries.length - 1] += ` ${t}`;
      else if (/^\[\d+\]/.test(t)) continue;
      else cur = undefined;
    }
  }
  return out;
}

function shortlogOf(lines: MailLine[]): Array<{ part: number; title: string }> {
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\S.*?) \((\d+)\):\s*(.*)$/.exec(lines[i]!.text.trim());
    if (!m) continue;
    const n = Number(m[2]);
    const titles: string[] = [];
    if (m[3]) for (const t of m[3].split(/\s+(?=[a-z][\w/.-]*: \S)/)) titles.push(t);
    for (let j = i + 1; j < lines.length && titles.length < n; j++) {
      work.steps++;
      const t = lines[j]!.text.trim();
      if (t === '') {
        if (titles.length) break;
        continue;
      }
      if (/\|\s+\d+/.test(t) || /^\S.* \(\d+\):/.test(t)) break;
      if (/^\s/.test(lines[j]!.text) || titles.length === 0 || /^[a-z][\w/.-]*: /.test(t)) titles.push(t);
      else titles[titles.length - 1] += ` ${t}`;
    }
    if (titles.length) return titles.slice(0, n).map((t, k) => ({ part: k + 1, title: t }));
  }
  return [];
}

function diffstatOf(lines: MailLine[]): Map<string, { additions: number; deletions: number; scaled: boolean }> {
  const out = new Map<string, { additions: number; deletions: number; scaled: boolean }>();
  for (const L of lines) {
    const m = /^\s*((?:\.\.\.)?[\w.@+-]*(?:\/[\w.@+-]+)*[\w.@+-])\s+\|\s+(?:(\d+)\s*(\+*)(-*)|Bin\b.*)\s*$/.exec(L.text);
    if (!m) continue;
    const total = Number(m[2] ?? 0);
    const plus = (m[3] ?? '').length;
    const minus = (m[4] ?? '').length;
    // The bar is scaled when long: split the total in the bar's proportion.
    const additions = plus + minus === 0 ? 0 : plus + minus === total ? plus : Math.round((total * plus) / (plus + minus));
    out.set(m[1]!, { additions, deletions: total - additions, scaled: plus + minus !== total });
  }
  return out;
}

/** The name in "On <date>, Name wrote:" / "Name <mail> wrote:". */
function attributionName(t: string): string | undefined {
  let s = t.replace(/\s*(?:wrote|writes|said):\s*$/, '').replace(/<[^>]*>/g, '').trim();
  s = s.replace(/^On\s+/, '');
  const at = /\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?\s*(?:[+-]\d{4})?\s*,?\s*(.+)$/.exec(s);
  if (at) s = at[1]!;
  else if (s.includes(',')) s = s.slice(s.lastIndexOf(',') + 1);
  s = s.replace(/^,\s*/, '').trim();
  return s && s.split(/\s+/).length <= 5 ? s : undefined;
}

/** The parsed hunks behind each PatchInfo (kept out of its JSON). */
export const rawDiff = new WeakMap<PatchInfo, FileDiff[]>();

/** What a patch offers for telling which modelled series it is (see catalogue/link.ts). */
export interface LinkEvidence {
  title?: string;
  parts?: string[];
  part?: number;
  version?: number;
  /** The version was stated (subject tag or changelog), not assumed v1 for want of a tag. */
  versionExplicit: boolean;
  /** A cover letter: it stands for every part. */
  cover: boolean;
  functions: string[];
  /** Added lines and the message: where keywords are looked for. */
  text: string;
  /** The code alone (added lines, or the raw text of hunks an archive joined). */
  code?: string;
}
export const linkEvidence = new WeakMap<PatchInfo, LinkEvidence>();

const SIGNOFF = /^(?:thanks|thank you|cheers|regards|best regards|best|thx|br|kind regards|--)[,!.]?\s*$/i;
const FOOTER = /^(?:Powered by blists|\[<prev\]|Follow-ups?:|References:|Messages in this thread)/;

export function analyseMessage(msg: MessageText, file: string, index: number): PatchInfo {
  const lines = msg.lines;
  const diagnostics: Diagnostic[] = [];
  const form: string[] = [];
  const unrecovered: string[] = [];
  if (msg.flattened) {
    form.push('flattened');
    unrecovered.push('the archive joined the mail onto one line: it was re-broken at diff headers, trailers, diffstat and changelog markers; other line breaks (and the lines inside each hunk) are lost');
  }

  // Headers at depth 0, below any text above them (an archive's note, a forwarding line).
  const H = mailHeaders(lines);
  if (H.preamble) diagnostics.push(diag('mail_preamble', `${H.preamble.count} line(s) above the mail headers skipped: ${JSON.stringify(clip(H.preamble.src.text.trim(), 60))}`, file, H.preamble.src.line, H.preamble.src.column));
  if (H.map.size && H.map.has('message-id')) form.push('rfc5322');
  else if (H.map.size || H.subjectLine) form.push('archive-headers');
  let subjectRaw = H.map.get('subject') ?? H.subjectLine;
  if (subjectRaw) {
    const d = decodeRfc2047(subjectRaw);
    if (d.unknownCharset) diagnostics.push(diag('patch_encoding', `subject names charset ${d.unknownCharset}; decoded as Latin-1`, file, lines[0]?.line ?? 1));
    subjectRaw = d.text;
  }
  const fromHeader = H.map.get('from') ? parsePerson(decodeRfc2047(H.map.get('from')!).text) : undefined;
  let body = lines.slice(H.end);
  if (H.map.has('content-type') || H.map.has('content-transfer-encoding')) {
    const ph = partHeaders(H.map);
    if (ph.type.startsWith('multipart/') || ph.encoding === 'base64' || ph.encoding === 'quoted-printable') form.push(`mime:${ph.type}${ph.encoding !== '7bit' && ph.encoding !== '8bit' ? `+${ph.encoding}` : ''}`);
    body = expandMime(ph, body, file, diagnostics);
  }

  // Quote structure: the patch is at the deepest depth that holds diff lines.
  const isDiffLine = (t: string) => /^diff --git |^@@ -\d+(?:,\d+)? \+\d+|^--- a\/|^\+\+\+ b\//.test(t);
  const diffDepths = [...new Set(body.filter((l) => isDiffLine(l.text)).map((l) => l.depth))];
  let maxDepth = 0;
  for (const l of body) if (l.depth > maxDepth) maxDepth = l.depth;
  let patchDepth = diffDepths.length ? Math.max(...diffDepths) : 0;
  const subject = subjectRaw ? parseSubject(subjectRaw) : undefined;
  if (subject) checkNumbering(subject, H, file, diagnostics);
  const reply = !!subject?.reply || body.some((l) => l.depth === 0 && ATTRIBUTION.test(l.text.trim()) && l.text.length < 200);
  if (!diffDepths.length && reply && maxDepth > 0) patchDepth = maxDepth;
  // Quote markers stripped by the archive: a reply whose patch text sits at depth 0 after "X wrote:".
  let patchFrom = 0;
  let stripped = false;
  if (reply && patchDepth === 0) {
    const firstDiff = body.findIndex((l) => isDiffLine(l.text));
    const attr = body.findIndex((l, k) => l.depth === 0 && ATTRIBUTION.test(l.text.trim()) && (firstDiff < 0 || k < firstDiff));
    if (attr >= 0) {
      stripped = true;
      patchFrom = attr + 1;
      form.push('quote-markers-stripped');
      unrecovered.push('the archive stripped the `>` quote markers: text between the attribution line and the diff is taken as the quoted commit message, and prose after a trimmed hunk as the reply');
    }
  }
  if (reply) form.push('reply');
  if (patchDepth > 0) form.push(`quoted-patch-depth-${patchDepth}`);

  // Attribution lines: who wrote each depth.
  const who = new Map<number, string>();
  if (fromHeader) who.set(0, fromHeader.name);
  for (const l of body) {
    if (ATTRIBUTION.test(l.text.trim()) && l.text.length < 200) {
      const n = attributionName(l.text.trim());
      if (n && !who.has(l.depth + 1)) who.set(l.depth + 1, n);
    }
  }

  // Patch lines: the patch depth (after the attribution when markers were stripped).
  const patchIdx: number[] = [];
  for (let k = patchFrom; k < body.length; k++) if (body[k]!.depth === patchDepth) patchIdx.push(k);
  const patchLines = patchIdx.map((k) => body[k]!);
  // Whitespace is lost when no line is indented with a tab, or none starts with whitespace at
  // all (an archive stripped every line's: change lines keep theirs after the +/-, context lines lose their space).
  const whitespaceLost = patchDepth > 0 || stripped || msg.flattened || !patchLines.some((l) => /^[-+ ]?\t/.test(l.text)) || !patchLines.some((l) => /^[ \t]/.test(l.text));
  if (whitespaceLost && patchLines.some((l) => isDiffLine(l.text))) form.push('whitespace-lost');
  const D: DiffResult = extractDiff(patchLines, { whitespaceLost, quoted: patchDepth > 0 || stripped });
  for (const p of D.problems) diagnostics.push(diag(p.code, p.message, file, p.src.line, p.src.column));

  // In-body headers of the (quoted) patch: From:, Date:, Subject:.
  let inBodyFrom: Person | undefined;
  let inBodySubject: string | undefined;
  for (let k = 0; k < Math.min(patchLines.length, 12); k++) {
    const m = HEADER_LINE.exec(patchLines[k]!.text);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === 'from' && !inBodyFrom && (patchDepth > 0 || stripped || k > 0 || H.map.has('from'))) inBodyFrom = parsePerson(decodeRfc2047(m[2]!).text);
    if (key === 'subject' && !inBodySubject) inBodySubject = decodeRfc2047(m[2]!).text;
  }

  // The message text of the patch: before the first diff line and the `---` separator.
  const firstDiffK = patchLines.findIndex((l, k) => D.used.has(k) || isDiffLine(l.text));
  const sepK = patchLines.findIndex((l, k) => /^---\s*$/.test(l.text) && (firstDiffK < 0 || k < firstDiffK));
  const msgEnd = sepK >= 0 ? sepK : firstDiffK >= 0 ? firstDiffK : patchLines.length;
  const messageLines = patchLines.slice(0, msgEnd);
  const afterSep = sepK >= 0 ? patchLines.slice(sepK + 1, firstDiffK >= 0 ? firstDiffK : patchLines.length) : [];
  // A cover letter or a flattened mail also carries diffstat and changelog outside `---`.
  const proseLines = patchLines.filter((_, k) => !D.used.has(k));

  const trailers: Trailer[] = [];
  for (const l of [...messageLines, ...afterSep]) {
    const t = parseTrailer(l.text);
    if (t) trailers.push(t);
  }
  const changelog = changelogOf(proseLines);
  const parts = shortlogOf(proseLines);
  const stat = diffstatOf(proseLines);

  // Identity.
  const title = subject?.title ?? inBodySubject ?? undefined;
  let version = subject?.version;
  let versionFrom: PatchInfo['versionFrom'] = version !== undefined ? 'subject' : undefined;
  if (version === undefined && changelog.length) {
    version = changelog.reduce((v, c) => Math.max(v, Number(c.version.slice(1))), 0);
    versionFrom = 'changelog';
  } else if (version === undefined && subject?.isPatch) {
    version = 1;
    versionFrom = 'default';
  }
  const coverLetter = subject?.part === 0 || (parts.length > 0 && D.files.length === 0);
  const total = subject?.total ?? (coverLetter && parts.length ? parts.length : undefined);
  const part = subject?.part ?? (coverLetter ? 0 : undefined);

  // The patch's author: its in-body From:, else whoever the attribution line says wrote the
  // quoted text (depth 1 when an archive stripped the markers), else the sender.
  const quotedBy = who.get(stripped ? 1 : patchDepth);
  const author = inBodyFrom ?? (patchDepth > 0 || stripped ? (quotedBy ? { name: quotedBy } : undefined) : fromHeader);
  const dateRaw = H.map.get('date');
  const date = dateRaw ? parseMailDate(dateRaw) : undefined;
  if (dateRaw && !date) diagnostics.push(diag('patch_header', `unreadable Date: ${dateRaw}`, file, lines[0]?.line ?? 1));

  // Files: the diff, and the diffstat where the diff is missing or could not be counted.
  const files: FileSummary[] = D.files.map((f) => {
    const complete = f.hunks.every((h) => !h.truncated && !h.unrecoverable);
    const st = stat.get(f.to) ?? [...stat].find(([p]) => p.startsWith('...') && f.to.endsWith(p.slice(3)))?.[1];
    const useStat = !complete && st;
    if (complete && st && f.status !== 'binary' && f.hunks.length && f.additions + f.deletions !== st.additions + st.deletions) {
      diagnostics.push(diag('diff_incomplete', `${f.to}: the diff adds ${f.additions} and removes ${f.deletions} line(s), its diffstat says ${st.additions} and ${st.deletions}`, file, f.src.line, f.src.column));
    }
    return {
      path: f.to === '/dev/null' ? f.from : f.to,
      ...(f.from !== f.to ? { from: f.from } : {}),
      status: f.status,
      additions: useStat ? st.additions : f.additions,
      deletions: useStat ? st.deletions : f.deletions,
      counted: useStat ? (st.scaled ? 'diffstat-scaled' : 'diffstat') : 'diff',
      hunks: f.hunks.map((h) => hunkSummary(h)),
    };
  });
  const statOnly: string[] = [];
  for (const [path, st] of stat) {
    if (files.some((f) => f.path === path || (path.startsWith('...') && f.path.endsWith(path.slice(3))))) continue;
    statOnly.push(path);
    files.push({ path, status: 'modified', additions: st.additions, deletions: st.deletions, counted: st.scaled ? 'diffstat-scaled' : 'diffstat', hunks: [] });
  }
  // A diffstat entry the diff never reaches: the diff stops early (a flattened mail's hunks are lost anyway).
  if (statOnly.length && D.files.length && !msg.flattened && !D.files.some((f) => f.hunks.some((h) => h.unrecoverable)) && patchDepth === 0 && !stripped) {
    const last = D.files[D.files.length - 1]!;
    diagnostics.push(diag('diff_incomplete', `the diffstat lists ${statOnly.join(', ')}, which the diff does not reach (cut off after ${last.to}?); counted from the diffstat`, file, last.src.line, last.src.column));
  }
  if (files.some((f) => f.hunks.some((h) => h.truncated)) && (patchDepth > 0 || stripped)) unrecovered.push('quoted hunks were trimmed by the reviewer: their line counts are of the quoted lines only');
  if (D.files.some((f) => f.hunks.some((h) => h.unrecoverable))) unrecovered.push('lines inside hunks (the flattened text does not say where each +, - or context line starts): counts come from the diffstat');

  // Functions: where changed lines land, then hunk-header names of hunks with no change attributed.
  const functions: string[] = [];
  const addFn = (f?: string) => f && !functions.includes(f) && functions.push(f);
  for (const f of D.files) {
    for (const h of f.hunks) {
      const changed = h.lines.filter((l) => l.kind !== 'context');
      for (const l of changed) addFn(l.fn);
    }
  }
  // Then the functions the hunk headers name (the code around each hunk).
  for (const f of D.files) for (const h of f.hunks) addFn(h.headerFunction);
  // A cover letter has no diff: the functions its parts' titles name.
  if (!D.files.length) for (const x of parts) for (const m of x.title.matchAll(/\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b/g)) addFn(m[1]);

  // Claims: prose only (not code, not diffstat, not the quoted benchmark source).
  const claimLines = (patchDepth > 0 || stripped ? [...messageLines] : proseLines).filter((l) => !/^\s*(?:#include|#define|[{}]|\w+\s*\(.*\)\s*[;{]?$)/.test(l.text));
  const claims = extractClaims(claimLines);

  // Reviews: runs of lines outside the patch, after it starts, each answering the patch line before it.
  const reviews = reviewsOf(body, patchIdx, patchFrom, patchDepth, stripped, D, who, fromHeader);

  const addedText = D.files.flatMap((f) => f.hunks.flatMap((h) => (h.unrecoverable ? [h.src.text] : h.lines.filter((l) => l.kind === 'add').map((l) => l.text)))).join('\n');
  const evidence: LinkEvidence = {
    title: title ?? (coverLetter ? undefined : parts[0]?.title),
    parts: coverLetter ? parts.map((p) => p.title) : undefined,
    part,
    version,
    versionExplicit: versionFrom === 'subject' || versionFrom === 'changelog',
    cover: coverLetter,
    functions: [...functions, ...D.files.flatMap((f) => f.hunks.map((h) => h.headerFunction ?? '')).filter(Boolean)],
    code: D.files.length ? addedText : undefined,
    text: `${addedText}\n${messageLines.map((l) => l.text).join('\n')}\n${D.files.flatMap((f) => f.hunks.map((h) => h.header)).join('\n')}`,
  };
  const series = coverLetter ? title : undefined;

  const links = [...new Set([...trailers.filter((t) => t.url).map((t) => t.url!), ...proseLines.flatMap((l) => [...l.text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0].replace(/[).,]+$/, '')))])];
  const base = proseLines.map((l) => /^base-commit:\s*([0-9a-f]{7,40})/.exec(l.text.trim())?.[1]).find(Boolean);
  if (!subjectRaw) unrecovered.push('no subject line: version and part come from the changelog and shortlog; the series title, where found, from the model link');

  if (!subjectRaw && !H.map.size && !D.files.length && !trailers.length && !parts.length) {
    diagnostics.push(diag('not_a_patch', 'no mail headers, subject, diff, trailers or shortlog: this is not patch mail', file, msg.startLine));
  } else {
    // Where a missing header would have been: the header block, else the message's first line.
    const at = H.first ?? lines.find((l) => l.text.trim() !== '') ?? { line: msg.startLine, column: 1 };
    const none = H.map.size || H.subjectLine ? ' header' : ' (the mail has no headers)';
    if (!subjectRaw) {
      const rest = inBodySubject
        ? 'the title is the in-body Subject:, version and part are unknown'
        : `the title is unknown${version !== undefined ? `; version v${version} from the ${versionFrom}` : ', and so are version and part'}`;
      diagnostics.push(diag('missing_header', `no Subject${none}: ${rest}`, file, at.line, at.column));
    }
    if (!fromHeader) {
      const rest = inBodyFrom
        ? `the sender is unknown; the author, ${inBodyFrom.name}, is from the in-body From:`
        : author
          ? `the sender is unknown; the author, ${author.name}, is taken from the attribution line`
          : 'the author is unknown';
      diagnostics.push(diag('missing_header', `no From${none}: ${rest}`, file, at.line, at.column));
    }
    if (!D.files.length && !files.length && !coverLetter && !reply) {
      const skipped = diagnostics.find((d) => d.code === 'mime_part_skipped');
      const firstBody = body.find((l) => l.text.trim() !== '') ?? at;
      const why = skipped
        ? `its only attachment that could hold the diff was skipped (${skipped.message})`
        : subject?.isPatch
          ? `the subject is tagged ${JSON.stringify(subjectRaw!.slice(0, subjectRaw!.indexOf(']') + 1))}, but the mail holds no diff (no "diff --git", "---"/"+++" pair or "@@" hunk) and no diffstat: the diff was cut off or left out`
          : 'no diff, no diffstat; not a cover letter ([PATCH 0/N] or a shortlog of the parts) and not a reply to a patch';
      diagnostics.push(diag('no_patch', `this mail holds no patch: ${why}`, file, firstBody.line, firstBody.column));
    }
  }

  const info: PatchInfo = {
    file,
    index,
    line: msg.startLine,
    form: form.length ? form : ['plain'],
    subject: subjectRaw,
    title,
    series,
    version,
    versionFrom,
    part,
    total,
    rfc: !!subject?.rfc,
    tree: subject?.tree,
    coverLetter,
    reply,
    author,
    sender: fromHeader,
    date,
    dateRaw,
    messageId: H.map.get('message-id')?.replace(/^<|>$/g, ''),
    inReplyTo: H.map.get('in-reply-to')?.replace(/^<|>$/g, ''),
    base,
    links,
    changelog,
    parts,
    files,
    functions,
    claims,
    trailers,
    reviews,
    unrecovered,
    diagnostics,
  };
  rawDiff.set(info, D.files);
  linkEvidence.set(info, evidence);
  return info;
}

function hunkSummary(h: Hunk): FileSummary['hunks'][number] {
  const fns: string[] = [];
  for (const l of h.lines) if (l.kind !== 'context' && l.fn && !fns.includes(l.fn)) fns.push(l.fn);
  return {
    header: h.header,
    oldStart: h.oldStart,
    oldLines: h.oldLines,
    newStart: h.newStart,
    newLines: h.newLines,
    ...(h.headerFunction ? { function: h.headerFunction } : {}),
    functions: fns.length ? fns : h.headerFunction ? [h.headerFunction] : [],
    truncated: h.truncated,
    unrecoverable: h.unrecoverable,
    line: h.src.line,
  };
}

function reviewsOf(
  body: MailLine[],
  patchIdx: number[],
  patchFrom: number,
  patchDepth: number,
  stripped: boolean,
  D: DiffResult,
  who: Map<number, string>,
  sender: Person | undefined,
): ReviewComment[] {
  if (patchDepth === 0 && !stripped) return [];
  // Map body index → (patch line index, hunk line).
  const patchPos = new Map<number, number>();
  patchIdx.forEach((k, j) => patchPos.set(k, j));
  const hunkLineAt = new Map<MailLine, { file: string; hunk: Hunk; line: HunkLine }>();
  for (const f of D.files) for (const h of f.hunks) for (const l of h.lines) hunkLineAt.set(l.src, { file: f.to, hunk: h, line: l });
  const stopperLines = new Set([...D.stoppers].map((j) => body[patchIdx[j]!]!));

  const isComment = (k: number): boolean => {
    const l = body[k]!;
    if (k < patchFrom) return false;
    if (stripped) return stopperLines.has(l) || (!patchPos.has(k) ? false : !D.used.has(patchPos.get(k)!) && afterDiffStart(k));
    return l.depth < patchDepth;
  };
  const firstDiffBody = patchIdx.find((k) => D.used.has(patchPos.get(k)!));
  const afterDiffStart = (k: number) => firstDiffBody !== undefined && k > firstDiffBody;

  const out: ReviewComment[] = [];
  let anchor: MailLine | undefined;
  let run: MailLine[] = [];
  let runDepth = -1;
  let prevRunEnd = -2;
  let prevCommentIdx = -1;
  const flush = (): void => {
    if (!run.length) return;
    // Drop attributions, sign-offs and archive footers; keep the words.
    const kept: MailLine[] = [];
    for (const l of run) {
      const t = l.text.trim();
      if (FOOTER.test(t)) break;
      if (SIGNOFF.test(t)) break;
      if (ATTRIBUTION.test(t) && t.length < 200) continue;
      kept.push(l);
    }
    while (kept.length && kept[kept.length - 1]!.text.trim() === '') kept.pop();
    while (kept.length && kept[0]!.text.trim() === '') kept.shift();
    const text = kept.map((l) => l.text.trim()).join('\n').replace(/\n{2,}/g, '\n\n');
    if (text && anchor) {
      const hl = hunkLineAt.get(anchor);
      const on: ReviewComment['on'] = hl
        ? { kind: 'hunk', file: hl.file, hunk: hl.hunk.header.replace(/ @@.*$/, ' @@'), function: hl.line.fn ?? hl.hunk.headerFunction, newLine: hl.line.newLine, oldLine: hl.line.oldLine, quoted: anchor.text }
        : { kind: 'message', quoted: anchor.text };
      const depth = stripped ? 0 : runDepth;
      const by = who.get(depth) ?? (depth === 0 ? sender?.name : undefined);
      const c: ReviewComment = { by, depth, text, line: kept[0]!.line, column: kept[0]!.column, on };
      // A reply to the comment just before it: shallower depth, nothing quoted in between.
      if (prevCommentIdx >= 0 && prevRunEnd === run[0]!.line - 1 && out[prevCommentIdx]!.depth > depth) c.replyTo = prevCommentIdx;
      out.push(c);
      prevCommentIdx = out.length - 1;
      prevRunEnd = run[run.length - 1]!.line;
    }
    run = [];
    runDepth = -1;
  };
  for (let k = 0; k < body.length; k++) {
    work.steps++;
    const l = body[k]!;
    if (isComment(k)) {
      const d = stripped ? 0 : l.depth;
      if (run.length && d !== runDepth && l.text.trim() !== '') flush();
      if (!run.length && l.text.trim() === '') continue;
      if (!run.length) runDepth = d;
      run.push(l);
    } else {
      if (l.depth === patchDepth || patchPos.has(k)) {
        // Blank quoted lines do not break a reply apart from the comment it answers.
        if (l.text.trim() === '' && run.length) continue;
        flush();
        if (k >= patchFrom && l.text.trim() !== '') anchor = l;
        if (l.text.trim() !== '') prevCommentIdx = prevRunEnd === l.line - 1 ? prevCommentIdx : -1;
      } else if (l.text.trim() !== '') {
        flush();
      }
    }
  }
  flush();
  return out.filter((c) => looksLikeProse(c.text.split('\n')[0]!) || c.text.length > 20 || /\?$/.test(c.text));
}
