/**
 * Patches tied to the model: the five seed mails (../shared/seeds/, read when present — they
 * are test material, never copied into the project), our own fixtures in other forms and
 * versions, and `patch diff` between two versions of a series.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { diffSeries, identifyFile, identifyText, type IdentifiedPatch } from './index.js';

const F = (n: string): string => join(packageRoot, 'fixtures/patches', n);
const SEEDS = join(packageRoot, '..', 'shared', 'seeds');
const seedsPresent = existsSync(SEEDS);
const seed = (prefix: string): IdentifiedPatch => {
  const f = readdirSync(SEEDS).find((n) => n.startsWith(prefix))!;
  const r = identifyFile(join(SEEDS, f));
  expect(r.patches).toHaveLength(1);
  return r.patches[0]!;
};

describe.skipIf(!seedsPresent)(`the seed mails (${SEEDS})`, () => {
  it('000: a cover letter flattened onto one line, with no subject', () => {
    const p = seed('000_');
    expect(p.form).toContain('flattened');
    expect(p).toMatchObject({ coverLetter: true, part: 0, total: 4, version: 2, versionFrom: 'changelog' });
    expect(p.author?.name).toBe('Barry Song');
    expect(p.date).toBeUndefined(); // the archive copy carries none
    expect(p.model).toMatchObject({ series: 'batched-unmap', status: 'version-not-modelled', modelledVersions: ['v4'] });
    expect(p.series).toBe('mm: batched unmap lazyfree large folios during reclamation');
    expect(p.parts.map((x) => x.title)).toEqual([
      'mm: Set folio swapbacked iff folios are dirty in try_to_unmap_one',
      'mm: Support tlbbatch flush for a range of PTEs',
      'mm: Support batched unmap for lazyfree large folios during reclamation',
      'mm: Avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap',
    ]);
    expect(p.files.map((f) => f.path)).toEqual(expect.arrayContaining(['mm/rmap.c', 'mm/huge_memory.c', 'arch/arm64/include/asm/tlbflush.h', 'arch/x86/include/asm/tlbflush.h']));
    expect(p.files).toHaveLength(7);
    expect(p.functions).toContain('try_to_unmap_one');
    expect(p.claims).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'ratio', value: 2.5, direction: 'faster' }),
        expect.objectContaining({ kind: 'ratio', value: 3.5 }),
        expect.objectContaining({ kind: 'counter', metric: 'deferred_split', after: 0 }),
      ]),
    );
    expect(p.claims.find((c) => c.value === 2.5)!.workload).toMatch(/64KiB lazyfree large folios/);
    expect(p.changelog.map((c) => c.version)).toEqual(['v2', 'v1']);
  });

  it('001: a review reply with its quote markers stripped (David Hildenbrand on v4 3/4)', () => {
    const p = seed('001_');
    expect(p).toMatchObject({ reply: true, version: 4, part: 3, total: 4, date: '2025-06-24T13:56:26.000Z' });
    expect(p.author?.name).toBe('Barry Song');
    expect(p.sender?.name).toBe('David Hildenbrand');
    expect(p.model).toMatchObject({ status: 'modelled', ids: ['batched-unmap@v4-3'] });
    expect(p.files.map((f) => f.path)).toEqual(['mm/rmap.c']);
    expect(p.functions).toEqual(expect.arrayContaining(['can_batch_unmap_folio_ptes', 'folio_remove_rmap_pud']));
    expect(p.claims).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'counter', metric: 'split_deferred', before: 2048, after: 0 })]));
    const t = p.claims.find((c) => c.kind === 'timing')!;
    expect(t.before! / t.after!).toBeGreaterThan(2.3);
    expect(p.reviews).toHaveLength(1);
    const r = p.reviews[0]!;
    expect(r.by).toBe('David Hildenbrand');
    expect(r.text).toMatch(/What prevents folio_pte_batch\(\) from reading outside the page table\?/);
    expect(r.on).toMatchObject({ kind: 'hunk', file: 'mm/rmap.c', hunk: '@@ -1781,6 +1781,25 @@', function: 'can_batch_unmap_folio_ptes' });
    expect((r.on as { quoted: string }).quoted).toMatch(/max_nr = folio_nr_pages\(folio\)/);
  });

  it('002: the v6 cover letter of Lance Yang\'s series', () => {
    const p = seed('002_');
    expect(p).toMatchObject({ coverLetter: true, version: 6, part: 0, total: 3, series: 'Reclaim lazyfree THP without splitting', date: '2024-05-21T05:03:25.000Z' });
    expect(p.author?.name).toBe('Lance Yang');
    expect(p.model).toMatchObject({ status: 'modelled', ids: ['lazyfree-thp@v6'] });
    expect(p.files.map((f) => f.path)).toEqual(['include/linux/huge_mm.h', 'mm/huge_memory.c', 'mm/rmap.c']);
    expect(p.functions).toContain('shrink_folio_list');
    expect(p.claims).toEqual([expect.objectContaining({ kind: 'table', before: 0.683426, after: 0.049197, change: '-92.80%', unit: 's' })]);
    expect(p.claims[0]!.workload).toMatch(/mem_cgroup_force_empty/);
    expect(p.changelog.map((c) => c.since)).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
  });

  it('003: a reply to a review, quoting the patch at depth 2 (Qi Zheng answering David Hildenbrand)', () => {
    const p = seed('003_');
    expect(p).toMatchObject({ reply: true, version: 1, part: 3, total: 4, date: '2025-09-22T11:36:08.000Z', title: 'mm: thp: use folio_batch to handle THP splitting in deferred_split_scan()' });
    expect(p.author?.name).toBe('Muchun Song');
    expect(p.sender?.name).toBe('Qi Zheng');
    expect(p.model).toMatchObject({ series: 'split-queue-fbatch', status: 'version-not-modelled' });
    expect(p.files.map((f) => f.path)).toEqual(['mm/huge_memory.c']);
    expect(p.functions).toEqual(['__folio_split', 'deferred_split_scan']);
    const david = p.reviews.filter((r) => r.by === 'David Hildenbrand');
    const qi = p.reviews.filter((r) => r.by === 'Qi Zheng');
    expect(david.length).toBe(4);
    expect(qi.length).toBe(3);
    expect(david[0]!.on.kind).toBe('message');
    const nit = david.find((r) => r.text.startsWith('Nit:'))!;
    expect(nit.on).toMatchObject({ kind: 'hunk', file: 'mm/huge_memory.c', hunk: '@@ -4173,40 +4174,48 @@', function: 'deferred_split_scan' });
    expect((nit.on as { quoted: string }).quoted).toMatch(/folio_batch_space\(&fbatch\) == 0/);
    const done = david.find((r) => /"done" really required/.test(r.text))!;
    expect((done.on as { quoted: string }).quoted).toMatch(/bool done;/);
    // Every answer of Qi points at the comment of David it answers.
    for (const q of qi) expect(p.reviews[q.replyTo!]!.by).toBe('David Hildenbrand');
  });

  it('004: a patch flattened onto one line, with no subject (TTU_SYNC)', () => {
    const p = seed('004_');
    expect(p.form).toContain('flattened');
    expect(p.author?.name).toBe('Barry Song');
    expect(p.files).toEqual([expect.objectContaining({ path: 'mm/vmscan.c', additions: 11, deletions: 0, counted: 'diffstat' })]);
    expect(p.functions).toEqual(['shrink_folio_list']);
    expect(p.files[0]!.hunks[0]).toMatchObject({ oldStart: 1270, newStart: 1270, newLines: 17, unrecoverable: true });
    expect(p.model).toMatchObject({ status: 'modelled', series: 'ttu-sync', ids: ['ttu-sync@final'] });
    expect(p.trailers.map((t) => t.key)).toEqual(['Cc', 'Signed-off-by']);
  });
});

/** The same mail as an archive shows it: every newline gone, or every line's indentation gone. */
const FORMS: Record<string, (t: string) => string> = {
  flattened: (t) => t.replace(/\s*\n\s*/g, ' '),
  'indentation stripped': (t) => t.split('\n').map((l) => l.replace(/^[ \t]+/, '')).join('\n'),
};
const identity = (p: IdentifiedPatch) => ({ version: p.version, part: p.part, total: p.total, author: p.author?.name, files: p.files.map((f) => f.path), model: [p.model.status, p.model.series, p.model.ids] });

