import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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
});
