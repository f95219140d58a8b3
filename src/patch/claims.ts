/**
 * Performance claims a mail states, read from its prose (never from code or the diff):
 * ratios ("2.5x faster"), percentages ("-92.80%"), before/after tables (`| Old | New |
 * Change |`), before → after figures ("7.3 ms → 2.1 ms"), and measurement runs printed
 * without and with the patch (`w/o patch:` … `split_deferred: 2048` / `w/ patch:` … `0`).
 * Each claim carries its unit, the text it came from, and the workload it was measured on
 * (the sentence that introduces the measurement).
 */
import { work } from './budget.js';
import type { MailLine } from './text.js';

export interface Claim {
  kind: 'ratio' | 'percent' | 'table' | 'before-after' | 'counter' | 'timing';
  /** The metric: `time`, a counter name, or what the sentence says improved. */
  metric: string;
  value?: number;
  before?: number;
  after?: number;
  change?: string;
  unit: string;
  /** faster / slower / fewer / more, where stated. */
  direction?: string;
  /** The workload or setting it was measured on, as the mail says it. */
  workload?: string;
  text: string;
  line: number;
  column: number;
}

const UNIT = String.raw`(ns|us|µs|ms|s|sec|secs|seconds?|msecs?|usecs?|minutes?|MB\/s|GB\/s|%)`;

function sentenceAround(text: string, index: number): string {
  const start = Math.max(text.lastIndexOf('. ', index) + 1, text.lastIndexOf('\n', index) + 1, 0);
  let end = text.indexOf('. ', index);
  if (end < 0) end = text.length;
  return text.slice(start, end + 1).replace(/\s+/g, ' ').trim();
}

/** The sentence that introduces a measurement: the nearest earlier line that says what ran. */
function workloadBefore(lines: MailLine[], i: number): string | undefined {
  for (let j = i; j >= 0 && j > i - 40; j--) {
    const t = lines[j]!.text;
    if (/\b(microbench|benchmark|reclaim|reclaiming|measure|test(?:ing|ed)?|workload|run(?:ning|s)?|results? in|on an? .*(?:CPU|machine|server|phone))/i.test(t) && /[a-z]{3}/.test(t) && !/^\s*[-+|]/.test(t)) {
      // Join the paragraph the line belongs to, up to its sentence end.
      const para: string[] = [];
      let k = j;
      while (k > 0 && lines[k - 1]!.text.trim() !== '' && para.length < 6 && !/[.:]\s*$/.test(lines[k - 1]!.text)) k--;
      for (let q = k; q < lines.length && q <= j + 4; q++) {
        const s = lines[q]!.text.trim();
        if (s === '') break;
        para.push(s);
        if (/[.:]$/.test(s) && q >= j) break;
      }
      return para.join(' ').replace(/\s+/g, ' ').replace(/:$/, '');
    }
  }
  return undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return Number(m.toPrecision(6));
}

