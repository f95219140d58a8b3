#!/usr/bin/env node
/**
 * The whole mutation campaign (`npm run fuzz`, after a build): each trace reader
 * (scripts/fuzz-trace.mjs: tracefs text, trace-cmd report, trace.dat, and a sample of replays)
 * and the patch-mail reader (scripts/fuzz-patch.mjs), each in its own process, --jobs at a time
 * (default 2). Prints each campaign's table as it finishes; exit 1 when any broke an invariant.
 *   node scripts/fuzz.mjs [--runs N] [--replay N] [--seed S] [--jobs J]
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 && k + 1 < args.length ? args[k + 1] : dflt;
};
const runs = opt('runs', '100000');
const replay = opt('replay', '1000');
const seed = opt('seed', String(Date.now() % 2147483647));
const jobs = Math.max(1, Number(opt('jobs', '2')));

const trace = join(root, 'scripts/fuzz-trace.mjs');
const tasks = [
  ['tracefs', [trace, '--reader', 'tracefs', '--runs', runs, '--seed', seed]],
  ['trace-cmd', [trace, '--reader', 'trace-cmd', '--runs', runs, '--seed', seed]],
  ['trace.dat', [trace, '--reader', 'trace.dat', '--runs', runs, '--seed', seed]],
  ['patch mail', [join(root, 'scripts/fuzz-patch.mjs'), '--runs', runs, '--seed', seed]],
  ['replay', [trace, '--reader', '', '--runs', '0', '--replay', replay, '--seed', seed]],
];

const started = Date.now();
let failed = false;
let next = 0;
async function worker() {
  while (next < tasks.length) {
    const [name, argv] = tasks[next++];
    const t0 = Date.now();
    const out = [];
    const code = await new Promise((resolve) => {
      const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout.on('data', (d) => out.push(d));
      p.stderr.on('data', (d) => out.push(d));
      p.on('close', (c) => resolve(c ?? 1));
    });
    if (code !== 0) failed = true;
    console.log(`== ${name} (${((Date.now() - t0) / 1000).toFixed(0)} s, exit ${code})`);
    console.log(Buffer.concat(out).toString('utf8').trimEnd());
    console.log('');
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
console.log(`fuzz: ${tasks.length} campaigns, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(0)} s${failed ? ' — invariants broken' : ''}`);
if (failed) process.exitCode = 1;
