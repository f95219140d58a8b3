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

  it.skipIf(!hasTmux)('in a real terminal, even with CI set: opens, n goes to the first divergence with the folio\'s entries under both configs, q exits 0', async () => {
    const session = `foliolab-test-${process.pid}`;
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
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', `cd '${packageRoot}' && CI=true NO_COLOR=1 node bin/run.js inspect ${S1}; echo "EXIT=$?"; sleep 60`);
    try {
      let s = await waitFor(/row 1\/\d+/);
      expect(s).toMatch(/row 1\/\d+ op -1/);
      expect(s).toMatch(/linux-6\.18-fc vs linux-6\.18-fc -batched-unmap@v4-3/);
      tmux('send-keys', '-t', session, 'n');
      s = await waitFor(/entries: before → after[\s\S]*\[1\] pfn/);
      expect(s).toMatch(/divergence 1\//);
      expect(s).toMatch(/linux-6\.18-fc · op \d+: madvise.*│ linux-6\.18-fc -batched-unmap@v4-3 · op \d+: madvise/);
      const entryRows = s.split('\n').filter((l) => /\[\d+\] pfn 0x[0-9a-f]+ W → none.*│.*\[\d+\] pfn 0x[0-9a-f]+ W → none/.test(l));
      expect(entryRows.length).toBeGreaterThanOrEqual(4);
      tmux('send-keys', '-t', session, 'q');
      s = await waitFor(/EXIT=\d+/);
      expect(s).toMatch(/EXIT=0/);
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        /* already gone */
      }
    }
  });
});
