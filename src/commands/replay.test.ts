/** `foliolab replay` and `foliolab series` as a user runs them. */
import { execFile } from 'node:child_process';
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
