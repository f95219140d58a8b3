/** The real binary, as a user runs it (bin/run.js over dist/, built by `npm test` first). */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    const child = execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) { child.stdin!.write(input); child.stdin!.end(); }
  });
}

const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';

describe('bin/run.js run as a program', () => {
  // `npx foliolab` and `./bin/run.js` go through its `#!` line, which also sizes V8's young
  // generation (see bin/run.js); a `#!` the system cannot run would break both.
  it('runs through its #! line and passes its V8 flag', async () => {
    // A preloaded script reports the flags node was started with.
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-bin-'));
    const pre = join(dir, 'argv.cjs');
    writeFileSync(pre, "process.stderr.write('execArgv ' + JSON.stringify(process.execArgv) + '\\n');\n");
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      execFile(join(packageRoot, 'bin/run.js'), ['--version'], { cwd: packageRoot, env: { ...process.env, NODE_OPTIONS: `--require=${pre}` } }, (err, stdout, stderr) =>
        res({ code: err ? 1 : 0, stdout, stderr }));
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^foliolab\/\d/m);
    expect(r.stderr).toContain('"--max-semi-space-size=32"');
  });
});

describe('foliolab parse', () => {
  it('--json prints one summary object with the documented keys', async () => {
    const r = await run(['parse', '--json', S1]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('tracefs');
    expect(j.events).toBe(14996);
    expect(j.byName.tlb_flush).toBe(2059);
    expect(j.byName.mm_vmscan_reclaim_pages).toBe(64);
    expect(j.lostEvents).toBe(0);
    expect(j.diagnostics).toEqual([]);
    expect(j.release).toBe('6.18.44-fc-v669');
  });

  it('prints a readable summary', async () => {
    const r = await run(['parse', S1]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/events\s+14996 in 15008 lines/);
    expect(r.stdout).toMatch(/2059\s+tlb_flush/);
    expect(r.stdout).toMatch(/s1_mthp64k_lazy-18983/);
  });

  it('--ndjson streams every event with typed fields', async () => {
    const r = await run(['parse', '--ndjson', S1]);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(14996);
    const flush = lines.map((l) => JSON.parse(l)).find((e) => e.name === 'tlb_flush' && e.fields.pages === 16);
    expect(flush.fields.reason).toEqual({ value: 3, name: 'local MM shootdown' });
    expect(r.stderr).toMatch(/events\s+14996/);
  });

  it('reads stdin, and --strict fails on unparsed lines', async () => {
    const text = '# tracer: nop\n a-1 [000] ..... 1.000001: mm_page_free: page=0000000000000001 pfn=0x1 order=4\nnot a trace line\n';
    const ok = await run(['parse', '--json', '-'], text);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).diagnostics[0]).toMatchObject({ line: 3, column: 1, code: 'bad_line_header' });
    const strict = await run(['parse', '--json', '--strict', '-'], text);
    expect(strict.code).toBe(1);
  });

  it('exit 1 for an unreadable file, 2 for a usage error, never a stack trace', async () => {
    const missing = await run(['parse', 'no/such/trace']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const usage = await run(['parse', '--no-such-flag', S1]);
    expect(usage.code).toBe(2);
  });
});
