/**
 * `foliolab inspect` as a person runs it: the real binary in a real terminal (tmux send-keys /
 * capture-pane) on a real capture. Skipped, saying why, where tmux is missing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const S1 = 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let sessions = 0;
const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' });
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
    execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => res({ code: err ? Number(err.code) : 0, stdout, stderr })),
  );

describe('foliolab inspect', () => {
  it('refuses to draw into a pipe: says so and exits 2', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((res) =>
      execFile(process.execPath, [join(packageRoot, 'bin/run.js'), 'inspect', S1], { cwd: packageRoot }, (err, _o, stderr) => res({ code: err ? Number(err.code) : 0, stderr })),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs a terminal: standard output is not a TTY/);
  });

  /** The inspector in a tmux session of the given size; the screen as text, keys sent, cleaned up. */
  async function inTmux(w: number, h: number, args: string | string[], body: (screen: () => string, waitFor: (re: RegExp) => Promise<string>, send: (k: string) => void) => Promise<void>): Promise<void> {
    const session = `foliolab-test-${process.pid}-${w}x${h}-${++sessions}`;
    const screen = () => tmux('capture-pane', '-p', '-t', session);
    const waitFor = async (re: RegExp, ms = 30_000): Promise<string> => {
      const end = Date.now() + ms;
      let s = '';
      while (Date.now() < end) {
        s = screen();
        if (re.test(s)) return s;
        await sleep(100);
      }
      return s;
    };
    // CI=true as a CI runner sets it: ink would then draw nothing until exit, and the
    // inspector must still draw live on a terminal.
    const argv = typeof args === 'string' ? args : args.map((a) => `'${a}'`).join(' ');
    tmux('new-session', '-d', '-s', session, '-x', String(w), '-y', String(h), `cd '${packageRoot}' && CI=true NO_COLOR=1 node bin/run.js inspect ${argv}; echo "EXIT=$?"; sleep 60`);
    try {
      await body(screen, waitFor, (k) => tmux('send-keys', '-t', session, k));
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        /* already gone */
      }
    }
  }

  const diffJson = (args: string[]) => JSON.parse(execFileSync(process.execPath, [join(packageRoot, 'bin/run.js'), 'diff', '--json', ...args], { cwd: packageRoot, encoding: 'utf8', maxBuffer: 64 << 20 }));

  it.skipIf(!hasTmux)('80×24, even with CI set: opens on the first divergence diff reports, with the same default pair, its cause and both stories; q exits 0', async () => {
    const d = diffJson([S1]);
    await inTmux(80, 24, S1, async (screen, waitFor, send) => {
      let s = await waitFor(/\d+ steps[\s\S]*\| inspector/);
      const lines = s.split('\n');
      expect(lines.every((l) => l.length <= 80)).toBe(true);
      const status = lines.filter((l) => l.trim()).pop()!;
      expect(status).toMatch(new RegExp(`^row \\d+/\\d+ op ${d.firstDivergence.op} \\| ${d.divergentOps} div \\| inspector \\| divergence 1/${d.divergentOps}`));
      expect(s).toContain(`${d.base.config.name}: `);
      expect(s).toContain(`${d.with.config.name}: `);
      expect(s.replace(/\s+/g, ' ')).toContain(`${d.firstDivergence.cause.join(', ')}: ${d.folios[0].count} folios unmapped in one batch instead of per page`);
      expect(s).toMatch(/≠ ×15: PTE cleared \(rmap −1\) ·/);
      expect(s).toMatch(/≠ 16 PTEs cleared at once \(rmap −16\)/);
      send('Tab');
      s = await waitFor(/\| summary/);
      expect(s.replace(/\s+/g, ' ')).toContain(`pair: ${d.policy.reason}`);
      send('q');
      s = await waitFor(/EXIT=\d+/);
      expect(s).toMatch(/EXIT=0/);
      void screen;
    });
  });

  it.skipIf(!hasTmux)('160×45: timeline, the divergence with both stories and the summary at once; n to the next divergence', async () => {
    const d = diffJson([S1, '--base', 'linux-6.12', '--with', 'linux-6.18']);
    await inTmux(160, 45, `${S1} --base linux-6.12 --with linux-6.18`, async (_screen, waitFor, send) => {
      let s = await waitFor(/\d+ steps[\s\S]*pair: both configs given/);
      expect(s.split('\n').every((l) => l.length <= 160)).toBe(true);
      expect(s).toMatch(/^>.*sys_enter_madvise/m);
      expect(s).toMatch(/linux-6\.12: \d+ steps\s+│ linux-6\.18: \d+ steps/);
      expect(s).toMatch(new RegExp(`flushes \\d+ → \\d+; split_deferred ${d.counters.find((c: { name: string }) => c.name === '64kB/split_deferred').base} → 0`));
      expect(s).toMatch(/fidelity vs the recording/);
      send('n');
      // The status moves at once; the inspector follows when its replay to the op is done.
      s = await waitFor(/op \d+: .*· divergence 2\/2/);
      expect(s).toMatch(/op \d+: .*· divergence 2\/2/);
      expect(s).toMatch(/\| divergence 2\/2 \|/);
      send('q');
      expect(await waitFor(/EXIT=\d+/)).toMatch(/EXIT=0/);
    });
  });

  describe('a race witness (foliolab race --witness)', () => {
    // R1's witness under the config without TTU_SYNC, as `race` finds and saves it; every
    // expected step below is read from that saved witness, not typed here.
    let dir: string;
    let file: string;
    let saved: { witnesses: Array<{ config: string; schedule: string[]; steps: Array<{ n: number; thread: string; cpu: number; fn: string; what: string; locks: string[]; diff: string[] }>; racingPair: [string, string] }> };
    const pairSteps = () => saved.witnesses[0]!.racingPair.map((p) => Number(/^step (\d+) /.exec(p)![1]));
    const setup = async () => {
      dir = mkdtempSync(join(tmpdir(), 'inspect-witness-'));
      file = join(dir, 'r1.json');
      const r = await cli(['race', 'R1', '--config', 'linux-6.12 -ttu-sync', '--witness', file, '--json']);
      expect(r.code).toBe(0);
      saved = JSON.parse(readFileSync(file, 'utf8'));
    };
    const cleanup = () => rmSync(dir, { recursive: true, force: true });

    it('--json: each step under the witness\'s config as race saved it, the same schedule under --config beside it, the racing pair marked on both', async () => {
      await setup();
      try {
        const r = await cli(['inspect', file, '--config', 'linux-6.12', '--json']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const j = JSON.parse(r.stdout);
        const [sw] = j.witnesses;
        const w = saved.witnesses[0]!;
        expect(sw.sides.map((s: { config: string }) => s.config)).toEqual([w.config, 'linux-6.12']);
        const [mine, theirs] = sw.sides;
        expect(mine.steps.map(({ racing: _r, racesWith: _w, ...s }: Record<string, unknown>) => s)).toEqual(w.steps);
        expect(mine.failure).toMatch(/partially mapped after try_to_unmap/);
        // The fixed kernel runs the same schedule to the end with the invariant intact.
        expect(theirs.failure).toBeNull();
        expect(theirs.stuck).toEqual([]);
        const [a, b] = pairSteps();
        expect(mine.steps.filter((s: { racing: boolean }) => s.racing).map((s: { n: number }) => s.n)).toEqual([a, b]);
        expect(theirs.racingPair).not.toBeNull();
        // One row per schedule entry: the witness's own config steps at every one of them.
        const entries = sw.rows.filter((r: { entry: number | null }) => r.entry !== null);
        expect(entries).toHaveLength(w.schedule.length);
        expect(entries.map((r: { cells: Array<{ step?: number }> }) => r.cells[0]!.step)).toEqual(w.steps.map((_, i) => i));
        // Steps the fixed kernel has beyond the schedule follow it, beside nothing.
        const extra = sw.rows.filter((r: { entry: number | null }) => r.entry === null);
        expect(extra).toHaveLength(theirs.steps.length - entries.filter((r: { cells: Array<{ step?: number }> }) => r.cells[1]!.step !== undefined).length);
        // Under TTU_SYNC, A's walk takes the PTL B holds: that entry of the schedule waits.
        const waiting = sw.rows.filter((r: { cells: Array<{ why?: string }> }) => r.cells[1]!.why);
        expect(waiting.length).toBeGreaterThan(0);
        expect(waiting[0].cells[1].why).toMatch(/^A waits for ptl:T0 \(held by B\)$/);
      } finally {
        cleanup();
      }
    });

    it('standard output not a TTY: every step as text, side by side, no ink; the default comparison is a config the scenario expects Never under', async () => {
      await setup();
      try {
        const r = await cli(['inspect', file]);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toMatch(/\u001B\[/);
        expect(r.stdout).toMatch(/^linux-6\.12 -ttu-sync +│ linux-6\.12\b/m);
        expect(r.stdout).toMatch(/compared with linux-6\.12: the scenario file expects unified_pte_state Never there/);
        for (const s of saved.witnesses[0]!.steps) {
          expect(r.stdout).toContain(`${s.thread} cpu${s.cpu} ${s.fn}`);
          for (const d of s.diff) expect(r.stdout).toContain(d);
        }
        const bad = await cli(['inspect', file, '--config', 'linux-9.99']);
        expect(bad.code).toBe(2);
      } finally {
        cleanup();
      }
    });

    it.skipIf(!hasTmux)('80×24: opens on the racing pair with the step in full, r to its other step, j, ? help, q exits 0', async () => {
      await setup();
      try {
        const w = saved.witnesses[0]!;
        const [a, b] = pairSteps();
        const sa = w.steps[a! - 1]!;
        const sb = w.steps[b! - 1]!;
        await inTmux(80, 24, [file, '--config', 'linux-6.12'], async (_screen, waitFor, send) => {
          let s = await waitFor(/\| on the racing pair/);
          const lines = s.split('\n');
          expect(lines.every((l) => l.length <= 80)).toBe(true);
          expect(lines.filter((l) => l.trim()).pop()).toMatch(new RegExp(`^step ${a}/\\d+ \\| witness 1/1 R1 unified_pte_state`));
          expect(s).toMatch(/^linux-6\.12 -ttu-sync: fails — F +│ linux-6\.12: holds/m);
          expect(s).toMatch(new RegExp(`^> +${a} ◆${sa.thread} cpu${sa.cpu} ${sa.fn.split('@')[1]}`, 'm'));
          expect(s).toMatch(new RegExp(`step ${a}${(sa as { preempts?: boolean }).preempts ? ' \\(a preemption\\)' : ''}: ${sa.thread} on cpu${sa.cpu}`));
          expect(s).toContain(sa.fn);
          expect(s).toContain(`locks held: ${sa.locks.join(', ')}`);
          for (const d of sa.diff) expect(s).toContain(d);
          send('r');
          s = await waitFor(new RegExp(`^step ${b}/`, 'm'));
          expect(s).toMatch(new RegExp(`step ${b}${(sb as { preempts?: boolean }).preempts ? ' \\(a preemption\\)' : ''}: ${sb.thread} on cpu${sb.cpu}`));
          expect(s).toContain(`◆ racing pair with step ${a}`);
          // The fixed kernel's A cannot read PTE0 there: it waits for B's PTL.
          expect(s).toMatch(/│ — A waits for ptl:T0 \(held by B\)/);
          send('j');
          s = await waitFor(new RegExp(`^step ${b + 1}/`, 'm'));
          expect(s).toContain(`step ${b + 1}: `);
          send('?');
          s = await waitFor(/keys \(any key closes\)/);
          expect(s).toMatch(/r +the racing pair/);
          expect(s).toMatch(/q +quit/);
          send('x');
          await waitFor(new RegExp(`^step ${b + 1}/`, 'm'));
          send('q');
          expect(await waitFor(/EXIT=\d+/)).toMatch(/EXIT=0/);
        });
      } finally {
        cleanup();
      }
    });
  });
});
