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

  it('--base alone gives a defined pair: --with is the trace\'s own kernel, and the output says why', async () => {
    const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';
    const j = JSON.parse((await run(['diff', '--json', S1, '--base', 'linux-6.12'])).stdout);
    expect(j.policy).toMatchObject({ base: 'linux-6.12', with: 'linux-6.18-fc', rule: 'base given', recorded: { preset: 'linux-6.18-fc', release: '6.18.44-fc-v669', source: 'settings.txt' } });
    expect(j.with.config.name).toBe('linux-6.18-fc');
    expect(j.firstDivergence.cause).toContain('batched-unmap@v4-3');
    const t = await run(['diff', S1, '--base', 'linux-6.12']);
    expect(t.stdout).toMatch(/^pair {4}--base given; --with is the trace's own kernel: recorded on 6\.18\.44-fc-v669 \(settings\.txt\), preset linux-6\.18-fc$/m);
    // The first divergence lists 12 events of each side and says how many it left out.
    const listed = /^ {2}base emitted: (.*) \| … (\d+) more$/m.exec(t.stdout)!;
    expect(listed[1]!.split(' | ')).toHaveLength(12);
    // Per page a flush and an rss_stat, per folio a free.
    expect(Number(listed[2])).toBe(j.base.tlbFlushes['pages:1 reason:3'] * 2 + j.base.freesByOrder['order 4'] - 12);
  });

  it('no flags: the upstream release before the trace\'s kernel → the trace\'s kernel, with the reason', async () => {
    const S2 = 'traces/6.12.95+deb12-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz';
    const j = JSON.parse((await run(['diff', '--json', S2])).stdout);
    expect([j.base.config.name, j.with.config.name, j.policy.rule]).toEqual(['linux-6.1', 'linux-6.12', 'default']);
    expect(j.policy.reason).toMatch(/^no --base\/--with: recorded on 6\.12\.95\+deb12-cloud-amd64 \(settings\.txt\), preset linux-6\.12; compared with linux-6\.1, the upstream release before it/);
  });

  it('matrix: the text table fits 80 columns (metrics that do not fit go to a further block); each trace names its kernel and default pair', async () => {
    const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';
    const metrics = 'split_deferred,thp_split_pmd,flushes,cost,fidelity,violations,pglazyfreed';
    const r = await run(['matrix', '--metric', metrics, S1]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.filter((l) => l.length > 80)).toEqual([]);
    const heads = lines.filter((l) => /^ {2}config /.test(l));
    expect(heads.length).toBeGreaterThan(1);
    for (const m of metrics.split(',')) expect(heads.some((h) => h.split(/\s+/).includes(m))).toBe(true);
    expect(r.stdout).toMatch(/recorded on 6\.18\.44-fc-v669 \(settings\.txt\), preset linux-6\.18-fc; default pair\s+linux-6\.12 → linux-6\.18-fc/);
    expect(lines.filter((l) => /^ {2}linux-6\.18-fc /.test(l)).some((l) => /8258\/8258/.test(l))).toBe(true);
    const wide = await run(['matrix', '--width', '200', '--metric', metrics, S1]);
    expect(wide.stdout.split('\n').filter((l) => /^ {2}config /.test(l))).toHaveLength(1);
  });

  it('matrix: a cut list of read problems says how many more there were', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-matrix-'));
    try {
      const bad = join(dir, 'bad.trace');
      writeFileSync(bad, `${readFileSync(join(packageRoot, OOB), 'utf8')}${Array.from({ length: 6 }, (_, i) => `garbage line ${i}\n`).join('')}`);
      const r = await run(['matrix', '--csv', '--configs', 'linux-6.18', '--metric', 'flushes', bad]);
      const total = Number(/: (\d+) diagnostics while reading/.exec(r.stderr)![1]);
      const listed = r.stderr.split('\n').filter((l) => /bad\.trace:\d+:\d+/.test(l)).length;
      expect(listed).toBe(2);
      expect(r.stderr).toContain(`… ${total - listed} more (\`foliolab parse\` lists them all)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
