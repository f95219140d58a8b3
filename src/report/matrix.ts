/**
 * `foliolab matrix` as text and CSV. The text table fits the width it is given (80 columns by
 * default): columns are as wide as their widest cell, and metrics that do not fit beside the
 * config column go to a further block of the same rows. Long trace paths wrap at `/`.
 */
import { formatDiagnostic, type Diagnostic } from '../core/diagnostics.js';
import { recordedText, type PairChoice, type Recorded } from '../diff/policy.js';

export interface MatrixCell {
  config: string;
  values: Record<string, number | string>;
}

export interface MatrixRow {
  trace: string;
  diagnosticCounts: Record<string, number>;
  /** The trace's own kernel, and the pair `diff`/`inspect` would compare on it by default. */
  recorded: Recorded;
  pair: Pick<PairChoice, 'base' | 'with' | 'reason'>;
  cells: MatrixCell[];
}

export interface MatrixResult {
  metrics: string[];
  configs: string[];
  rows: MatrixRow[];
}

/** `text` cut into lines of at most `width` characters, at `/` where it can be. */
function wrapPath(text: string, width: number, indent = '    '): string[] {
  const out: string[] = [];
  let rest = text;
  let first = true;
  while (rest.length > (first ? width : width - indent.length)) {
    const room = first ? width : width - indent.length;
    let cut = rest.lastIndexOf('/', room - 1) + 1;
    if (cut <= 0) cut = room;
    out.push((first ? '' : indent) + rest.slice(0, cut));
    rest = rest.slice(cut);
    first = false;
  }
  out.push((first ? '' : indent) + rest);
  return out;
}

/** Words joined into lines of at most `width` characters. */
function wrapWords(text: string, width: number, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = indent + w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out.flatMap((l) => (l.length > width ? wrapPath(l, width, indent) : [l]));
}

export function renderMatrix(m: MatrixResult, width = 80): string {
  const L: string[] = [];
  const gap = 2;
  for (const r of m.rows) {
    L.push(...wrapPath(r.trace, width));
    L.push(...wrapWords(`  ${recordedText(r.recorded)}; default pair ${r.pair.base} → ${r.pair.with}`, width, '    '));
    const cfgW = Math.max('config'.length, ...r.cells.map((c) => c.config.length));
    const colW = m.metrics.map((name) => Math.max(name.length, ...r.cells.map((c) => String(c.values[name] ?? '').length)));
    // Metrics in blocks that fit beside the config column; each block repeats the rows.
    const blocks: number[][] = [];
    let cur: number[] = [];
    let used = 2 + cfgW;
    m.metrics.forEach((_name, i) => {
      const w = gap + colW[i]!;
      if (cur.length && used + w > width) {
        blocks.push(cur);
        cur = [];
        used = 2 + cfgW;
      }
      cur.push(i);
      used += w;
    });
    if (cur.length) blocks.push(cur);
    for (const b of blocks) {
      L.push(`  ${'config'.padEnd(cfgW)}${b.map((i) => ' '.repeat(gap) + m.metrics[i]!.padStart(colW[i]!)).join('')}`);
      for (const c of r.cells) L.push(`  ${c.config.padEnd(cfgW)}${b.map((i) => ' '.repeat(gap) + String(c.values[m.metrics[i]!] ?? '').padStart(colW[i]!)).join('')}`);
    }
  }
  return L.join('\n');
}

export function renderMatrixCsv(m: MatrixResult): string {
  const q = (x: string): string => (/[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x);
  const L = [['trace', ...m.configs.flatMap((c) => m.metrics.map((k) => `${c}:${k}`))].map(q).join(',')];
  for (const r of m.rows) L.push([r.trace, ...r.cells.flatMap((c) => m.metrics.map((k) => String(c.values[k] ?? '')))].map(q).join(','));
  return L.join('\n');
}

/**
 * What reading one trace of the matrix went through, for stderr: counts by code, the first
 * `shown` with file:line:column, and how many more there were.
 */
export function matrixWarning(trace: string, diagnostics: Diagnostic[], counts: Record<string, number>, shown = 2): string | undefined {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const by = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ×${n}`).join(', ');
  const L = [`${trace}: ${total} diagnostic${total === 1 ? '' : 's'} while reading the trace (${by}); its row covers what was read`];
  for (const d of diagnostics.slice(0, shown)) L.push(`  ${formatDiagnostic(d)}`);
  if (total > shown) L.push(`  … ${total - Math.min(shown, diagnostics.length)} more (\`foliolab parse\` lists them all)`);
  return L.join('\n');
}