/** Claims in prose lines (the caller passes only message text: no diff, no quoted code). */
export function extractClaims(lines: MailLine[]): Claim[] {
  const claims: Claim[] = [];
  const seen = new Set<string>();
  const add = (c: Claim): void => {
    const k = `${c.kind}:${c.metric}:${c.value}:${c.before}:${c.after}:${c.line}`;
    if (seen.has(k)) return;
    seen.add(k);
    claims.push(c);
  };

  // Tables: a header row of words, then rows of numbers.
  for (let i = 0; i < lines.length; i++) {
    work.steps++;
    const cells = tableCells(lines[i]!.text);
    if (!cells || !cells.every((c) => /^[A-Za-z][\w ()/.-]*$/.test(c)) || cells.length < 2) continue;
    const headers = cells.map((c) => c.toLowerCase());
    for (let j = i + 1; j < lines.length && j < i + 30; j++) {
      const t = lines[j]!.text;
      if (/^\s*[-=+]{4,}\s*$/.test(t)) continue;
      const row = tableCells(t);
      if (!row) break;
      const nums = row.map((c) => /^[-+−]?\d+(?:\.\d+)?%?$/.test(c.replace(/\s/g, '')) ? c.replace(/\s/g, '') : undefined);
      if (nums.every((n) => n === undefined)) continue;
      const bi = headers.findIndex((h) => /^(old|before|base|baseline|w\/o|without|orig)/.test(h));
      const ai = headers.findIndex((h) => /^(new|after|patched|w\/|with\b|with$)/.test(h));
      const ci = headers.findIndex((h) => /change|delta|diff|improv|gain|%/.test(h));
      const label = row.find((c, k) => nums[k] === undefined);
      const unit = unitNear(lines, i) ?? '';
      add({
        kind: 'table',
        metric: label ?? (unit ? 'time' : 'value'),
        before: bi >= 0 && nums[bi] ? parseFloat(nums[bi]!) : undefined,
        after: ai >= 0 && nums[ai] ? parseFloat(nums[ai]!) : undefined,
        change: ci >= 0 ? nums[ci] : nums.find((n) => n?.endsWith('%')),
        unit,
        workload: workloadBefore(lines, i),
        text: t.trim(),
        line: lines[j]!.line,
        column: lines[j]!.column,
      });
    }
  }

  // Runs printed without and with the patch: "w/o patch:" … "w/ patch:" blocks.
  const runs = findRuns(lines);
  if (runs.before.length && runs.after.length) {
    const numbersOf = (block: MailLine[]) => {
      const out = new Map<string, { values: number[]; unit: string }>();
      for (const l of block) {
        for (const m of l.text.matchAll(/([A-Za-z_][\w ]*?)\s*[:=]\s*([-+]?\d+(?:\.\d+)?)\s*(seconds?|secs?|s|ms|us|µs|ns|%)?/g)) {
          const raw = m[1]!.trim();
          const name = /\b(?:time taken|elapsed|time)\b/i.test(raw) ? 'time' : raw.replace(/\s+/g, ' ');
          const e = out.get(name) ?? { values: [], unit: m[3] ?? '' };
          e.values.push(Number(m[2]));
          out.set(name, e);
        }
      }
      return out;
    };
    const b = numbersOf(runs.before);
    const a = numbersOf(runs.after);
    const workload = workloadBefore(lines, runs.start);
    for (const [name, bv] of b) {
      const av = a.get(name);
      if (!av) continue;
      const kind = /time|latency|elapsed/i.test(name) || /s$/.test(bv.unit) ? 'timing' : 'counter';
      const first = runs.after[0]!;
      add({
        kind,
        metric: name,
        before: median(bv.values),
        after: median(av.values),
        unit: normUnit(bv.unit) || (kind === 'counter' ? 'count' : ''),
        workload,
        text: `${name}: ${median(bv.values)} → ${median(av.values)} (median of ${bv.values.length} and ${av.values.length} runs)`,
        line: first.line,
        column: first.column,
      });
    }
  }

  // "before: 0.71s" … "after: 0.05s" on nearby lines.
  for (let i = 0; i < lines.length; i++) {
    const re = new RegExp(String.raw`^\s*(?:before|old|w/o(?: patch)?|without(?: patch)?|base(?:line)?)\s*[:=]\s*([-+]?\d+(?:\.\d+)?)\s*${UNIT}?\s*$`, 'i');
    const b = re.exec(lines[i]!.text);
    if (!b) continue;
    for (let j = i + 1; j < lines.length && j <= i + 3; j++) {
      const ra = new RegExp(String.raw`^\s*(?:after|new|w/(?: patch)?|with(?: patch)?|patched)\s*[:=]\s*([-+]?\d+(?:\.\d+)?)\s*${UNIT}?\s*$`, 'i');
      const a = ra.exec(lines[j]!.text);
      if (!a) continue;
      const wl = workloadBefore(lines, i);
      add({
        kind: 'before-after',
        metric: metricOf(wl ?? '') === 'performance' ? 'time' : metricOf(wl ?? ''),
        before: Number(b[1]),
        after: Number(a[1]),
        unit: normUnit(b[2] ?? a[2] ?? ''),
        workload: wl,
        text: `${lines[i]!.text.trim()} / ${lines[j]!.text.trim()}`,
        line: lines[i]!.line,
        column: lines[i]!.column,
      });
      break;
    }
  }

  // Inline figures, read per paragraph so a sentence may span lines.
  for (const para of paragraphs(lines)) {
    const t = para.text;
    const at = (index: number) => para.locate(index);
    const i = para.first;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)\s*[xX×](?![\w])\s*(faster|slower|speedup|improvement|better|more|less|fewer|higher|lower)?/g)) {
      if (/0x$/i.test(t.slice(0, m.index! + m[1]!.length + 1))) continue;
      const sentence = sentenceAround(t, m.index!);
      const context = metricOf(sentence) === 'performance' ? workloadBefore(lines, i) : undefined;
      add({
        kind: 'ratio',
        metric: metricOf(context ?? sentence),
        value: Number(m[1]),
        unit: 'x',
        direction: m[2]?.toLowerCase() ?? (/\bfaster\b/i.test(sentence) ? 'faster' : undefined),
        workload: context ?? sentence,
        text: sentence,
        ...at(m.index!),
      });
    }
    for (const m of t.matchAll(/(^|[\s(])([-+−]?\d+(?:\.\d+)?)\s?%/g)) {
      const sentence = sentenceAround(t, m.index!);
      // "CPU 40%", "similarity index 90%": a share of something, not a change.
      if (/\b(?:cpu|util\w*|load|similarity|dissimilarity)(?:\s+\w+)?\s*[:=]?\s*$/i.test(t.slice(Math.max(0, m.index! - 30), m.index! + m[1]!.length))) continue;
      add({
        kind: 'percent',
        metric: metricOf(sentence),
        value: Number(m[2]!.replace('−', '-')),
        unit: '%',
        workload: workloadBefore(lines, i) ?? sentence,
        text: sentence,
        ...at(m.index! + m[1]!.length),
      });
    }
    const ba = new RegExp(String.raw`(\d+(?:\.\d+)?)\s*${UNIT}\s*(?:->|→|=>|to)\s*(\d+(?:\.\d+)?)\s*${UNIT}`, 'g');
    for (const m of t.matchAll(ba)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'before-after', metric: metricOf(sentence), before: Number(m[1]), after: Number(m[3]), unit: normUnit(m[2]!), workload: sentence, text: sentence, ...at(m.index!) });
    }
    // "0.71s before, 0.05s after".
    const pair = new RegExp(String.raw`(\d+(?:\.\d+)?)\s*${UNIT}\s+before,?\s+(?:and\s+)?(\d+(?:\.\d+)?)\s*${UNIT}\s+after`, 'g');
    for (const m of t.matchAll(pair)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'before-after', metric: metricOf(sentence), before: Number(m[1]), after: Number(m[3]), unit: normUnit(m[2]!), workload: sentence, text: sentence, ...at(m.index!) });
    }
    // "takes 0.07s instead of 0.17s": after first, before second.
    const inst = new RegExp(String.raw`(\d+(?:\.\d+)?)\s*${UNIT}\s+instead of\s+(\d+(?:\.\d+)?)\s*${UNIT}`, 'g');
    for (const m of t.matchAll(inst)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'before-after', metric: metricOf(sentence), before: Number(m[3]), after: Number(m[1]), unit: normUnit(m[2]!), workload: sentence, text: sentence, ...at(m.index!) });
    }
    // Counters: "split_deferred stays at 0 instead of 2048", "split_deferred: 2048 → 0", "… count drops to zero".
    for (const m of t.matchAll(/\b([a-z][a-z0-9_]{3,})\s+(?:stays|remains|is|goes|drops|falls)\s+(?:at|to)?\s*(\d+|zero)\s+instead of\s+(\d+)/gi)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'counter', metric: m[1]!, before: Number(m[3]), after: m[2] === 'zero' ? 0 : Number(m[2]), unit: 'count', workload: workloadBefore(lines, i) ?? sentence, text: sentence, ...at(m.index!) });
    }
    for (const m of t.matchAll(/\b([a-z][a-z0-9_]*_[a-z0-9_]+)\s*[:=]?\s*(\d+)\s*(?:->|→|=>)\s*(\d+)\b/g)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'counter', metric: m[1]!, before: Number(m[2]), after: Number(m[3]), unit: 'count', workload: workloadBefore(lines, i) ?? sentence, text: sentence, ...at(m.index!) });
    }
    for (const m of t.matchAll(/\b([a-z_]{4,})\s+(?:count|counter)?\s*(?:drops|falls|goes|reduced|decreases)\s+to\s+(zero|\d+)/gi)) {
      const sentence = sentenceAround(t, m.index!);
      add({ kind: 'counter', metric: m[1]!, after: m[2] === 'zero' ? 0 : Number(m[2]), unit: 'count', workload: sentence, text: sentence, ...at(m.index!) });
    }
  }
  return claims;
}

