/**
 * A short mutation campaign over each trace reader (scripts/fuzz-trace.mjs runs the long one):
 * no exception, no step-budget overrun, every diagnostic placed, and no silent change after a
 * kind the reader must detect. Then the replay path on a sample of mutated captures.
 */
import { describe, expect, it } from 'vitest';
import { FormatRegistry } from '../trace/index.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { buildCorpus, check, MUTATIONS_OF, mutate, READERS, violates, type FuzzCorpus } from './trace.js';
import { ReplayFuzz, REPLAY_MUTATIONS } from './replay.js';

const registry = FormatRegistry.fromDirectory(grammarsDir);
let corpus: FuzzCorpus | undefined;
const getCorpus = async (): Promise<FuzzCorpus> => (corpus ??= await buildCorpus({ root: packageRoot, registry, lines: 150, slices: 1 }));

describe('trace readers under mutation', () => {
  for (const reader of READERS) {
    it(`${reader}: no crash, no hang, nothing silent that must be detected`, async () => {
      const entries = (await getCorpus()).entries.filter((e) => e.reader === reader);
      const broken: string[] = [];
      let runs = 0;
      for (const kind of MUTATIONS_OF[reader]) {
        for (let seed = 1; seed <= 8; seed++) {
          const e = entries[seed % entries.length]!;
          const m = mutate(e, kind, seed * 7919 + kind.length);
          if (!m) continue;
          runs++;
          const c = await check(m, e, registry, e.release);
          if (violates(reader, kind, c.outcome)) broken.push(`${kind} seed ${seed * 7919 + kind.length} on ${e.name}: ${c.outcome} ${String(c.error ?? '')}`);
        }
      }
      expect(broken).toEqual([]);
      expect(runs).toBeGreaterThan(40);
    });
  }

  it('the readers reproduce the clean result on CRLF line ends, and say so on CR-only ones', async () => {
    const e = (await getCorpus()).entries.find((x) => x.reader === 'tracefs' && x.clean.events.length > 100)!;
    expect((await check(mutate(e, 'crlf', 1)!, e, registry, e.release)).outcome).toBe('reproduced');
    const cr = await check(mutate(e, 'cr-only', 1)!, e, registry, e.release);
    expect([cr.outcome, cr.added]).toEqual(['warning', ['cr_line_ends']]);
  });
});

describe('replay under mutation', () => {
  it('no exception; a result unlike the clean replay comes with a diagnostic or a verdict other than matched', async () => {
    const f = new ReplayFuzz(packageRoot, registry);
    try {
      expect((await f.init()).verdicts).toEqual(['matched']);
      const bad: string[] = [];
      for (const kind of REPLAY_MUTATIONS) {
        const r = await f.check(kind, kind.length * 31);
        if (r && (r.outcome === 'crash' || r.outcome === 'silent')) bad.push(`${kind}: ${r.outcome} ${String(r.error ?? '')}`);
      }
      expect(bad).toEqual([]);
    } finally {
      f.close();
    }
  });
});
