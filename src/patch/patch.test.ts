/**
 * Patch mail reading on the project's own fixtures (fixtures/patches/, always run): every form
 * (format-patch mbox, archive text, flattened, quoted at one and two depths, quotes stripped),
 * the subject/trailer grammar, hunk repair, and bad input. Expected figures are computed from
 * the fixture text by the test where they can be (diffstat summaries, hunk headers), not typed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { analysePatchFile, analysePatchText, type PatchInfo } from './index.js';
import { decodeRfc2047, parseSubject, parseTrailer } from './grammar.js';
import { MAX_LINE } from './text.js';

const F = (n: string): string => join(packageRoot, 'fixtures/patches', n);
const raw = (n: string): string => readFileSync(F(n), 'utf8');
const one = (n: string): PatchInfo => {
  const r = analysePatchFile(F(n));
  expect(r.patches).toHaveLength(1);
  return r.patches[0]!;
};

/** "N files changed, A insertions(+), D deletions(-)" of the message that starts at `from`. */
function summaryOf(text: string, from = 0): { files: number; add: number; del: number } {
  const m = /(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?/.exec(text.slice(from))!;
  return { files: Number(m[1]), add: Number(m[2] ?? 0), del: Number(m[3] ?? 0) };
}

describe('subject and trailer grammar', () => {
  it('reads reply markers, tag groups, version, part, RFC and tree', () => {
    const s = parseSubject('Re: RE: [RFC PATCH mm-unstable v2 3/4] mm: do a thing');
    expect(s).toMatchObject({ reply: true, rfc: true, isPatch: true, version: 2, part: 3, total: 4, tree: 'mm-unstable', title: 'mm: do a thing' });
    expect(parseSubject('[PATCH 0/4] reparent the THP split queue')).toMatchObject({ part: 0, total: 4, title: 'reparent the THP split queue' });
    expect(parseSubject('[PATCH 0/4] reparent the THP split queue').version).toBeUndefined();
    expect(parseSubject('[PATCH RESEND v3] mm: x')).toMatchObject({ version: 3, tags: ['PATCH', 'RESEND'] });
    expect(parseSubject('[PATCH net-next v10 12/15] net: y')).toMatchObject({ version: 10, part: 12, total: 15, tree: 'net-next' });
    expect(parseSubject('mm: no tags at all')).toMatchObject({ isPatch: false, title: 'mm: no tags at all' });
    // A version-like word inside the title is not a tag.
    expect(parseSubject('[PATCH] mm: drop v2 of the API').version).toBeUndefined();
  });

  it('reads trailers: people, Fixes with commit and title, Link, Cc with a comment', () => {
    expect(parseTrailer('Reviewed-by: "Zi Yan" <ziy@example.com>')).toMatchObject({ key: 'Reviewed-by', name: 'Zi Yan', email: 'ziy@example.com' });
    expect(parseTrailer('Fixes: 354dffd29575 ("mm: support batched unmap for lazyfree large folios during reclamation")')).toMatchObject({
      key: 'Fixes',
      commit: '354dffd29575',
      commitTitle: 'mm: support batched unmap for lazyfree large folios during reclamation',
    });
    expect(parseTrailer('Link: https://lore.kernel.org/r/x@y')).toMatchObject({ key: 'Link', url: 'https://lore.kernel.org/r/x@y' });
    expect(parseTrailer('Cc: <stable@vger.kernel.org> # 6.15+')).toMatchObject({ key: 'Cc', email: 'stable@vger.kernel.org', comment: '6.15+' });
    expect(parseTrailer('signed-off-by: A B <a@b>')!.key).toBe('Signed-off-by');
    expect(parseTrailer('Note: not a trailer')).toBeUndefined();
  });

  it('decodes RFC 2047 words (Q and B, UTF-8 and Latin-1)', () => {
    expect(decodeRfc2047('=?ISO-8859-1?Q?J=F6rg_Example?= <j@e>').text).toBe('Jörg Example <j@e>');
    expect(decodeRfc2047('=?UTF-8?B?W1BBVENIXSBt?= =?UTF-8?Q?m=3A_x?=').text).toBe('[PATCH] mm: x');
    expect(decodeRfc2047('=?x-unknown?Q?a?=').unknownCharset).toBe('x-unknown');
  });
});

describe('git format-patch mbox of a series (lazyfree-v6.mbox)', () => {
  const r = analysePatchFile(F('lazyfree-v6.mbox'));
  const text = raw('lazyfree-v6.mbox');
  it('splits the mbox into the cover letter and its parts', () => {
    expect(r.patches.map((p) => p.part)).toEqual([0, 1, 2, 3]);
    expect(r.patches.every((p) => p.version === 6 && p.total === 3 && p.author?.name === 'Ada Example')).toBe(true);
    expect(r.diagnostics.filter((d) => d.severity !== 'info')).toEqual([]);
  });
  it('cover letter: parts, changelog per version, base, claim table with unit and workload', () => {
    const c = r.patches[0]!;
    expect(c.coverLetter).toBe(true);
    expect(c.parts.map((p) => p.title)).toEqual(r.patches.slice(1).map((p) => p.title));
    expect(c.changelog.map((e) => [e.version, e.since])).toEqual([['v6', 'v5'], ['v2', 'v1']]);
    expect(c.changelog[0]!.entries).toContain('check VM_LOCKED before splitting (per Bea Reviewer)');
    expect(c.base).toBe('0123456789abcdef0123456789abcdef01234567');
    const t = c.claims.find((x) => x.kind === 'table')!;
    expect(t).toMatchObject({ before: 0.702114, after: 0.050931, change: '-92.75%', unit: 's' });
    expect(t.workload).toMatch(/memory\.reclaim/);
    const s = summaryOf(text);
    expect(c.files).toHaveLength(s.files);
    expect(c.files.reduce((n, f) => n + f.additions, 0)).toBe(s.add);
  });
  it('each part: folded subject, threading, counts equal to its own diffstat summary, functions', () => {
    for (const p of r.patches.slice(1)) {
      const start = text.indexOf(`Message-ID: <${p.messageId}>`);
      const s = summaryOf(text, start);
      expect(p.files.reduce((n, f) => n + f.additions, 0)).toBe(s.add);
      expect(p.files.reduce((n, f) => n + f.deletions, 0)).toBe(s.del);
      expect(p.files.every((f) => f.counted === 'diff')).toBe(true);
      expect(p.inReplyTo).toBe(r.patches[0]!.messageId);
    }
    expect(r.patches[2]!.title).toBe('mm/rmap: integrate PMD-mapped folio splitting into pagewalk loop');
    expect(r.patches[2]!.functions).toContain('try_to_unmap_one');
    expect(r.patches[3]!.functions[0]).toBe('__discard_anon_folio_pmd_locked');
  });
});

describe('a single patch (lazyfree-v2.mbox)', () => {
  const p = one('lazyfree-v2.mbox');
  it('hunk line numbers come from the @@ ranges', () => {
    const h = p.files.find((f) => f.path === 'include/linux/rmap.h')!.hunks[0]!;
    const lines = raw('lazyfree-v2.mbox').split('\n');
    const at = lines.findIndex((l) => l.startsWith('@@ -100,6'));
    const added = lines.findIndex((l, i) => i > at && l.startsWith('+'));
    expect(h.newStart + (added - at - 1)).toBe(103);
    expect(p.functions.slice(0, 3)).toEqual(['discard_trans_pmd', 'try_to_unmap_one', 'shrink_folio_list']);
  });
  it('trailers, before/after claim, ratio claim, changelog after ---', () => {
    expect(p.trailers.map((t) => `${t.key}:${t.name}`)).toEqual(['Suggested-by:Bea Reviewer', 'Signed-off-by:Ada Example']);
    expect(p.claims).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'before-after', before: 0.71, after: 0.05, unit: 's' }), expect.objectContaining({ kind: 'ratio', value: 14, direction: 'faster' })]));
    expect(p.changelog).toEqual([expect.objectContaining({ version: 'v2', since: 'v1' })]);
  });
});

