/** Pieces every command shares: the grammars registry, release choice, progress, exit codes. */
import { Flags } from '@oclif/core';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatDiagnostic, type Diagnostic } from '../core/diagnostics.js';
import { FormatRegistry, streamTrace, traceSourceHints } from '../trace/index.js';
import { compareRelease } from '../trace/format/registry.js';
import { grammarsDir } from '../paths.js';

export const EXIT = { ok: 0, input: 1, usage: 2, diff: 3, internal: 70 } as const;

export const traceFlags = {
  format: Flags.string({
    description: 'Line layout of the input; detected from its header when omitted.',
    options: ['tracefs', 'trace-cmd'],
  }),
  release: Flags.string({
    description:
      'Kernel release whose format files decode the payloads first (a directory name under grammars/, or a `uname -r` matched by major.minor). Default: the `kernel:` line of settings.txt beside the trace, else the newest release.',
  }),
  grammars: Flags.string({
    description: 'Grammars directory (<release>/<system>/<event>/format); default: the one shipped with foliolab.',
  }),
};

export interface ResolvedFormats {
  registry: FormatRegistry;
  release: string | undefined;
  releaseSource: 'flag' | 'settings.txt' | 'formats beside the trace' | 'newest';
}

export function resolveFormats(path: string, flags: { release?: string; grammars?: string }): ResolvedFormats {
  const registry = FormatRegistry.fromDirectory(flags.grammars ?? grammarsDir);
  const hints = traceSourceHints(path);
  if (hints.formatsDir) {
    const rel = `${basename(hints.formatsDir)}:${path}`;
    registry.addRelease(rel, hints.formatsDir);
    if (!flags.release) return { registry, release: rel, releaseSource: 'formats beside the trace' };
  }
  if (flags.release) {
    const r = registry.matchRelease(flags.release) ?? flags.release;
    return { registry, release: r, releaseSource: 'flag' };
  }
  const fromSettings = registry.matchRelease(hints.release);
  if (fromSettings) return { registry, release: fromSettings, releaseSource: 'settings.txt' };
  const newest = [...registry.releases].sort(compareRelease).pop();
  return { registry, release: registry.matchRelease(newest) ?? newest, releaseSource: 'newest' };
}

export function inputProblem(path: string): string | undefined {
  if (path === '-') return undefined;
  if (!existsSync(path)) return `cannot read ${path}: no such file (give a trace file, a .gz, or - for stdin)`;
  if (statSync(path).isDirectory()) return `${path} is a directory; give the trace file inside it (e.g. ${path}/trace.txt.gz)`;
  return undefined;
}

/** A throttled progress line on stderr when it is a terminal. */
export function progressReporter(label: string, total: number | undefined): ((bytes: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    const mb = (bytes / 1e6).toFixed(1);
    const pct = total ? ` (${Math.min(100, Math.round((bytes / total) * 100))}%)` : '';
    process.stderr.write(`\r${label}: ${mb} MB${pct}   `);
  };
}

export function clearProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

/**
 * The file a command reads: the path itself, or for `-` a temporary copy of standard input —
 * replay and diff read a trace twice (a first pass finds the workload's begin marker), which a
 * pipe cannot give. `done()` removes the copy.
 */
export async function traceFile(path: string): Promise<{ file: string; done: () => void }> {
  if (path !== '-') return { file: path, done: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'foliolab-stdin-'));
  const file = join(dir, 'stdin.trace');
  await pipeline(process.stdin, createWriteStream(file));
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fatal read diagnostic as a command's error: its position first, when it has one. */
export function fatalText(d: Diagnostic): string {
  return d.line > 0 ? `${d.file}:${d.line}:${d.column}: ${d.message}` : d.message;
}

/** Parse diagnostics after which nothing was read: the command reports them as its error. */
const FATAL_INPUT = ['empty_input', 'binary_input', 'unreadable_input'];

/**
 * What reading a trace went through, for a command to report: the diagnostics naming the input
 * as it was given (`-`, not traceFile's copy of standard input), the one that left nothing to
 * replay if any, and the warning text for stderr otherwise.
 */
export function readProblems(
  r: { diagnostics: Diagnostic[]; diagnosticCounts: Record<string, number> },
  file: string,
  path: string,
  shown = 5,
): { diagnostics: Diagnostic[]; fatal: Diagnostic | undefined; warning: string | undefined } {
  const diagnostics = file === path ? r.diagnostics : r.diagnostics.map((d) => (d.file === file ? { ...d, file: path, message: d.message.split(file).join(path) } : d));
  const fatal = diagnostics.find((d) => FATAL_INPUT.includes(d.code));
  return { diagnostics, fatal, warning: fatal ? undefined : inputWarnings(diagnostics, r.diagnosticCounts, shown) };
}

/**
 * What the parse of a replayed trace reported, for stderr: the counts by code and the first
 * few with file:line:column (the results are printed all the same: lost events, a truncated
 * gzip stream or unparsed lines make them partial, and this says so).
 */
function inputWarnings(diagnostics: Diagnostic[], counts: Record<string, number>, shown = 5): string | undefined {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const by = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ×${n}`).join(', ');
  const lines = [`input: ${total} diagnostic${total === 1 ? '' : 's'} while reading the trace (${by}); the results cover what was read`];
  for (const d of diagnostics.slice(0, shown)) lines.push(`  ${formatDiagnostic(d)}`);
  if (diagnostics.length > shown) lines.push(`  … (\`foliolab parse\` lists them all)`);
  return lines.join('\n');
}


/**
 * What a trace holds, for the hint of a selection that matched nothing: its busiest tasks and
 * event names (a second read, on the error path only).
 */
export async function traceInventory(file: string, fm: ResolvedFormats): Promise<{ tasks: string[]; events: string[]; taskCount: number }> {
  const tasks = new Map<string, number>();
  const names = new Map<string, number>();
  await streamTrace(file, { file, registry: fm.registry, release: fm.release }, (batch) => {
    for (const e of batch) {
      const t = `${e.comm}-${e.pid}`;
      tasks.set(t, (tasks.get(t) ?? 0) + 1);
      names.set(e.name, (names.get(e.name) ?? 0) + 1);
    }
  });
  const top = (m: Map<string, number>, n: number): string[] => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} (${v})`);
  return { tasks: top(tasks, 8), events: top(names, 8), taskCount: tasks.size };
}
