import { Args, Command, Flags } from '@oclif/core';
import { statSync } from 'node:fs';
import { DIAGNOSTICS, formatDiagnostic, type DiagnosticCode } from '../core/diagnostics.js';
import type { Layout } from '../trace/index.js';
import { summariseTrace, type TraceSummary } from '../trace/summary.js';
import { clearProgress, EXIT, inputProblem, progressReporter, resolveFormats, traceFlags } from './shared.js';

export default class Parse extends Command {
  static override summary = 'Parse an ftrace log (tracefs text, trace-cmd report text, or trace-cmd trace.dat) and summarise it.';

  static override description = `Reads the tracefs \`trace\` file (with or without the latency and -tgid columns) or \`trace-cmd report\` text, plain or gzip, or - for stdin, in bounded memory; or a trace-cmd trace.dat (versions 6 and 7, zstd or zlib compressed; recognised by its magic), whose records are decoded by the formats it carries. Each payload is decoded by the kernel's own print fmt from grammars/<release>/…/format into typed fields; events without a format, or whose payload does not match it, fall back to key=value decoding and are listed.

The summary gives events per name, tasks, CPUs, the time span, lost events (every spelling: [LOST N EVENTS], [LOST EVENTS], [N EVENTS DROPPED], [EVENTS DROPPED], and entries-written above entries-in-buffer), lines that did not parse with file:line:column diagnostics, and events decoded by fallback.

Exit status: 0 parsed (even with diagnostics), 1 input error (unreadable, binary, cut short — a truncated gzip stream —, or --strict with any line unparsed, lost or missing events, or any diagnostic above info), 2 usage error.`;

  static override examples = [
    '<%= config.bin %> parse traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> parse --json traces/6.1.0-56-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz',
    '<%= config.bin %> parse --ndjson trace.txt | jq -c \'select(.name=="tlb_flush") | .fields\'',
    'cat /sys/kernel/tracing/trace | <%= config.bin %> parse -',
  ];

  static override enableJsonFlag = true;

  static override args = {
    trace: Args.string({ description: 'Trace text file or trace.dat (.gz accepted), or - for stdin.', required: true }),
  };

  static override flags = {
    ...traceFlags,
    ndjson: Flags.boolean({ description: 'Stream every decoded event as one JSON object per line (stdout); the summary goes to stderr.', exclusive: ['json'] }),
    strict: Flags.boolean({
      description:
        'Exit 1 when the input is damaged or incomplete: a line that does not parse, lost or missing events, any diagnostic above `info` (CR line ends, time going backwards on a CPU, a repeated line, a number out of range, a last line with no newline…).',
    }),
    'sort-window': Flags.integer({ description: 'Events held back to repair out-of-order input.', default: 16384, min: 1 }),
    'max-diagnostics': Flags.integer({ description: 'Diagnostics shown (all are counted).', default: 10, min: 0 }),
  };

  async run(): Promise<TraceSummary | undefined> {
    const { args, flags } = await this.parse(Parse);
    const path = args.trace;
    const problem = inputProblem(path);
    if (problem) this.error(problem, { exit: EXIT.input });
    const fm = resolveFormats(path, flags);
    const gz = path.endsWith('.gz');
    const total = path !== '-' && !gz ? statSync(path).size : undefined;
    const onProgress = flags.ndjson || this.jsonEnabled() ? undefined : progressReporter(`parsing ${path}`, total);
    const out = process.stdout;
    let pending: string[] = [];
    const summary = await summariseTrace(
      path,
      {
        file: path,
        registry: fm.registry,
        release: fm.release,
        layout: flags.format as Layout | undefined,
        sortWindow: flags['sort-window'],
        onProgress,
      },
      flags.ndjson
        ? (e) => {
            pending.push(JSON.stringify(e));
            if (pending.length >= 512) { out.write(`${pending.join('\n')}\n`); pending = []; }
          }
        : undefined,
    );
    if (pending.length > 0) out.write(`${pending.join('\n')}\n`);
    if (onProgress) clearProgress();

    // A cut input (a truncated gzip stream) fails like an unreadable one: the summary covers a
    // prefix of the trace only.
    const fatal = ['unreadable_input', 'binary_input', 'gzip_error'].some((c) => (summary.diagnosticCounts[c] ?? 0) > 0) || summary.truncated !== null;
    // --strict: anything that says the input is damaged or incomplete fails; only notes about
    // decoding (an event with no format file, a print fmt that cannot be inverted) pass.
    const damaged = Object.keys(summary.diagnosticCounts).some((c) => DIAGNOSTICS[c as DiagnosticCode]?.severity !== 'info');
    const strictFail = flags.strict && (summary.unparsedLines > 0 || summary.lost.length > 0 || damaged);
    if (fatal || strictFail) process.exitCode = EXIT.input;

    if (this.jsonEnabled()) return { ...summary, diagnostics: summary.diagnostics };
    const text = renderSummary(summary, fm.releaseSource, flags['max-diagnostics']);
    if (flags.ndjson) process.stderr.write(text);
    else this.log(text.trimEnd());
    return undefined;
  }
}

