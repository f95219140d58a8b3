/**
 * `foliolab record`, the command. Two halves:
 * - against a fake tracefs directory (--tracefs, --thp-dir): exit statuses, refusals and event
 *   sets; runs anywhere, root or not;
 * - on this machine's kernel: needs root, an idle tracefs, a C compiler; skipped (saying why)
 *   otherwise. Proves the capture parses cleanly, carries its header marker, replays (matched,
 *   where foliolab has a preset for the kernel), is found by `fidelity`, and that every tracefs
 *   and THP setting is as before — after success and after SIGTERM.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetForRelease } from '../model/series/index.js';
import { packageRoot } from '../paths.js';
import { fakeSys, snapshotSettings } from '../record/fake-kernel.case.js';
import { checkRecordable, THP, TRACEFS, tracefsInUse } from '../record/record.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      // oclif wraps an error message over ` ›   `-prefixed lines: joined back into one line.
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.replace(/\s*\n ›\s+/g, ' ') });
    });
  });
}

describe('foliolab record on a fake tracefs', () => {
  // --thp-dir only where THP settings are asked for: nothing else writes there.
  const fake = (thp = false): { f: ReturnType<typeof fakeSys>; args: string[] } => {
    const f = fakeSys();
    return { f, args: ['record', '--tracefs', f.tracefs, ...(thp ? ['--thp-dir', f.thpDir] : []), '--out', join(f.root, 'out', 'trace.txt')] };
  };

  it('a command that is not found exits 127, one that is not executable 126, changing nothing', async () => {
    const { f, args } = fake();
    const before = snapshotSettings(f.tracefs, f.thpDir);
    const r = await run([...args, '--', 'no-such-command-foliolab', '--flag']);
    expect(r.code, r.stderr).toBe(127);
    expect(r.stderr).toMatch(/cannot run no-such-command-foliolab: not found in PATH; nothing was recorded/);
    const script = join(f.root, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\n');
    chmodSync(script, 0o644);
    const r2 = await run([...args, '--', script]);
    expect(r2.code, r2.stderr).toBe(126);
    expect(r2.stderr).toMatch(/not an executable file/);
    expect(snapshotSettings(f.tracefs, f.thpDir)).toEqual(before);
    expect(existsSync(join(f.root, 'out'))).toBe(false);
  });

  it('an mTHP size or mode the kernel lacks is a usage error (2) listing what it has', async () => {
    const { args } = fake(true);
    const r = await run([...args, '--mthp', '48kB=always', '--', 'true']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no mTHP size 48kB on this kernel; valid sizes: 16kB, 32kB, 64kB, 2048kB/);
    const r2 = await run([...args, '--mthp', '64kB=on', '--', 'true']);
    expect(r2.code, r2.stderr).toBe(2);
    expect(r2.stderr).toMatch(/--mthp 64kB=on: not a mode of .*hugepages-64kB\/enabled; valid modes: always, inherit, madvise, never/);
    const r3 = await run([...args, '--events', 'default,shed', '--', 'true']);
    expect(r3.code, r3.stderr).toBe(2);
    expect(r3.stderr).toMatch(/unknown set shed/);
  });

  it('--events sched records the default set plus IPIs', async () => {
    const { f, args } = fake();
    const r = await run([...args, '--json', '--events', 'sched', '--', 'true']);
    expect(r.code, r.stderr).toBe(0);
    const settings = readFileSync(join(f.root, 'out', 'settings.txt'), 'utf8');
    for (const e of ['tlb:tlb_flush', 'syscalls:sys_enter_madvise', 'kmem:mm_page_alloc', 'ipi:*']) expect(settings).toContain(`  ${e}\n`);
    expect(JSON.parse(r.stdout).missingRequired).toEqual([]);
  });

  it('an explicit set without the events replay needs warns, naming them', async () => {
    const { args } = fake();
    const r = await run([...args, '--events', 'tlb:tlb_flush,kmem:rss_stat', '--', 'true']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: replay needs events this capture does not enable: syscalls:sys_enter_mmap .*exceptions:page_fault_user/);
    expect(r.stdout).toMatch(/WARNING: replay needs events this capture lacks: .*kmem:mm_page_alloc/);
  });
});

const T = TRACEFS;
const haveCc = ['/usr/bin/cc', '/usr/bin/gcc'].some((p) => existsSync(p)) && ['/usr/bin/make', '/bin/make'].some((p) => existsSync(p));
const busy = checkRecordable(T) === undefined ? tracefsInUse(T) : undefined;
const why = checkRecordable(T) ?? (haveCc ? undefined : 'no C compiler or make to build the workloads') ?? (busy ? `tracefs is in use (${busy})` : undefined);
const has64k = existsSync(join(THP, 'hugepages-64kB', 'enabled'));
const online = existsSync('/sys/devices/system/cpu/online') ? readFileSync('/sys/devices/system/cpu/online', 'utf8') : '0';
const cpu = /\b1\b|0-[1-9]/.test(online) ? 1 : 0;
const preset = presetForRelease(release());

describe.skipIf(why !== undefined)(`foliolab record on this kernel${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(() => {
    execFileSync('make', ['-s', '-C', join(packageRoot, 'traces/workloads')]);
  });

  it.skipIf(!has64k)(`records a workload: parses cleanly with its header marker, replays${preset ? ' matched' : ''}, fidelity finds it, settings restored${has64k ? '' : ' (skipped: no 64kB mTHP on this kernel)'}`, async () => {
    // A live capture can catch the kernel in a race the workload did not cause (seen once while
    // the rest of the suite loaded the machine: a fault allocated a page-table page and freed it
    // at once, a lost race the trace does not explain). Up to three captures are taken; the
    // first that the model reproduces passes, and if none does every mismatch is shown.
    const seen: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = snapshotSettings(T, THP);
      const dir = mkdtempSync(join(tmpdir(), 'foliolab-rec-'));
      const out = join(dir, 'trace.txt');
      const r = await run(['record', '--json', '--out', out, '--mthp', '64kB=always', '--cpu', String(cpu), '--', join(packageRoot, 'traces/workloads/bin/s8_mremap_straddle'), '--variant', 'aligned']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.exitStatus).toBe(0);
      expect(j.lostEvents).toBe(0);
      expect(j.restored).toBe(true);
      expect(j.headerMarker).toBe(true);
      expect(j.missingRequired).toEqual([]);
      expect(snapshotSettings(T, THP)).toEqual(before);
      for (const f of ['counters-before.txt', 'counters-after.txt', 'settings.txt', 'trace-stats.txt', 'stdout.txt', 'formats/tlb/tlb_flush/format']) expect(existsSync(join(dir, f)), f).toBe(true);
      expect(readFileSync(out, 'utf8')).toMatch(/tracing_mark_write: fl: note release=/);
      const p = JSON.parse((await run(['parse', '--json', out])).stdout);
      expect(p.diagnostics).toEqual([]);
      expect(p.unparsedLines).toBe(0);
      expect(p.byName.print).toBeGreaterThan(0);
      if (preset) {
        const fi = JSON.parse((await run(['fidelity', '--json', dir])).stdout);
        expect(fi.total).toBe(1);
      }
      const rp = JSON.parse((await run(['replay', '--json', out])).stdout);
      expect(rp.fidelity.compared).toBeGreaterThan(0);
      if (!preset || rp.fidelity.matched) return;
      seen.push({ trace: out, mismatches: rp.fidelity.mismatches });
    }
    expect(seen).toEqual([]);
  }, 180_000);

  it('restores every setting when killed with SIGTERM mid-run', async () => {
    const before = snapshotSettings(T, THP);
    const pid0 = readFileSync(join(T, 'set_event_pid'), 'utf8').trim();
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-rec-'));
    const child = spawn(process.execPath, [join(packageRoot, 'bin/run.js'), 'record', '--out', join(dir, 'trace.txt'), ...(existsSync(join(THP, 'enabled')) ? ['--thp', 'always'] : []), '--', 'sleep', '20'], { stdio: 'ignore' });
    // Wait until the command runs: record puts its pid in set_event_pid and turns tracing on
    // just before letting it exec, after it has written events and THP settings. However long
    // the machine takes; the deadline only bounds a broken run.
    const deadline = Date.now() + 30_000;
    const running = (): boolean =>
      readFileSync(join(T, 'set_event_pid'), 'utf8').trim() !== pid0 &&
      readFileSync(join(T, 'tracing_on'), 'utf8').trim() === '1' &&
      /tlb:tlb_flush/.test(readFileSync(join(T, 'set_event'), 'utf8'));
    while (!running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(join(T, 'set_event'), 'utf8')).toMatch(/tlb:tlb_flush/);
    if (existsSync(join(THP, 'enabled'))) expect(readFileSync(join(THP, 'enabled'), 'utf8')).toMatch(/\[always\]/);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(143);
    expect(snapshotSettings(T, THP)).toEqual(before);
  });
});

describe('record preconditions', () => {
  it('says plainly what is missing', () => {
    expect(checkRecordable('/nonexistent/tracefs')).toMatch(/(needs root|no tracefs at \/nonexistent\/tracefs)/);
  });
});
