/** `foliolab race` as a user runs it: --check over every scenario file, --json, witnesses, --list. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { litmusFiles } from '../race/lkmm.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('foliolab race', () => {
  it('--check: every scenario in races/ gives the verdicts its file expects, and every Never has a partner that is not Never', async () => {
    const r = await run(['race', '--check', '--json']);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.errors).toEqual([]);
    expect(j.rows.filter((x: { ok: boolean }) => !x.ok)).toEqual([]);
    const ids = new Set(j.rows.map((x: { scenario: string }) => x.scenario));
    expect([...ids]).toEqual(['R1', 'R1b', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'R8', 'R9']);
    for (const row of j.rows) if (row.expected === 'Never') expect(row.vacuity.found, `${row.scenario} ${row.config} ${row.invariant}`).not.toBe('Never');
    expect(r.code).toBe(0);
  });

  it('--check exits 1 when a file expects what the explorer does not find', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'race-'));
    try {
      const text = readFileSync(join(packageRoot, 'races/R1.race'), 'utf8').replace('expect "linux-6.12" { unified_pte_state Never', 'expect "linux-6.12" { unified_pte_state Sometimes; } expect "linux-6.1" { unified_pte_state Never');
      writeFileSync(join(dir, 'R1.race'), text);
      const r = await run(['race', '--check', join(dir, 'R1.race')]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/FAIL R1 +linux-6\.12 +unified_pte_state +expected Sometimes found Never/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--json: one object per scenario × config, a minimal witness with the racing pair, and a saved witness shown beside another config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'race-'));
    try {
      const w = join(dir, 'w.json');
      const r = await run(['race', 'R1', '--config', 'linux-6.12 -ttu-sync', '--config', 'linux-6.12', '--json', '--witness', w]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.map((x: { config: string }) => x.config)).toEqual(['linux-6.12 -ttu-sync', 'linux-6.12']);
      const [broken, fixed] = j.map((x: { results: unknown[] }) => x.results[0]);
      expect(broken).toMatchObject({ invariant: 'unified_pte_state', verdict: 'Sometimes', exhaustive: true });
      expect(broken.positive + broken.negative).toBe(broken.executions);
      expect(fixed).toMatchObject({ verdict: 'Never', positive: 0 });
      expect(fixed.witness).toBeUndefined();
      const wit = broken.witness;
      expect(wit.preemptions).toBe(1);
      expect(wit.racingPair[0]).toMatch(/B, mm\/madvise\.c@madvise_free_pte_range: write pte:T0\[0\]/);
      expect(wit.racingPair[1]).toMatch(/A, mm\/page_vma_mapped\.c@page_vma_mapped_walk: read pte:T0\[0\]/);
      const first = wit.steps[0];
      expect(first).toMatchObject({ thread: 'B', cpu: 1, locks: ['ptl:T0'], diff: ['T0[0] F.p0 → none'] });
      const saved = JSON.parse(readFileSync(w, 'utf8'));
      expect(saved.witnesses).toHaveLength(1);
      const show = await run(['race', '--show', w, '--config', 'linux-6.12']);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/linux-6\.12 -ttu-sync +│ linux-6\.12/);
      expect(show.stdout).toMatch(/PVMW_SYNC/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--bound: verdicts say bounded', async () => {
    const r = await run(['race', 'R8', '--config', 'linux-6.19', '--bound', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/split_queue_len_matches_list +Never \(≤ 1 preemption\)/);
    expect(r.stdout).toMatch(/bounded \(≤ 1 preemptions/);
  });

  it('--list names every scenario by id; the LKMM export matches races/lkmm', async () => {
    const r = await run(['race', '--list', '--json']);
    expect(JSON.parse(r.stdout).map((s: { id: string }) => s.id)).toEqual(['R1', 'R1b', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7', 'R8', 'R9']);
    for (const f of litmusFiles()) expect(readFileSync(join(packageRoot, 'races/lkmm', f.name), 'utf8')).toBe(f.text);
  });
});
