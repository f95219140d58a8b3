#!/usr/bin/env node
// Replays every capture in traces/ under its kernel's preset (as src/fidelity/fidelity.test.ts
// does) and rewrites src/fidelity/known-divergences.json: for each capture the model does not
// reproduce, its verdict and first divergence (the op's trace line and kind, and the recorded
// event there), keeping the reason already written for it. A capture new to the list gets the
// reason its scenario family has in REASONS, or "not yet analysed"; captures that now
// reproduce leave the list. Run after `npm run build`:
//   node scripts/known-divergences.mjs            # rewrite the file, print what changed
//   node scripts/known-divergences.mjs --check    # only print, exit 1 if the file would change
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { replayTrace } = await import(join(root, 'dist/diff/run.js'));
const { buildConfig } = await import(join(root, 'dist/model/presets.js'));
const { presetForRelease } = await import(join(root, 'dist/model/series/index.js'));
const { FormatRegistry } = await import(join(root, 'dist/trace/index.js'));
const { compareCounterDeltas, readCaptureFacts } = await import(join(root, 'dist/fidelity/counters.js'));
const { recordedAtDivergence } = await import(join(root, 'dist/fidelity/compare.js'));

const FILE = join(root, 'src/fidelity/known-divergences.json');
const check = process.argv.includes('--check');

/**
 * Reasons for a capture new to the list: what its first divergence shows, for the shapes that
 * were looked into (first match wins). Anything else is "not yet analysed" — a reason is never
 * guessed from the scenario's name alone.
 */
const REASONS = [
  [(rel, e) => /^6\.1\.0-/.test(rel) && /^rss_stat/.test(e.recorded ?? ''), "6.1: an rss_stat where the model syncs no per-task rss cache (the cache syncs at a point the model does not reproduce) — not analysed further"],
  [(rel, e) => e.opKind === 'fork' && /MM_(FILE|SHMEM)PAGES/.test(e.recorded ?? ''), "fork copies memory mapped before the window (libc data, stack, file and shmem pages: the child's MM_FILEPAGES/MM_SHMEMPAGES); the model knows the anonymous memory of the window only"],
  [(rel, e) => /\/s18-memcg-limit/.test(rel) && e.opKind === 'fault', 'reclaim run inside a fault by the memcg limit (try_charge() → try_to_free_mem_cgroup_pages()) is not modelled'],
  [(rel) => /\/prog-/.test(rel), "a real program's file-backed and exec'd memory (execve, text and data mappings, MM_FILEPAGES) is outside the model"],
];

function reasonFor(rel, entry) {
  for (const [test, why] of REASONS) if (test(rel, entry)) return why;
  return 'not yet analysed';
}

function captures() {
  const out = [];
  const walk = (d) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === 'trace.txt.gz' && existsSync(join(d, 'settings.txt'))) out.push(p);
    }
  };
  walk(join(root, 'traces'));
  return out;
}

const old = existsSync(FILE) ? JSON.parse(readFileSync(FILE, 'utf8')) : {};
const reg = FormatRegistry.fromDirectory(join(root, 'grammars'));
const next = {};
for (const file of captures()) {
  const rel = relative(join(root, 'traces'), file).replace(/\/trace\.txt\.gz$/, '');
  const facts = readCaptureFacts(file);
  const preset = presetForRelease(facts.release, facts);
  if (!preset) continue;
  const r = await replayTrace(file, [buildConfig(preset.id, 'x86', facts.thp)], { registry: reg, release: reg.matchRelease(facts.release), facts });
  const f = r.runs[0].fidelity;
  const cc = facts.phaseDeltas ? compareCounterDeltas(r.runs[0].phaseCounters, facts.phaseDeltas, facts.thp) : undefined;
  if (f.verdict === 'matched' && (!cc || cc.matched) && r.runs[0].violations.length === 0) continue;
  const m = f.mismatches[0];
  const entry = { why: '', verdict: f.verdict };
  if (m) Object.assign(entry, { line: m.line, opKind: m.opKind, recorded: recordedAtDivergence(m) });
  entry.why = old[rel]?.why ?? reasonFor(rel, entry);
  if (cc && !cc.matched) entry.counters = cc.mismatches.map((x) => `[${x.phase}] ${x.counter}: capture ${x.recorded}, model ${x.model}`).slice(0, 3);
  next[rel] = entry;
}
const gone = Object.keys(old).filter((k) => !(k in next));
const added = Object.keys(next).filter((k) => !(k in old));
const changed = Object.keys(next).filter((k) => k in old && JSON.stringify({ ...old[k], why: '' }) !== JSON.stringify({ ...next[k], why: '' }));
for (const k of gone) console.log(`now reproduced: ${k}`);
for (const k of added) console.log(`new divergence: ${k} (${next[k].opKind ?? '-'} at line ${next[k].line ?? '-'})`);
for (const k of changed) console.log(`first divergence moved: ${k}`);
console.log(`${Object.keys(next).length} captures not reproduced`);
if (check) process.exit(gone.length + added.length + changed.length ? 1 : 0);
writeFileSync(FILE, `${JSON.stringify(next, null, 2)}\n`);
