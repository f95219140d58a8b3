#!/usr/bin/env node
/**
 * Mutation fuzzing of the trace readers at scale (src/fuzz/trace.ts; build first):
 *   node scripts/fuzz-trace.mjs [--reader tracefs,trace-cmd,trace.dat] [--runs N] [--seed S]
 *                               [--replay N] [--kind KIND[,KIND…]] [--save DIR]
 * For each reader, mutates slices of real captures (N inputs, default 100000), reads each in
 * process as the commands do, and prints the count of every outcome by mutation kind. With
 * --replay N (default 0), also replays N mutated captures (src/fuzz/replay.ts). Exit 1 when an
 * invariant broke (a crash, a step-budget overrun, a diagnostic with no position, or a silent
 * change after a kind the reader must detect); the first of each are printed with the input
 * and seed that reproduce them, and with --save written to DIR.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { buildCorpus, check, mutate, MUTATIONS_OF, MUST_DETECT, OUTCOMES, READERS, violates } = await import(join(root, 'dist/fuzz/trace.js'));
const { FormatRegistry } = await import(join(root, 'dist/trace/index.js'));
const { grammarsDir } = await import(join(root, 'dist/paths.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 && k + 1 < args.length ? args[k + 1] : dflt;
};
const runs = Number(opt('runs', '100000'));
const replays = Number(opt('replay', '0'));
const seed0 = Number(opt('seed', String(Date.now() % 2147483647)));
const readers = opt('reader', READERS.join(',')).split(',').filter(Boolean);
const kindFilter = opt('kind', undefined)?.split(',');
const save = opt('save', undefined);
for (const r of readers) if (!READERS.includes(r)) throw new Error(`unknown reader ${r}; readers: ${READERS.join(', ')}`);

const registry = FormatRegistry.fromDirectory(grammarsDir);
const corpus = await buildCorpus({ root, registry, lines: 200, slices: 2 });

let state = seed0 >>> 0;
const next = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
};

const pad = (s, n) => String(s).padEnd(n);
const padL = (s, n) => String(s).padStart(n);
let broken = false;

for (const reader of readers) {
  const entries = corpus.entries.filter((e) => e.reader === reader);
  const kinds = MUTATIONS_OF[reader].filter((k) => !kindFilter || kindFilter.includes(k));
  if (!kinds.length) continue;
  const counts = new Map(kinds.map((k) => [k, new Map()]));
  const failures = [];
  let done = 0;
  let skipped = 0;
  const started = Date.now();
  while (done < runs) {
    const e = entries[next() % entries.length];
    const kind = kinds[next() % kinds.length];
    const seed = next() | 0;
    const m = mutate(e, kind, seed);
    if (!m) {
      if (++skipped > runs * 20) break;
      continue;
    }
    const c = await check(m, e, registry, e.release);
    const row = counts.get(kind);
    row.set(c.outcome, (row.get(c.outcome) ?? 0) + 1);
    if (violates(reader, kind, c.outcome) && failures.filter((x) => x.kind === kind && x.outcome === c.outcome).length < 3) {
      failures.push({ kind, outcome: c.outcome, entry: e.name, seed, error: c.error });
      if (save) {
        mkdirSync(save, { recursive: true });
        writeFileSync(join(save, `${reader}-${kind}-${c.outcome}-${seed}`), m);
      }
    }
    done++;
    if (process.stderr.isTTY && done % 1000 === 0) process.stderr.write(`\r${reader}: ${done} / ${runs}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  console.log(`fuzz-trace ${reader}: ${done} inputs from ${entries.length} captures, seed ${seed0}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${pad('kind', 20)}${pad('must', 5)}${OUTCOMES.map((o) => padL(o, o.length + 2)).join('')}`);
  const total = new Map();
  for (const k of kinds) {
    const row = counts.get(k);
    for (const [o, n] of row) total.set(o, (total.get(o) ?? 0) + n);
    console.log(`${pad(k, 20)}${pad(MUST_DETECT[reader].has(k) ? 'yes' : '-', 5)}${OUTCOMES.map((o) => padL(row.get(o) ?? 0, o.length + 2)).join('')}`);
  }
  console.log(`${pad('total', 25)}${OUTCOMES.map((o) => padL(total.get(o) ?? 0, o.length + 2)).join('')}`);
  if (failures.length) {
    broken = true;
    console.log(`\ninvariants broken (replay: mutate(entry, kind, seed) in src/fuzz/trace.ts):`);
    for (const x of failures) console.log(`  ${x.kind} on ${x.entry}, seed ${x.seed}: ${x.outcome}${x.error ? `\n    ${String(x.error.stack ?? x.error).split('\n').slice(0, 4).join('\n    ')}` : ''}`);
  }
  console.log('');
}

if (replays > 0) {
  const { ReplayFuzz, REPLAY_MUTATIONS, REPLAY_OUTCOMES } = await import(join(root, 'dist/fuzz/replay.js'));
  const f = new ReplayFuzz(root, registry);
  const started = Date.now();
  const counts = new Map(REPLAY_MUTATIONS.map((k) => [k, new Map()]));
  const failures = [];
  let done = 0;
  let skipped = 0;
  try {
    const clean = await f.init();
    while (done < replays) {
      const kind = REPLAY_MUTATIONS[next() % REPLAY_MUTATIONS.length];
      const seed = next() | 0;
      const r = await f.check(kind, seed);
      if (!r) {
        if (++skipped > replays * 20) break;
        continue;
      }
      const row = counts.get(kind);
      row.set(r.outcome, (row.get(r.outcome) ?? 0) + 1);
      if ((r.outcome === 'crash' || r.outcome === 'silent') && failures.length < 6) failures.push({ kind, seed, outcome: r.outcome, error: r.error });
      done++;
    }
    console.log(`fuzz-trace replay: ${done} mutated replays of ${f.entry.name} (clean verdict ${clean.verdicts.join(', ')}), seed ${seed0}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${pad('kind', 25)}${REPLAY_OUTCOMES.map((o) => padL(o, o.length + 2)).join('')}`);
    for (const k of REPLAY_MUTATIONS) console.log(`${pad(k, 25)}${REPLAY_OUTCOMES.map((o) => padL(counts.get(k).get(o) ?? 0, o.length + 2)).join('')}`);
    if (failures.length) {
      broken = true;
      console.log(`\nreplay invariants broken:`);
      for (const x of failures) console.log(`  ${x.kind}, seed ${x.seed}: ${x.outcome}${x.error ? `\n    ${String(x.error.stack ?? x.error).split('\n').slice(0, 4).join('\n    ')}` : ''}`);
    }
  } finally {
    f.close();
  }
}
if (broken) process.exitCode = 1;
