#!/usr/bin/env node
/**
 * Mutation fuzzing of the patch reader at scale (src/patch/fuzz.ts; build first):
 *   node scripts/fuzz-patch.mjs [--runs N] [--seed S] [--kind KIND[,KIND…]] [--save DIR]
 * Mutates the fixtures in fixtures/patches/ (N inputs, default 100000), reads each the way
 * `foliolab patch` and `patch diff` do, and prints the count of every outcome by mutation
 * kind. Exit 1 when an invariant broke (an exception, a step budget overrun, a diagnostic with
 * no position, or a silent change after a kind that must be detected); the first of each are
 * printed with the fixture and seed that reproduce them, and with --save written to DIR.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bound, check, mutate, MUTATIONS, MUST_DETECT, OUTCOMES, violates } = await import(join(root, 'dist/patch/fuzz.js'));
const { diffSeries, identifyText } = await import(join(root, 'dist/catalogue/index.js'));
const { formatPatch, formatSeriesDiff } = await import(join(root, 'dist/report/patch.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 && k + 1 < args.length ? args[k + 1] : dflt;
};
const runs = Number(opt('runs', '100000'));
const seed0 = Number(opt('seed', String(Date.now() % 2147483647)));
const kinds = opt('kind', MUTATIONS.join(',')).split(',');
const save = opt('save', undefined);
for (const k of kinds) if (!MUTATIONS.includes(k)) throw new Error(`unknown kind ${k}; kinds: ${MUTATIONS.join(', ')}`);

const DIR = join(root, 'fixtures/patches');
const names = [...readdirSync(DIR), ...readdirSync(join(DIR, 'bad')).map((n) => `bad/${n}`)].filter((n) => statSync(join(DIR, n)).isFile()).sort();
const analyse = (bytes, against) => {
  const r = identifyText(bytes, 'fuzz');
  for (const p of r.patches) formatPatch(p);
  if (against) formatSeriesDiff(diffSeries(against.patches, r.patches), 'clean', 'fuzz');
  return r;
};
const fixtures = names.map((n) => {
  const bytes = readFileSync(join(DIR, n));
  return { name: n, bytes, clean: analyse(bytes) };
});

// A seeded choice of fixture and kind per run, so that `--seed S` replays a whole campaign.
let state = seed0 >>> 0;
const next = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
};

const counts = new Map(kinds.map((k) => [k, new Map()]));
const failures = [];
let done = 0;
let skipped = 0;
const started = Date.now();
while (done < runs) {
  const f = fixtures[next() % fixtures.length];
  const kind = kinds[next() % kinds.length];
  const seed = next() | 0;
  const m = mutate(f.bytes, kind, seed, f.clean);
  if (!m) {
    skipped++;
    if (skipped > runs * 20) break;
    continue;
  }
  const c = check(bound(m, kind), f.clean, (b) => analyse(b, f.clean));
  const byOutcome = counts.get(kind);
  byOutcome.set(c.outcome, (byOutcome.get(c.outcome) ?? 0) + 1);
  if (violates(kind, c.outcome) && failures.filter((x) => x.kind === kind && x.outcome === c.outcome).length < 3) {
    failures.push({ kind, outcome: c.outcome, fixture: f.name, seed, steps: c.steps, budget: c.budget, error: c.error });
    if (save) {
      mkdirSync(save, { recursive: true });
      writeFileSync(join(save, `${kind}-${c.outcome}-${f.name.replace(/\//g, '_')}-${seed}`), bound(m, kind));
    }
  }
  done++;
  if (process.stderr.isTTY && done % 1000 === 0) process.stderr.write(`\r${done} / ${runs}`);
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');

const pad = (s, n) => String(s).padEnd(n);
const padL = (s, n) => String(s).padStart(n);
console.log(`fuzz-patch: ${done} inputs from ${fixtures.length} fixtures, seed ${seed0}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${pad('kind', 18)}${pad('must', 5)}${OUTCOMES.map((o) => padL(o, o.length + 2)).join('')}`);
const total = new Map();
for (const k of kinds) {
  const row = counts.get(k);
  for (const [o, n] of row) total.set(o, (total.get(o) ?? 0) + n);
  console.log(`${pad(k, 18)}${pad(MUST_DETECT.has(k) ? 'yes' : '-', 5)}${OUTCOMES.map((o) => padL(row.get(o) ?? 0, o.length + 2)).join('')}`);
}
console.log(`${pad('total', 23)}${OUTCOMES.map((o) => padL(total.get(o) ?? 0, o.length + 2)).join('')}`);
if (failures.length) {
  console.log(`\ninvariants broken (replay: mutate(fixture, kind, seed) in src/patch/fuzz.ts):`);
  for (const x of failures) {
    console.log(`  ${x.kind} on ${x.fixture}, seed ${x.seed}: ${x.outcome} (steps ${x.steps} of ${x.budget})${x.error ? `\n    ${String(x.error.stack ?? x.error).split('\n').slice(0, 4).join('\n    ')}` : ''}`);
  }
  process.exitCode = 1;
}
