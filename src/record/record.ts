/**
 * Capture a command's memory behaviour with tracefs: enable the events foliolab reads, follow
 * the command and its children (set_event_pid + event-fork), write a header marker with the
 * kernel release and THP settings, save the trace text, the counters before and after, the
 * settings, the ring-buffer stats and the format files of the enabled events beside it — and
 * restore every tracefs and THP setting it touched, whatever happens (success, failure of the
 * command, Ctrl-C, SIGTERM).
 *
 * Everything that can be refused (no root, no tracefs, a command that cannot be started, an
 * mTHP size or mode this kernel does not have, an offline CPU) is checked before anything is
 * written, so a refusal leaves the machine untouched.
 *
 * Two of the workload's inputs happen in other tasks: another task on the CPU drains the per-CPU
 * lru_add batch that holds the workload's folios (`mm_lru_insertion` in that task), and a flush
 * IPI that reaches a CPU after its workload task switched to another process finds that mm
 * loaded (`remote wrong CPU` in that process). A second tracefs instance records those events
 * for every task but the workload's (set_event_notrace_pid + event-fork), and the two traces
 * are merged by timestamp into the saved one.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { copyFormats } from './formats.js';
import { execImages } from './elf.js';
import { formatExecImage } from '../core/exec-image.js';
import { DEFAULT_EVENTS, eventId, missingRequiredEvents, SCHED_EVENTS } from './events.js';

export { DEFAULT_EVENTS, SCHED_EVENTS };
export const TRACEFS = '/sys/kernel/tracing';
export const THP = '/sys/kernel/mm/transparent_hugepage';

/** A refusal; `exit` is the status the command exits with (1 cannot record, 2 usage, 126/127 command). */
export class RecordError extends Error {
  constructor(message: string, readonly exit = 1) {
    super(message);
  }
}

/**
 * The file operations record() does on tracefs and sysfs. The default is plain node:fs; tests
 * pass one that behaves like the kernel (a trace_marker that refuses writes while tracing is
 * off, a buffer_size_kb that reads `7 (expanded: 1408)`, …).
 */
export interface SysIO {
  read(path: string): string;
  write(path: string, value: string): void;
  append(path: string, value: string): void;
  /** mkdir/rmdir of a tracefs instance (instances/NAME: the kernel creates and removes its files). */
  mkdir(path: string): void;
  rmdir(path: string): void;
}

export const fsIO: SysIO = {
  read: (p) => readFileSync(p, 'utf8'),
  write: (p, v) => writeFileSync(p, v),
  append: (p, v) => appendFileSync(p, v),
  mkdir: (p) => mkdirSync(p),
  rmdir: (p) => rmdirSync(p),
};

/**
 * Events recorded in the second instance, for every task but the workload's (see above). The
 * khugepaged collapse events (6.1, 6.12 and 6.18 have both) say when khugepaged replaced a PMD
 * range of the workload with a new THP, and which pages it took (`scan_pfn`).
 */
export const WIDE_EVENTS = ['pagemap:mm_lru_insertion', 'tlb:tlb_flush', 'huge_memory:mm_collapse_huge_page_isolate', 'huge_memory:mm_collapse_huge_page'];
/** Its name: one per recording process, so that two recordings never share one. */
const WIDE_INSTANCE = `foliolab-wide-${process.pid}`;
/**
 * Its ring buffer per CPU (KiB) at least: few events, but from every task — and the recorder's
 * own writes of the trace it streams are page-cache insertions too — so it gets the size asked
 * for the main buffer when that is larger.
 */
const WIDE_BUFFER_KB = 8192;

