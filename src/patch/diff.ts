/**
 * The diff part of a patch: a repairing pre-pass over the mail lines, then parse-diff.
 *
 * parse-diff trusts that every context line starts with a space. Mail does not keep that
 * promise: a mailer strips the space of a blank context line, a list archive strips the
 * leading whitespace of every line, a reviewer trims a quoted hunk, a hunk header wraps. The
 * pre-pass walks each hunk against its `@@ -a,b +c,d @@` counts, restores the prefixes it can
 * prove, stops a hunk where the text stops being diff, recounts the header, and only then
 * hands the normalised text to parse-diff. Every repair is reported.
 */
import parseDiff from 'parse-diff';
import { work } from './budget.js';
import type { MailLine } from './text.js';

export type ChangeKind = 'add' | 'del' | 'context';

export interface HunkLine {
  kind: ChangeKind;
  /** Text without its prefix. */
  text: string;
  /** Old- and new-side line numbers (where the side has the line). */
  oldLine?: number;
  newLine?: number;
  /** Function the line lands in (hunk header, or a definition earlier in the hunk). */
  fn?: string;
  /** Where it is in the input. */
  src: MailLine;
  /** Its prefix was missing and restored. */
  repaired?: boolean;
}

export interface Hunk {
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Function named in the hunk header (git's funcname line). */
  headerFunction?: string;
  lines: HunkLine[];
  /** The text held fewer lines than the header promised (trimmed quote, cut mail). */
  truncated: boolean;
  /** The text held more lines than the header promised. */
  overlong: boolean;
  /** Lines were joined by an archive: only the header could be read. */
  unrecoverable: boolean;
  src: MailLine;
}

export interface FileDiff {
  from: string;
  to: string;
  status: 'modified' | 'added' | 'deleted' | 'renamed' | 'binary';
  similarity?: number;
  hunks: Hunk[];
  additions: number;
  deletions: number;
  src: MailLine;
}

export interface DiffProblem {
  code: 'hunk_count_mismatch' | 'hunk_truncated' | 'hunk_unrecoverable' | 'hunk_repaired' | 'diff_incomplete';
  message: string;
  src: MailLine;
}

export interface DiffResult {
  files: FileDiff[];
  problems: DiffProblem[];
  /** Indices (into the input lines) that belong to the diff. */
  used: Set<number>;
  /** Indices of lines that ended a hunk early because they are not diff (reviewer prose). */
  stoppers: Set<number>;
  /** The normalised diff handed to parse-diff. */
  normalised: string;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/;
const C_KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'return', 'sizeof', 'do', 'else', 'case', 'typeof', '__typeof__', 'defined']);

