/**
 * A tracefs event `format` file (/sys/kernel/tracing/events/<system>/<event>/format):
 *
 *   name: tlb_flush
 *   ID: 188
 *   format:
 *   	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
 *   	…
 *   	field:int reason;	offset:8;	size:4;	signed:1;
 *
 *   print fmt: "pages:%ld reason:%s (%d)", REC->pages, __print_symbolic(REC->reason, …), REC->reason
 *
 * The field lines are read by hand (they are one fixed shape); the print fmt goes to the
 * chevrotain parser. Problems are reported with the format file's own line and column.
 */
import { parsePrintFmt, type PrintFmtAst } from './parser.js';

export interface FieldDef {
  name: string;
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** `char comm[16]`, `char buf[]`, `__data_loc char[] name`: the value is text. */
  isString: boolean;
}

export interface FormatProblem {
  message: string;
  line: number;
  column: number;
}

export interface EventFormat {
  system: string;
  name: string;
  id: number | undefined;
  fields: FieldDef[];
  fieldByName: Map<string, FieldDef>;
  printFmt: PrintFmtAst | undefined;
  problems: FormatProblem[];
  /** Where it came from: `grammars/<release>/<system>/<event>/format`. */
  path: string;
  release: string;
}

const FIELD_RE = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);?\s*$/;

export function parseFormatFile(text: string, path: string, system: string, release: string): EventFormat {
  const problems: FormatProblem[] = [];
  const fields: FieldDef[] = [];
  let name = '';
  let id: number | undefined;
  let printFmt: PrintFmtAst | undefined;
  let sawPrint = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const ln = i + 1;
    if (line.trim() === '' || line.trim() === 'format:') continue;
    if (line.startsWith('name:')) { name = line.slice(5).trim(); continue; }
    if (line.startsWith('ID:')) {
      const v = Number(line.slice(3).trim());
      if (Number.isInteger(v)) id = v;
      else problems.push({ message: `ID is not a number: ${JSON.stringify(line.slice(3).trim())}`, line: ln, column: 4 });
      continue;
    }
    if (line.startsWith('print fmt:')) {
      sawPrint = true;
      const body = line.slice('print fmt:'.length);
      const lead = body.length - body.trimStart().length;
      const r = parsePrintFmt(body);
      for (const e of r.errors) {
        problems.push({ message: `print fmt: ${e.message}`, line: ln, column: 'print fmt:'.length + e.offset + 1 });
      }
      if (r.errors.length === 0) printFmt = r.ast;
      void lead;
      continue;
    }
    const m = FIELD_RE.exec(line);
    if (m) {
      const decl = m[1]!.trim();
      const f = parseFieldDecl(decl);
      if (!f) {
        problems.push({ message: `cannot read field declaration ${JSON.stringify(decl)}`, line: ln, column: line.indexOf('field:') + 7 });
        continue;
      }
      fields.push({ ...f, offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
      continue;
    }
    if (/^\s*field:/.test(line)) {
      problems.push({
        message: 'field line must read `field:<type> <name>;\toffset:N;\tsize:N;\tsigned:N;`',
        line: ln,
        column: line.indexOf('field:') + 1,
      });
      continue;
    }
    problems.push({ message: `unexpected line in format file: ${JSON.stringify(line.slice(0, 60))}`, line: ln, column: 1 });
  }
  if (!name) problems.push({ message: 'no `name:` line', line: 1, column: 1 });
  if (!sawPrint) problems.push({ message: 'no `print fmt:` line', line: lines.length, column: 1 });
  return {
    system,
    name,
    id,
    fields,
    fieldByName: new Map(fields.map((f) => [f.name, f])),
    printFmt,
    problems,
    path,
    release,
  };
}

function parseFieldDecl(decl: string): Omit<FieldDef, 'offset' | 'size' | 'signed'> | undefined {
  // `__data_loc char[] filename`, `char comm[16]`, `unsigned long pages`, `struct page * page`
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?$/.exec(decl);
  if (!m) return undefined;
  const type = (m[1] ?? '').trim();
  const name = m[2]!;
  const isArray = m[3] !== undefined;
  if (!type) return undefined;
  const isString = (isArray && /\bchar\b/.test(type)) || /__data_loc\s+char/.test(type) || /__rel_loc\s+char/.test(type);
  return { name, type: isArray ? `${type}${m[3]}` : type, isString };
}
