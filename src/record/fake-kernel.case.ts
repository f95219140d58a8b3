/**
 * Test support for `foliolab record` (not built into dist/): a temporary directory laid out like
 * tracefs and /sys/kernel/mm/transparent_hugepage, a SysIO that gives its files the kernel's
 * semantics, and a snapshot of the settings record may touch (used on the live kernel too).
 *
 * Kernel behaviour mimicked (kernel/trace/trace.c, trace_events.c, mm/huge_memory.c):
 * - buffer_size_kb reads `7 (expanded: 1408)` until tracing is first used; a write sets the
 *   size on every CPU, in whole sub-buffers of 4080 data bytes (4096 less their header), so
 *   1408 reads back as 1410; per-CPU sizes that differ make it read `X`;
 * - trace_marker refuses writes while tracing_on is 0 (the ring buffer rejects the event:
 *   EBADF), otherwise the marker lands in `trace`;
 * - set_event is cleared by a truncating write, and an append enables an event or a system's
 *   events (`system:*`), refusing names the kernel does not have (EINVAL);
 * - the selection files (trace_clock, THP `enabled`) take one of their listed words and show it
 *   in brackets, refusing anything else (EINVAL).
 */
import { afterAll } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseBufferKb, type SysIO } from './record.js';

export interface FakeSys {
  root: string;
  tracefs: string;
  thpDir: string;
  io: SysIO;
  /** Every write and append through io, as `relative path <- value`. */
  writes: string[];
}

const EVENTS: Record<string, string[]> = {
  syscalls: ['mmap', 'munmap', 'mremap', 'madvise', 'mprotect', 'brk', 'clone', 'clone3', 'fork', 'vfork', 'exit', 'exit_group', 'wait4']
    .flatMap((s) => [`sys_enter_${s}`, `sys_exit_${s}`]),
  exceptions: ['page_fault_user', 'page_fault_kernel'],
  tlb: ['tlb_flush'],
  kmem: ['rss_stat', 'mm_page_alloc', 'mm_page_free', 'mm_page_free_batched', 'kmalloc'],
  vmscan: ['mm_vmscan_reclaim_pages', 'mm_vmscan_lru_isolate'],
  sched: ['sched_switch', 'sched_migrate_task', 'sched_process_fork', 'sched_process_exit'],
  ipi: ['ipi_send_cpu', 'ipi_send_cpumask'],
  irq_vectors: ['call_function_entry', 'call_function_exit', 'call_function_single_entry', 'call_function_single_exit'],
  huge_memory: ['mm_khugepaged_scan_pmd'],
  pagemap: ['mm_lru_insertion', 'mm_lru_activate'],
  ftrace: ['print'],
};

/** Data bytes of a ring-buffer sub-buffer: 4 KiB less its 16-byte header (timestamp, commit). */
const SUBBUF_DATA = 4096 - 16;

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

export interface FakeOptions {
  /** buffer_size_kb as the kernel shows it; default: a freshly booted machine's. */
  bufferSizeKb?: string;
  /** Per-CPU sizes (then buffer_size_kb reads `X` unless they are all equal). */
  perCpuKb?: string[];
  tracingOn?: '0' | '1';
  setEvent?: string[];
  mthpSizes?: string[];
  /** Have `instances/` (tracefs instances: mkdir creates one with its own files); default true. */
  instances?: boolean;
}

/** Every fake made by a test file, removed after its tests (a test makes one per case). */
const fakes: string[] = [];
afterAll(() => { for (const d of fakes.splice(0)) rmSync(d, { recursive: true, force: true }); });

