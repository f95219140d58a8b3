/** `foliolab replay` and `foliolab series` as a user runs them. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

function run(args: string[], stdin?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    const child = execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(stdin ?? Buffer.alloc(0));
  });
}

const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';

describe('foliolab replay', () => {
  it('--json: config, counters, violations, cost and fidelity, under the preset of the recording kernel', async () => {
    const r = await run(['replay', '--json', S1]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.config.name).toBe('linux-6.18-fc');
    expect(j.fidelity.matched).toBe(true);
    expect(j.fidelity.compared).toBe(j.fidelity.equal);
    expect(j.fidelity.compared).toBeGreaterThan(8000);
    expect(j.counters.pglazyfreed).toBe(j.counters.pglazyfree);
    expect(j.violations).toEqual([]);
    expect(j.cost.ns).toBeGreaterThan(0);
  });

  it('another kernel on the same trace: the mismatch is shown, --strict exits 1', async () => {
    const r = await run(['replay', '--kernel', 'linux-6.12', S1]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fidelity  MISMATCH/);
    expect(r.stdout).toMatch(/64kB\/split_deferred\s+\d+/);
    const strict = await run(['replay', '--strict', '--kernel', 'linux-6.12', S1]);
    expect(strict.code).toBe(1);
  });

  it('reads standard input (`-`) as it reads a file, for replay and diff', async () => {
    const gz = readFileSync(join(packageRoot, S1));
    const [file, stdin] = await Promise.all([run(['replay', '--json', '--kernel', 'linux-6.18-fc', S1]), run(['replay', '--json', '--kernel', 'linux-6.18-fc', '-'], gz)]);
    expect(stdin.code).toBe(0);
    const a = JSON.parse(file.stdout);
    const b = JSON.parse(stdin.stdout);
    expect(b.trace).toBe('-');
    // The same replay; only the counter check needs the capture's files beside the trace.
    const { counterCheck: _c, checks: ca, ...rest } = a;
    const { checks: cb, ...restB } = b;
    void _c;
    expect({ ...restB, trace: a.trace }).toEqual(rest);
    expect(ca.counters).toBe('compared');
    expect(cb).toEqual({ ...ca, counters: 'no per-phase deltas beside the trace' });
    const d = await run(['diff', '--json', '--base', 'linux-6.12', '--with', 'linux-6.18', '-'], gz);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).trace).toBe('-');
  });

  it('says what went wrong reading the trace: nothing to replay is an error, a cut-short capture a warning (--strict: exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-input-'));
    try {
      const empty = join(dir, 'empty.trace');
      writeFileSync(empty, '');
      const e = await run(['replay', empty]);
      expect(e.code).toBe(1);
      expect(e.stderr).toMatch(/is empty: nothing to replay/);
      expect(e.stderr).toMatch(/empty\.trace:1:1:/);
      const de = await run(['diff', '--base', 'linux-6.12', '--with', 'linux-6.18', '-']);
      expect(de.code).toBe(1);
      expect(de.stderr).toMatch(/- is empty: nothing to compare/);
      // The first 100 kB of a 140 kB gzip stream: read up to the cut, then reported.
      const cut = join(dir, 'cut.trace.gz');
      writeFileSync(cut, readFileSync(join(packageRoot, S1)).subarray(0, 100_000));
      const w = await run(['replay', cut]);
      expect(w.code).toBe(0);
      expect(w.stdout).toMatch(/fidelity /);
      expect(w.stderr).toMatch(/input: \d+ diagnostics? .*gzip_error ×1/);
      expect(w.stderr).toMatch(/cut\.trace\.gz:\d+:\d+: error: gzip stream error/);
      const wj = await run(['replay', '--json', cut]);
      const j = JSON.parse(wj.stdout);
      expect(j.diagnosticCounts.gzip_error).toBe(1);
      expect(j.events).toBeGreaterThan(1000);
      // A capture that matches but has a line that does not parse: reported, the verdict only
      // partial (that line may have been an event), and --strict fails on it alone.
      const bad = join(dir, 'bad.trace');
      writeFileSync(bad, `${gunzipSync(readFileSync(join(packageRoot, S1))).toString('utf8')}this is not a trace line\n`);
      const lax = await run(['replay', '--json', '--kernel', 'linux-6.18-fc', bad]);
      expect(lax.code).toBe(0);
      expect(JSON.parse(lax.stdout).fidelity).toMatchObject({ verdict: 'partial', matched: false, opsMismatched: 0 });
      expect(JSON.parse(lax.stdout).fidelity.reasons[0]).toMatch(/not read whole .*bad_line_header ×1/);
      expect(JSON.parse(lax.stdout).diagnosticCounts.bad_line_header).toBe(1);
      const strict = await run(['replay', '--strict', '--kernel', 'linux-6.18-fc', bad]);
      expect(strict.code).toBe(1);
      expect(strict.stderr).toMatch(/bad\.trace:\d+:1: error: .*\[bad_line_header\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad config is a usage error that lists what exists', async () => {
    const r = await run(['replay', '--kernel', 'linux-6.18 +nonsense', S1]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown series or preset `nonsense`/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('foliolab series', () => {
  it('lists series with identity and the presets', async () => {
    const r = await run(['series', '--json']);
    const j = JSON.parse(r.stdout);
    const ids = j.series.map((s: { id: string }) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['lazyfree-thp@v6', 'batched-unmap@v4-3', 'oob-fix@v4', 'ttu-sync@final', 'split-queue-fbatch@v6']));
    expect(j.presets.map((p: { id: string }) => p.id)).toEqual(['linux-6.1', 'linux-6.12', 'linux-6.18', 'linux-6.18-fc', 'linux-6.18-fc-pvm', 'linux-6.19']);
    const oob = j.series.find((s: { id: string }) => s.id === 'oob-fix@v4');
    expect(oob.fixes).toBe('354dffd29575');
    expect(oob.hooks).toEqual(['folio_unmap_pte_batch']);
  });
});