describe.skipIf(!seedsPresent)('the seed mails in forms they were not sent in', () => {
  for (const [form, reform] of Object.entries(FORMS)) {
    it(`${form}: the same series, version, part, author, files, model link, and claims still found`, () => {
      for (const f of readdirSync(SEEDS).sort()) {
        const text = readFileSync(join(SEEDS, f), 'utf8');
        const orig = identifyText(Buffer.from(text), f).patches[0]!;
        const p = identifyText(Buffer.from(reform(text)), f).patches[0]!;
        // A flattened reply loses its quote structure (003 quotes at two depths): its subject and
        // patch identity survive, not the quoted author.
        const want = identity(orig);
        if (form === 'flattened' && orig.form.some((x) => x.startsWith('quoted-patch-depth'))) delete (want as { author?: string }).author;
        expect({ ...identity(p), ...(want.author === undefined ? { author: undefined } : {}) }, `${f} ${form}`).toEqual({ ...want, ...(want.author === undefined ? { author: undefined } : {}) });
        expect(p.functions.length > 0, `${f} ${form} functions`).toBe(orig.functions.length > 0);
        if (!(form === 'flattened' && orig.reply)) expect(p.claims.length, `${f} ${form} claims`).toBeGreaterThanOrEqual(Math.min(1, orig.claims.length));
      }
    });
  }
});

