/**
 * Capture a command's memory behaviour with tracefs: enable the events foliolab reads, follow
 * the command and its children (set_event_pid + event-fork), write a header marker with the
 * kernel release and THP settings, save the trace text, the counters before and after, the
 * settings, the ring-buffer stats and the format files of the enabled events beside it — and
 * restore every tracefs and THP setting it touched, whatever happens (success, failure of the
 * command, Ctrl-C, SIGTERM).
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { dirname, join } from 'node:path';
import { copyFormats } from './formats.js';

export const TRACEFS = '/sys/kernel/tracing';
export const THP = '/sys/kernel/mm/transparent_hugepage';

export const DEFAULT_EVENTS = [
  'syscalls:sys_enter_mmap', 'syscalls:sys_exit_mmap', 'syscalls:sys_enter_munmap', 'syscalls:sys_exit_munmap',
  'syscalls:sys_enter_mremap', 'syscalls:sys_exit_mremap', 'syscalls:sys_enter_madvise', 'syscalls:sys_exit_madvise',
  'syscalls:sys_enter_mprotect', 'syscalls:sys_exit_mprotect', 'syscalls:sys_enter_brk', 'syscalls:sys_exit_brk',
  'syscalls:sys_enter_clone', 'syscalls:sys_exit_clone', 'syscalls:sys_enter_clone3', 'syscalls:sys_exit_clone3',
  'syscalls:sys_enter_fork', 'syscalls:sys_exit_fork', 'syscalls:sys_enter_vfork', 'syscalls:sys_exit_vfork',
  'syscalls:sys_enter_exit', 'syscalls:sys_enter_exit_group', 'syscalls:sys_enter_wait4', 'syscalls:sys_exit_wait4',
  'exceptions:page_fault_user', 'tlb:tlb_flush', 'vmscan:*', 'pagemap:*',
  'kmem:rss_stat', 'kmem:mm_page_alloc', 'kmem:mm_page_free', 'kmem:mm_page_free_batched',
  'sched:sched_switch', 'sched:sched_migrate_task', 'sched:sched_process_fork', 'sched:sched_process_exit',
  'huge_memory:*', 'thp:*', 'migrate:*',
];
export const SCHED_EVENTS = ['ipi:*', 'irq_vectors:call_function_entry', 'irq_vectors:call_function_exit', 'irq_vectors:call_function_single_entry', 'irq_vectors:call_function_single_exit'];

export class RecordError extends Error {}

export interface RecordOptions {
  command: string[];
  /** Trace text file; counters, settings, stats and formats go beside it. */
  out: string;
  events: string[];
  bufferKb: number;
  /** `transparent_hugepage/enabled` for the run. */
  thp?: string;
  /** Per-size settings for the run: `{ '64kB': 'always' }`. */
  mthp: Record<string, string>;
  /** Pin the command to this CPU (taskset), for deterministic flushes. */
  cpu?: number;
  tracefs?: string;
  onProgress?: (msg: string) => void;
}

export interface RecordResult {
  out: string;
  exitStatus: number | null;
  signal: string | null;
  lines: number;
  lostEvents: number;
  skippedEvents: string[];
  restored: boolean;
}

/** A file whose value we changed, and how to put it back. */
interface Saved {
  path: string;
  value: string;
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

/** `always [madvise] never` → `madvise`. */
function selected(text: string): string {
  return /\[([^\]]+)\]/.exec(text)?.[1] ?? text.trim();
}

export function checkRecordable(tracefs = TRACEFS): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'foliolab record needs root (tracefs and THP settings are root-only)';
  if (!existsSync(join(tracefs, 'events'))) return `no tracefs at ${tracefs}: mount it with \`mount -t tracefs nodev ${tracefs}\``;
  if (!existsSync(join(tracefs, 'trace_marker'))) return `${tracefs}/trace_marker is missing: markers cannot be recorded`;
  return undefined;
}

/** Try to mount tracefs if it is not there (root only). */
export async function ensureTracefs(tracefs = TRACEFS): Promise<void> {
  if (existsSync(join(tracefs, 'events'))) return;
  await new Promise<void>((res) => {
    const p = spawn('mount', ['-t', 'tracefs', 'nodev', tracefs], { stdio: 'ignore' });
    p.on('exit', () => res());
    p.on('error', () => res());
  });
}

/**
 * How this kernel reaches other CPUs for a TLB flush, from the boot log: `hypercall` when a
 * paravirt guest hands remote flushes to the hypervisor (PVM_HC_FLUSH_TLB_MULTI; nothing is then
 * traced on the target CPUs), `ipi` otherwise, `unknown` when the log cannot be read. KVM's
 * PV flush only skips preempted vCPUs, which no trace can predict, so it is reported as is.
 */
