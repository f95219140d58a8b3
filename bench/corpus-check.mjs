#!/usr/bin/env node
/**
 * Byte-identity check of the parser's outputs over the whole corpus: every
 * traces/**\/trace.txt.gz and the fixtures' trace texts and trace.dat files, through
 * `parse --json`, `parse --ndjson` (every decoded event) and `replay --json`, run in one
 * process per command kind (oclif's run(), stdout captured), each output kept as its SHA-256.
 * `diff --json` runs over every capture in traces/ with the pair its policy chooses, and over
 * every fifth one with `--base linux-6.12 --with linux-6.18` as well (the dearest pair: the
 * folio stories of both configs part ways most there).
 *
 *   node bench/corpus-check.mjs --root /path/to/worktree --out hashes.json [--only parse]
 *   node bench/corpus-check.mjs --compare a.json b.json
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const arg = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };

if (args[0] === '--compare') {
  const a = JSON.parse(readFileSync(args[1], 'utf8'));
  const b = JSON.parse(readFileSync(args[2], 'utf8'));
  let same = 0;
  const diff = [];
  // The output's hash and size (the exit status read in-process is not reliable).
  const out = (v) => v?.split(' exit ')[0];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (out(a[k]) === out(b[k])) same++;
    else diff.push(k);
  }
  console.log(`${same} outputs identical, ${diff.length} differ`);
  for (const k of diff.slice(0, 50)) console.log(`  differs: ${k}`);
  process.exit(diff.length ? 1 : 0);
}

const root = arg('--root', process.cwd());
const out = arg('--out', 'corpus-hashes.json');
const only = arg('--only');

function walk(dir, pred, acc = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, pred, acc);
    else if (pred(p)) acc.push(p);
  }
  return acc;
}
const inputs = [
  ...walk(join(root, 'traces'), (p) => p.endsWith('/trace.txt.gz')),
  ...walk(join(root, 'fixtures'), (p) => /\.(trace|dat|dat\.gz)$/.test(p) || /\/(trace|report)\.txt(\.gz)?$/.test(p)),
].sort();

process.env.NODE_ENV ??= 'production';
process.chdir(root);
const { run, flush } = await import(pathToFileURL(join(root, 'node_modules/@oclif/core/lib/index.js')).href);
const runUrl = pathToFileURL(join(root, 'bin/run.js')).href;

const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
async function capture(argv) {
  const h = createHash('sha256');
  let n = 0;
  const sink = (chunk, enc, cb) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, typeof enc === 'string' ? enc : 'utf8') : chunk;
    h.update(b);
    n += b.length;
    if (typeof enc === 'function') enc();
    else if (typeof cb === 'function') cb();
    return true;
  };
  process.stdout.write = sink;
  process.stderr.write = () => true;
  let err = '';
  try {
    await run(argv, runUrl);
    await flush();
  } catch (e) {
    err = ` error:${e?.oclif?.exit ?? ''}:${String(e?.message ?? e).slice(0, 200)}`;
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  const code = process.exitCode ?? 0;
  process.exitCode = 0;
  return `${h.digest('hex')} ${n}B exit ${code}${err}`;
}

const result = {};
const kinds = only ? only.split(',') : ['parse', 'ndjson', 'replay', 'diff'];
const captures = new Set(inputs.filter((f) => f.startsWith(join(root, 'traces')) && f.endsWith('/trace.txt.gz')));
let nth = 0;
const t0 = Date.now();
for (const f of inputs) {
  const rel = relative(root, f);
  // By the path relative to the worktree: outputs name their input.
  if (kinds.includes('parse')) result[`parse --json ${rel}`] = await capture(['parse', '--json', rel]);
  if (kinds.includes('ndjson')) result[`parse --ndjson ${rel}`] = await capture(['parse', '--ndjson', rel]);
  if (kinds.includes('replay')) result[`replay --json ${rel}`] = await capture(['replay', '--json', rel]);
  if (kinds.includes('diff') && captures.has(f)) {
    result[`diff --json ${rel}`] = await capture(['diff', '--json', rel]);
    if (nth++ % 5 === 0) result[`diff --json --base linux-6.12 --with linux-6.18 ${rel}`] = await capture(['diff', '--json', '--base', 'linux-6.12', '--with', 'linux-6.18', rel]);
  }
}
writeFileSync(out, JSON.stringify(result, null, 1));
realErr(`${inputs.length} inputs, ${Object.keys(result).length} outputs in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${out}\n`);
