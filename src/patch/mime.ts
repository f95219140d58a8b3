/**
 * MIME bodies: patches sent as attachments (multipart/mixed with a text/x-patch part),
 * quoted-printable or base64 transfer encodings. Text parts are decoded into lines that keep
 * the input line where their part started; binary attachments are skipped and reported.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import { diag } from '../core/diagnostics.js';
import { quoteDepth, type MailLine } from './text.js';

interface PartHeaders {
  type: string;
  boundary?: string;
  charset: string;
  encoding: string;
  name?: string;
}

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

function decodeText(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** The body's lines with MIME structure and transfer encodings undone. */
export function expandMime(h: PartHeaders, body: MailLine[], file: string, diagnostics: Diagnostic[]): MailLine[] {
  if (h.type.startsWith('multipart/') && h.boundary) {
    const out: MailLine[] = [];
    const open = `--${h.boundary}`;
    let part: MailLine[] | undefined;
    const flush = (): void => {
      if (!part) return;
      // Part headers up to the first blank line.
      const map = new Map<string, string>();
      let k = 0;
      let last: string | undefined;
      for (; k < part.length && part[k]!.text.trim() !== ''; k++) {
        const m = /^([\w-]+):\s*(.*)$/.exec(part[k]!.text);
        if (m) {
          last = m[1]!.toLowerCase();
          map.set(last, m[2]!);
        } else if (last && /^\s/.test(part[k]!.text)) map.set(last, `${map.get(last)} ${part[k]!.text.trim()}`);
      }
      out.push(...expandMime(partHeaders(map), part.slice(k + 1), file, diagnostics));
      part = undefined;
    };
    for (const L of body) {
      if (L.depth === 0 && (L.text === open || L.text === `${open}--`)) {
        flush();
        if (L.text === open) part = [];
        continue;
      }
      if (part) part.push(L);
    }
    flush();
    return out;
  }
  if (!h.type.startsWith('text/') && h.type !== 'message/rfc822' && !/(?:patch|diff)$/.test(h.type)) {
    if (body.length) diagnostics.push(diag('mime_part_skipped', `attachment ${h.name ?? '(unnamed)'} (${h.type}, ${body.length} lines) is not text; skipped`, file, body[0]!.line, 1));
    return [];
  }
  if (h.encoding === 'base64' || h.encoding === 'quoted-printable') {
    if (!body.length) return [];
    const text = h.encoding === 'base64' ? decodeText(Buffer.from(body.map((l) => l.text.trim()).join(''), 'base64'), h.charset) : decodeText(Buffer.from(decodeQp(body.map((l) => l.text)), 'latin1'), h.charset);
    const first = body[0]!;
    return text
      .replace(/\n$/, '')
      .split(/\r?\n/)
      .map((t) => {
        const q = quoteDepth(t);
        return { text: t.slice(q.column - 1), depth: q.depth, line: first.line, column: 1, refolded: true };
      });
  }
  return body;
}