export function fakeSys(o: FakeOptions = {}): FakeSys {
  const root = mkdtempSync(join(tmpdir(), 'foliolab-fakesys-'));
  fakes.push(root);
  const T = join(root, 'tracing');
  const TH = join(root, 'transparent_hugepage');
  const put = (p: string, v: string): void => {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, v);
  };
  for (const [sys, evs] of Object.entries(EVENTS)) {
    put(join(T, 'events', sys, 'enable'), '0\n');
    for (const ev of evs) {
      put(join(T, 'events', sys, ev, 'enable'), '0\n');
      put(join(T, 'events', sys, ev, 'format'), `name: ${ev}\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\nprint fmt: ""\n`);
    }
  }
  put(join(T, 'events', 'header_page'), '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n');
  put(join(T, 'events', 'header_event'), '# compressed entry header\n');
  const cpus = o.perCpuKb ?? ['1408', '1408'];
  const top = o.bufferSizeKb ?? (o.perCpuKb ? (new Set(o.perCpuKb).size === 1 ? o.perCpuKb[0]! : 'X') : '7 (expanded: 1408)');
  put(join(T, 'buffer_size_kb'), `${top}\n`);
  cpus.forEach((kb, i) => {
    put(join(T, 'per_cpu', `cpu${i}`, 'buffer_size_kb'), `${o.perCpuKb ? kb : top}\n`);
    put(join(T, 'per_cpu', `cpu${i}`, 'stats'), 'entries: 0\noverrun: 0\ncommit overrun: 0\nbytes: 0\ndropped events: 0\nread events: 0\n');
  });
  put(join(T, 'tracing_on'), `${o.tracingOn ?? '1'}\n`);
  put(join(T, 'current_tracer'), 'nop\n');
  put(join(T, 'set_event'), (o.setEvent ?? []).map((e) => `${e}\n`).join(''));
  put(join(T, 'set_event_pid'), '');
  put(join(T, 'trace_clock'), '[local] global counter uptime perf mono mono_raw boot\n');
  put(join(T, 'options', 'event-fork'), '0\n');
  put(join(T, 'options', 'record-tgid'), '0\n');
  put(join(T, 'options', 'markers'), '1\n');
  put(join(T, 'trace'), '# tracer: nop\n#\n');
  put(join(T, 'trace_marker'), '');
  if (o.instances !== false) mkdirSync(join(T, 'instances'));
  put(join(TH, 'enabled'), 'always [madvise] never\n');
  put(join(TH, 'defrag'), 'always defer defer+madvise [madvise] never\n');
  put(join(TH, 'use_zero_page'), '1\n');
  for (const s of o.mthpSizes ?? ['16kB', '32kB', '64kB', '2048kB']) {
    put(join(TH, `hugepages-${s}`, 'enabled'), s === '2048kB' ? 'always [inherit] madvise never\n' : 'always inherit madvise [never]\n');
    put(join(TH, `hugepages-${s}`, 'stats', 'anon_fault_alloc'), '0\n');
  }

  const writes: string[] = [];
  const rel = (p: string): string => relative(root, p);
  const select = (p: string, v: string): void => {
    const words = readFileSync(p, 'utf8').replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean);
    const want = v.trim();
    if (!words.includes(want)) throw errno('EINVAL', `write ${p}`);
    writeFileSync(p, `${words.map((w) => (w === want ? `[${w}]` : w)).join(' ')}\n`);
  };
  const enable = (sel: string): void => {
    const [sys, ev] = sel.trim().split(':');
    const names = sys && existsSync(join(T, 'events', sys)) && statSync(join(T, 'events', sys)).isDirectory()
      ? ev === '*' ? readdirSync(join(T, 'events', sys)).filter((n) => statSync(join(T, 'events', sys, n)).isDirectory()) : existsSync(join(T, 'events', sys, ev ?? '')) ? [ev!] : []
      : [];
    if (!names.length) throw errno('EINVAL', `write ${join(T, 'set_event')}`);
    const have = new Set(readFileSync(join(T, 'set_event'), 'utf8').split('\n').filter(Boolean));
    for (const n of names) {
      if (!have.has(`${sys}:${n}`)) appendFileSync(join(T, 'set_event'), `${sys}:${n}\n`);
      writeFileSync(join(T, 'events', sys!, n, 'enable'), '1\n');
    }
  };
  const setBuffer = (p: string, v: string): void => {
    if (!/^\d+$/.test(v.trim())) throw errno('EINVAL', `write ${p}`);
    const kb = String(Math.floor((Math.ceil((Number(v) * 1024) / SUBBUF_DATA) * SUBBUF_DATA) / 1024));
    const perCpu = readdirSync(join(T, 'per_cpu')).map((c) => join(T, 'per_cpu', c, 'buffer_size_kb'));
    if (p === join(T, 'buffer_size_kb')) {
      for (const c of perCpu) writeFileSync(c, `${kb}\n`);
    } else writeFileSync(p, `${kb}\n`);
    const sizes = new Set(perCpu.map((c) => parseBufferKb(readFileSync(c, 'utf8'))));
    writeFileSync(join(T, 'buffer_size_kb'), `${sizes.size === 1 ? [...sizes][0] : 'X'}\n`);
  };
  const io: SysIO = {
    read: (p) => readFileSync(p, 'utf8'),
    write: (p, v) => {
      writes.push(`${rel(p)} <- ${JSON.stringify(v)}`);
      const name = basename(p);
      if (p === join(T, 'trace_marker')) {
        if (readFileSync(join(T, 'tracing_on'), 'utf8').trim() === '0') throw errno('EBADF', `write ${p}`);
        appendFileSync(join(T, 'trace'), `            node-1       [000] .....     1.000000: tracing_mark_write: ${v.trimEnd()}\n`);
      } else if (p === join(T, 'set_event')) {
        writeFileSync(p, '');
        for (const e of readdirSync(join(T, 'events'))) if (statSync(join(T, 'events', e)).isDirectory()) clearEnables(join(T, 'events', e));
        for (const l of v.split('\n').filter((x) => x.trim())) enable(l);
      } else if (name === 'buffer_size_kb' && !p.startsWith(join(T, 'instances'))) setBuffer(p, v);
      else if (name === 'trace_clock' || (p.startsWith(TH) && name === 'enabled')) select(p, v);
      else if (p === join(T, 'trace')) writeFileSync(p, '# tracer: nop\n#\n');
      else writeFileSync(p, v.trim() ? `${v.trim()}\n` : '');
    },
    append: (p, v) => {
      writes.push(`${rel(p)} += ${JSON.stringify(v)}`);
      if (p === join(T, 'set_event')) enable(v);
      else appendFileSync(p, v);
    },
    // An instance gets its own control files (kernel/trace/trace.c instance_mkdir()); rmdir
    // refuses while it is in use here only if it does not exist.
    mkdir: (p) => {
      writes.push(`mkdir ${rel(p)}`);
      if (dirname(p) !== join(T, 'instances')) throw errno('EPERM', `mkdir ${p}`);
      mkdirSync(p);
      for (const [f, v] of [['tracing_on', '1\n'], ['buffer_size_kb', '1408\n'], ['trace_clock', '[local] global counter uptime perf mono mono_raw boot\n'],
        ['set_event', ''], ['set_event_notrace_pid', ''], ['trace', '# tracer: nop\n#\n']] as const) writeFileSync(join(p, f), v);
      mkdirSync(join(p, 'options'));
      writeFileSync(join(p, 'options', 'event-fork'), '0\n');
    },
    rmdir: (p) => {
      writes.push(`rmdir ${rel(p)}`);
      if (!existsSync(p)) throw errno('ENOENT', `rmdir ${p}`);
      rmSync(p, { recursive: true });
    },
  };
  return { root, tracefs: T, thpDir: TH, io, writes };
}

