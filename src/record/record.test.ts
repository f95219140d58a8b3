/**
 * record() against a fake tracefs and THP directory whose files behave like the kernel's
 * (fake-kernel.case.ts): runs anywhere, root or not, tracefs or not.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENTS, expandEventSpec, missingRequiredEvents, REPLAY_REQUIRED_EVENTS, SCHED_EVENTS, eventId } from './events.js';
import { fakeSys, snapshotSettings, type FakeSys } from './fake-kernel.case.js';
import { checkThpSettings, parseBufferKb, record, RecordError, resolveCommand, tracefsInUse, type RecordOptions } from './record.js';

/** A command that prints, while it is being traced, the tracefs state it runs under. */
function probe(f: FakeSys): string[] {
  return ['sh', '-c', 'for x in buffer_size_kb per_cpu/cpu0/buffer_size_kb per_cpu/cpu1/buffer_size_kb tracing_on set_event_pid; do printf "%s=%s\\n" "$x" "$(cat "$0/$x")"; done; echo "self=$$"', f.tracefs];
}

function opts(f: FakeSys, o: Partial<RecordOptions> = {}): RecordOptions {
  return {
    command: probe(f), out: join(f.root, 'out', 'trace.txt'), events: [...DEFAULT_EVENTS], bufferKb: 4096, mthp: {},
    tracefs: f.tracefs, thpDir: f.thpDir, io: f.io, ...o,
  };
}

/** What the probe printed: `name=value` lines. */
function seen(f: FakeSys): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(join(f.root, 'out', 'stdout.txt'), 'utf8').split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

async function refusal(p: Promise<unknown>): Promise<RecordError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(RecordError);
  return e as RecordError;
}

describe('ring buffer size', () => {
  it('reads the size buffer_size_kb stands for', () => {
    expect(parseBufferKb('7 (expanded: 1408)\n')).toBe(1408);
    expect(parseBufferKb('65536\n')).toBe(65536);
    expect(parseBufferKb('X\n')).toBeUndefined();
  });

  it('on a freshly booted kernel (7, expanded: 1408) grows the buffer for the run and puts back 1408, not 7', async () => {
    const f = fakeSys();
    const before = snapshotSettings(f.tracefs, f.thpDir);
    const r = await record(opts(f, { bufferKb: 4096 }));
    expect(seen(f).buffer_size_kb).toBe('4099');
    expect(r.bufferKb).toEqual([4099]);
    // 1408 KiB is 354 sub-buffers, shown as 1410: what the kernel's own expansion would give.
    expect(f.writes.filter((w) => w.includes('buffer_size_kb') && !w.includes('instances/'))).toEqual(['tracing/buffer_size_kb <- "4096"', 'tracing/buffer_size_kb <- "1408"']);
    expect(readFileSync(join(f.tracefs, 'buffer_size_kb'), 'utf8').trim()).toBe('1410');
    expect(snapshotSettings(f.tracefs, f.thpDir)).toEqual(before);
  });

  it('never shrinks a larger buffer (and so never writes it)', async () => {
    const f = fakeSys({ bufferSizeKb: '131072', perCpuKb: ['131072', '131072'] });
    const r = await record(opts(f, { bufferKb: 4096 }));
    expect(seen(f).buffer_size_kb).toBe('131072');
    expect(r.bufferKb).toEqual([131072]);
    expect(f.writes.filter((w) => w.includes('buffer_size_kb') && !w.includes('instances/'))).toEqual([]);
    expect(readFileSync(join(f.tracefs, 'buffer_size_kb'), 'utf8').trim()).toBe('131072');
  });

  it('with per-CPU sizes that differ (X), grows only the CPUs below the size and puts each back', async () => {
    // 2051: what a CPU shows after `echo 2048 > per_cpu/cpu0/buffer_size_kb` (whole sub-buffers).
    const f = fakeSys({ perCpuKb: ['2051', '131072'] });
    expect(readFileSync(join(f.tracefs, 'buffer_size_kb'), 'utf8').trim()).toBe('X');
    const before = snapshotSettings(f.tracefs, f.thpDir);
    const r = await record(opts(f, { bufferKb: 65536 }));
    expect(seen(f)['per_cpu/cpu0/buffer_size_kb']).toBe('65538');
    expect(seen(f)['per_cpu/cpu1/buffer_size_kb']).toBe('131072');
    expect(r.bufferKb).toEqual([65538, 131072]);
    expect(snapshotSettings(f.tracefs, f.thpDir)).toEqual(before);
    expect(readFileSync(join(f.tracefs, 'per_cpu/cpu0/buffer_size_kb'), 'utf8').trim()).toBe('2051');
  });
});