describe('our fixtures in forms they were not written in', () => {
  it('flattened and indentation-stripped copies keep their identity and model link', () => {
    for (const f of ['lazyfree-v2.mbox', 'archive-stripped.txt', 'review-quoted.eml']) {
      const text = readFileSync(F(f), 'utf8');
      const orig = identifyText(Buffer.from(text), f).patches[0]!;
      for (const [form, reform] of Object.entries(FORMS)) {
        const p = identifyText(Buffer.from(reform(text)), f).patches[0]!;
        expect([p.version, p.part, p.total, p.model.series], `${f} ${form}`).toEqual([orig.version, orig.part, orig.total, orig.model.series]);
        expect(p.files.map((x) => x.path), `${f} ${form}`).toEqual(orig.files.map((x) => x.path));
      }
    }
  });
});

describe('model links of our own fixtures (other forms and versions)', () => {
  it('each part of a modelled version names its unit; other versions name the series and what is modelled', () => {
    const v6 = identifyFile(F('lazyfree-v6.mbox')).patches;
    expect(v6.map((p) => p.model.ids)).toEqual([['lazyfree-thp@v6'], ['lazyfree-thp@v6'], ['lazyfree-thp@v6'], ['lazyfree-thp@v6']]);
    expect(identifyFile(F('lazyfree-v2.mbox')).patches[0]!.model.ids).toEqual(['lazyfree-thp@v2']);
    for (const f of ['batch-v1.mbox', 'batch-v2.mbox', 'review-quoted.eml', 'archive-flat.txt', 'archive-stripped.txt']) {
      for (const p of identifyFile(F(f)).patches) expect(p.model, f).toMatchObject({ series: 'batched-unmap', status: 'version-not-modelled' });
    }
  });
  it('an unrelated patch is "not modelled", with the nearest candidates', () => {
    const p = identifyFile(F('rename-binary.patch')).patches[0]!;
    expect(p.model.status).toBe('not-modelled');
    expect(p.model.candidates).toHaveLength(3);
    expect(p.model.candidates[0]!.score).toBeGreaterThanOrEqual(p.model.candidates[2]!.score);
  });
});