function fmtNs(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  return `${(ns / 1e3).toFixed(1)} µs`;
}

export function renderSummary(s: TraceSummary, releaseSource: string, maxDiag: number): string {
  const L: string[] = [];
  const pad = (n: number | string, w = 8): string => String(n).padStart(w);
  L.push(`trace     ${s.file}`);
  L.push(`layout    ${s.format}${s.formatDetected ? '' : ' (forced)'}; formats ${s.format === 'trace.dat' ? 'carried by the trace.dat' : `${s.release ?? 'none'} (${releaseSource})`}`);
  L.push(`events    ${s.events} in ${s.format === 'trace.dat' ? 'a trace.dat of' : `${s.lines} lines,`} ${(s.bytes / 1e6).toFixed(2)} MB${s.firstTs ? `, ${s.firstTs} … ${s.lastTs} (${fmtNs(s.spanNs)})` : ''}`);
  const cpus = Object.entries(s.cpus).map(([c, n]) => `${c}:${n}`).join(' ');
  L.push(`cpus      ${cpus || '-'}${s.header.cpus !== undefined ? ` (#P:${s.header.cpus})` : ''}`);
  if (s.header.entriesInBuffer !== undefined) {
    const same = s.header.entriesInBuffer === s.events ? 'all read' : `${s.events} read`;
    L.push(`buffer    entries-in-buffer ${s.header.entriesInBuffer}, entries-written ${s.header.entriesWritten} (${same})`);
  }
  const where = (l: TraceSummary['lost'][number]): string =>
    l.kind === 'overwritten'
      ? l.line > 0
        ? `${l.count} overwritten before the first event (entries-written above entries-in-buffer, line ${l.line})`
        : `${l.count} overwritten on CPU ${l.cpu ?? '?'} before the first event (its overrun in the CPU stats)`
      : `CPU ${l.cpu ?? '?'} ${l.line > 0 ? `at line ${l.line}` : `at byte ${l.offset ?? '?'}`}`;
  const lostLine = s.lost.length === 0 && !(s.diagnosticCounts.lost_events > 0)
    ? 'none'
    : `${s.lostEvents} counted${s.lostEventsUnknown ? ` + ${s.lostEventsUnknown} gaps of unknown size` : ''}: ${s.lost.slice(0, 5).map(where).join(', ')}${s.diagnosticCounts.lost_events && s.lost.length === 0 ? 'see diagnostics' : ''} — nothing is exact across a gap`;
  L.push(`lost      ${lostLine}`);
  if (s.truncated) {
    L.push(
      s.format === 'trace.dat'
        ? `CUT       the trace is cut short at byte ${s.truncated.bytes} (${s.truncated.reason}); every event after it is missing`
        : `CUT       the trace is cut short (${s.truncated.reason}): read whole up to line ${s.truncated.lastLine}, byte ${s.truncated.bytes}; every event after it is missing`,
    );
  }
  if (s.reordered || s.lateEvents) L.push(`order     ${s.reordered} events reordered within the window, ${s.lateEvents} beyond it`);
  L.push('');
  const names = Object.entries(s.byName);
  L.push(`by event (${names.length}):`);
  for (const [n, c] of names) {
    const fb = s.fallback[n] ? `   [${s.fallback[n]} by fallback]` : '';
    L.push(`${pad(c)}  ${n}${fb}`);
  }
  L.push('');
  L.push(`tasks (${s.tasks.length}):`);
  for (const t of s.tasks.slice(0, 12)) L.push(`${pad(t.events)}  ${t.comm}-${t.pid}${t.tgid !== undefined ? ` (tgid ${t.tgid})` : ''}`);
  if (s.tasks.length > 12) L.push(`          … ${s.tasks.length - 12} more`);
  L.push('');
  const fb = Object.entries(s.fallback);
  L.push(`fallback  ${fb.length === 0 ? 'none: every payload decoded by its format' : fb.map(([n, c]) => `${n}×${c}`).join(', ')}`);
  L.push(`unparsed  ${s.unparsedLines} line(s)`);
  const total = Object.values(s.diagnosticCounts).reduce((a, b) => a + b, 0);
  L.push(`diagnostics ${total}${total ? ` (${Object.entries(s.diagnosticCounts).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`);
  for (const d of s.diagnostics.slice(0, maxDiag)) {
    L.push(`  ${formatDiagnostic({ ...d, code: d.code as never, severity: d.severity as never })}`);
  }
  if (s.diagnostics.length > maxDiag) L.push(`  … ${total - maxDiag} more (--max-diagnostics, or --json for the stored ones)`);
  return `${L.join('\n')}\n`;
}