describe('review replies', () => {
  it('one depth: comments on the message and on hunk lines, by the sender (RFC 2047 name)', () => {
    const p = one('review-quoted.eml');
    expect(p.reply).toBe(true);
    expect(p.sender?.name).toBe('Dan Reviéwer');
    expect(p.author?.name).toBe('Cai Example');
    expect(p.reviews.map((r) => r.on.kind)).toEqual(['message', 'hunk', 'hunk']);
    const r = p.reviews[1]!;
    expect(r.by).toBe('Dan Reviéwer');
    expect(r.text).toMatch(/read past the end of the table/);
    // The answered line: the quoted hunk line just before the comment, numbered from its @@ header.
    const lines = raw('review-quoted.eml').split('\n');
    const hdr = lines.findIndex((l) => l.startsWith('> @@ -1790'));
    const quoted = lines.findIndex((l) => l.includes('can_batch_unmap_folio_ptes(address'));
    expect(r.on).toMatchObject({ kind: 'hunk', file: 'mm/rmap.c', hunk: '@@ -1790,5 +1790,12 @@', function: 'try_to_unmap_one', newLine: 1790 + (quoted - hdr - 1) });
    expect(r.line).toBe(quoted + 3);
    expect(p.claims.some((c) => c.kind === 'counter' && c.metric === 'split_deferred' && c.before === 2048 && c.after === 0)).toBe(true);
  });

  it('two depths: the reviewer at depth 1, the author answering at depth 0, the patch at depth 2', () => {
    const p = one('review-nested.eml');
    expect(p.form).toContain('quoted-patch-depth-2');
    expect(p.author?.name).toBe('Cai Example');
    expect(p.reviews.map((r) => [r.by, r.depth])).toEqual([['Dan Reviewer', 1], ['Cai Example', 0]]);
    expect(p.reviews[1]!.replyTo).toBe(0);
    expect(p.reviews[1]!.on).toEqual(p.reviews[0]!.on);
    expect(p.diagnostics.map((d) => d.code)).toContain('hunk_repaired'); // the wrapped @@ line
  });

  it('quote markers stripped by an archive: the comment after the trimmed hunk', () => {
    const p = one('archive-stripped.txt');
    expect(p.form).toContain('quote-markers-stripped');
    expect(p.date).toBe('2025-01-15T08:20:11.000Z');
    expect(p.reviews).toHaveLength(1);
    expect(p.reviews[0]).toMatchObject({ by: 'Dan Reviewer', on: { kind: 'hunk', file: 'mm/rmap.c', function: 'set_tlb_ubc_flush_pending', newLine: 683 } });
    expect(p.reviews[0]!.text).toMatch(/riscv seems to be missing/);
    expect(p.unrecovered.length).toBeGreaterThan(0);
  });
});