describe('forms and versions not among the fixtures', () => {
  const mail = (subject: string, body: string): IdentifiedPatch => identifyText(Buffer.from(`From: Someone <s@example.org>\nSubject: ${subject}\n\n${body}`), 'inline').patches[0]!;
  const diff = (file: string, fn: string, lines: string[]): string =>
    [`---`, `diff --git a/${file} b/${file}`, `--- a/${file}`, `+++ b/${file}`, `@@ -10,1 +10,${lines.length + 1} @@ ${fn}`, ' \tctx();', ...lines.map((l) => `+${l}`), ''].join('\n');
  it('a stated version picks that unit; a follow-up is known by its own subject; code tells an unstated version', () => {
    expect(mail('[PATCH v2] mm: hold PTL from the first PTE while reclaiming a large folio', diff('mm/vmscan.c', 'static unsigned int shrink_folio_list(struct list_head *l,', ['\tif (folio_test_large(folio) && list_empty(&folio->_deferred_list))', '\t\tflags |= TTU_SYNC;'])).model.ids).toEqual(['ttu-sync@v2']);
    expect(mail('[PATCH] mm/vmscan: drop checking if _deferred_list is empty before using TTU_SYNC', diff('mm/vmscan.c', 'static unsigned int shrink_folio_list(struct list_head *l,', ['\tif (folio_test_large(folio))'])).model.ids).toEqual(['ttu-sync@final']);
    expect(mail('[PATCH v4] mm/rmap: fix potential out-of-bounds page table access during batched unmap', diff('mm/rmap.c', 'static bool try_to_unmap_one(struct folio *folio,', ['static inline unsigned int folio_unmap_pte_batch(struct folio *folio,'])).model.ids).toEqual(['oob-fix@v4']);
    expect(mail('[PATCH v6 3/4] mm: thp: use folio_batch to handle THP splitting in deferred_split_scan()', diff('mm/huge_memory.c', 'static unsigned long deferred_split_scan(struct shrinker *s,', ['\tstruct folio_batch fbatch;'])).model.ids).toEqual(['split-queue-fbatch@v6']);
    expect(mail('Re: [PATCH v4 4/4] mm: Avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap', '> looks good\n\nReviewed-by: R <r@x>').model.ids).toEqual(['batched-unmap@v4-4']);
  });
  it('a part with no subject at all is placed by its code', () => {
    const p = identifyText(Buffer.from(`From: Someone <s@example.org>\n\nThe batch flush takes a range now.\n${diff('mm/rmap.c', 'static void set_tlb_ubc_flush_pending(struct mm_struct *mm,', ['\tarch_tlbbatch_add_pending(&tlb_ubc->arch, mm, start, end);'])}`), 'inline').patches[0]!;
    expect(p.model.ids).toEqual(['batched-unmap@v4-2']);
  });
  it('a later fix the model does not carry is "not modelled" or names the series without a unit', () => {
    const p = mail('[PATCH] mm: fix the typo in a comment of mm/page_alloc.c', diff('mm/page_alloc.c', 'static void free_one_page(struct zone *zone,', ['\t/* the zone lock */']));
    expect(p.model.status).toBe('not-modelled');
    expect(p.model.ids).toEqual([]);
  });
});