interface Paragraph {
  text: string;
  first: number;
  locate(index: number): { line: number; column: number };
}

/** Consecutive non-blank, non-table lines joined by spaces, with a map back to line/column. */
function paragraphs(lines: MailLine[]): Paragraph[] {
  const out: Paragraph[] = [];
  let i = 0;
  while (i < lines.length) {
    work.steps++;
    if (lines[i]!.text.trim() === '' || tableCells(lines[i]!.text)) {
      i++;
      continue;
    }
    const first = i;
    const starts: Array<{ offset: number; L: MailLine }> = [];
    let text = '';
    while (i < lines.length && lines[i]!.text.trim() !== '' && !tableCells(lines[i]!.text)) {
      if (text) text += ' ';
      starts.push({ offset: text.length, L: lines[i]! });
      text += lines[i]!.text.trim();
      i++;
    }
    out.push({
      text,
      first,
      locate(index) {
        // The last line starting at or before `index` (binary search: a paragraph may be long).
        let lo = 0;
        let hi = starts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (starts[mid]!.offset <= index) lo = mid;
          else hi = mid - 1;
        }
        const s = starts[lo]!;
        const lead = s.L.text.length - s.L.text.trimStart().length;
        return { line: s.L.line, column: s.L.column + lead + (index - s.offset) };
      },
    });
  }
  return out;
}

