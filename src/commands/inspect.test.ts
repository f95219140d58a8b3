/**
 * `foliolab inspect` as a person runs it: the real binary in a real terminal (tmux send-keys /
 * capture-pane) on a real capture. Skipped, saying why, where tmux is missing.
 */
import { execFile, execFileSync } from 'node:child_process';
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
const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' });

describe('foliolab inspect', () => {
  it('refuses to draw into a pipe: says so and exits 2', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((res) =>
      execFile(process.execPath, [join(packageRoot, 'bin/run.js'), 'inspect', S1], { cwd: packageRoot }, (err, _o, stderr) => res({ code: err ? Number(err.code) : 0, stderr })),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs a terminal: standard output is not a TTY/);
  });

  /** The inspector in a tmux session of the given size; the screen as text, keys sent, cleaned up. */
  async function inTmux(w: number, h: number, args: string, body: (screen: () => string, waitFor: (re: RegExp) => Promise<string>, send: (k: string) => void) => Promise<void>): Promise<void> {
    const session = `foliolab-test-${process.pid}-${w}x${h}`;
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
    tmux('new-session', '-d', '-s', session, '-x', String(w), '-y', String(h), `cd '${packageRoot}' && CI=true NO_COLOR=1 node bin/run.js inspect ${args}; echo "EXIT=$?"; sleep 60`);
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
});
