import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const OOB = 'traces/scenarios/straddle-oob.trace';

describe('foliolab diff / matrix', () => {
  it('--json has base, with, firstDivergence, folios, counters, violations, cost; --fail-on-diff exits 3', async () => {
    const r = await run(['diff', '--json', OOB, '--base', 'batched-unmap@v4-3', '--with', 'linux-6.18']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const k of ['base', 'with', 'firstDivergence', 'folios', 'counters', 'violations', 'cost']) expect(j).toHaveProperty(k);
    const f = await run(['diff', '--fail-on-diff', OOB, '--base', 'batched-unmap@v4-3', '--with', 'linux-6.18']);
    expect(f.code).toBe(3);
    const same = await run(['diff', '--fail-on-diff', OOB, '--base', 'linux-6.18', '--with', 'linux-6.18']);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/no difference/);
  });

  it('--patch: the mail\'s claims beside the model (counters judged, timings set against the cost estimate)', async () => {
    const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';
    const r = await run(['diff', '--json', S1, '--base', 'linux-6.12', '--with', 'linux-6.18', '--patch', 'fixtures/patches/batch-v2.mbox']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const counter = j.claims.find((c: { kind: string; metric: string }) => c.kind === 'counter' && c.metric === 'split_deferred');
    const row = j.counters.find((c: { name: string }) => c.name === '64kB/split_deferred');
    expect(counter.agrees).toBe(row.base === 2048 && row.with === 0);
    expect(counter.model).toBe(`64kB/split_deferred ${row.base} → ${row.with}`);
    const timing = j.claims.find((c: { kind: string }) => c.kind === 'before-after');
    expect(timing.claimed).toMatch(/^0\.17 → 0\.07 s: 2\.43× faster/);
    expect(timing.model).toMatch(/phase pageout/);
    const bad = await run(['diff', S1, '--base', 'linux-6.12', '--with', 'linux-6.18', '--patch', 'fixtures/patches/bad/binary.bin']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/binary\.bin: no patch mail could be read/);
  });

  it('--perfetto writes Chrome JSON trace events, one process per config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-'));
    const out = join(dir, 't.json');
    const r = await run(['diff', OOB, '--base', 'linux-6.12', '--with', 'linux-6.18', '--perfetto', out]);
    expect(r.code).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    const names = j.traceEvents.filter((e: { ph: string }) => e.ph === 'M').map((e: { args: { name: string } }) => e.args.name);
    expect(names).toEqual(['linux-6.12', 'linux-6.18']);
    const flushes = (pid: number) => j.traceEvents.filter((e: { name: string; pid: number }) => e.name === 'tlb_flush' && e.pid === pid).map((e: { args: { pages: number } }) => e.args.pages);
    expect(flushes(2)).toContain(15);
    expect(flushes(1).filter((p: number) => p === 1).length).toBeGreaterThanOrEqual(16);
  });

  it('matrix: rows traces, columns configs, --csv', async () => {
    const r = await run(['matrix', '--csv', '--configs', 'linux-6.12;linux-6.18', '--metric', 'split_deferred,flushes', OOB]);
    expect(r.code).toBe(0);
    const [head, row] = r.stdout.trim().split('\n');
    expect(head).toBe('trace,linux-6.12:split_deferred,linux-6.12:flushes,linux-6.18:split_deferred,linux-6.18:flushes');
    const cells = row!.split(',');
    expect(cells[0]).toBe(OOB);
    expect(Number(cells[2])).toBeGreaterThan(Number(cells[4]));
  });

  it('matrix: a trace with nothing to replay is left out and named, and the exit status says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-matrix-'));
    try {
      const empty = join(dir, 'empty.trace');
      writeFileSync(empty, '');
      const r = await run(['matrix', '--csv', '--configs', 'linux-6.12;linux-6.18', '--metric', 'flushes', empty, OOB]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/empty\.trace is empty: nothing to replay; left out of the table/);
      expect(r.stdout.trim().split('\n').map((l) => l.split(',')[0])).toEqual(['trace', OOB]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
