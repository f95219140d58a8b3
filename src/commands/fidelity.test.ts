/**
 * `foliolab fidelity <dir>` finds captures in the layout `foliolab record` writes (trace.txt,
 * or the file settings.txt names) as well as the corpus' (trace.txt.gz).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

const CAPTURE = join(packageRoot, 'traces/6.18.44-fc-v782/s8-mremap-straddle.aligned.rec');

function fidelity(dir: string): Promise<{ code: number; json: { rows: Array<{ trace: string; compared: number }>; total: number; skipped: unknown[] } }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), 'fidelity', '--json', dir], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, json: JSON.parse(stdout) });
    });
  });
}

/** A copy of the shipped capture with its trace as `name` (gunzipped unless it ends in .gz). */
function capture(root: string, sub: string, name: string, settingsExtra = ''): void {
  const d = join(root, sub);
  mkdirSync(d, { recursive: true });
  for (const f of ['settings.txt', 'stdout.txt', 'counters-before.txt', 'counters-after.txt']) copyFileSync(join(CAPTURE, f), join(d, f));
  if (settingsExtra) writeFileSync(join(d, 'settings.txt'), readFileSync(join(d, 'settings.txt'), 'utf8') + settingsExtra);
  const gz = readFileSync(join(CAPTURE, 'trace.txt.gz'));
  writeFileSync(join(d, name), name.endsWith('.gz') ? gz : gunzipSync(gz));
}

describe('foliolab fidelity <dir>', () => {
  it('finds trace.txt (what record writes), trace.txt.gz (the corpus) and the trace settings.txt names', async () => {
    const root = mkdtempSync(join(tmpdir(), 'foliolab-fid-'));
    capture(root, 'plain', 'trace.txt');
    capture(root, 'gz', 'trace.txt.gz');
    capture(root, 'named', 'run1.txt', 'trace-file: run1.txt\n');
    capture(root, 'named-gz', 'run2.txt.gz', 'trace-file: run2.txt\n');
    const r = await fidelity(root);
    expect(r.code).toBe(0);
    expect(r.json.rows.map((x) => x.trace)).toEqual(['gz', 'named', 'named-gz', 'plain']);
    for (const row of r.json.rows) expect(row.compared).toBeGreaterThan(0);
    // The capture directory itself, and its trace file, work too.
    expect((await fidelity(join(root, 'plain'))).json.total).toBe(1);
    expect((await fidelity(join(root, 'plain', 'trace.txt'))).json.total).toBe(1);
  });

  it('a capture from a kernel without a preset is listed as skipped, not dropped silently', async () => {
    const root = mkdtempSync(join(tmpdir(), 'foliolab-fid-'));
    capture(root, 'old', 'trace.txt');
    const s = join(root, 'old', 'settings.txt');
    writeFileSync(s, readFileSync(s, 'utf8').replace(/^kernel: .*$/m, 'kernel: 4.19.0-foo'));
    const r = await fidelity(root);
    expect(r.json.total).toBe(0);
    expect(r.json.skipped).toEqual([{ trace: 'old', why: 'no preset for kernel 4.19.0-foo' }]);
  });
});
