/**
 * Diagnostics: every problem found in input is a record, never an exception.
 *
 * One table (DIAGNOSTICS) holds every code with its severity and a description, in the
 * manner of Perfetto's stats.h: a code is stable, snake_case, and documented here once.
 * `data_loss` is a severity of its own: nothing downstream may claim exactness across it.
 */

export type Severity = 'error' | 'warning' | 'info' | 'data_loss';

export interface DiagnosticInfo {
  readonly severity: Severity;
  readonly description: string;
}

export const DIAGNOSTICS = {
  unreadable_input: { severity: 'error', description: 'The input could not be opened or read.' },
  empty_input: { severity: 'warning', description: 'The input holds no bytes; nothing to parse.' },
  binary_input: {
    severity: 'error',
    description: 'The input looks binary (NUL bytes) and is not a trace-cmd trace.dat: foliolab reads ftrace text and trace.dat files.',
  },
  gzip_error: { severity: 'error', description: 'The gzip stream is corrupt or truncated; events after the fault are missing.' },
  dat_corrupt: {
    severity: 'error',
    description: 'A trace.dat is damaged or cut short at the byte offset given; the events around it that could not be read are missing.',
  },
  line_too_long: {
    severity: 'error',
    description: 'A line exceeds the maximum line length and was skipped without being held in memory.',
  },
  bad_line_header: {
    severity: 'error',
    description: 'The fixed line header (TASK-PID [CPU] flags TIMESTAMP: event:) could not be read.',
  },
  truncated_last_line: {
    severity: 'warning',
    description: 'The last line has no newline: the capture was probably cut short (if the line still parses, its last value may be cut).',
  },
  non_text_line: { severity: 'error', description: 'The line holds control or NUL bytes; skipped.' },
  lost_events: {
    severity: 'data_loss',
    description: 'The ring buffer lost events on this CPU here; counts and orders across this point are not exact.',
  },
  payload_mismatch: {
    severity: 'warning',
    description: "The event payload does not match its format's print fmt; decoded with the generic key=value fallback.",
  },
  unknown_event: {
    severity: 'info',
    description: 'No format file describes this event; decoded with the generic key=value fallback.',
  },
  format_syntax: { severity: 'error', description: 'A tracefs format file is malformed; its event falls back to generic decoding.' },
  format_unsupported: {
    severity: 'info',
    description: "A print fmt construct cannot be inverted; the affected values are kept as text.",
  },
  out_of_order: {
    severity: 'warning',
    description: 'An event is earlier than events already emitted beyond the sort window; it is emitted late.',
  },
  cr_line_ends: {
    severity: 'warning',
    description: 'Lines end in a carriage return alone (classic Mac line ends): each CR was read as a line end.',
  },
  entries_missing: {
    severity: 'data_loss',
    description: "Fewer events were read than the header's entries-in-buffer promises: the listing was cut, filtered or lost lines.",
  },
  entries_extra: {
    severity: 'warning',
    description: "More events were read than the header's entries-in-buffer says the buffer held: lines were repeated, or listings joined.",
  },
  time_backwards: {
    severity: 'error',
    description: "An event is earlier than the event before it on the same CPU: a CPU's ring buffer is in time order, so lines were moved or a timestamp is damaged.",
  },
  duplicate_line: {
    severity: 'warning',
    description: 'An event line repeats the line before it exactly, nanosecond timestamp included: the line was probably duplicated.',
  },
  number_out_of_range: {
    severity: 'error',
    description: 'A number is outside what its column or field can hold (a CPU or PID column, a field wider than its declared size).',
  },
  unknown_layout: {
    severity: 'warning',
    description: 'Neither a tracefs nor a trace-cmd header was found; the layout was guessed from the first event lines.',
  },
  // Patch mail.
  patch_encoding: { severity: 'warning', description: 'The mail is not valid UTF-8 (or names an unknown charset); it was read as Latin-1.' },
  not_a_patch: { severity: 'error', description: 'No mail headers, subject tag, diff or patch trailers were found: this is not patch mail.' },
  hunk_count_mismatch: {
    severity: 'warning',
    description: "A hunk's lines do not add up to its `@@ -a,b +c,d @@` counts; it was recounted from the lines present.",
  },
  hunk_truncated: { severity: 'info', description: 'A quoted hunk stops before its counts are met: the reviewer trimmed the quote.' },
  hunk_unrecoverable: {
    severity: 'warning',
    description: 'An archive joined the lines of a hunk into one: its file, range and function are known, its lines are not.',
  },
  hunk_repaired: { severity: 'info', description: 'A hunk was repaired before parsing (a stripped context space restored, a wrapped header joined).' },
  mime_part_skipped: { severity: 'info', description: 'A MIME attachment that is not text (an image, a binary) was skipped.' },
  patch_header: { severity: 'warning', description: 'A mail header could not be read (bad encoded word, malformed line).' },
  no_patch: {
    severity: 'error',
    description: 'The mail holds no patch: no diff and no diffstat, and it is neither a cover letter ([PATCH 0/N], or a shortlog) nor a reply to a patch.',
  },
  missing_header: { severity: 'warning', description: 'The mail has no Subject (title, version, part unknown) or no From (author unknown).' },
  subject_numbering: { severity: 'warning', description: 'The subject numbers the part impossibly (k > M, M = 0, a number too large); part and total are left unknown.' },
  mime_malformed: {
    severity: 'warning',
    description: 'The MIME structure is damaged (a boundary declared but never found, no closing boundary, a damaged base64 or quoted-printable body); what could be decoded was read.',
  },
  diff_incomplete: {
    severity: 'warning',
    description: 'The diff does not hold what the mail says: a file header with no hunk after it, a +++ line naming no file, or counts that differ from the diffstat (the mail was cut off or edited).',
  },
  mail_preamble: { severity: 'info', description: 'Text above the mail headers (an archive note, a forwarding line) was skipped.' },
} as const satisfies Record<string, DiagnosticInfo>;

export type DiagnosticCode = keyof typeof DIAGNOSTICS;

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  /** Source file (path as given, or `-` for stdin). */
  readonly file: string;
  /** 1-based line number; 0 when the problem concerns the whole input. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}

export function diag(
  code: DiagnosticCode,
  message: string,
  file: string,
  line: number,
  column = 1,
): Diagnostic {
  return { code, severity: DIAGNOSTICS[code].severity, message, file, line, column };
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  return `${where}: ${d.severity}: ${d.message} [${d.code}]`;
}

/**
 * Keeps every diagnostic's count but stores only the first `perCode` of each code, so that a
 * binary file or a file of garbage cannot make memory grow with its size.
 */
export class DiagnosticSink {
  readonly kept: Diagnostic[] = [];
  readonly counts = new Map<DiagnosticCode, number>();
  constructor(private readonly perCode = 50) {}

  add(d: Diagnostic): void {
    const n = (this.counts.get(d.code) ?? 0) + 1;
    this.counts.set(d.code, n);
    if (n <= this.perCode) this.kept.push(d);
  }

  total(filter?: (code: DiagnosticCode) => boolean): number {
    let t = 0;
    for (const [code, n] of this.counts) if (!filter || filter(code)) t += n;
    return t;
  }

  countsObject(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