export function tlbRemoteFlush(): string {
  let log: string;
  try {
    log = execFileSync('dmesg', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch {
    return 'unknown';
  }
  if (/remote TLB flushes via PVM_HC_FLUSH_TLB_MULTI/.test(log)) return 'hypercall (boot log: remote TLB flushes via PVM_HC_FLUSH_TLB_MULTI)';
  if (/KVM setup pv remote TLB flush/.test(log)) return 'ipi-kvm-pv (boot log: KVM setup pv remote TLB flush; preempted vCPUs are flushed by the host)';
  return 'ipi';
}

/** The per-size mTHP directories (`hugepages-64kB`, …), in name order. */
function mthpDirs(): string[] {
  return existsSync(THP) ? readdirSync(THP).filter((n) => /^hugepages-\d+kB$/.test(n)).sort() : [];
}

export function dumpCounters(): string {
  const parts = ['## /proc/vmstat', read('/proc/vmstat'), '## /proc/meminfo', read('/proc/meminfo')];
  for (const d of mthpDirs()) {
    const sd = join(THP, d, 'stats');
    if (!existsSync(sd)) continue;
    parts.push(`## ${sd}`);
    for (const f of readdirSync(sd).sort()) parts.push(`${f} ${read(join(sd, f)).trim()}`);
  }
  return `${parts.join('\n')}\n`;
}

function thpSettings(): string[] {
  const out: string[] = [];
  if (!existsSync(THP)) return out;
  for (const f of ['enabled', 'defrag', 'use_zero_page', 'shrink_underused', 'khugepaged/max_ptes_none']) {
    const p = join(THP, f);
    if (existsSync(p)) out.push(`thp/${f}: ${read(p).trim()}`);
  }
  for (const d of mthpDirs()) {
    const p = join(THP, d, 'enabled');
    if (existsSync(p)) out.push(`thp/${d}/enabled: ${read(p).trim()}`);
  }
  return out;
}

/**
 * Run the capture. Every setting written is saved first; `restore()` runs from a finally
 * block and from SIGINT/SIGTERM handlers, so the machine is left as it was found.
 */
export async function record(opts: RecordOptions): Promise<RecordResult> {
  const T = opts.tracefs ?? TRACEFS;
  const problem = checkRecordable(T);
  if (problem) throw new RecordError(problem);
  const say = opts.onProgress ?? (() => {});
  const saved: Saved[] = [];
  const savedEvents = read(join(T, 'set_event'));
  const save = (path: string, isSelection = false): void => {
    if (!existsSync(path) || saved.some((s) => s.path === path)) return;
    const v = read(path);
    // buffer_size_kb reads `7 (expanded: 1408)` before first use: the number is what to write back.
    const value = isSelection ? selected(v) : path.endsWith('buffer_size_kb') ? (/^\d+/.exec(v.trim())?.[0] ?? v.trim()) : v.trim();
    saved.push({ path, value });
  };
  const write = (path: string, value: string): void => {
    if (existsSync(path)) writeFileSync(path, value);
  };
  let restored = false;
  const restoreFailures: string[] = [];
  const restore = (): void => {
    if (restored) return;
    restored = true;
    const attempt = (what: string, f: () => void): void => {
      try { f(); } catch (e) { restoreFailures.push(`${what}: ${(e as Error).message}`); }
    };
    attempt('tracing_on', () => writeFileSync(join(T, 'tracing_on'), '0'));
    // Events first (set_event_pid and tracing_on come back last, from `saved`).
    attempt('set_event', () => {
      writeFileSync(join(T, 'set_event'), '\n');
      for (const e of savedEvents.split('\n').filter(Boolean)) appendFileSync(join(T, 'set_event'), `${e}\n`);
    });
    for (const s of [...saved].reverse()) attempt(s.path, () => writeFileSync(s.path, s.value === '' ? '\n' : s.value));
    if (restoreFailures.length) process.stderr.write(`record: could not restore ${restoreFailures.join('; ')}\n`);
  };
  let child: ReturnType<typeof spawn> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    child?.kill(sig);
    restore();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const skipped: string[] = [];
  try {
    for (const f of ['tracing_on', 'buffer_size_kb', 'current_tracer', 'set_event_pid', 'trace_clock', 'options/event-fork', 'options/record-tgid', 'options/markers']) {
      save(join(T, f), f === 'trace_clock');
    }
    if (opts.thp) save(join(THP, 'enabled'), true);
    for (const size of Object.keys(opts.mthp)) save(join(THP, `hugepages-${size}`, 'enabled'), true);

    say('configuring tracefs');
    write(join(T, 'tracing_on'), '0');
    write(join(T, 'current_tracer'), 'nop');
    writeFileSync(join(T, 'set_event'), '\n');
    write(join(T, 'set_event_pid'), '\n');
    write(join(T, 'buffer_size_kb'), String(opts.bufferKb));
    write(join(T, 'trace_clock'), 'local');
    write(join(T, 'options/record-tgid'), '0');
    write(join(T, 'options/markers'), '1');
    write(join(T, 'options/event-fork'), '1');
    for (const e of opts.events) {
      try { appendFileSync(join(T, 'set_event'), `${e}\n`); } catch { skipped.push(e); }
    }
    if (opts.thp) write(join(THP, 'enabled'), opts.thp);
    for (const [size, mode] of Object.entries(opts.mthp)) {
      const p = join(THP, `hugepages-${size}`, 'enabled');
      if (!existsSync(p)) throw new RecordError(`no mTHP size ${size} on this kernel (${p})`);
      write(p, mode);
    }
    writeFileSync(join(T, 'trace'), '');

    const outDir = dirname(opts.out);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'counters-before.txt'), dumpCounters());

    // The wrapper shell puts itself (and so, through exec, the command) in set_event_pid,
    // writes the header marker, turns tracing on, and execs the command.
    const rel = osRelease();
    const thpLine = thpSettings().map((l) => l.replace(/\s+/g, '')).join(' ');
    const script = `echo $$ > ${T}/set_event_pid; echo "fl: note release=${rel} ${thpLine.replace(/"/g, '')}" > ${T}/trace_marker; echo 1 > ${T}/tracing_on; exec "$@"`;
    const argv = opts.cpu !== undefined ? ['taskset', '-c', String(opts.cpu), 'sh', '-c', script, 'sh', ...opts.command] : ['sh', '-c', script, 'sh', ...opts.command];
    say(`running ${opts.command.join(' ')}`);
    const stdout: Buffer[] = [];
    const result = await new Promise<{ code: number | null; signal: string | null }>((res, rej) => {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (b: Buffer) => stdout.push(b));
      child.stderr!.on('data', (b: Buffer) => stdout.push(b));
      child.on('error', rej);
      child.on('exit', (code, signal) => res({ code, signal }));
    });
    writeFileSync(join(T, 'tracing_on'), '0');
    say('saving trace, counters and formats');
    writeFileSync(join(outDir, 'counters-after.txt'), dumpCounters());
    writeFileSync(join(outDir, 'stdout.txt'), Buffer.concat(stdout));
    const stats: string[] = [];
    let lost = 0;
    for (const c of readdirSync(join(T, 'per_cpu')).filter((n) => n.startsWith('cpu')).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))) {
      const s = read(join(T, 'per_cpu', c, 'stats'));
      stats.push(`## ${c}`, s.trimEnd());
      lost += Number(/^overrun:\s*(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^dropped events:\s*(\d+)/m.exec(s)?.[1] ?? 0);
    }
    writeFileSync(join(outDir, 'trace-stats.txt'), `${stats.join('\n')}\n`);
    const enabled = read(join(T, 'set_event')).split('\n').filter(Boolean);
    const settings = [
      `kernel: ${rel}`,
      `recorded-by: foliolab record`,
      ...thpSettings(),
      `tracefs buffer_size_kb: ${opts.bufferKb}`,
      `tracefs options: event-fork=1 record-tgid=0 markers=1`,
      `pinned: ${opts.cpu ?? 'no'}`,
      `tlb-remote-flush: ${tlbRemoteFlush()}`,
      `command: ${opts.command.join(' ')}`,
      `exit-status: ${result.code ?? result.signal}`,
      `skipped-events: ${skipped.join(' ') || '-'}`,
      'tracefs set_event:',
      ...enabled.map((e) => `  ${e}`),
    ];
    writeFileSync(join(outDir, 'settings.txt'), `${settings.join('\n')}\n`);
    // The trace carries its own grammar: the format files of every enabled event.
    const systems = [...new Set(enabled.map((e) => e.split(':')[0]!)), 'ftrace'];
    copyFormats(join(T, 'events'), join(outDir, 'formats'), systems, enabled.filter((e) => e.startsWith('syscalls:')).map((e) => e.replace(/^syscalls:sys_(enter|exit)_/, '')));
    const text = read(join(T, 'trace'));
    writeFileSync(opts.out, text);
    const lines = text.split('\n').length - 1;
    restore();
    return { out: opts.out, exitStatus: result.code, signal: result.signal, lines, lostEvents: lost, skippedEvents: skipped, restored: restoreFailures.length === 0 };
  } finally {
    restore();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
