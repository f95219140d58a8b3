/**
 * MIME bodies: patches sent as attachments (multipart/mixed with a text/x-patch part),
 * quoted-printable or base64 transfer encodings. Text parts are decoded into lines that keep
 * the input line where their part started; binary attachments are skipped and reported.
 *
 * Damage is read around, never thrown on: a boundary that is declared but never appears
 * (the body is read as plain text), a last part with no closing boundary (it runs to the end),
 * base64 with characters outside its alphabet or cut mid-quantum, quoted-printable with
 * broken escapes — each is a `mime_malformed` diagnostic at the line and column it starts.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import { diag } from '../core/diagnostics.js';
import { work } from './budget.js';
import { quoteDepth, type MailLine } from './text.js';

interface PartHeaders {
  type: string;
  boundary?: string;
  charset: string;
  encoding: string;
  name?: string;
}

/** Multipart nesting beyond this is read as text (a real mail nests two or three deep). */
const MAX_NESTING = 16;

function param(v: string, key: string): string | undefined {
  const m = new RegExp(`${key}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(v);
  return m ? (m[1] ?? m[2]) : undefined;
}

export function partHeaders(map: Map<string, string>): PartHeaders {
  const ct = map.get('content-type') ?? 'text/plain';
  return {
    type: ct.split(';')[0]!.trim().toLowerCase(),
    boundary: param(ct, 'boundary'),
    charset: (param(ct, 'charset') ?? 'utf-8').toLowerCase(),
    encoding: (map.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase(),
    name: param(ct, 'name') ?? param(map.get('content-disposition') ?? '', 'filename'),
  };
}

function decodeQp(lines: string[]): string {
  return lines
    .map((l) => (l.endsWith('=') ? l.slice(0, -1) : `${l}\n`))
    .join('')
    .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function decodeText(bytes: Buffer, charset: string): { text: string; invalid: boolean } {
  try {
    return { text: new TextDecoder(charset, { fatal: true }).decode(bytes), invalid: false };
  } catch {
    try {
      // A known charset the bytes do not follow: decode with replacement characters.
      return { text: new TextDecoder(charset).decode(bytes), invalid: true };
    } catch {
      return { text: bytes.toString('latin1'), invalid: charset !== 'latin1' && charset !== 'iso-8859-1' && charset !== 'us-ascii' };
    }
  }
}

/** The first place base64 text breaks its alphabet or its 4-character quanta; undefined when whole. */
function base64Damage(body: MailLine[]): { message: string; line: number; column: number } | undefined {
  let count = 0;
  let padded: MailLine | undefined;
  for (const L of body) {
    work.steps++;
    const t = L.text.trimEnd();
    for (let c = 0; c < t.length; c++) {
      const ch = t.charCodeAt(c);
      if (ch === 0x20 || ch === 0x09) continue;
      const alpha = (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x30 && ch <= 0x39) || ch === 0x2b || ch === 0x2f;
      if (ch === 0x3d) {
        padded ??= L;
        count++;
        continue;
      }
      if (!alpha) return { message: `base64 body holds ${JSON.stringify(t[c])}, outside the base64 alphabet; the characters around it were decoded as far as they go`, line: L.line, column: L.column + c };
      if (padded) return { message: 'base64 body goes on after its "=" padding; the text after it may be garbled', line: L.line, column: L.column + c };
      count++;
    }
  }
  if (count % 4 !== 0) {
    const last = body[body.length - 1]!;
    return { message: `base64 body ends mid-quantum (${count} characters, not a multiple of 4): it was cut off; the last bytes may be lost`, line: last.line, column: last.column + last.text.trimEnd().length };
  }
  return undefined;
}

/** The first broken quoted-printable escape (`=` not followed by two hex digits or the line end). */
function qpDamage(body: MailLine[]): { line: number; column: number; text: string } | undefined {
  for (const L of body) {
    work.steps++;
    const t = L.text.trimEnd();
    const re = /=(?![0-9A-Fa-f]{2}|$)/g;
    const m = re.exec(t);
    if (m) return { line: L.line, column: L.column + m.index, text: t.slice(m.index, m.index + 3) };
  }
  return undefined;
}

/** The body's lines with MIME structure and transfer encodings undone. */
export function expandMime(h: PartHeaders, body: MailLine[], file: string, diagnostics: Diagnostic[], nesting = 0): MailLine[] {
  if (h.type.startsWith('multipart/')) return expandMultipart(h, body, file, diagnostics, nesting);
  if (!h.type.startsWith('text/') && h.type !== 'message/rfc822' && !/(?:patch|diff)$/.test(h.type)) {
    if (body.length) diagnostics.push(diag('mime_part_skipped', `attachment ${h.name ?? '(unnamed)'} (${h.type || 'no type'}, ${body.length} lines) is not text; skipped`, file, body[0]!.line, body[0]!.column));
    return [];
  }
  if (h.encoding === 'base64' || h.encoding === 'quoted-printable') {
    if (!body.length) return [];
    const first = body[0]!;
    let bytes: Buffer;
    if (h.encoding === 'base64') {
      const bad = base64Damage(body);
      if (bad) diagnostics.push(diag('mime_malformed', bad.message, file, bad.line, bad.column));
      bytes = Buffer.from(body.map((l) => l.text.trim()).join(''), 'base64');
    } else {
      const bad = qpDamage(body);
      if (bad) diagnostics.push(diag('mime_malformed', `quoted-printable body has a broken escape ${JSON.stringify(bad.text)} ("=" must be followed by two hex digits or end the line); kept as written`, file, bad.line, bad.column));
      bytes = Buffer.from(decodeQp(body.map((l) => l.text)), 'latin1');
    }
    const dec = decodeText(bytes, h.charset);
    let text = dec.text;
    if (dec.invalid) diagnostics.push(diag('mime_malformed', `the decoded ${h.encoding} body is not valid ${h.charset}; undecodable bytes were replaced`, file, first.line, first.column));
    const ctl = /[\x00-\x08\x0b\x0c\x0e-\x1f]/.exec(text);
    if (ctl) {
      diagnostics.push(diag('mime_malformed', `the decoded ${h.encoding} body holds control character 0x${ctl[0].charCodeAt(0).toString(16)} (binary data or a damaged encoding); removed`, file, first.line, first.column));
      text = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
    }
    const out: MailLine[] = [];
    for (const t of text.replace(/\n$/, '').split(/\r?\n/)) {
      work.steps++;
      const q = quoteDepth(t);
      out.push({ text: t.slice(q.column - 1), depth: q.depth, line: first.line, column: first.column, refolded: true });
    }
    return out;
  }
  return body;
}

function expandMultipart(h: PartHeaders, body: MailLine[], file: string, diagnostics: Diagnostic[], nesting: number): MailLine[] {
  const at = body[0] ?? { line: 0, column: 1 };
  if (!h.boundary) {
    diagnostics.push(diag('mime_malformed', `Content-Type ${h.type} names no boundary; the body is read as plain text`, file, at.line, at.column));
    return body;
  }
  if (nesting >= MAX_NESTING) {
    diagnostics.push(diag('mime_malformed', `multipart nested more than ${MAX_NESTING} deep; the inner parts are read as plain text`, file, at.line, at.column));
    return body;
  }
  const open = `--${h.boundary}`;
  const close = `${open}--`;
  // Boundary lines may carry trailing whitespace (RFC 2046 allows transport padding).
  const kind = (L: MailLine): 'open' | 'close' | undefined => {
    if (L.depth !== 0 || !L.text.startsWith(open)) return undefined;
    const t = L.text.trimEnd();
    return t === open ? 'open' : t === close ? 'close' : undefined;
  };
  const parts: MailLine[][] = [];
  let part: MailLine[] | undefined;
  let lastOpen: MailLine | undefined;
  let closed = false;
  for (const L of body) {
    work.steps++;
    const k = kind(L);
    if (k) {
      if (part) parts.push(part);
      part = undefined;
      if (k === 'open') {
        part = [];
        lastOpen = L;
        closed = false;
      } else closed = true;
      continue;
    }
    if (part) part.push(L);
  }
  if (!lastOpen) {
    diagnostics.push(diag('mime_malformed', `${h.type} declares boundary "${h.boundary}" but no line is ${open}: the body is read as plain text`, file, at.line, at.column));
    return body;
  }
  if (part) parts.push(part);
  if (!closed) {
    diagnostics.push(diag('mime_malformed', `the part opened here has no closing ${close} boundary: it runs to the end of the mail (was the mail cut off?)`, file, lastOpen.line, lastOpen.column));
  }
  const out: MailLine[] = [];
  for (const p of parts) {
    // Part headers up to the blank line; a line that is no header ends them too (the blank
    // line was lost), and the body starts there.
    const map = new Map<string, string>();
    let k = 0;
    let last: string | undefined;
    let bodyAt = -1;
    for (; k < p.length; k++) {
      work.steps++;
      const t = p[k]!.text;
      if (t.trim() === '') {
        bodyAt = k + 1;
        break;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(t);
      if (m) {
        last = m[1]!.toLowerCase();
        map.set(last, m[2]!);
      } else if (last && /^\s/.test(t)) map.set(last, `${map.get(last)} ${t.trim()}`);
      else {
        diagnostics.push(diag('mime_malformed', 'MIME part headers end without a blank line; the part body is taken to start here', file, p[k]!.line, p[k]!.column));
        bodyAt = k;
        break;
      }
    }
    if (bodyAt < 0) bodyAt = p.length;
    for (const L of expandMime(partHeaders(map), p.slice(bodyAt), file, diagnostics, nesting + 1)) out.push(L);
  }
  return out;
}
