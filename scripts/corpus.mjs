#!/usr/bin/env node
/**
 * Capture the scenario corpus on the running kernel with `foliolab record` (root, tracefs):
 *   node scripts/corpus.mjs [NAME-REGEX] [--suffix .SUFFIX] [--narrow]
 * --suffix names the captures <scenario>SUFFIX.rec (beside the ones already there); --narrow
 * records the workload's tasks only (`record --no-wide`).
 * Writes traces/<uname -r>/<scenario>.rec/{trace.txt.gz, counters-*.txt, settings.txt,
 * stdout.txt, trace-stats.txt}. The kernel's format files are kept once, in grammars/.
 * settings.txt names the trace record wrote (trace.txt); `foliolab fidelity` also looks for
 * that name with .gz.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argvOpt = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1] === '--suffix'));
const filter = new RegExp(positional[0] ?? '.');
const suffix = argvOpt('--suffix') ?? '';
const narrow = process.argv.includes('--narrow');
const THP = '/sys/kernel/mm/transparent_hugepage';
execFileSync('make', ['-s', '-C', join(root, 'traces/workloads')], { stdio: 'inherit' });
const sizes = existsSync(THP) ? readdirSync(THP).filter((n) => /^hugepages-\d+kB$/.test(n) && existsSync(join(THP, n, 'enabled'))).map((n) => n.slice(10)) : [];

function memcgCreate() {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers') && readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').includes('memory')) {
    const d = '/sys/fs/cgroup/foliolab-capture';
    if (existsSync(d)) rmdirSync(d);
    mkdirSync(d);
    return d;
  }
  const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find((p) => p[1] === 'memory')?.[2] ?? '/';
  const d = join('/sys/fs/cgroup/memory', own, 'foliolab-capture');
  if (existsSync(d)) rmdirSync(d);
  mkdirSync(d);
  return d;
}

const lines = readFileSync(join(root, 'traces/workloads/scenarios.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
for (const line of lines) {
  const [name, thp, m64, pin, memcg, cmd] = line.split('|');
  if (!filter.test(name)) continue;
  const dir = join(root, 'traces', release(), `${name}${suffix}.rec`);
  rmSync(dir, { recursive: true, force: true });
  // The mTHP column: the hugepages-64kB mode, or SIZE=MODE pairs (e.g. 32kB=always,64kB=never).
  const named = m64.includes('=') ? Object.fromEntries(m64.split(',').map((p) => p.split('='))) : { '64kB': m64 };
  const missing = Object.keys(named).filter((s) => !sizes.includes(s));
  if (missing.length > 0) { console.error(`${name}: skipped, this kernel offers no ${missing.join(', ')} mTHP`); continue; }
  const mthp = sizes.flatMap((s) => ['--mthp', `${s}=${named[s] ?? (s === '2048kB' ? 'inherit' : 'never')}`]);
  const [bin, ...args] = cmd.split(' ');
  let mc;
  if (memcg === '1') { mc = memcgCreate(); args.push('--memcg', mc); }
  // s6, s17 and the -spin/-sleep variants run two threads on two CPUs: the IPIs show the remote flushes.
  const extra = /^(s6|s17)-/.test(name) || /-(spin|sleep)\b/.test(name) ? ['--events', 'sched'] : [];
  const argv = [join(root, 'bin/run.js'), 'record', '--json', '--out', join(dir, 'trace.txt'), '--thp', thp, ...mthp, ...extra, ...(narrow ? ['--no-wide'] : []), ...(pin !== '0' && pin !== '-' ? ['--cpu', pin] : []), '--', join(root, 'traces/workloads/bin', bin), ...args];
  const r = JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8' }));
  if (mc) try { rmdirSync(mc); } catch { /* busy: leave it */ }
  writeFileSync(join(dir, 'trace.txt.gz'), gzipSync(readFileSync(join(dir, 'trace.txt'))));
  rmSync(join(dir, 'trace.txt'));
  rmSync(join(dir, 'formats'), { recursive: true, force: true });
  console.log(`${name}: ${r.lines} lines, exit ${r.exitStatus}, lost ${r.lostEvents}, restored ${r.restored}${r.warnings?.length ? `, warnings: ${r.warnings.join('; ')}` : ''}`);
}