describe('patch diff: two versions of a series', () => {
  it('batch v1 → v2: part 1 reworded, part 2 changed (with its hunk and changelog line), part 3 added', () => {
    const d = diffSeries(identifyFile(F('batch-v1.mbox')).patches, identifyFile(F('batch-v2.mbox')).patches);
    expect(d.old).toMatchObject({ version: 1, parts: 2 });
    expect(d.new).toMatchObject({ version: 2, parts: 3 });
    expect(d.parts.map((p) => [p.part, p.status])).toEqual([
      [1, 'reworded'],
      [2, 'changed'],
      [3, 'added'],
    ]);
    const h = d.parts[1]!.hunks;
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ file: 'mm/rmap.c', function: 'try_to_unmap_one', status: 'changed' });
    expect(h[0]!.added.join('\n')).toMatch(/can_batch_unmap_folio_ptes/);
    // The changed lines as the patches write them, indentation and all.
    const v1 = readFileSync(F('batch-v1.mbox'), 'utf8').split('\n');
    const v2 = readFileSync(F('batch-v2.mbox'), 'utf8').split('\n');
    expect(h[0]!.removed).toEqual(v1.filter((l) => /^\+\s+folio_test_large\(folio\)\)$/.test(l)));
    expect(h[0]!.removed[0]).toMatch(/^\+\t {4}folio_test_large/);
    for (const l of h[0]!.added) expect(v2).toContain(l);
    expect(d.parts[1]!.explainedBy.join('\n')).toMatch(/skip hwpoisoned folios/);
    expect(d.model.note).toMatch(/not both modelled/);
  });
  it('an indentation change is a change; a copy whose indentation an archive stripped is not', () => {
    const v1 = readFileSync(F('batch-v1.mbox'), 'utf8');
    const reindented = v1.replace(/^\+\t {4}folio_test_large\(folio\)\)$/m, '+\t\tfolio_test_large(folio))');
    const d = diffSeries(identifyFile(F('batch-v1.mbox')).patches, identifyText(Buffer.from(reindented), 'reindented').patches);
    expect(d.parts.map((p) => p.status)).toEqual(['unchanged', 'changed']);
    expect(d.parts[1]!.hunks[0]).toMatchObject({ removed: ['+\t    folio_test_large(folio))'], added: ['+\t\tfolio_test_large(folio))'] });
    const stripped = identifyText(Buffer.from(FORMS['indentation stripped']!(v1)), 'stripped').patches;
    expect(diffSeries(identifyFile(F('batch-v1.mbox')).patches, stripped).parts.map((p) => p.status)).toEqual(['unchanged', 'unchanged']);
  });
  it('batch v2 → v1: the part v1 does not have is dropped', () => {
    const d = diffSeries(identifyFile(F('batch-v2.mbox')).patches, identifyFile(F('batch-v1.mbox')).patches);
    expect(d.parts.find((p) => p.status === 'dropped')!.oldTitle).toBe('mm: avoid splitting pmd for lazyfree pmd-mapped THP in try_to_unmap');
  });
  it('lazyfree v2 → v6: both modelled, so the hooks the two units replace are compared', () => {
    const d = diffSeries(identifyFile(F('lazyfree-v2.mbox')).patches, identifyFile(F('lazyfree-v6.mbox')).patches);
    const moved = d.parts.find((p) => p.oldPart === 1 && p.newPart === 3)!;
    expect(moved.status).toBe('changed');
    expect(moved.hunks.map((h) => [h.function, h.status])).toEqual(expect.arrayContaining([['discard_trans_pmd', 'dropped'], ['__discard_anon_folio_pmd_locked', 'added']]));
    expect(d.parts.filter((p) => p.status === 'added').map((p) => p.newPart)).toEqual([1, 2]);
    expect(d.model).toMatchObject({ old: ['lazyfree-thp@v2'], new: ['lazyfree-thp@v6'] });
    expect(d.model.hooksBoth).toEqual(expect.arrayContaining(['unmap_huge_pmd_locked', 'split_pmd_before_walk']));
    // Only changelog lines newer than v2 explain v2 → v6.
    expect(d.changelog.every((l) => !l.startsWith('v2 '))).toBe(true);
  });
});