describe('header marker', () => {
  it('is written once tracing is on (tracefs refuses trace_marker writes while tracing_on is 0) and lands in the trace', async () => {
    const f = fakeSys({ tracingOn: '0' });
    const r = await record(opts(f));
    expect(r.warnings).toEqual([]);
    expect(r.headerMarker).toBe(true);
    const trace = readFileSync(r.out, 'utf8');
    expect(trace).toMatch(/tracing_mark_write: fl: note release=\S+ pid=\d+ wide=\S+ thp\/enabled:always\[madvise\]never/);
    // The filter holds the command's pid before tracing starts: the probe sees itself in it.
    const s = seen(f);
    expect(s.set_event_pid).toBe(s.self);
    expect(s.tracing_on).toBe('1');
    const order = f.writes.filter((w) => /set_event_(notrace_)?pid <- "\d|tracing_on <- "1|trace_marker/.test(w)).map((w) => w.split(' ')[0]);
    expect(order).toEqual(['tracing/set_event_pid', `tracing/instances/foliolab-wide-${process.pid}/set_event_notrace_pid`, `tracing/instances/foliolab-wide-${process.pid}/tracing_on`, 'tracing/tracing_on', 'tracing/trace_marker']);
    expect(readFileSync(join(f.tracefs, 'tracing_on'), 'utf8').trim()).toBe('0');
  });

  it('a marker the kernel refuses is reported, not lost silently', async () => {
    const f = fakeSys();
    const io = { ...f.io, write: (p: string, v: string) => (p.endsWith('trace_marker') ? (() => { throw new Error('EIO: i/o error, write'); })() : f.io.write(p, v)) };
    const r = await record(opts(f, { io }));
    expect(r.headerMarker).toBe(false);
    expect(r.warnings.join('\n')).toMatch(/header marker could not be written \(EIO/);
  });
});

describe('refusals, before anything is written', () => {
  it('a command that is not found: exit 127', async () => {
    const f = fakeSys();
    const e = await refusal(record(opts(f, { command: ['no-such-command-foliolab'] })));
    expect(e.exit).toBe(127);
    expect(e.message).toMatch(/cannot run no-such-command-foliolab: not found in PATH/);
    expect(f.writes).toEqual([]);
    const e2 = await refusal(record(opts(f, { command: [join(f.root, 'missing')] })));
    expect(e2.exit).toBe(127);
  });

  it('a command that is not executable: exit 126', async () => {
    const f = fakeSys();
    const p = join(f.root, 'script.sh');
    writeFileSync(p, '#!/bin/sh\n');
    chmodSync(p, 0o644);
    // access(X_OK) fails for root too when no execute bit is set.
    const e = await refusal(record(opts(f, { command: [p] })));
    expect(e.exit).toBe(126);
    expect(resolveCommand(f.root)).toMatchObject({ exit: 126 });
    expect(f.writes).toEqual([]);
  });

  it('an mTHP size this kernel lacks: exit 2 listing the sizes it has', async () => {
    const f = fakeSys();
    const e = await refusal(record(opts(f, { mthp: { '48kB': 'always' } })));
    expect(e.exit).toBe(2);
    expect(e.message).toBe(`--mthp 48kB=always: no mTHP size 48kB on this kernel; valid sizes: 16kB, 32kB, 64kB, 2048kB (from ${f.thpDir}/hugepages-*)`);
    expect(f.writes).toEqual([]);
  });

  it('an mTHP mode the size does not take: exit 2 listing its modes', async () => {
    const f = fakeSys();
    const e = await refusal(record(opts(f, { mthp: { '64kB': 'sometimes' } })));
    expect(e.exit).toBe(2);
    expect(e.message).toBe(`--mthp 64kB=sometimes: not a mode of ${f.thpDir}/hugepages-64kB/enabled; valid modes: always, inherit, madvise, never`);
    expect(() => checkThpSettings({ thp: 'inherit', mthp: {} }, f.thpDir, f.io)).toThrow(/--thp inherit: not a mode of .*; valid modes: always, madvise, never/);
    expect(f.writes).toEqual([]);
  });

  it('valid mTHP settings are applied for the run and put back', async () => {
    const f = fakeSys();
    const before = snapshotSettings(f.tracefs, f.thpDir);
    await record(opts(f, { thp: 'always', mthp: { '64kB': 'always', '2048kB': 'never' } }));
    const settings = readFileSync(join(f.root, 'out', 'settings.txt'), 'utf8');
    expect(settings).toMatch(/^thp\/hugepages-64kB\/enabled: \[always\] inherit madvise never$/m);
    expect(settings).toMatch(/^thp\/enabled: \[always\] madvise never$/m);
    expect(snapshotSettings(f.tracefs, f.thpDir)).toEqual(before);
  });
});

describe('event sets', () => {
  it('`sched` adds IPIs to the default set; sets and names combine, each event once', () => {
    expect(expandEventSpec('sched').events).toEqual([...DEFAULT_EVENTS, ...SCHED_EVENTS]);
    expect(expandEventSpec('default,sched').events).toEqual(expandEventSpec('sched').events);
    expect(expandEventSpec('tlb:tlb_flush,default').events).toEqual(['tlb:tlb_flush', ...DEFAULT_EVENTS.filter((e) => e !== 'tlb:tlb_flush')]);
    expect(expandEventSpec('default,shed').unknown).toEqual(['shed']);
  });

  it('the default set has every event replay requires; globs, bare names and systems count', () => {
    expect(missingRequiredEvents([...DEFAULT_EVENTS, 'ftrace:print'])).toEqual([]);
    expect(missingRequiredEvents([...SCHED_EVENTS]).map(eventId)).toEqual(REPLAY_REQUIRED_EVENTS.map(eventId));
    expect(missingRequiredEvents(['*:*'])).toEqual([]);
    // A parsed trace's event names (no system)
    const names = REPLAY_REQUIRED_EVENTS.map((r) => r.name).filter((n) => n !== 'mm_vmscan_reclaim_pages');
    expect(missingRequiredEvents(names).map(eventId)).toEqual(['vmscan:mm_vmscan_reclaim_pages']);
    expect(missingRequiredEvents(names, { available: (sys) => sys !== 'vmscan' })).toEqual([]);
    expect(missingRequiredEvents(['syscalls', 'kmem:*', 'tlb', 'exceptions:page_fault_user', 'exceptions:page_fault_kernel', 'sched:sched_switch', 'vmscan:*', 'pagemap', 'print'])).toEqual([]);
    expect(missingRequiredEvents(['syscalls', 'kmem:*', 'tlb', 'exceptions:page_fault_user', 'sched:sched_switch', 'vmscan:*', 'pagemap:mm_lru_insertion', 'print']).map(eventId)).toEqual(['exceptions:page_fault_kernel']);
    expect(missingRequiredEvents(['syscalls', 'kmem:*', 'tlb', 'exceptions', 'sched:sched_switch', 'vmscan:*', 'print']).map(eventId)).toEqual(['pagemap:mm_lru_insertion']);
  });

  it('an explicit set that lacks required events is recorded with a warning naming them', async () => {
    const f = fakeSys();
    const warned: string[] = [];
    const r = await record(opts(f, { events: ['tlb:tlb_flush', 'kmem:*'], onWarning: (m) => warned.push(m) }));
    expect(r.missingRequired).toContain('syscalls:sys_enter_mmap');
    expect(r.missingRequired).toContain('exceptions:page_fault_user');
    expect(r.missingRequired).not.toContain('kmem:rss_stat');
    expect(r.missingRequired).not.toContain('tlb:tlb_flush');
    expect(warned.join('\n')).toMatch(/replay needs events this capture does not enable: syscalls:sys_enter_mmap .*exceptions:page_fault_user/);
    expect(readFileSync(join(f.root, 'out', 'settings.txt'), 'utf8')).toMatch(/^missing-required-events: syscalls:sys_enter_mmap /m);
  });

  it('the default set on this fake kernel warns about nothing', async () => {
    const f = fakeSys();
    const r = await record(opts(f));
    expect(r.missingRequired).toEqual([]);
    expect(r.warnings).toEqual([]);
  });
});

describe('what a capture leaves', () => {
  it('every setting as it was, the files beside the trace, and settings.txt naming the trace', async () => {
    const f = fakeSys({ setEvent: ['sched:sched_switch'] });
    const before = snapshotSettings(f.tracefs, f.thpDir);
    const r = await record(opts(f, { thp: 'never', mthp: { '64kB': 'always' }, out: join(f.root, 'out', 'run.txt') }));
    expect(r.restored).toBe(true);
    // Events someone else enabled: said (the live tests skip on such a tracefs), then put back.
    expect(r.warnings).toEqual(['tracefs was not idle (set_event lists 1 events (sched:sched_switch)): another capture may be using it; its settings are put back afterwards']);
    expect(tracefsInUse(f.tracefs, f.io)).toBe('set_event lists 1 events (sched:sched_switch)');
    expect(snapshotSettings(f.tracefs, f.thpDir)).toEqual(before);
    for (const n of ['run.txt', 'settings.txt', 'counters-before.txt', 'counters-after.txt', 'stdout.txt', 'trace-stats.txt', 'formats/tlb/tlb_flush/format']) {
      expect(existsSync(join(f.root, 'out', n)), n).toBe(true);
    }
    expect(readFileSync(join(f.root, 'out', 'settings.txt'), 'utf8')).toMatch(/^trace-file: run\.txt$/m);
  });
});

describe('the second instance (other tasks\' lru moves and flushes)', () => {
  const other = (ts: string, rest: string) => `           other-99     [001] d..3.  ${ts}: ${rest}`;
  /** A command that, while traced, writes two other-task events into the instance's trace. */
  const command = (f: FakeSys): string[] => ['sh', '-c', [
    `printf '%s\\n' '${other('0.500000', 'mm_lru_insertion: folio=0000000000000001 pfn=0x10 lru=0 flags=Ma bd')}' >> "$0/instances/foliolab-wide-$1/trace"`,
    `printf '%s\\n' '${other('2.000000', 'tlb_flush: pages:0 reason:remote wrong CPU (5)')}' >> "$0/instances/foliolab-wide-$1/trace"`,
    'printf "notrace=%s\\n" "$(cat "$0/instances/foliolab-wide-$1/set_event_notrace_pid")"',
    'printf "wideon=%s\\n" "$(cat "$0/instances/foliolab-wide-$1/tracing_on")"',
    'echo "self=$$"',
  ].join('; '), f.tracefs, String(process.pid)];

  it('records WIDE_EVENTS for every task but the workload\'s, merges them by time, and removes the instance', async () => {
    const f = fakeSys({ instances: true });
    const r = await record(opts(f, { command: command(f) }));
    expect(r.wideEvents).toEqual(['pagemap:mm_lru_insertion', 'tlb:tlb_flush']);
    const s = seen(f);
    // The workload (the wrapper, which execs the command) is what the instance leaves out.
    expect(s.notrace).toBe(s.self);
    expect(s.wideon).toBe('1');
    const lines = readFileSync(join(f.root, 'out', 'trace.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    // The header marker (1.000000) lands between the two other-task events.
    expect(lines.map((l) => /: (\w+):/.exec(l)?.[1])).toEqual(['mm_lru_insertion', 'tracing_mark_write', 'tlb_flush']);
    expect(lines[1]).toContain(' wide=');
    expect(existsSync(join(f.tracefs, 'instances', `foliolab-wide-${process.pid}`))).toBe(false);
    expect(readFileSync(join(f.root, 'out', 'settings.txt'), 'utf8')).toMatch(/^other-tasks-events: .*mm_lru_insertion/m);
  });

  it('gives the instance the buffer asked for the main one when that is larger (every task\'s events, the recorder\'s own page-cache writes among them)', async () => {
    const wideBuf = async (bufferKb: number): Promise<string[]> => {
      const f = fakeSys({ instances: true });
      await record(opts(f, { command: command(f), bufferKb }));
      return f.writes.filter((w) => w.includes('instances/') && w.includes('buffer_size_kb'));
    };
    expect(await wideBuf(65536)).toEqual([`tracing/instances/foliolab-wide-${process.pid}/buffer_size_kb <- "65536"`]);
    expect(await wideBuf(4096)).toEqual([`tracing/instances/foliolab-wide-${process.pid}/buffer_size_kb <- "8192"`]);
  });

  it('without instances (or with --no-wide) the capture follows the workload only, and says so', async () => {
    const f = fakeSys({ instances: false });
    const r = await record(opts(f));
    expect(r.wideEvents).toEqual([]);
    expect(r.warnings.join(' ')).toMatch(/no instances/);
    const g = fakeSys({ instances: true });
    const q = await record(opts(g, { wide: false }));
    expect(q.wideEvents).toEqual([]);
    expect(g.writes.some((w) => w.startsWith('mkdir'))).toBe(false);
  });
});