export interface RecordOptions {
  command: string[];
  /** Trace text file; counters, settings, stats and formats go beside it. */
  out: string;
  events: string[];
  /** Ring buffer needed per CPU (KiB): a smaller buffer is grown to it, a larger one is kept. */
  bufferKb: number;
  /** `transparent_hugepage/enabled` for the run. */
  thp?: string;
  /** Per-size settings for the run: `{ '64kB': 'always' }`. */
  mthp: Record<string, string>;
  /** Pin the command to this CPU (taskset), for deterministic flushes. */
  cpu?: number;
  tracefs?: string;
  /** The transparent_hugepage sysfs directory (tests point it at a copy). */
  thpDir?: string;
  io?: SysIO;
  /** Record WIDE_EVENTS for the other tasks too (default true when the events are selected). */
  wide?: boolean;
  onProgress?: (msg: string) => void;
  /** Problems worth telling before the command runs (missing required events, a busy tracefs). */
  onWarning?: (msg: string) => void;
}

export interface RecordResult {
  out: string;
  exitStatus: number | null;
  signal: string | null;
  lines: number;
  lostEvents: number;
  skippedEvents: string[];
  /** Events replay needs that this kernel has but the capture did not enable (`system:event`). */
  missingRequired: string[];
  /** Per-CPU ring buffer during the capture (KiB), one entry per size in use. */
  bufferKb: number[];
  headerMarker: boolean;
  warnings: string[];
  restored: boolean;
  /** The events recorded for other tasks in the second instance (empty: none). */
  wideEvents: string[];
}

/** A file whose value we changed, and how to put it back. */
interface Saved {
  path: string;
  value: string;
}

/** `always [madvise] never` → `madvise`. */
function selected(text: string): string {
  return /\[([^\]]+)\]/.exec(text)?.[1] ?? text.trim();
}

/** `always inherit [madvise] never` → every mode the file accepts. */
function choices(text: string): string[] {
  return text.replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean);
}

/**
 * The per-CPU ring buffer size buffer_size_kb stands for. Until something first uses tracing
 * the kernel keeps the buffer at its minimum and reports the size it will expand to:
 * `7 (expanded: 1408)` is a 1408 KiB buffer (writing 7 back would shrink it to 7 KiB). `X`
 * (per-CPU sizes differ) gives undefined.
 */
