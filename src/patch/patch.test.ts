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

/** Where `needle` first occurs in `text`: 1-based line and column. */
function pos(text: string, needle: string, from = 0): { line: number; column: number } {
  const k = text.indexOf(needle, from);
  expect(k, needle).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, k);
  return { line: before.split('\n').length, column: k - before.lastIndexOf('\n') };
}
const codes = (r: { diagnostics: Array<{ code: string }> }): string[] => r.diagnostics.map((d) => d.code);

describe('damaged and unusual mail: never a crash, never silent', () => {
  it('whitespace-only and separator-only input: empty_input saying so', () => {
    const ws = analysePatchText(Buffer.from('  \n\t\n   \n'), 'ws');
    expect(ws.patches).toEqual([]);
    expect(ws.diagnostics).toEqual([expect.objectContaining({ code: 'empty_input', message: expect.stringMatching(/only whitespace/) })]);
    const seps = analysePatchText(Buffer.from('From x Mon Jan  1 00:00:00 2024\n\n>\n'), 'seps');
    expect(seps.diagnostics).toEqual([expect.objectContaining({ code: 'empty_input', message: expect.stringMatching(/no mail text/) })]);
  });

  it('a mail that holds no patch is an error with its reason; a cover letter and a reply are not', () => {
    const noDiff = one('bad/no-patch.eml');
    const t = raw('bad/no-patch.eml');
    expect(noDiff.diagnostics).toEqual([expect.objectContaining({ code: 'no_patch', severity: 'error', message: expect.stringMatching(/tagged "\[PATCH\]", but the mail holds no diff/), ...pos(t, 'Reclaim splits') })]);
    expect(one('bad/plain-mail.eml').diagnostics).toEqual([expect.objectContaining({ code: 'no_patch', message: expect.stringMatching(/not a cover letter .* and not a reply/) })]);
    const cover = one('bad/cover-only.eml');
    expect(cover).toMatchObject({ coverLetter: true, part: 0, total: 2 });
    expect(cover.diagnostics).toEqual([]);
    const reply = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: Re: [PATCH] mm: x\n\nThanks, applied.\n'), 'reply').patches[0]!;
    expect(reply.reply).toBe(true);
    expect(codes(reply)).not.toContain('no_patch');
  });

  it('text above the headers (a forwarding line, an archive note): subject and identity still read', () => {
    const fwd = one('bad/forwarded.eml');
    expect(fwd).toMatchObject({ subject: '[PATCH v3 2/4] mm/vmscan: count lazyfree folios dropped whole', version: 3, part: 2, total: 4, date: '2025-02-06T09:15:00.000Z', messageId: '20250206-lazycount-2-fay@example.org' });
    expect(fwd.author).toEqual({ name: 'Fay Example', email: 'fay@example.org' });
    expect(fwd.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([['mm/vmscan.c', 2, 0]]);
    expect(fwd.diagnostics).toEqual([expect.objectContaining({ code: 'mail_preamble', line: 1, column: 1, message: expect.stringMatching(/Forwarded message/) })]);
    // Above the first message of an mbox, too.
    const mbox = analysePatchText(Buffer.from(`Downloaded from the list archive; 3 messages.\n\n${raw('lazyfree-v6.mbox')}`), 'noted.mbox');
    expect(mbox.patches.map((p) => p.part)).toEqual([0, 1, 2, 3]);
    expect(mbox.diagnostics.filter((d) => d.severity !== 'info')).toEqual([]);
    expect(mbox.diagnostics).toContainEqual(expect.objectContaining({ code: 'mail_preamble', line: 1, column: 1 }));
    const note = one('bad/archive-note.txt');
    expect(note).toMatchObject({ title: 'mm/rmap: name the batch size in try_to_unmap_one()', version: 1, part: 1, total: 2, author: { name: 'Gil Example', email: 'gil@example.net' } });
    expect(codes(note)).toEqual(['mail_preamble']);
  });

  it('a MIME part with no Content-Type and a damaged, cut-off base64 body: diagnostics, no TypeError', () => {
    const t = raw('bad/mime-damaged-base64.eml');
    const p = one('bad/mime-damaged-base64.eml');
    expect(p.subject).toBe('[PATCH] mm/huge_memory: keep the deferred split count per node');
    expect(p.diagnostics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'mime_malformed', message: expect.stringMatching(/outside the base64 alphabet/), ...pos(t, '*') }),
        expect.objectContaining({ code: 'diff_incomplete', message: expect.stringMatching(/\+\+\+ line names no file/) }),
        expect.objectContaining({ code: 'diff_incomplete', message: expect.stringMatching(/followed by no hunk/) }),
      ]),
    );
  });

  it('MIME boundaries declared but never found, or never closed: said where, and the patch still read', () => {
    const none = one('bad/mime-no-boundary.eml');
    expect(none.diagnostics).toEqual([expect.objectContaining({ code: 'mime_malformed', message: expect.stringMatching(/declares boundary "----=_Part_4412_1" but no line is/), ...pos(raw('bad/mime-no-boundary.eml'), 'A list server') })]);
    expect(none.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([['mm/page_alloc.c', 1, 0]]);
    const t = raw('bad/mime-unclosed.eml');
    const open = one('bad/mime-unclosed.eml');
    expect(open.diagnostics).toEqual([expect.objectContaining({ code: 'mime_malformed', message: expect.stringMatching(/no closing --b-19-- boundary/), ...pos(t, '--b-19\nContent-Type: text/x-diff') })]);
    expect(open.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([['mm/page_alloc.c', 1, 0]]);
    const noParam = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x\nContent-Type: multipart/mixed\n\nbody\n'), 'm').diagnostics;
    expect(noParam).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'mime_malformed', message: expect.stringMatching(/names no boundary/), line: 5 })]));
  });

  it('a hunk header counting 0 lines over a 7-line hunk: hunk_count_mismatch at the header, counts from the lines', () => {
    const t = raw('bad/zero-count.patch');
    const p = one('bad/zero-count.patch');
    const body = t.slice(t.indexOf('@@ -680,0')).split('\n').slice(1);
    const hunk = body.slice(0, body.findIndex((l) => l === '-- '));
    expect(hunk).toHaveLength(7);
    const add = hunk.filter((l) => l.startsWith('+')).length;
    const del = hunk.filter((l) => l.startsWith('-')).length;
    expect(p.files).toEqual([expect.objectContaining({ path: 'mm/vmscan.c', additions: add, deletions: del, counted: 'diff' })]);
    expect(p.diagnostics).toEqual([expect.objectContaining({ code: 'hunk_count_mismatch', ...pos(t, '@@ -680,0'), message: expect.stringMatching(/holds 5 old and 6 new lines where its header counts 0 and 0/) })]);
  });

  it('impossible subject numbering: subject_numbering at the number, part and total left unknown', () => {
    const t = raw('bad/subject-numbering.mbox');
    const r = analysePatchFile(F('bad/subject-numbering.mbox'));
    expect(r.patches.map((p) => [p.part, p.total, p.coverLetter])).toEqual([
      [undefined, undefined, false],
      [undefined, undefined, false],
      [undefined, undefined, false],
    ]);
    expect(r.patches[1]!.version).toBe(2);
    expect(r.diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([
      ['subject_numbering', pos(t, '99999999999999999999/0').line, pos(t, '99999999999999999999/0').column],
      ['subject_numbering', pos(t, '5/3').line, pos(t, '5/3').column],
      ['subject_numbering', pos(t, '1/0').line, pos(t, '1/0').column],
    ]);
    expect(r.diagnostics[0]!.message).toMatch(/too large .* M = 0/);
    expect(r.diagnostics[1]!.message).toMatch(/part 5 is beyond the total of 3/);
    const v = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: [PATCH v99999999999999999999] mm: x\n\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n'), 'v');
    expect(v.patches[0]!.version).toBe(1);
    expect(v.diagnostics).toEqual([expect.objectContaining({ code: 'subject_numbering', line: 2, column: 17 })]);
  });

  it('missing Subject or From: missing_header at the header block', () => {
    const t = raw('bad/missing-headers.mbox');
    const r = analysePatchFile(F('bad/missing-headers.mbox'));
    expect(r.patches.map((p) => [p.title, p.author?.name])).toEqual([
      [undefined, 'Kai Example'],
      ['mm/swap: a mail with no sender', undefined],
    ]);
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ code: 'missing_header', message: expect.stringMatching(/^no Subject/), ...pos(t, 'From: Kai') }),
      expect.objectContaining({ code: 'missing_header', message: expect.stringMatching(/^no From/), ...pos(t, 'Date: Thu, 13 Feb 2025 09:01') }),
    ]);
  });

  it('a context line past a complete hunk, before the signature: the hunk is recounted and said so', () => {
    const t = 'From: A <a@example.org>\nSubject: [PATCH] x\n\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n d\n-- \n2.47.1\n';
    const r = analysePatchText(Buffer.from(t), 'ctx');
    expect(r.patches[0]!.files[0]!.hunks[0]).toMatchObject({ oldLines: 2, newLines: 2 });
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'hunk_count_mismatch', line: 8, message: expect.stringMatching(/holds 3 old and 3 new lines where its header counts 2 and 2/) })]);
  });

  it('a +++ line naming no file (the null-match crash) is a diagnostic', () => {
    const r = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x\n\n--- a/x\n+++ b/\n@@ -1 +1 @@\n-a\n+b\n'), 'p');
    expect(r.patches[0]!.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([['x', 1, 1]]);
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'diff_incomplete', line: 5, column: 1 })]);
  });

  it('a diff cut off before files its diffstat lists, or with counts its diffstat contradicts', () => {
    const head = 'From: A <a@example.org>\nSubject: [PATCH] x\n\n---\n a | 2 +-\n b | 1 +\n 2 files changed, 2 insertions(+), 1 deletion(-)\n\n';
    const cut = analysePatchText(Buffer.from(`${head}diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n`), 'cut');
    expect(cut.diagnostics).toEqual([expect.objectContaining({ code: 'diff_incomplete', message: expect.stringMatching(/lists b, which the diff does not reach/), line: 9 })]);
    const header = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x\n\n---\ndiff --git a/a b/a\nindex 0123456..89abcde 100644\n'), 'header');
    expect(header.diagnostics).toEqual([expect.objectContaining({ code: 'diff_incomplete', line: 5, message: expect.stringMatching(/^a: its diff --git line is followed by no hunk/) })]);
    const mode = analysePatchText(Buffer.from('From: A <a@example.org>\nSubject: [PATCH] x\n\n---\ndiff --git a/a b/a\nold mode 100644\nnew mode 100755\n'), 'mode');
    expect(mode.diagnostics).toEqual([]);
    const off = analysePatchText(Buffer.from(`${head}diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n-x\n+y\n+z\ndiff --git a/b b/b\n--- a/b\n+++ b/b\n@@ -1,0 +1 @@\n+w\n`), 'off');
    expect(off.diagnostics).toEqual([expect.objectContaining({ code: 'diff_incomplete', message: expect.stringMatching(/a: the diff adds 2 and removes 1 line\(s\), its diffstat says 1 and 1/), line: 9 })]);
  });

  it('mbox of 150 000+ lines (a list archive; one giant message; Mailman separators): read, no stack overflow', () => {
    const patchMail = (i: number, sep: string): string => {
      const hunk = Array.from({ length: 40 }, (_, k) => ` \tctx_${i}_${k}();`);
      return [
        sep,
        `From: Dev ${i % 7} <dev${i % 7}@example.org>`,
        `Date: Mon, 3 Mar 2025 ${String(i % 24).padStart(2, '0')}:00:00 +0000`,
        `Subject: [PATCH v${(i % 3) + 1} ${(i % 4) + 1}/4] mm: change ${i}`,
        `Message-ID: <m${i}@example.org>`,
        '',
        `Change ${i}.`,
        '',
        `Signed-off-by: Dev ${i % 7} <dev${i % 7}@example.org>`,
        '---',
        `diff --git a/mm/f${i}.c b/mm/f${i}.c`,
        `--- a/mm/f${i}.c`,
        `+++ b/mm/f${i}.c`,
        `@@ -1,41 +1,41 @@ static int f${i}(void)`,
        `-\told_${i}();`,
        `+\tnew_${i}();`,
        ...hunk,
        '-- ',
        '2.47.1',
        '',
      ].join('\n');
    };
    const lore = Array.from({ length: 2800 }, (_, i) => patchMail(i, 'From mboxrd@z Thu Jan  1 00:00:00 1970')).join('\n');
    expect(lore.split('\n').length).toBeGreaterThan(150_000);
    const r = analysePatchText(Buffer.from(lore), 'lore.mbox');
    expect(r.patches).toHaveLength(2800);
    expect(r.patches.every((p, i) => p.files[0]!.path === `mm/f${i}.c` && p.files[0]!.additions === 1 && p.files[0]!.deletions === 1)).toBe(true);
    expect(r.diagnostics).toEqual([]);
    // Mailman archives write the sender as "user at host" and may not pad the day.
    const mailman = Array.from({ length: 2800 }, (_, i) => patchMail(i, `From dev${i % 7} at example.org  Mon Mar 3 0${i % 10}:00:00 2025`)).join('\n');
    expect(analysePatchText(Buffer.from(mailman), 'mailman.mbox').patches).toHaveLength(2800);
    // One message of 160 000 lines: every pass over it is a loop, none an argument spread.
    const giant = `From: A <a@example.org>\nSubject: [PATCH] mm: giant\n\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,160000 +1,160000 @@\n${Array.from({ length: 160_000 }, (_, k) => ` \tline_${k};`).join('\n')}\n`;
    const g = analysePatchText(Buffer.from(giant), 'giant.eml');
    expect(g.patches[0]!.files[0]!.hunks[0]!.oldLines).toBe(160_000);
    expect(g.diagnostics).toEqual([]);
  });
});