function clearEnables(dir: string): void {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) clearEnables(p);
    else if (n === 'enable') writeFileSync(p, '0\n');
  }
}

/**
 * The settings `foliolab record` may change, as the kernel shows them: tracefs (tracing_on,
 * buffer sizes, tracer, events and their enable files, pid filter, clock, options) and every THP
 * setting. A buffer size is taken as the number of sub-buffers it stands for: once anything
 * enables an event the kernel expands the buffer for good, and it allocates whole sub-buffers
 * (ring_buffer_resize: DIV_ROUND_UP(size, BUF_PAGE_SIZE)), showing their data bytes — so
 * `7 (expanded: 1408)`, `1408` written and `1410` read back are one state.
 */
export function snapshotSettings(tracefs: string, thpDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const rd = (p: string): string | undefined => {
    try { return readFileSync(p, 'utf8'); } catch { return undefined; }
  };
  const add = (key: string, p: string, f: (s: string) => string = (s) => s): void => {
    const v = rd(p);
    if (v !== undefined) out[key] = f(v);
  };
  const subbufKb = Number(rd(join(tracefs, 'buffer_subbuf_size_kb'))?.trim() || 4);
  const kb = (s: string): string => {
    const n = parseBufferKb(s);
    return n === undefined ? s.trim() : `${Math.ceil((n * 1024) / (subbufKb * 1024 - 16))} sub-buffers`;
  };
  for (const f of ['tracing_on', 'current_tracer', 'set_event_pid', 'set_event_notrace_pid', 'set_ftrace_pid', 'trace_clock', 'tracing_cpumask']) add(f, join(tracefs, f));
  add('set_event', join(tracefs, 'set_event'), (s) => s.split('\n').filter(Boolean).sort().join('\n'));
  add('buffer_size_kb', join(tracefs, 'buffer_size_kb'), kb);
  const ls = (d: string): string[] => { try { return readdirSync(d).sort(); } catch { return []; } };
  for (const c of ls(join(tracefs, 'per_cpu'))) add(`per_cpu/${c}/buffer_size_kb`, join(tracefs, 'per_cpu', c, 'buffer_size_kb'), kb);
  for (const o of ls(join(tracefs, 'options'))) add(`options/${o}`, join(tracefs, 'options', o));
  for (const s of ls(join(tracefs, 'events'))) add(`events/${s}/enable`, join(tracefs, 'events', s, 'enable'));
  const walk = (d: string, key: string): void => {
    for (const n of ls(d)) {
      const p = join(d, n);
      let st;
      try { st = statSync(p); } catch { continue; }
      // Counters move on their own; the settings are the files beside them.
      if (st.isDirectory()) { if (n !== 'stats') walk(p, `${key}/${n}`); } else if (st.mode & 0o200) add(`${key}/${n}`, p);
    }
  };
  walk(thpDir, 'thp');
  return out;
}