describe('mail flattened onto one line (archive-flat.txt)', () => {
  const p = one('archive-flat.txt');
  const line = raw('archive-flat.txt').split('\n')[0]!;
  it('re-breaks it: author, changelog version, files from the diffstat, hunk ranges and functions', () => {
    expect(p.form).toContain('flattened');
    expect(p.author?.name).toBe('Cai Example');
    expect(p.version).toBe(2);
    expect(p.versionFrom).toBe('changelog');
    expect(p.files).toEqual([expect.objectContaining({ path: 'mm/rmap.c', additions: 9, deletions: 2, counted: 'diffstat' })]);
    expect(p.files[0]!.hunks.map((h) => [h.oldStart, h.newStart, h.function, h.unrecoverable])).toEqual([
      [1790, 1790, 'try_to_unmap_one', true],
      [1850, 1857, 'try_to_unmap_one', true],
    ]);
    expect(p.claims.map((c) => c.kind)).toEqual(expect.arrayContaining(['ratio', 'counter']));
  });
  it('says what it could not recover, at the column of each joined hunk', () => {
    const d = p.diagnostics.filter((x) => x.code === 'hunk_unrecoverable');
    expect(d.map((x) => [x.line, x.column])).toEqual([
      [1, line.indexOf('@@ -1790') + 1],
      [1, line.indexOf('@@ -1850') + 1],
    ]);
    expect(p.unrecovered.join(' ')).toMatch(/lines inside hunks/);
  });
});

