/**
 * `foliolab record` on this machine's kernel. Needs root, tracefs and a C compiler; skipped
 * (saying why) where any is missing. Proves: the capture parses with no diagnostics, replays
 * matched under its kernel's preset, and every tracefs and THP setting is as before — after
 * success and after SIGTERM.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { checkRecordable, TRACEFS } from '../record/record.js';

const T = TRACEFS;
const THP = '/sys/kernel/mm/transparent_hugepage';
const why = checkRecordable(T) ?? (existsSync('/usr/bin/cc') || existsSync('/usr/bin/gcc') ? undefined : 'no C compiler to build the workloads');

function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['tracing_on', 'buffer_size_kb', 'current_tracer', 'set_event_pid', 'trace_clock', 'options/event-fork', 'options/record-tgid', 'options/markers', 'set_event']) {
    out[f] = readFileSync(join(T, f), 'utf8');
  }
  for (const f of ['enabled', 'hugepages-64kB/enabled', 'hugepages-2048kB/enabled']) if (existsSync(join(THP, f))) out[`thp/${f}`] = readFileSync(join(THP, f), 'utf8');
  return out;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(why !== undefined)(`foliolab record${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(() => {
    execFileSync('make', ['-s', '-C', join(packageRoot, 'traces/workloads')]);
  });

  it('records a workload: the trace parses cleanly, replays matched, and settings are restored', async () => {
    // A live capture can catch the kernel in a race the workload did not cause (seen once while
    // the rest of the suite loaded the machine: a fault allocated a page-table page and freed it
    // at once, a lost race the trace does not explain). Up to three captures are taken; the
    // first that the model reproduces passes, and if none does every mismatch is shown.
    const seen: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = snapshot();
      const dir = mkdtempSync(join(tmpdir(), 'foliolab-rec-'));
      const out = join(dir, 'trace.txt');
      const r = await run(['record', '--json', '--out', out, '--mthp', '64kB=always', '--cpu', '1', '--', join(packageRoot, 'traces/workloads/bin/s8_mremap_straddle'), '--variant', 'aligned']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.exitStatus).toBe(0);
      expect(j.lostEvents).toBe(0);
      expect(j.restored).toBe(true);
      expect(snapshot()).toEqual(before);
      for (const f of ['counters-before.txt', 'counters-after.txt', 'settings.txt', 'trace-stats.txt', 'stdout.txt', 'formats/tlb/tlb_flush/format']) expect(existsSync(join(dir, f)), f).toBe(true);
      const p = JSON.parse((await run(['parse', '--json', out])).stdout);
      expect(p.diagnostics).toEqual([]);
      expect(p.unparsedLines).toBe(0);
      expect(p.byName.print).toBeGreaterThan(0);
      const rp = JSON.parse((await run(['replay', '--json', out])).stdout);
      expect(rp.fidelity.compared).toBeGreaterThan(0);
      if (rp.fidelity.matched) return;
      seen.push({ trace: out, mismatches: rp.fidelity.mismatches });
    }
    expect(seen).toEqual([]);
  });

  it('restores every setting when killed with SIGTERM mid-run', async () => {
    const before = snapshot();
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-rec-'));
    const child = spawn(process.execPath, [join(packageRoot, 'bin/run.js'), 'record', '--out', join(dir, 'trace.txt'), '--thp', 'always', '--', 'sleep', '20'], { stdio: 'ignore' });
    // Wait until the command runs: its wrapper puts its pid in set_event_pid and turns tracing
    // on just before it execs it, after record has written events and THP settings (the events
    // alone appear one by one, before THP). However long the machine takes; the deadline only
    // bounds a broken run.
    const deadline = Date.now() + 30_000;
    const running = (): boolean =>
      readFileSync(join(T, 'set_event_pid'), 'utf8').trim() !== before.set_event_pid!.trim() &&
      readFileSync(join(T, 'tracing_on'), 'utf8').trim() === '1' &&
      /tlb:tlb_flush/.test(readFileSync(join(T, 'set_event'), 'utf8'));
    while (!running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(join(T, 'set_event'), 'utf8')).toMatch(/tlb:tlb_flush/);
    if (existsSync(join(THP, 'enabled'))) expect(readFileSync(join(THP, 'enabled'), 'utf8')).toMatch(/\[always\]/);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(143);
    expect(snapshot()).toEqual(before);
  });
});

describe('record preconditions', () => {
  it('says plainly what is missing', () => {
    expect(checkRecordable('/nonexistent/tracefs')).toMatch(/(needs root|no tracefs at \/nonexistent\/tracefs)/);
  });
});
