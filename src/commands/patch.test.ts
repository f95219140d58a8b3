/** `foliolab patch` and `foliolab patch diff` as a user runs them. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

function run(args: string[], cwd = packageRoot): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
const F = (n: string): string => join(packageRoot, 'fixtures/patches', n);

describe('foliolab patch', () => {
  it('--json carries identity, code, claims, reviews and the model link of every message', async () => {
    const r = await run(['patch', '--json', F('review-quoted.eml'), F('lazyfree-v6.mbox')]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.files.map((f: { patches: unknown[] }) => f.patches.length)).toEqual([1, 4]);
    const p = j.files[0].patches[0];
    for (const k of ['series', 'version', 'part', 'total', 'author', 'date', 'subject', 'files', 'functions', 'claims', 'reviews', 'model']) expect(p, k).toHaveProperty(k);
    expect(p.reviews[1].on.file).toBe('mm/rmap.c');
    expect(j.files[1].patches[0].model.ids).toEqual(['lazyfree-thp@v6']);
  });

  it('prints a readable report; bad input gives file:line:column and exit 1, and writes nothing', async () => {
    const ok = await run(['patch', F('archive-stripped.txt')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/reviews\n\s+\[0\] Dan Reviewer on mm\/rmap\.c @@ -680,7 \+680,7 @@ line 683 \(set_tlb_ubc_flush_pending\)/);
    const cwd = mkdtempSync(join(tmpdir(), 'foliolab-patch-'));
    const bad = await run(['patch', F('bad/binary.bin')], cwd);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/binary\.bin:2:1: error: .* \[binary_input\]/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const none = await run(['patch', F('bad/not-mail.txt')], cwd);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/not-mail\.txt:1:1: error: .*\[not_a_patch\]/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('patch diff: parts, hunks, changelog and model hooks', async () => {
    const r = await run(['patch', 'diff', F('lazyfree-v2.mbox'), F('lazyfree-v6.mbox')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/part 1→3 CHANGED: mm\/vmscan: avoid split lazyfree THP during shrink_folio_list\(\)/);
    expect(r.stdout).toMatch(/dropped hunk in mm\/rmap\.c \(discard_trans_pmd\)/);
    expect(r.stdout).toMatch(/model units differ: lazyfree-thp@v2 → lazyfree-thp@v6/);
    const j = JSON.parse((await run(['patch', 'diff', '--json', F('batch-v1.mbox'), F('batch-v2.mbox')])).stdout);
    expect(j.parts.map((p: { status: string }) => p.status)).toEqual(['reworded', 'changed', 'added']);
    const missing = await run(['patch', 'diff', F('nope'), F('batch-v2.mbox')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope: no such file/);
  });
});

describe('foliolab patch: internal errors', () => {
  it('an unexpected exception exits 70 saying "internal error" and where to report it, for patch and patch diff', async () => {
    const { vi } = await import('vitest');
    vi.resetModules();
    vi.doMock('../catalogue/index.js', async (orig) => ({
      ...(await orig<typeof import('../catalogue/index.js')>()),
      identifyFile: () => {
        throw new TypeError("Cannot read properties of null (reading '1')");
      },
    }));
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err.push(String(s));
      return true;
    });
    try {
      const { default: Patch } = await import('./patch.js');
      const { default: PatchDiff } = await import('./patch/diff.js');
      for (const [cmd, argv] of [[Patch, [F('lazyfree-v2.mbox')]], [PatchDiff, [F('lazyfree-v2.mbox'), F('lazyfree-v6.mbox')]]] as const) {
        err.length = 0;
        const e = await cmd.run([...argv], packageRoot).then(
          () => undefined,
          (x: { oclif?: { exit?: number } }) => x,
        );
        expect(e?.oclif?.exit).toBe(70);
        expect(err.join('')).toMatch(/internal error: Cannot read properties of null/);
        expect(err.join('')).toMatch(/This is a bug in foliolab, not a problem with the input. Please report it/);
      }
    } finally {
      spy.mockRestore();
      vi.doUnmock('../catalogue/index.js');
      vi.resetModules();
    }
  });
});