/** The function a hunk header (or a definition line) names: the identifier before its `(`. */
export function functionName(text: string): string | undefined {
  const t = text.trim();
  if (!t || /^[#/*]/.test(t)) return undefined;
  const m = /([A-Za-z_]\w*)\s*\(/.exec(t);
  if (!m || C_KEYWORDS.has(m[1]!)) return undefined;
  // A definition: return type words before the name; a call statement has `=` or ends in `;`.
  const before = t.slice(0, m.index);
  if (/[=;]/.test(before)) return undefined;
  return m[1];
}

/** A definition line starts a function: `static int foo(…` at column 0, not a statement. */
function definitionName(text: string, whitespaceLost: boolean): string | undefined {
  if (!whitespaceLost && /^\s/.test(text)) return undefined;
  const t = text.trim();
  if (/;\s*$/.test(t) || /^(?:if|for|while|switch|return|else|do|case)\b/.test(t)) return undefined;
  // return type + name: at least one word before the name.
  const m = /^(?:[A-Za-z_][\w]*[\s*]+)+\**([A-Za-z_]\w*)\s*\(/.exec(t);
  if (!m || C_KEYWORDS.has(m[1]!)) return undefined;
  return m[1];
}

/** Does a prefix-less line look like C (a context line whose leading whitespace was lost)? */
export function looksLikeCode(t: string): boolean {
  const s = t.trim();
  if (s === '') return true;
  if (/^(?:#|\/\*|\*|\/\/|\}|\{)/.test(s)) return true;
  if (/[;{}]\s*$/.test(s) || /\)\s*$/.test(s) || /,\s*$/.test(s) || /\|\|\s*$|&&\s*$/.test(s)) return true;
  if (/^(?:if|for|while|switch|return|else|case|default|goto|break|continue|struct|static|unsigned|int|long|bool|void|const)\b/.test(s)) return true;
  if (/^[a-z_]\w*:$/.test(s)) return true; // label
  return false;
}

/** Is this prose (a reviewer's sentence) rather than code? */
export function looksLikeProse(t: string): boolean {
  const s = t.trim();
  if (looksLikeCode(s)) return false;
  const words = s.split(/\s+/);
  return words.length >= 3 && /[A-Za-z]{2}/.test(s);
}

interface Open {
  file: FileDiff;
  hunk?: Hunk;
  oldLeft: number;
  newLeft: number;
  oldNo: number;
  newNo: number;
  fn?: string;
}

/**
 * Finds and parses the diff in `lines` (one depth of one message). `whitespaceLost`: the
 * archive stripped leading whitespace, so prefix-less lines inside a hunk may be context.
 */
export function extractDiff(lines: MailLine[], opts: { whitespaceLost: boolean; quoted: boolean }): DiffResult {
  const files: FileDiff[] = [];
  const problems: DiffProblem[] = [];
  const used = new Set<number>();
  const stoppers = new Set<number>();
  /** Files whose `---`/`+++` pair was read: git writes that pair only above hunks. */
  const pairAt = new Map<FileDiff, MailLine>();
  /** Files whose header says why they may have no hunk (a mode change, a rename, a copy, an empty file). */
  const hunkless = new Set<FileDiff>();
  let open: Open | undefined;

  const newFile = (from: string, to: string, src: MailLine): FileDiff => {
    const f: FileDiff = { from, to, status: 'modified', hunks: [], additions: 0, deletions: 0, src };
    files.push(f);
    open = { file: f, oldLeft: 0, newLeft: 0, oldNo: 0, newNo: 0 };
    return f;
  };
  const closeHunk = (): void => {
    const h = open?.hunk;
    if (!h) return;
    if (h.overlong || open!.oldLeft < 0 || open!.newLeft < 0) {
      h.overlong = true;
      const oldN = h.lines.filter((l) => l.kind !== 'add').length;
      const newN = h.lines.filter((l) => l.kind !== 'del').length;
      problems.push({ code: 'hunk_count_mismatch', message: `hunk ${h.header.replace(/ @@.*$/, ' @@')} in ${open!.file.to} holds ${oldN} old and ${newN} new lines where its header counts ${h.oldLines} and ${h.newLines}; recounted from the lines`, src: h.src });
    } else if (!h.unrecoverable && h.lines.length === 0 && h.oldLines === 0 && h.newLines === 0) {
      problems.push({ code: 'hunk_count_mismatch', message: `hunk ${h.header.replace(/ @@.*$/, ' @@')} in ${open!.file.to} counts no lines at all (git never writes an empty hunk)`, src: h.src });
    }
    if (!h.unrecoverable && (open!.oldLeft > 0 || open!.newLeft > 0)) {
      h.truncated = true;
      problems.push({
        code: opts.quoted ? 'hunk_truncated' : 'hunk_count_mismatch',
        message: `hunk ${h.header.replace(/ @@.*$/, ' @@')} in ${open!.file.to}: ${open!.oldLeft} old and ${open!.newLeft} new lines missing${opts.quoted ? ' (the quote was trimmed)' : ''}; header recounted`,
        src: h.src,
      });
    }
    open!.hunk = undefined;
  };

  // nextText[i]: the first non-blank line after line i (one backward pass, not a scan per line).
  const nextText: Array<string | undefined> = new Array(lines.length);
  for (let i = lines.length - 1, seen: string | undefined; i >= 0; i--) {
    nextText[i] = seen;
    if (lines[i]!.text.trim() !== '') seen = lines[i]!.text;
  }

  for (let i = 0; i < lines.length; i++) {
    work.steps++;
    const L = lines[i]!;
    const t = L.text;
    const h = open?.hunk;
    const inHunk = h && !h.unrecoverable && (open!.oldLeft > 0 || open!.newLeft > 0);

    if (!inHunk || /^diff --git /.test(t) || HUNK.test(t) || (/^--- (?:a\/|\/dev\/null)/.test(t) && /^\+\+\+ (?:b\/|\/dev\/null)/.test(lines[i + 1]?.text ?? ''))) {
      let m: RegExpExecArray | null;
      if ((m = /^diff --git (?:"a\/(.+?)"|a\/(\S+)) (?:"b\/(.+?)"|b\/(\S+))\s*$/.exec(t))) {
        m = [m[0], m[1] ?? m[2]!, m[3] ?? m[4]!] as unknown as RegExpExecArray;
        closeHunk();
        newFile(m[1]!, m[2]!, L);
        used.add(i);
        continue;
      }
      if (open && !open.hunk && /^(?:index [0-9a-f]+\.\.[0-9a-f]+|(?:old|new|deleted file|new file) mode \d+|similarity index|dissimilarity index|copy (?:from|to) )/.test(t)) {
        if (/^new file mode/.test(t)) open.file.status = 'added';
        if (/^deleted file mode/.test(t)) open.file.status = 'deleted';
        if (!/^index /.test(t)) hunkless.add(open.file);
        const s = /^similarity index (\d+)%/.exec(t);
        if (s) open.file.similarity = Number(s[1]);
        used.add(i);
        continue;
      }
      if (open && !open.hunk && (m = /^rename (from|to) (.+)$/.exec(t))) {
        open.file.status = 'renamed';
        hunkless.add(open.file);
        if (m[1] === 'from') open.file.from = m[2]!;
        else open.file.to = m[2]!;
        used.add(i);
        continue;
      }
      if ((m = /^Binary files (?:a\/)?(.+?) and (?:b\/)?(.+?) differ$/.exec(t)) || /^GIT binary patch$/.test(t)) {
        closeHunk();
        if (!open || (m && open.file.to !== m[2])) newFile(m?.[1] ?? '?', m?.[2] ?? '?', L);
        open!.file.status = 'binary';
        used.add(i);
        if (!m) {
          // literal/delta blocks: base85 lines up to a blank line (twice: forward and reverse).
          while (i + 1 < lines.length && /^(?:literal|delta) \d+$|^[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{5,}$|^$/.test(lines[i + 1]!.text) && !/^diff --git /.test(lines[i + 1]!.text)) {
            i++;
            used.add(i);
            if (lines[i]!.text === '' && !/^(?:literal|delta) \d+$/.test(lines[i + 1]?.text ?? '')) break;
          }
        }
        continue;
      }
      if ((m = /^--- (?:a\/(.+)|(\/dev\/null))\s*$/.exec(t)) && /^\+\+\+ (?:b\/|\/dev\/null)/.test(lines[i + 1]?.text ?? '')) {
        closeHunk();
        const toText = lines[i + 1]!.text;
        const from = m[1] ?? '/dev/null';
        let dest = toText.startsWith('+++ /dev/null') ? '/dev/null' : toText.slice('+++ b/'.length).trim();
        if (!dest) {
          problems.push({ code: 'diff_incomplete', message: `the +++ line names no file (the mail was cut off here?); taken as ${from}`, src: lines[i + 1]! });
          dest = from;
        }
        if (!open || open.file.hunks.length > 0 || (open.file.to !== dest && open.file.from !== from)) newFile(from, dest, L);
        pairAt.set(open!.file, L);
        if (from === '/dev/null') open!.file.status = 'added';
        if (dest === '/dev/null') open!.file.status = 'deleted';
        used.add(i);
        used.add(i + 1);
        i++;
        continue;
      }
      if ((m = HUNK.exec(t)) && open) {
        closeHunk();
        let header = t;
        let fnText = m[5] ?? '';
        // A flattened hunk: the header line also carries the hunk's body.
        const unrecoverable = L.refolded && fnText.length > 100;
        if (unrecoverable) fnText = fnText.slice(0, 120);
        // A wrapped header: `@@ … @@ static int foo(struct a *a,` + `unsigned int b)` on the next line,
        // or `@@ … @@ static unsigned long` + `foo(struct shrinker *s,`.
        used.add(i);
        const next = lines[i + 1];
        if (!unrecoverable && next && next.depth === L.depth && fnText.trim() !== '' && wrapsHeader(fnText, next.text)) {
          fnText = `${fnText.trimEnd()} ${next.text.trim()}`;
          header = `${t.trimEnd()} ${next.text.trim()}`;
          used.add(i + 1);
          problems.push({ code: 'hunk_repaired', message: `hunk header in ${open.file.to} was wrapped onto the next line; joined`, src: L });
          i++;
        }
        const hunk: Hunk = {
          header,
          oldStart: Number(m[1]),
          oldLines: m[2] === undefined ? 1 : Number(m[2]),
          newStart: Number(m[3]),
          newLines: m[4] === undefined ? 1 : Number(m[4]),
          headerFunction: functionName(fnText),
          lines: [],
          truncated: false,
          overlong: false,
          unrecoverable,
          src: L,
        };
        open.file.hunks.push(hunk);
        open.hunk = hunk;
        open.oldLeft = hunk.oldLines;
        open.newLeft = hunk.newLines;
        open.oldNo = hunk.oldStart;
        open.newNo = hunk.newStart;
        open.fn = hunk.headerFunction;
        used.add(i);
        if (unrecoverable) {
          problems.push({ code: 'hunk_unrecoverable', message: `hunk ${t.replace(/ @@.*$/, ' @@')} in ${open.file.to}: the archive joined its lines into one; only its header and range are known`, src: L });
          open.hunk = undefined;
        }
        continue;
      }
      // Excess diff lines after a hunk's counts ran out: the counts do not add up.
      if (h && !h.unrecoverable && /^[-+]/.test(t) && !/^(?:--- |\+\+\+ |-- ?$)/.test(t)) {
        h.overlong = true;
        pushLine(open!, t[0] === '+' ? 'add' : 'del', t.slice(1), L, false);
        used.add(i);
        continue;
      }
      // Excess context lines: the hunk goes on when it is already known to run past its counts,
      // when its header counts nothing at all, or when they lead to a change line or to what
      // follows a hunk in git's output (see changeAfterContext).
      if (h && !h.unrecoverable && t[0] === ' ') {
        const j = h.overlong || (h.oldLines === 0 && h.newLines === 0) ? i + 1 : changeAfterContext(lines, i);
        if (j > i) {
          h.overlong = true;
          for (; i < j; i++) {
            work.steps++;
            pushLine(open!, 'context', lines[i]!.text.slice(1), lines[i]!, false);
            used.add(i);
          }
          i--;
          continue;
        }
      }
      if (h) closeHunk();
      continue;
    }

    // Inside a hunk with lines still owed.
    const o = open!;
    const c = t[0];
    if (t === '-- ' && /^\d+\.\d+/.test(lines[i + 1]?.text ?? '')) {
      closeHunk(); // the format-patch signature: the hunk's counts promised more than it has
    } else if (c === '+' || c === '-' || c === ' ') {
      pushLine(o, c === '+' ? 'add' : c === '-' ? 'del' : 'context', t.slice(1), L, false, opts.whitespaceLost);
      used.add(i);
    } else if (c === '\\') {
      used.add(i); // "\ No newline at end of file"
    } else if (t === '') {
      // A blank context line whose space was stripped, unless the hunk ends here (prose follows).
      const nt = nextText[i];
      if (nt !== undefined && (/^[-+ @\\]/.test(nt) || /^diff --git /.test(nt) || (opts.whitespaceLost && !looksLikeProse(nt)))) {
        pushLine(o, 'context', '', L, true);
        used.add(i);
      } else {
        closeHunk();
      }
    } else if (opts.whitespaceLost && looksLikeCode(t) && !looksLikeProse(t)) {
      pushLine(o, 'context', t, L, true, true);
      used.add(i);
    } else {
      stoppers.add(i);
      closeHunk();
    }
  }
  closeHunk();

  for (const f of files) {
    if (f.hunks.length || f.status === 'binary') continue;
    const at = pairAt.get(f);
    const name = f.to === '/dev/null' ? f.from : f.to;
    if (at) problems.push({ code: 'diff_incomplete', message: `${name}: its ---/+++ header is followed by no hunk (the diff was cut off?)`, src: at });
    else if (!hunkless.has(f)) problems.push({ code: 'diff_incomplete', message: `${name}: its diff --git line is followed by no hunk, and no mode change, rename or copy says why (the diff was cut off?)`, src: f.src });
  }

  const repairedLines = files.flatMap((f) => f.hunks.flatMap((h) => h.lines.filter((l) => l.repaired)));
  if (repairedLines.length) {
    problems.push({ code: 'hunk_repaired', message: `${repairedLines.length} context line(s) had lost their leading space and were restored`, src: repairedLines[0]!.src });
  }

  // Hand the normalised text to parse-diff; its structure is what the report uses.
  const normalised = normalise(files);
  const parsed = parseDiff(normalised);
  for (let k = 0; k < files.length && k < parsed.length; k++) {
    const f = files[k]!;
    const p = parsed[k]!;
    f.additions = p.additions;
    f.deletions = p.deletions;
    // parse-diff's line numbers are authoritative for complete hunks.
    const recoverable = f.hunks.filter((h) => !h.unrecoverable);
    for (let j = 0; j < recoverable.length && j < p.chunks.length; j++) {
      const ch = p.chunks[j]!;
      const hl = recoverable[j]!.lines;
      for (let q = 0; q < hl.length && q < ch.changes.length; q++) {
        const c = ch.changes[q]!;
        if (c.type === 'add') hl[q]!.newLine = c.ln;
        else if (c.type === 'del') hl[q]!.oldLine = c.ln;
        else {
          hl[q]!.oldLine = c.ln1;
          hl[q]!.newLine = c.ln2;
        }
      }
    }
  }
  return { files, problems, used, stoppers, normalised };
}

const PARAM = /^(?:(?:const|struct|unsigned|signed|enum|union|volatile)\s+)*[A-Za-z_]\w*[\s*]+\**[A-Za-z_]\w*(?:\[\w*\])?\s*(?:,|\)\s*\{?)\s*$/;

/** Is `next` the rest of a hunk header's function text that a mailer wrapped? */
function wrapsHeader(fnText: string, next: string): boolean {
  const n = next.trim();
  if (!n || /^[-+ \\@]/.test(next) || /^(?:if|for|while|switch|return|else|do|case|goto)\b/.test(n) || /;\s*$/.test(n)) return false;
  const opens = fnText.split('(').length - 1;
  const closes = fnText.split(')').length - 1;
  if (opens === 0) return /^\**[A-Za-z_]\w*\s*\(/.test(n) && /^[\w\s*]+$/.test(fnText.trim());
  return opens > closes && PARAM.test(n);
}

/**
 * Context lines at `i`, after a hunk's counts ran out: the index just past them when they
 * belong to the hunk — a change line follows them, or what follows a hunk in git's output (the
 * next hunk or file, the `-- ` signature, the end of the mail) — else `i` (the hunk ended, and
 * what follows is not diff).
 */
function changeAfterContext(lines: MailLine[], i: number): number {
  let j = i;
  while (j < lines.length && lines[j]!.text[0] === ' ') {
    work.steps++;
    j++;
  }
  const t = lines[j]?.text;
  if (t === undefined || /^(?:diff --git |@@ -\d|-- ?$)/.test(t)) return j;
  return /^[-+]/.test(t) && !/^(?:--- |\+\+\+ )/.test(t) ? j : i;
}

function pushLine(o: Open, kind: ChangeKind, text: string, src: MailLine, repaired: boolean, whitespaceLost = false): void {
  const h = o.hunk!;
  // Function tracking: a closing brace at column 0 ends the function; a definition starts one.
  if (kind !== 'del') {
    const def = definitionName(text, whitespaceLost);
    if (def) o.fn = def;
  }
  const line: HunkLine = { kind, text, src, fn: o.fn };
  if (repaired) line.repaired = true;
  if (kind !== 'del' && text.trim() === '}' && (whitespaceLost || text === '}')) o.fn = undefined;
  if (kind !== 'add') {
    line.oldLine = o.oldNo++;
    o.oldLeft--;
  }
  if (kind !== 'del') {
    line.newLine = o.newNo++;
    o.newLeft--;
  }
  h.lines.push(line);
}

function normalise(files: FileDiff[]): string {
  const out: string[] = [];
  for (const f of files) {
    out.push(`diff --git a/${f.from} b/${f.to}`);
    if (f.status === 'binary') {
      out.push(`Binary files a/${f.from} and b/${f.to} differ`);
      continue;
    }
    out.push(`--- ${f.from === '/dev/null' ? f.from : `a/${f.from}`}`, `+++ ${f.to === '/dev/null' ? f.to : `b/${f.to}`}`);
    for (const h of f.hunks) {
      if (h.unrecoverable) continue;
      const oldN = h.lines.filter((l) => l.kind !== 'add').length;
      const newN = h.lines.filter((l) => l.kind !== 'del').length;
      out.push(`@@ -${h.oldStart},${oldN} +${h.newStart},${newN} @@${h.headerFunction ? ` ${h.header.replace(/^@@[^@]*@@ ?/, '').slice(0, 120)}` : ''}`);
      for (const l of h.lines) out.push(`${l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' '}${l.text}`);
    }
  }
  return `${out.join('\n')}\n`;
}