describe('hunk repair and diff forms', () => {
  it('a blank context line whose space was stripped, before the next file header (quilt diff)', () => {
    const p = one('blank-context-trap.patch');
    expect(p.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([
      ['mm/rmap.c', 1, 0],
      ['mm/vmscan.c', 1, 1],
    ]);
    expect(p.diagnostics.map((d) => d.code)).toEqual(['hunk_repaired']);
  });
  it('renames, binary stubs and "\\ No newline at end of file"', () => {
    const p = one('rename-binary.patch');
    expect(p.tree).toBe('mm-unstable');
    expect(p.files[0]).toMatchObject({ path: 'tools/testing/selftests/mm/lazyfree_thp.c', from: 'tools/testing/selftests/mm/lazyfree.c', status: 'renamed', additions: 1, deletions: 1 });
    expect(p.files[1]).toMatchObject({ path: 'tools/testing/selftests/mm/lazyfree.dat', status: 'binary' });
    expect(p.diagnostics).toEqual([]);
  });
  it('hunks whose counts do not add up: recounted, reported at their @@ line', () => {
    const p = one('bad/count-mismatch.patch');
    const lines = raw('bad/count-mismatch.patch').split('\n');
    const d = p.diagnostics.filter((x) => x.code === 'hunk_count_mismatch');
    expect(d.map((x) => x.line)).toEqual([lines.findIndex((l) => l.startsWith('@@ -10,')) + 1, lines.findIndex((l) => l.startsWith('@@ -40,')) + 1]);
    expect(p.files[0]).toMatchObject({ additions: 2, deletions: 2 });
  });
});

describe('MIME: a patch sent as an attachment', () => {
  it('decodes the quoted-printable note and the base64 patch part; skips the image, saying so', () => {
    const p = one('mime-attachment.eml');
    expect(p.form).toContain('mime:multipart/mixed');
    expect(p.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([
      ['include/linux/rmap.h', 1, 0],
      ['mm/rmap.c', 27, 0],
      ['mm/vmscan.c', 2, 0],
    ]);
    expect(p.claims).toEqual([expect.objectContaining({ kind: 'before-after', before: 0.71, after: 0.05, unit: 's' })]);
    const lines = raw('mime-attachment.eml').split('\n');
    expect(p.diagnostics).toEqual([expect.objectContaining({ code: 'mime_part_skipped', line: lines.findIndex((l) => l.startsWith('iVBOR')) + 1 })]);
  });
});

describe('bad input: diagnostics with line and column, never a crash', () => {
  it('binary, non-mail and empty files', () => {
    const b = analysePatchFile(F('bad/binary.bin'));
    expect(b.patches).toEqual([]);
    expect(b.diagnostics[0]).toMatchObject({ code: 'binary_input', severity: 'error', line: 2 });
    const n = analysePatchFile(F('bad/not-mail.txt'));
    expect(n.diagnostics.map((d) => d.code)).toEqual(['not_a_patch']);
    expect(analysePatchText(Buffer.alloc(0), 'empty').diagnostics[0]!.code).toBe('empty_input');
    expect(analysePatchFile(F('does-not-exist')).diagnostics[0]!.code).toBe('unreadable_input');
  });
  it('an encoded subject and sender', () => {
    const p = one('bad/rfc2047-subject.eml');
    expect(p.subject).toBe('[PATCH] mm: split_deferred — count only real partial unmaps');
    expect(p.author?.name).toBe('Jörg Example');
  });
  it('an enormous line is cut and reported; invalid UTF-8 and control bytes are reported', () => {
    const big = Buffer.concat([Buffer.from('Subject: [PATCH] x\n\n'), Buffer.alloc(MAX_LINE + 10, 'a'), Buffer.from('\n')]);
    const r = analysePatchText(big, 'big');
    expect(r.diagnostics.find((d) => d.code === 'line_too_long')).toMatchObject({ line: 3, column: MAX_LINE + 1 });
    const bad = analysePatchText(Buffer.from([...Buffer.from('Subject: [PATCH] caf'), 0xe9, 0x0a, 0x01, 0x0a]), 'latin');
    expect(bad.diagnostics.map((d) => d.code)).toEqual(expect.arrayContaining(['patch_encoding', 'non_text_line']));
    expect(bad.patches[0]!.subject).toBe('[PATCH] café');
  });
  it('quotes nested 30 deep and arbitrary text never throw; every diagnostic has a position', () => {
    const deep = `Subject: Re: [PATCH] x\n\n${Array.from({ length: 30 }, (_, i) => `${'> '.repeat(i)}On x, Person ${i} wrote:`).join('\n')}\n${'> '.repeat(30)}diff --git a/a b/a\n`;
    expect(() => analysePatchText(Buffer.from(deep), 'deep')).not.toThrow();
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom('diff --git a/x b/x', '--- a/x', '+++ b/x', '@@ -1,2 +1,3 @@ f(', '+a', '-b', ' c', '', '> ', '>> @@ -9 +9 @@', 'Subject: [PATCH v2 1/2] t', 'From: A <a@b>', 'x wrote:', 'Signed-off-by: A <a@b>', '| 1 | 2 | 3% |'), fc.string()), { maxLength: 60 }), (ls) => {
        const r = analysePatchText(Buffer.from(ls.join('\n')), 'fuzz');
        for (const d of r.diagnostics) {
          expect(d.line).toBeGreaterThanOrEqual(0);
          expect(d.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