function tableCells(t: string): string[] | undefined {
  const s = t.trim();
  if (!/^\|.*\|$/.test(s)) return undefined;
  const cells = s.slice(1, -1).split('|').map((c) => c.trim());
  return cells.length >= 2 ? cells : undefined;
}

function unitNear(lines: MailLine[], i: number): string | undefined {
  for (let j = i; j >= 0 && j > i - 8; j--) {
    const m = /\bin (seconds|milliseconds|ms|microseconds|us|ns|MB\/s)\b/i.exec(lines[j]!.text) ?? /\((seconds|ms|us|ns)\)/i.exec(lines[j]!.text);
    if (m) return normUnit(m[1]!);
  }
  return undefined;
}

function normUnit(u: string): string {
  const s = u.toLowerCase();
  if (/^(s|sec|secs|second|seconds)$/.test(s)) return 's';
  if (/^(ms|msec|msecs|milliseconds)$/.test(s)) return 'ms';
  if (/^(us|µs|usec|usecs|microseconds)$/.test(s)) return 'us';
  return u;
}

function metricOf(sentence: string): string {
  const m = /\b(reclaim\w*|unmap\w*|split\w*|throughput|latency|time|runtime|bandwidth|faults?|IPIs?|flush\w*)\b/i.exec(sentence);
  return m ? m[1]!.toLowerCase() : 'performance';
}

/** `w/o patch:` … then `w/ patch:` … blocks of measurement output (on lines of their own, or inline in re-broken text). */
function findRuns(lines: MailLine[]): { before: MailLine[]; after: MailLine[]; start: number } {
  let bi = -1;
  let ai = -1;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.text.trim();
    if (bi < 0 && /^(?:w\/o|without|before)(?: the)?(?: patch(?:es|set)?)?\s*:?$/i.test(t)) bi = i;
    else if (bi >= 0 && ai < 0 && /^(?:w\/|with|after)(?: the)?(?: patch(?:es|set)?)?\s*:?$/i.test(t)) ai = i;
  }
  if (bi >= 0 && ai >= 0) {
    const block = (from: number, to: number) => lines.slice(from + 1, to).filter((l) => /\d/.test(l.text));
    let end = ai + 1;
    while (end < lines.length && (lines[end]!.text.trim() === '' || /\d|^\s*\.\.\.|^~ #/.test(lines[end]!.text)) && !/^(?:Signed-off-by|---$)/.test(lines[end]!.text)) end++;
    return { before: block(bi, ai), after: block(ai, end), start: bi };
  }
  // Inline: "… w/o patch: <runs> … w/ patch: <runs> …" within one line (a flattened mail).
  const W_O = /\b(?:w\/o|without)(?: the)? patch(?:es|set)?\s*:/i;
  const W = /\b(?:w\/|with)(?: the)? patch(?:es|set)?\s*:/i;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.text;
    const mb = W_O.exec(t);
    if (!mb) continue;
    const rest = t.slice(mb.index + mb[0].length);
    const ma = W.exec(rest);
    if (!ma) continue;
    const cut = (text: string): MailLine => ({ ...lines[i]!, text });
    return { before: [cut(rest.slice(0, ma.index))], after: [cut(rest.slice(ma.index + ma[0].length))], start: i };
  }
  return { before: [], after: [], start: 0 };
}
