/**
 * Mutation fuzzing of the patch reader (see fuzz.ts for the mutations and the invariants):
 * damaged copies of every fixture in fixtures/patches/, read the way `foliolab patch` and
 * `patch diff` read them (reader, model link, report, interdiff). A fixed seed keeps the run
 * reproducible; `node scripts/fuzz-patch.mjs` runs as many inputs as asked with fresh seeds.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffSeries, identifyText } from '../catalogue/index.js';
import { packageRoot } from '../paths.js';
import { formatPatch, formatSeriesDiff } from '../report/patch.js';
import { bound, check, MUST_DETECT, mutate, MUTATIONS, violates, type MutationKind, type Outcome } from './fuzz.js';
import type { PatchFileResult } from './index.js';

const DIR = join(packageRoot, 'fixtures/patches');
const FIXTURES = [...readdirSync(DIR), ...readdirSync(join(DIR, 'bad')).map((n) => `bad/${n}`)].filter((n) => statSync(join(DIR, n)).isFile()).sort();

/** The reader and everything the patch commands do with its result. */
export function analyseAsCommands(bytes: Buffer, against?: PatchFileResult): PatchFileResult {
  const r = identifyText(bytes, 'fuzz');
  for (const p of r.patches) formatPatch(p);
  if (against) formatSeriesDiff(diffSeries((against as typeof r).patches, r.patches), 'clean', 'fuzz');
  return r;
}

describe('the step budget', () => {
  it('long runs of blank lines (inside a hunk, between archive headers) are read in linear steps', () => {
    const none = analyseAsCommands(Buffer.from('x'));
    const hunk = `From: A <a@example.org>\nSubject: [PATCH] x\n\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3000 +1,3001 @@\n${'\n'.repeat(3000)}+x\n`;
    const headers = `Re: [PATCH] x\n${'\n'.repeat(3000)}From: A <a@example.org>\nDate: Mon, 3 Mar 2025 00:00:00 +0000\n\nText.\n`;
    for (const t of [hunk, headers]) {
      const c = check(Buffer.from(t), none);
      expect(c.outcome).not.toBe('over-budget');
      expect(c.steps).toBeLessThan(c.budget);
    }
  });
});

describe('patch reader under mutation', () => {
  const clean = new Map(FIXTURES.map((n) => [n, analyseAsCommands(readFileSync(join(DIR, n)))] as const));

  it('every fixture is read without a mutation first', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(20);
    for (const [n, r] of clean) expect(r.diagnostics.every((d) => d.line >= 0 && d.column >= 1), n).toBe(true);
  });

  it('no exception, no step budget overrun, a position on every diagnostic; detectable damage is never silent', () => {
    const counts = new Map<string, number>();
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), fc.constantFrom(...MUTATIONS), fc.integer(), (name, kind, seed) => {
        const cleanR = clean.get(name)!;
        const m = mutate(readFileSync(join(DIR, name)), kind, seed, cleanR);
        if (!m) return;
        const c = check(bound(m, kind), cleanR, (b) => analyseAsCommands(b, cleanR));
        counts.set(`${kind}:${c.outcome}`, (counts.get(`${kind}:${c.outcome}`) ?? 0) + 1);
        if (violates(kind, c.outcome)) {
          throw new Error(`${kind} (seed ${seed}) of ${name}: ${c.outcome}; steps ${c.steps} of ${c.budget}${c.error ? `\n${(c.error as Error).stack}` : ''}`);
        }
      }),
      { numRuns: 400, seed: 20250214 },
    );
    // The must-detect kinds did run and were caught (not all skipped as inapplicable).
    const seen = (k: MutationKind, o: Outcome) => counts.get(`${k}:${o}`) ?? 0;
    for (const k of ['hunk-header', 'hunk-cut', 'strip-header', 'whitespace-only'] as const) expect(seen(k, 'diagnosed'), k).toBeGreaterThan(0);
    expect(seen('control-char', 'reproduced-diagnosed') + seen('huge-line', 'reproduced-diagnosed')).toBeGreaterThan(0);
    expect(seen('crlf', 'reproduced') + seen('bom', 'reproduced')).toBeGreaterThan(0);
    expect([...MUST_DETECT].every((k) => seen(k, 'changed-silently') === 0)).toBe(true);
  });
});
