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

  it('--strict fails on damage that reads whole events: CR-only line ends, a header count the body does not meet, time going backwards', async () => {
    const head = '# tracer: nop\n#\n# entries-in-buffer/entries-written: 2/2   #P:2\n#\n';
    const ev = (ts: string, pfn: number): string => ` a-1 [000] ..... ${ts}: mm_page_free: page=0000000000000001 pfn=0x${pfn} order=4`;
    const whole = `${head}${ev('1.000001', 1)}\n${ev('1.000002', 2)}\n`;
    expect((await run(['parse', '--strict', '-'], whole)).code).toBe(0);
    for (const damaged of [whole.replace(/\n/g, '\r'), `${head}${ev('1.000001', 1)}\n`, `${head}${ev('1.000002', 2)}\n${ev('1.000001', 1)}\n`]) {
      const strict = await run(['parse', '--strict', '-'], damaged);
      expect(strict.code).toBe(1);
      expect(strict.stdout).toMatch(/\[(cr_line_ends|entries_missing|time_backwards)\]/);
    }
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

describe('foliolab parse: what is missing shows in the numbers', () => {
  // A real s1 capture through a ring buffer of 8 KiB per CPU: the header says
  // `entries-in-buffer/entries-written: 334/14935`, the kernel overwrote the other 14601.
  const OVERWRITTEN = 'fixtures/traces/overwritten-s1/trace.txt.gz';
  // The first 60000 bytes of fixtures/traces/trace-cmd-s1/trace.txt.gz: the gzip stream ends
  // inside line 6056.
  const CUT = 'fixtures/traces/cut-short.txt.gz';

  it('an overwritten ring buffer counts as lost events, in --json and in the summary', async () => {
    const r = await run(['parse', '--json', OVERWRITTEN]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.events).toBe(334);
    expect(j.header).toMatchObject({ entriesInBuffer: 334, entriesWritten: 14935 });
    expect(j.lostEvents).toBe(14601);
    expect(j.complete).toBe(false);
    expect(j.lost).toEqual([{ kind: 'overwritten', cpu: null, count: 14601, line: 3, afterTsNs: null }]);
    const text = await run(['parse', OVERWRITTEN]);
    expect(text.stdout).toMatch(/lost\s+14601 counted: 14601 overwritten before the first event/);
    expect((await run(['parse', '--strict', OVERWRITTEN])).code).toBe(1);
  });

  it('a complete trace says so', async () => {
    const j = JSON.parse((await run(['parse', '--json', S1])).stdout);
    expect(j.complete).toBe(true);
    expect(j.truncated).toBeNull();
  });

  it('a truncated .gz is an error: exit 1, where it was cut, and the partial line is not parsed', async () => {
    const r = await run(['parse', '--json', CUT]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.complete).toBe(false);
    expect(j.truncated).toEqual({ reason: 'unexpected end of file', bytes: 775198, lastLine: 6055, droppedBytes: 105 });
    // Lines 1-12 are the header; the cut line 6056 is not taken for an event.
    expect(j.events).toBe(6043);
    expect(j.diagnostics).toHaveLength(1);
    expect(j.diagnostics[0]).toMatchObject({ file: CUT, line: 6056, code: 'gzip_error', severity: 'error' });
    expect(j.diagnostics[0].message).toMatch(/the trace is cut; read whole up to line 6055 \(byte 775198\)/);
    const text = await run(['parse', CUT]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/CUT\s+the trace is cut short \(unexpected end of file\): read whole up to line 6055, byte 775198/);
  });
});

describe('foliolab parse: trace.dat', () => {
  const DAT = 'fixtures/traces/trace-cmd-s1/trace-v7-zstd.dat';

  it('reads a trace.dat by its magic, whatever its name', async () => {
    const r = await run(['parse', '--json', DAT]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('trace.dat');
    expect(j.events).toBe(14880);
    expect(j.byName.sys_enter_madvise).toBe(2);
    expect(j.fallback).toEqual({});
    expect(j.complete).toBe(true);
    const text = await run(['parse', DAT]);
    expect(text.stdout).toMatch(/layout\s+trace\.dat; formats carried by the trace\.dat/);
  });

  it('a damaged trace.dat: exit 1 with the byte offset, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-dat-'));
    const bad = join(dir, 'bad.dat');
    writeFileSync(bad, Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing6\0\0\x08', 'latin1'), Buffer.alloc(20)]));
    const r = await run(['parse', bad]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/cannot read .*bad\.dat as a trace\.dat: at byte \d+: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