export function parseBufferKb(text: string): number | undefined {
  const t = text.trim();
  const m = /\(expanded:\s*(\d+)\)/.exec(t) ?? /^(\d+)$/.exec(t);
  return m ? Number(m[1]) : undefined;
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function checkRecordable(tracefs = TRACEFS): string | undefined {
  const root = typeof process.getuid !== 'function' || process.getuid() === 0;
  if (!existsSync(join(tracefs, 'events'))) {
    return root ? `no tracefs at ${tracefs}: mount it with \`mount -t tracefs nodev ${tracefs}\`` : `foliolab record needs root (tracefs at ${tracefs} is root-only or not mounted)`;
  }
  for (const f of ['tracing_on', 'set_event', 'trace', 'trace_marker']) {
    if (!existsSync(join(tracefs, f))) return `${tracefs}/${f} is missing: ${f === 'trace_marker' ? 'markers cannot be recorded' : 'not a tracefs mount'}`;
  }
  if (!canWrite(join(tracefs, 'tracing_on')) || !canWrite(join(tracefs, 'set_event'))) return 'foliolab record needs root (tracefs settings are root-only)';
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
 * Whether another capture seems to be using the top-level tracefs buffer: events enabled, a
 * tracer other than nop, or a pid filter. Undefined when idle.
 */
export function tracefsInUse(tracefs = TRACEFS, io: SysIO = fsIO): string | undefined {
  const what: string[] = [];
  const r = (f: string): string => { try { return io.read(join(tracefs, f)); } catch { return ''; } };
  const events = r('set_event').split('\n').filter(Boolean);
  if (events.length) what.push(`set_event lists ${events.length} events (${events.slice(0, 3).join(' ')}${events.length > 3 ? ' …' : ''})`);
  const tracer = r('current_tracer').trim();
  if (tracer && tracer !== 'nop') what.push(`current_tracer is ${tracer}`);
  const pids = r('set_event_pid').trim();
  if (pids) what.push(`set_event_pid is ${pids.replace(/\s+/g, ' ')}`);
  return what.length ? what.join(', ') : undefined;
}

/**
 * Where the shell will find `cmd`, as `sh` does: a name with a slash is taken as a path, others
 * are searched in PATH. 127: not found; 126: found but not executable (or a directory).
 */
export function resolveCommand(cmd: string, path = process.env.PATH ?? '/usr/bin:/bin'): { path: string } | { problem: string; exit: 126 | 127 } {
  const check = (p: string): 'ok' | 'missing' | 'noexec' => {
    if (!existsSync(p)) return 'missing';
    if (statSync(p).isDirectory()) return 'noexec';
    try {
      accessSync(p, constants.X_OK);
      return 'ok';
    } catch {
      return 'noexec';
    }
  };
  if (cmd.includes('/')) {
    const c = check(cmd);
    if (c === 'ok') return { path: cmd };
    return c === 'missing' ? { problem: `cannot run ${cmd}: no such file`, exit: 127 } : { problem: `cannot run ${cmd}: not an executable file`, exit: 126 };
  }
  let noexec: string | undefined;
  for (const d of path.split(delimiter)) {
    const p = join(d || '.', cmd);
    const c = check(p);
    if (c === 'ok') return { path: p };
    if (c === 'noexec' && !noexec) noexec = p;
  }
  return noexec ? { problem: `cannot run ${cmd}: ${noexec} is not executable`, exit: 126 } : { problem: `cannot run ${cmd}: not found in PATH`, exit: 127 };
}

/** The per-size mTHP directories (`hugepages-64kB`, …), in size order. */
function mthpDirs(thpDir: string): string[] {
  return existsSync(thpDir) ? readdirSync(thpDir).filter((n) => /^hugepages-\d+kB$/.test(n)).sort((a, b) => parseInt(a.slice(10), 10) - parseInt(b.slice(10), 10)) : [];
}

/**
 * Refuse THP/mTHP settings this kernel does not offer, listing what it does offer (read from
 * the sysfs files themselves: the modes are the words of each `enabled` file).
 */
export function checkThpSettings(opts: { thp?: string; mthp: Record<string, string> }, thpDir = THP, io: SysIO = fsIO): void {
  const usage = (m: string): never => { throw new RecordError(m, 2); };
  if (opts.thp !== undefined) {
    const p = join(thpDir, 'enabled');
    if (!existsSync(p)) usage(`--thp ${opts.thp}: this kernel has no ${p} (no transparent huge pages)`);
    const modes = choices(io.read(p));
    if (!modes.includes(opts.thp)) usage(`--thp ${opts.thp}: not a mode of ${p}; valid modes: ${modes.join(', ')}`);
  }
  const sizes = mthpDirs(thpDir).filter((d) => existsSync(join(thpDir, d, 'enabled'))).map((d) => d.slice(10));
  for (const [size, mode] of Object.entries(opts.mthp)) {
    if (!sizes.includes(size)) {
      usage(sizes.length
        ? `--mthp ${size}=${mode}: no mTHP size ${size} on this kernel; valid sizes: ${sizes.join(', ')} (from ${thpDir}/hugepages-*)`
        : `--mthp ${size}=${mode}: this kernel has no mTHP sizes (no ${thpDir}/hugepages-*/enabled)`);
    }
    const modes = choices(io.read(join(thpDir, `hugepages-${size}`, 'enabled')));
    if (!modes.includes(mode)) usage(`--mthp ${size}=${mode}: not a mode of ${thpDir}/hugepages-${size}/enabled; valid modes: ${modes.join(', ')}`);
  }
  const written = [...(opts.thp !== undefined ? [join(thpDir, 'enabled')] : []), ...Object.keys(opts.mthp).map((s) => join(thpDir, `hugepages-${s}`, 'enabled'))];
  const ro = written.find((p) => !canWrite(p));
  if (ro) throw new RecordError(`foliolab record needs root to change THP settings (${ro} is not writable)`);
}

/** `0-1,4` → [0, 1, 4]. */
function cpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
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

export function dumpCounters(thpDir = THP): string {
  const read = (p: string): string => readFileSync(p, 'utf8');
  const parts = ['## /proc/vmstat', read('/proc/vmstat'), '## /proc/meminfo', read('/proc/meminfo')];
  for (const d of mthpDirs(thpDir)) {
    const sd = join(thpDir, d, 'stats');
    if (!existsSync(sd)) continue;
    parts.push(`## ${sd}`);
    for (const f of readdirSync(sd).sort()) parts.push(`${f} ${read(join(sd, f)).trim()}`);
  }
  return `${parts.join('\n')}\n`;
}

function thpSettings(thpDir: string, io: SysIO): string[] {
  const out: string[] = [];
  if (!existsSync(thpDir)) return out;
  for (const f of ['enabled', 'defrag', 'use_zero_page', 'shrink_underused', 'khugepaged/max_ptes_none']) {
    const p = join(thpDir, f);
    if (existsSync(p)) out.push(`thp/${f}: ${io.read(p).trim()}`);
  }
  for (const d of mthpDirs(thpDir)) {
    const p = join(thpDir, d, 'enabled');
    if (existsSync(p)) out.push(`thp/${d}/enabled: ${io.read(p).trim()}`);
  }
  return out;
}

/** What the header marker starts with (checked for in the saved trace). */
export const HEADER_MARKER = 'fl: note release=';

/**
 * The wrapper the command runs under. It waits for a line on fd 3 — record() sends it once
 * set_event_pid holds the wrapper's pid and tracing is on — then closes fd 3 and execs the
 * command, which keeps the pid (and so the filter) through exec. taskset, when pinning, execs
 * the shell the same way.
 */
export const WRAPPER = 'read _ <&3; exec 3<&-; exec "$@"';

/**
 * Run the capture. Every setting written is saved first; `restore()` runs from a finally
 * block and from SIGINT/SIGTERM handlers, so the machine is left as it was found.
 */
export async function record(opts: RecordOptions): Promise<RecordResult> {
  const T = opts.tracefs ?? TRACEFS;
  const TH = opts.thpDir ?? THP;
  const io = opts.io ?? fsIO;
  const problem = checkRecordable(T);
  if (problem) throw new RecordError(problem);
  const cmd = resolveCommand(opts.command[0] ?? '');
  if ('problem' in cmd) throw new RecordError(cmd.problem, cmd.exit);
  checkThpSettings(opts, TH, io);
  if (opts.cpu !== undefined) {
    if ('problem' in resolveCommand('taskset')) throw new RecordError('--cpu needs taskset (util-linux), which is not in PATH', 127);
    const onlineFile = '/sys/devices/system/cpu/online';
    const online = existsSync(onlineFile) ? cpuList(readFileSync(onlineFile, 'utf8')) : undefined;
    if (online && !online.includes(opts.cpu)) throw new RecordError(`--cpu ${opts.cpu}: not an online CPU (online: ${online.join(', ')})`, 2);
  }

  const say = opts.onProgress ?? (() => {});
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    opts.onWarning?.(m);
  };
  const busy = tracefsInUse(T, io);
  if (busy) warn(`tracefs was not idle (${busy}): another capture may be using it; its settings are put back afterwards`);

  const saved: Saved[] = [];
  const savedEvents = io.read(join(T, 'set_event'));
  const save = (path: string, isSelection = false): void => {
    if (!existsSync(path) || saved.some((s) => s.path === path)) return;
    const v = io.read(path);
    saved.push({ path, value: isSelection ? selected(v) : v.trim() });
  };
  const write = (path: string, value: string): void => {
    if (existsSync(path)) io.write(path, value);
  };
  let restored = false;
  const restoreFailures: string[] = [];
  const W = join(T, 'instances', WIDE_INSTANCE);
  let wideMade = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    const attempt = (what: string, f: () => void): void => {
      try { f(); } catch (e) { restoreFailures.push(`${what}: ${(e as Error).message}`); }
    };
    attempt('tracing_on', () => io.write(join(T, 'tracing_on'), '0'));
    if (wideMade) attempt(`instances/${WIDE_INSTANCE}`, () => { io.write(join(W, 'tracing_on'), '0'); io.rmdir(W); });
    // Events first (set_event_pid and tracing_on come back last, from `saved`).
    attempt('set_event', () => {
      io.write(join(T, 'set_event'), '\n');
      for (const e of savedEvents.split('\n').filter(Boolean)) io.append(join(T, 'set_event'), `${e}\n`);
    });
    for (const s of [...saved].reverse()) attempt(s.path, () => io.write(s.path, s.value === '' ? '\n' : s.value));
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
    for (const f of ['tracing_on', 'current_tracer', 'set_event_pid', 'trace_clock', 'options/event-fork', 'options/record-tgid', 'options/markers']) {
      save(join(T, f), f === 'trace_clock');
    }
    if (opts.thp) save(join(TH, 'enabled'), true);
    for (const size of Object.keys(opts.mthp)) save(join(TH, `hugepages-${size}`, 'enabled'), true);

    say('configuring tracefs');
    write(join(T, 'tracing_on'), '0');
    write(join(T, 'current_tracer'), 'nop');
    io.write(join(T, 'set_event'), '\n');
    write(join(T, 'set_event_pid'), '\n');
    const bufferKb = growBuffer(T, opts.bufferKb, io, saved);
    write(join(T, 'trace_clock'), 'local');
    write(join(T, 'options/record-tgid'), '0');
    write(join(T, 'options/markers'), '1');
    write(join(T, 'options/event-fork'), '1');
    for (const e of opts.events) {
      try { io.append(join(T, 'set_event'), `${e}\n`); } catch { skipped.push(e); }
    }
    if (opts.thp) write(join(TH, 'enabled'), opts.thp);
    for (const [size, mode] of Object.entries(opts.mthp)) write(join(TH, `hugepages-${size}`, 'enabled'), mode);
    io.write(join(T, 'trace'), '');

    // What the kernel actually enabled, against what replay reads (only events this kernel has).
    const enabled = io.read(join(T, 'set_event')).split('\n').filter(Boolean);
    const missing = missingRequiredEvents([...enabled, 'ftrace:print'], { available: (sys, name) => existsSync(join(T, 'events', sys, name)) }).map(eventId);
    if (missing.length) warn(`replay needs events this capture does not enable: ${missing.join(' ')} (add them to --events, or use --events default)`);

    // The second instance: the wide events of every task but the workload's.
    let wide = opts.wide === false ? [] : WIDE_EVENTS.filter((e) => enabled.includes(e));
    if (wide.length > 0 && !existsSync(join(T, 'instances'))) {
      warn(`this tracefs has no instances: ${wide.join(' ')} of other tasks are not recorded`);
      wide = [];
    }
    if (wide.length > 0) {
      try {
        if (existsSync(W)) io.rmdir(W);
        io.mkdir(W);
        wideMade = true;
        // tracefs fills a new instance with its control files; a plain directory stays empty.
        if (!existsSync(join(W, 'set_event'))) {
          wideMade = false;
          io.rmdir(W);
          throw new Error(`${join(T, 'instances')} does not make tracefs instances`);
        }
        write(join(W, 'tracing_on'), '0');
        write(join(W, 'buffer_size_kb'), String(Math.max(WIDE_BUFFER_KB, opts.bufferKb)));
        write(join(W, 'trace_clock'), 'local');
        write(join(W, 'options/event-fork'), '1');
        io.write(join(W, 'set_event'), '\n');
        for (const e of wide) io.append(join(W, 'set_event'), `${e}\n`);
      } catch (e) {
        warn(`the second tracefs instance could not be set up (${(e as Error).message}): ${wide.join(' ')} of other tasks are not recorded`);
        wide = [];
      }
    }


    const outDir = dirname(opts.out);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'counters-before.txt'), dumpCounters(TH));

    const rel = osRelease();
    const thpLine = thpSettings(TH, io).map((l) => l.replace(/\s+/g, '')).join(' ');
    const argv = [...(opts.cpu !== undefined ? ['taskset', '-c', String(opts.cpu)] : []), 'sh', '-c', WRAPPER, 'sh', ...opts.command];
    say(`running ${opts.command.join(' ')}`);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let headerWritten = false;
    const result = await new Promise<{ code: number | null; signal: string | null }>((res, rej) => {
      const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (b: Buffer) => stdout.push(b));
      c.stderr!.on('data', (b: Buffer) => { stdout.push(b); stderr.push(b); });
      c.on('error', rej);
      c.on('exit', (code, signal) => res({ code, signal }));
      const go = c.stdio[3] as NodeJS.WritableStream | null;
      // The wrapper may be gone already (taskset refused): a write to its pipe then fails.
      (go as unknown as { on(ev: 'error', f: () => void): void } | null)?.on('error', () => {});
      if (c.pid === undefined || !go) return;
      try {
        // The filter first, then tracing on, then the marker: tracefs refuses trace_marker
        // writes while tracing_on is 0, and with set_event_pid empty every task's events
        // would be recorded.
        io.write(join(T, 'set_event_pid'), String(c.pid));
        if (wide.length > 0) {
          io.write(join(W, 'set_event_notrace_pid'), String(c.pid));
          io.write(join(W, 'tracing_on'), '1');
        }
        io.write(join(T, 'tracing_on'), '1');
        try {
          io.write(join(T, 'trace_marker'), `${HEADER_MARKER}${rel} pid=${c.pid}${wide.length > 0 ? ` wide=${wide.join(',')}` : ''} ${thpLine.replace(/"/g, '')}\n`);
          headerWritten = true;
        } catch (e) {
          warn(`the header marker could not be written (${(e as Error).message}); settings.txt has the same facts`);
        }
        go.end('\n');
      } catch (e) {
        c.kill('SIGKILL');
        rej(e);
      }
    });
    io.write(join(T, 'tracing_on'), '0');
    if (wide.length > 0) io.write(join(W, 'tracing_on'), '0');
    const errText = Buffer.concat(stderr).toString('utf8');
    // The pre-check found the command; an exec that still fails (a script whose interpreter is
    // missing, a file removed meanwhile) is reported by the shell with these statuses.
    if ((result.code === 126 || result.code === 127) && /exec: .*: (not found|Permission denied|Exec format error)/.test(errText)) {
      throw new RecordError(`cannot run ${opts.command[0]}: ${errText.trim().split('\n').pop()}`, result.code);
    }
    say('saving trace, counters and formats');
    writeFileSync(join(outDir, 'counters-after.txt'), dumpCounters(TH));
    writeFileSync(join(outDir, 'stdout.txt'), Buffer.concat(stdout));
    const stats: string[] = [];
    let lost = 0;
    const perCpu = join(T, 'per_cpu');
    for (const c of (existsSync(perCpu) ? readdirSync(perCpu) : []).filter((n) => /^cpu\d+$/.test(n)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))) {
      const sf = join(perCpu, c, 'stats');
      if (!existsSync(sf)) continue;
      const s = io.read(sf);
      stats.push(`## ${c}`, s.trimEnd());
      lost += Number(/^overrun:\s*(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^dropped events:\s*(\d+)/m.exec(s)?.[1] ?? 0);
    }
    if (wide.length > 0) {
      let wideLost = 0;
      const wpc = join(W, 'per_cpu');
      for (const c of existsSync(wpc) ? readdirSync(wpc).filter((n) => /^cpu\d+$/.test(n)) : []) {
        const sf = join(wpc, c, 'stats');
        if (!existsSync(sf)) continue;
        const s = io.read(sf);
        wideLost += Number(/^overrun:\s*(\d+)/m.exec(s)?.[1] ?? 0) + Number(/^dropped events:\s*(\d+)/m.exec(s)?.[1] ?? 0);
      }
      stats.push(`## instances/${WIDE_INSTANCE} (${wide.join(' ')}, other tasks)`, `lost: ${wideLost}`);
      if (wideLost > 0) warn(`the second instance lost ${wideLost} events of other tasks (${wide.join(' ')})`);
    }
    writeFileSync(join(outDir, 'trace-stats.txt'), `${stats.join('\n')}\n`);
    const settings = [
      `kernel: ${rel}`,
      `recorded-by: foliolab record`,
      `trace-file: ${basename(opts.out)}`,
      ...thpSettings(TH, io),
      `tracefs buffer_size_kb: ${bufferKb.join(' ')}`,
      `tracefs options: event-fork=1 record-tgid=0 markers=1`,
      `pinned: ${opts.cpu ?? 'no'}`,
      `other-tasks-events: ${wide.join(' ') || '-'}`,
      `tlb-remote-flush: ${tlbRemoteFlush()}`,
      `command: ${opts.command.join(' ')}`,
      `exit-status: ${result.code ?? result.signal}`,
      `skipped-events: ${skipped.join(' ') || '-'}`,
      `missing-required-events: ${missing.join(' ') || '-'}`,
      'tracefs set_event:',
      ...enabled.map((e) => `  ${e}`),
    ];
    writeFileSync(join(outDir, 'settings.txt'), `${settings.join('\n')}\n`);
    // The trace carries its own grammar: the format files of every enabled event.
    const systems = [...new Set(enabled.map((e) => e.split(':')[0]!)), 'ftrace'];
    copyFormats(join(T, 'events'), join(outDir, 'formats'), systems, enabled.filter((e) => e.startsWith('syscalls:')).map((e) => e.replace(/^syscalls:sys_(enter|exit)_/, '')));
    const { lines, hasHeader } = await saveTrace(join(T, 'trace'), opts.out, wide.length > 0 ? join(W, 'trace') : undefined);
    if (headerWritten && !hasHeader) warn('the header marker is not in the saved trace');
    // The layouts of what the workload exec'd (and their interpreters), which no event carries.
    const images = execImages(await execedFiles(opts.out));
    if (images.length > 0) appendFileSync(join(outDir, 'settings.txt'), `${images.map(formatExecImage).join('\n')}\n`);
    restore();
    return {
      out: opts.out, exitStatus: result.code, signal: result.signal, lines, lostEvents: lost, skippedEvents: skipped,
      missingRequired: missing, bufferKb, headerMarker: hasHeader, warnings, restored: restoreFailures.length === 0, wideEvents: wide,
    };
  } finally {
    restore();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/**
 * Make every CPU's ring buffer at least `need` KiB, never smaller than it is; what is grown is
 * saved (as the size it stood for, see parseBufferKb) to be put back. Returns the sizes in use
 * as the kernel shows them (it allocates whole sub-buffers: 65536 reads back as 65538).
 */
function growBuffer(T: string, need: number, io: SysIO, saved: Saved[]): number[] {
  const top = join(T, 'buffer_size_kb');
  if (!existsSync(top)) return [];
  const uniform = parseBufferKb(io.read(top));
  if (uniform !== undefined) {
    if (uniform < need) {
      saved.push({ path: top, value: String(uniform) });
      io.write(top, String(need));
      return [parseBufferKb(io.read(top)) ?? need];
    }
    return [uniform];
  }
  // `X`: the CPUs' buffers differ; each is grown (and put back) on its own.
  const sizes = new Set<number>();
  const perCpu = join(T, 'per_cpu');
  for (const c of readdirSync(perCpu).filter((n) => /^cpu\d+$/.test(n))) {
    const p = join(perCpu, c, 'buffer_size_kb');
    if (!existsSync(p)) continue;
    const kb = parseBufferKb(io.read(p));
    if (kb !== undefined && kb < need) {
      saved.push({ path: p, value: String(kb) });
      io.write(p, String(need));
      sizes.add(parseBufferKb(io.read(p)) ?? need);
    } else sizes.add(kb ?? need);
  }
  return [...sizes].sort((a, b) => a - b);
}

/** The files the workload exec'd, in order: the `sched_process_exec: filename=…` of the saved trace. */
export async function execedFiles(trace: string): Promise<string[]> {
  const out: string[] = [];
  if (!existsSync(trace)) return out;
  const rl = createInterface({ input: createReadStream(trace), crlfDelay: Infinity });
  for await (const line of rl) {
    const i = line.indexOf('sched_process_exec: filename=');
    if (i < 0) continue;
    const f = line.slice(i + 29).split(' ')[0];
    if (f) out.push(f);
  }
  return out;
}

/** Copy the trace out of tracefs as a stream (it can be far larger than a string may be). */
const ENTRIES_LINE = /entries-in-buffer\/entries-written: (\d+)\/(\d+)/;

/** The timestamp of a tracefs text event line (`comm-pid [cpu] flags  12.345678: …`), or NaN. */
export function traceLineTs(line: string): number {
  const m = /\s(\d+\.\d+): /.exec(line);
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * Save the main instance's trace to `to`, with the second instance's event lines (`wideFrom`)
 * merged in by timestamp: each goes before the first main event line with a later timestamp
 * (each instance's text is in timestamp order). Both are streamed; the main header's entry
 * counts get the instance's added (the file holds both).
 */
async function saveTrace(from: string, to: string, wideFrom?: string): Promise<{ lines: number; hasHeader: boolean }> {
  let lines = 0;
  let hasHeader = false;
  const out = createWriteStream(to);
  const put = async (line: string): Promise<void> => {
    lines++;
    if (!out.write(`${line}\n`, 'latin1')) await once(out, 'drain');
  };
  const wideLines = wideFrom !== undefined ? createInterface({ input: createReadStream(wideFrom, { encoding: 'latin1' }), crlfDelay: Infinity })[Symbol.asyncIterator]() : undefined;
  // The instance's header first: its entry counts, and its first event line.
  let wideEntries: [number, number] | undefined;
  let pending: string | undefined;
  let pendingTs = Number.NaN;
  const nextWide = async (): Promise<void> => {
    pending = undefined;
    if (!wideLines) return;
    for (;;) {
      const r = await wideLines.next();
      if (r.done) return;
      const l = r.value;
      if (l === '') continue;
      if (l.startsWith('#')) {
        const m = ENTRIES_LINE.exec(l);
        if (m) wideEntries = [Number(m[1]), Number(m[2])];
        continue;
      }
      pending = l;
      pendingTs = traceLineTs(l);
      return;
    }
  };
  await nextWide();
  const main = createInterface({ input: createReadStream(from, { encoding: 'latin1' }), crlfDelay: Infinity });
  for await (const l of main) {
    if (l.startsWith('#')) {
      const e = wideEntries;
      await put(e ? l.replace(ENTRIES_LINE, (_all: string, a: string, b: string) => `entries-in-buffer/entries-written: ${Number(a) + e[0]}/${Number(b) + e[1]}`) : l);
      continue;
    }
    if (!hasHeader && l.includes(HEADER_MARKER)) hasHeader = true;
    const ts = traceLineTs(l);
    while (pending !== undefined && !Number.isNaN(ts) && (pendingTs < ts || Number.isNaN(pendingTs))) {
      await put(pending);
      await nextWide();
    }
    await put(l);
  }
  while (pending !== undefined) {
    await put(pending);
    await nextWide();
  }
  out.end();
  await once(out, 'finish');
  return { lines, hasHeader };
}
