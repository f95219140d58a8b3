/** `foliolab patch` and `foliolab patch diff` as a user runs them. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

describe('foliolab patch: damaged and unusual mail', () => {
  it('whitespace-only input: exit 1 saying so (patch and patch diff)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-ws-'));
    const ws = join(dir, 'ws.txt');
    writeFileSync(ws, '  \n\t\n\n');
    const r = await run(['patch', ws]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ws\.txt: warning: the input holds only whitespace .*\[empty_input\]/);
    const d = await run(['patch', 'diff', ws, F('batch-v2.mbox')]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/only whitespace[^]*ws\.txt: no patch found/);
  });

  it('a mail with no patch exits 1 with the reason; a cover letter exits 0 as a cover letter', async () => {
    const r = await run(['patch', F('bad/no-patch.eml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no-patch\.eml:6:1: error: this mail holds no patch: the subject is tagged "\[PATCH\]", but the mail holds no diff.*\[no_patch\]/);
    const c = await run(['patch', F('bad/cover-only.eml')]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/cover-only\.eml: cover letter;/);
    // In an mbox, the message with no patch is listed on stderr and the others are read.
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-mix-'));
    const mix = join(dir, 'mix.mbox');
    writeFileSync(mix, `From x Mon Jan  1 00:00:00 2024\n${readFileSync(F('bad/plain-mail.eml'), 'utf8')}From x Mon Jan  1 00:00:00 2024\n${readFileSync(F('bad/zero-count.patch'), 'utf8')}`);
    const m = await run(['patch', mix]);
    expect(m.code).toBe(0);
    expect(m.stderr).toMatch(/mix\.mbox:7:1: error: this mail holds no patch.*\[no_patch\]/);
    expect(m.stdout).toMatch(/a hunk header that counts nothing/);
    const help = await run(['patch', '--help']);
    expect(help.stdout).toMatch(/A cover letter \(\[PATCH 0\/N\][^]*is not "no patch"/);
  });

  it('each damage is a diagnostic with file:line:column in the report', async () => {
    const files = ['zero-count.patch', 'subject-numbering.mbox', 'forwarded.eml', 'mime-damaged-base64.eml', 'mime-unclosed.eml', 'missing-headers.mbox'];
    const r = await run(['patch', ...files.map((f) => F(`bad/${f}`))]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    expect(r.stdout).toMatch(/mm\/vmscan\.c {2}\+2 −1\n/);
    expect(r.stdout).toMatch(/zero-count\.patch:10:1: warning: hunk @@ -680,0 \+680,0 @@ in mm\/vmscan\.c holds 5 old and 6 new lines .*\[hunk_count_mismatch\]/);
    expect(r.stdout).toMatch(/subject-numbering\.mbox:4:17: warning: subject numbers the part "99999999999999999999\/0".*\[subject_numbering\]/);
    expect(r.stdout).toMatch(/subject {3}\[PATCH v3 2\/4\] mm\/vmscan: count lazyfree folios dropped whole/);
    expect(r.stdout).toMatch(/who {7}author Fay Example <fay@example\.org>/);
    expect(r.stdout).toMatch(/mime-damaged-base64\.eml:18:31: warning: base64 body holds "\*".*\[mime_malformed\]/);
    expect(r.stdout).toMatch(/mime-unclosed\.eml:13:1: warning: the part opened here has no closing --b-19-- boundary.*\[mime_malformed\]/);
    expect(r.stdout).toMatch(/missing-headers\.mbox:2:1: warning: no Subject header.*\[missing_header\]/);
    expect(r.stdout).toMatch(/missing-headers\.mbox:18:1: warning: no From header.*\[missing_header\]/);
  });

  it('patch diff keeps the indentation of the changed lines', async () => {
    const r = await run(['patch', 'diff', F('batch-v1.mbox'), F('batch-v2.mbox')]);
    expect(r.code).toBe(0);
    const v2 = readFileSync(F('batch-v2.mbox'), 'utf8').split('\n');
    const shown = r.stdout.split('\n').filter((l) => /^ {6}new [-+]/.test(l)).map((l) => l.replace(/^ {6}new /, ''));
    expect(shown.length).toBeGreaterThan(0);
    for (const l of shown) expect(v2).toContain(l);
    expect(r.stdout).toContain('      old +\t    folio_test_large(folio))\n');
  });
});

describe('foliolab patch: internal errors', () => {
  it('an unexpected exception exits 70 saying "internal error" and what to report, for patch and patch diff', async () => {
    // A preloaded module makes decoding an input that holds a marker throw, as a bug would.
    const dir = mkdtempSync(join(tmpdir(), 'foliolab-bug-'));
    const preload = join(dir, 'bug.mjs');
    writeFileSync(preload, "const s = Buffer.prototype.toString; Buffer.prototype.toString = function (...a) { const t = s.apply(this, a); if (t.includes('INJECTED-BUG')) throw new TypeError(\"Cannot read properties of null (reading '1')\"); return t; };\n");
    const mail = join(dir, 'bug.eml');
    writeFileSync(mail, `${readFileSync(F('lazyfree-v2.mbox'), 'utf8')}\nINJECTED-BUG\n`);
    const runBug = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolveP) => {
        execFile(process.execPath, ['--import', preload, join(packageRoot, 'bin/run.js'), ...args], { cwd: dir }, (err, _stdout, stderr) => resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }));
      });
    for (const args of [['patch', mail], ['patch', 'diff', F('lazyfree-v2.mbox'), mail]]) {
      const r = await runBug(args);
      expect(r.code, args.join(' ')).toBe(70);
      expect(r.stderr).toMatch(/internal error: TypeError: Cannot read properties of null/);
      expect(r.stderr).toMatch(/This is a bug in foliolab, not a problem with the input\. Please report it/);
    }
  });
});
