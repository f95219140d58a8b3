/**
 * The inspector UI, pane by pane and key by key (ink-testing-library), on real traces: the
 * hand-written straddling-folio scenario (a violation under v4 without the fix) and the real
 * 6.18 seed-benchmark capture (batched unmap against per-page unmap).
 */
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import React from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffTrace } from '../diff/diff.js';
import { loadInspection, rerunInspection, type Inspection } from '../diff/inspect.js';
import { buildConfig } from '../model/presets.js';
import { grammarsDir, packageRoot } from '../paths.js';
import { FormatRegistry } from '../trace/index.js';
import { App, KEYS } from './app.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const T = (p: string): string => join(packageRoot, 'traces', p);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(f: () => string | undefined, re: RegExp | ((s: string) => boolean), ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  const ok = typeof re === 'function' ? re : (s: string) => re.test(s);
  for (;;) {
    const s = f() ?? '';
    if (ok(s) || Date.now() > end) return s;
    await sleep(20);
  }
}
const statusOf = (frame: string | undefined) => (frame ?? '').trimEnd().split('\n').pop()!;
const KEY = { down: '\u001B[B', up: '\u001B[A', pageDown: '\u001B[6~', pageUp: '\u001B[5~', tab: '\t', enter: '\r', esc: '\u001B' };

let oob: Inspection;
let s1: Inspection;
let s1diff: Awaited<ReturnType<typeof diffTrace>>;
const S1 = T('6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout/trace.txt.gz');
beforeAll(async () => {
  oob = await loadInspection(T('scenarios/straddle-oob.trace'), [buildConfig('batched-unmap@v4-3', 'x86'), buildConfig('linux-6.18', 'x86')], { registry: reg });
  s1 = await loadInspection(S1, [buildConfig('linux-6.12', 'x86'), buildConfig('linux-6.18', 'x86')], { registry: reg });
  s1diff = await diffTrace(S1, buildConfig('linux-6.12', 'x86'), buildConfig('linux-6.18', 'x86'), { registry: reg });
  // Three replays of real captures: the tests' own bound, not the 10 s hook default, which a busy
  // shared host overruns.
}, 120_000);

const open = (ins: Inspection, extra: Partial<React.ComponentProps<typeof App>> = {}) => render(<App ins={ins} width={80} height={24} noColor settleMs={0} {...extra} />);
/** Opened on the first divergence with the inspector focused: tab twice gives the timeline the keys. */
async function toTimeline(ui: ReturnType<typeof open>): Promise<void> {
  ui.stdin.write(KEY.tab);
  await until(() => statusOf(ui.lastFrame()), /\| summary/);
  ui.stdin.write(KEY.tab);
  await until(() => statusOf(ui.lastFrame()), (x) => !/\| (summary|inspector)/.test(x));
}

describe('first screen', () => {
  it('opens on the first divergence: the cause and what changed in one line, every number the model\'s', async () => {
    const ui = open(s1);
    const f = await until(ui.lastFrame, /flushes \d+ → \d+/);
    const first = s1.divergentOps[0]!;
    expect(statusOf(f)).toMatch(new RegExp(`^row ${s1.ops.row(first) + 1}/\\d+ op ${s1diff.firstDivergence!.op} \\| 2 div \\| inspector \\| divergence 1/2`));
    const head = f.split('\n').slice(5).join(' ').replace(/\s+/g, ' ');
    const cause = s1diff.firstDivergence!.cause.join(', ');
    const folios = s1diff.folios[0]!.count;
    const flushes = (side: 'base' | 'with') => Object.entries(s1diff[side].tlbFlushes).filter(([k]) => !k.startsWith('pages:-1')).reduce((a, [, n]) => a + n, 0);
    const sd = s1diff.counters.find((c) => c.name.endsWith('/split_deferred'))!;
    expect(head).toContain(`${cause}: ${folios} folios unmapped in one batch instead of per page; flushes ${flushes('base')} → ${flushes('with')}; split_deferred ${sd.base} → ${sd.with}`);
    ui.unmount();
  });

  it('each side: the folio\'s steps through the op, runs compressed, what differs marked ≠ and never cut (80×24)', async () => {
    const ui = open(s1);
    const f = await until(ui.lastFrame, /linux-6\.12: \d+ steps/);
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    const left = lines.map((l) => l.split(' │ ')[0]!);
    const right = lines.map((l) => l.split(' │ ')[1] ?? '');
    expect(f).toMatch(/folio 0x[0-9a-f]+ \(64 KiB\) 1\/2048 · group 1\/1: 2048 alike, steps differ/);
    expect(left).toContainEqual(expect.stringMatching(/^≠ PTE cleared \(rmap −1\)\s*$/));
    expect(left).toContainEqual(expect.stringMatching(/^≠ queued for deferred split\s*$/));
    expect(left).toContainEqual(expect.stringMatching(/^≠ ×15: PTE cleared \(rmap −1\) ·/));
    expect(left).toContainEqual(expect.stringMatching(/^≠ unqueued from deferred split/));
    expect(right).toContainEqual(expect.stringMatching(/^≠ 16 PTEs cleared at once \(rmap −16\)/));
    expect(right).toContainEqual(expect.stringMatching(/^≠ tlb_flush pages=16/));
    expect(right).toContainEqual(expect.stringMatching(/^ {2}freed/));
    // A differing step is wrapped, never cut.
    expect(lines.filter((l) => l.includes('≠')).every((l) => !/…\s*(│|$)/.test(l))).toBe(true);
    ui.unmount();
  });

  it('] walks the op\'s folios, n/N its divergences; op numbers are diff\'s', async () => {
    const ui = open(s1);
    const f0 = await until(ui.lastFrame, /\) 1\/2048 · group/);
    const pfn = /folio (0x[0-9a-f]+) \(64 KiB\) 1\/2048/.exec(f0)![1];
    ui.stdin.write(']');
    let f = await until(ui.lastFrame, /\) 2\/2048 · group 1\/1: 2048 alike, steps differ/);
    expect(f).toMatch(/\) 2\/2048 · group 1\/1: 2048 alike, steps differ/);
    expect(f).not.toContain(`folio ${pfn} `);
    expect(statusOf(f)).toMatch(/folio 2\/2048, group 1\/1/);
    ui.stdin.write('n');
    f = await until(ui.lastFrame, /divergence 2\/2/);
    expect(statusOf(f)).toMatch(new RegExp(`op ${s1.ops.lo(s1.divergentOps[1]!).op.at.index} `));
    ui.unmount();
    // Opened at an op by its number (one delivered out of its lifted order if the trace has
    // one, else the second divergence's): the inspector shows the number diff prints.
    const late = s1.ops.findIndex((o, k) => o.lo.op.at.index !== k && o.row >= 0);
    const i = late >= 0 ? late : s1.divergentOps[1]!;
    const n = s1.ops.lo(i).op.at.index;
    const ui2 = open(s1, { openOp: n });
    f = await until(ui2.lastFrame, new RegExp(`after op ${n} `));
    expect(statusOf(f)).toMatch(new RegExp(`^row ${s1.ops.row(i) + 1}/\\d+ op ${n} `));
    ui2.unmount();
  });

  it('160×45: timeline, the divergence and the summary at once, the pair\'s reason in the summary', async () => {
    const ui = open(s1, { width: 160, height: 45, pairReason: 'both configs given (--base, --with)' });
    const f = await until(ui.lastFrame, /linux-6\.12: \d+ steps[\s\S]*pair: both configs given/);
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(45);
    expect(lines.every((l) => l.length <= 160)).toBe(true);
    expect(f).toMatch(/^>.*sys_enter_madvise/m);
    expect(f).toMatch(/flushes \d+ → \d+/);
    expect(f).toMatch(/≠ 16 PTEs cleared at once/);
    ui.unmount();
  });
});

describe('timeline', () => {
  it('fits 80×24: the visible rows only, the status line last; j/k, arrows, PgDn/PgUp, g/G move the cursor', async () => {
    const ui = open(s1);
    await toTimeline(ui);
    ui.stdin.write('g');
    await until(() => statusOf(ui.lastFrame()), /^row 1\//);
    const f = ui.lastFrame()!;
    expect(f.split('\n').length).toBeLessThanOrEqual(24);
    expect(f.split('\n').every((l) => l.length <= 80)).toBe(true);
    expect(statusOf(f)).toMatch(new RegExp(`^row 1/${s1.rows.count} `));
    const steps: Array<[string, number]> = [['j', 2], [KEY.down, 3], ['k', 2], [KEY.up, 1], [KEY.pageDown, 11], [KEY.pageUp, 1], ['G', s1.rows.count], ['g', 1]];
    for (const [k, row] of steps) {
      ui.stdin.write(k);
      expect(await until(() => statusOf(ui.lastFrame()), new RegExp(`^row ${row}/`))).toMatch(new RegExp(`^row ${row}/`));
    }
    ui.unmount();
  });

  it('n / N: next and previous divergence, marked rows; e: each config\'s predicted events inline', async () => {
    const ui = open(s1);
    await toTimeline(ui);
    ui.stdin.write('g');
    await until(() => statusOf(ui.lastFrame()), /^row 1\//);
    ui.stdin.write('n');
    const first = s1.ops.row(s1.divergentOps[0]!);
    let f = await until(ui.lastFrame, new RegExp(`^row ${first + 1}/`, 'm'));
    expect(statusOf(f)).toMatch(new RegExp(`^row ${first + 1}/\\d+ op ${s1.ops.lo(s1.divergentOps[0]!).op.at.index}`));
    expect(statusOf(f)).toMatch(/divergence 1\/2/);
    ui.stdin.write('n');
    f = await until(ui.lastFrame, /divergence 2\/2/);
    ui.stdin.write('N');
    f = await until(ui.lastFrame, /divergence 1\/2/);
    expect(f).toMatch(/^>.*sys_enter_madvise/m);
    ui.stdin.write('e');
    f = await until(ui.lastFrame, /linux-6\.18: tlb_flush pages=16/);
    expect(f).toMatch(/linux-6\.12: tlb_flush pages=1 /);
    expect(f).toMatch(/linux-6\.18: tlb_flush pages=16/);
    ui.unmount();
  });

  it('/ searches event names, addresses and pfns; f filters by event or process and clears', async () => {
    const ui = open(s1);
    await toTimeline(ui);
    ui.stdin.write('g');
    await until(() => statusOf(ui.lastFrame()), /^row 1\//);
    ui.stdin.write('/');
    for (const ch of 'mm_page_free') ui.stdin.write(ch);
    ui.stdin.write(KEY.enter);
    let f = await until(ui.lastFrame, /found "mm_page_free"/);
    expect(f).toMatch(/^>.*mm_page_free:/m);
    ui.stdin.write('/');
    for (const ch of '0x103400') ui.stdin.write(ch);
    ui.stdin.write(KEY.enter);
    f = await until(ui.lastFrame, /found "0x103400"/);
    const hitRow = Number(/^row (\d+)\//.exec(statusOf(f))![1]) - 1;
    expect(s1.rows.payload.at(hitRow)).toContain('0x103400');
    ui.stdin.write('f');
    for (const ch of 'tlb_flush') ui.stdin.write(ch);
    ui.stdin.write(KEY.enter);
    f = await until(ui.lastFrame, /filter "tlb_flush": \d+ rows/);
    const n = Number(/filter "tlb_flush": (\d+) rows/.exec(f)![1]);
    expect(n).toBe([...s1.rows.name].filter((x) => s1.rows.strings[x] === 'tlb_flush').length);
    const timeline = f.split('\n').slice(0, 11).filter((l) => /^\S?\s+\d+\.\d+ /.test(l));
    expect(timeline.length).toBeGreaterThan(5);
    expect(timeline.every((l) => l.includes('tlb_flush:'))).toBe(true);
    ui.stdin.write('f');
    for (let i = 0; i < 12; i++) ui.stdin.write('\u007F');
    ui.stdin.write(KEY.enter);
    f = await until(ui.lastFrame, /filter cleared/);
    expect(statusOf(f)).toMatch(new RegExp(`/${s1.rows.count} `));
    ui.unmount();
  });
});

describe('inspector', () => {
  it('at the first divergence: the folio\'s entries before and after under both configs (scrolled to)', async () => {
    const ui = open(s1);
    await until(ui.lastFrame, /linux-6\.12: \d+ steps/);
    for (let i = 0; i < 12; i++) ui.stdin.write('j');
    const f = await until(ui.lastFrame, /entries: before → after.*│.*entries: before → after[\s\S]*\[0\] pfn/);
    expect(f).toMatch(/linux-6\.12 after op \d+ .*│ linux-6\.18 after op \d+/);
    expect(f).toMatch(/folio #\d+ pfn 0x[0-9a-f]+ o4 ref 0 map 0/);
    expect(f).toMatch(/\[0\] pfn 0x[0-9a-f]+ W → n/);
    // A row that reads differently under the two configs is wrapped, never cut.
    const sides = f.split('\n').filter((l) => l.includes(' │ ')).map((l) => l.split(' │ '));
    expect(sides.filter(([a, b]) => a!.trim() !== b!.trim() && (/…\s*$/.test(a!) || /…\s*$/.test(b!)))).toEqual([]);
    ui.unmount();
  });

  it('a folio straddling two page tables: slots of the next table are marked', async () => {
    const ui = open(oob, { height: 60 });
    const f = await until(ui.lastFrame, /\+0x[0-9a-f]+\[0\]/);
    const table = /\[i\]: slot i of table (0x[0-9a-f]+) /.exec(f)![1]!;
    expect(f).toMatch(/^ \[511\] pfn/m);
    const next = /\+(0x[0-9a-f]+)\[0\] pfn/.exec(f)![1]!;
    expect(Number(next) - Number(table)).toBe(2 * 1024 * 1024);
    ui.unmount();
  });

  it('v: the next row with a violation (the out-of-bounds read of v4 without the fix)', async () => {
    const ui = open(oob);
    await toTimeline(ui);
    ui.stdin.write('g');
    await until(() => statusOf(ui.lastFrame()), /^row 1\//);
    ui.stdin.write('v');
    const f = await until(ui.lastFrame, /violation at op \d+/);
    const op = Number(/violation at op (\d+)/.exec(f)![1]);
    expect(oob.violations.some((v) => v.op === op && v.code === 'pte_access_within_table' && v.config === 0)).toBe(true);
    expect(f).toMatch(/^>/m);
    ui.unmount();
  });
});

describe('layout', () => {
  it('the inspector focused has the height, and j/k scroll it instead of the timeline', async () => {
    const ui = open(oob, { height: 14 });
    let f = await until(ui.lastFrame, /steps differ/);
    expect(statusOf(f)).toMatch(/\| inspector/);
    const row = /^row (\d+)\//.exec(statusOf(f))![1];
    const firstInsp = f.split('\n').find((l) => !/^[> !*]\s+\d+\.\d+ /.test(l))!;
    ui.stdin.write('j');
    f = await until(ui.lastFrame, (x) => !x.split('\n').includes(firstInsp));
    expect(f.split('\n')).not.toContain(firstInsp);
    expect(statusOf(f)).toMatch(new RegExp(`^row ${row}/`));
    ui.unmount();
  });
  it('a wide terminal shows timeline, inspector and summary at once; NO_COLOR draws markers, no escapes', async () => {
    const ui = open(s1, { width: 180, height: 60 });
    const f = await until(ui.lastFrame, /entries: before → after[\s\S]*fidelity vs the recording/);
    expect(f).toMatch(/fidelity vs the recording/);
    expect(f).toMatch(/^>.*sys_enter_madvise.*│|^>.*sys_enter_madvise/m);
    expect(f).not.toMatch(/\u001b\[/);
    ui.unmount();
  });
});

describe('summary, help, configs, quit', () => {
  it('tab: the summary pane (counters with deltas, cost, violations, fidelity), then back', async () => {
    const ui = open(s1);
    ui.stdin.write(KEY.tab);
    const f = await until(ui.lastFrame, /fidelity vs the recording/);
    expect(f).toMatch(/64kB\/split_deferred\s+2048\s+0\s+-2048/);
    expect(f).toMatch(/cost [\d.]+ µs vs [\d.]+ µs/);
    expect(f).toMatch(/fidelity vs the recording: .*\| matched/);
    ui.stdin.write(KEY.tab);
    expect(statusOf(await until(() => statusOf(ui.lastFrame()), (x) => !/\| (summary|inspector)/.test(x)))).not.toMatch(/\| (summary|inspector)/);
    ui.unmount();
  });

  it('?: every key with what it does; any key closes it', async () => {
    const ui = open(s1);
    ui.stdin.write('?');
    const f = await until(ui.lastFrame, /keys \(any key closes\)/);
    for (const [k] of KEYS) expect(f).toContain(k);
    ui.stdin.write('x');
    expect(await until(ui.lastFrame, (f) => !f.includes('keys (any key closes)'))).not.toMatch(/keys \(any key closes\)/);
    ui.unmount();
  });

  it('c: choose two configs; the trace is replayed under them, read again behind the screen', async () => {
    const presets = ['linux-6.12', 'linux-6.18', 'linux-6.19'];
    let asked: string[] = [];
    const ui = open(s1, { presets, rerun: (b, w) => { asked = [b, w]; return rerunInspection(s1, [buildConfig(b, 'x86'), buildConfig(w, 'x86')]); } });
    ui.stdin.write('c');
    await until(ui.lastFrame, /pick the base config/);
    ui.stdin.write('j');
    ui.stdin.write(KEY.enter);
    await until(ui.lastFrame, /base: linux-6\.18 — now pick/);
    ui.stdin.write('j');
    ui.stdin.write('j');
    ui.stdin.write(KEY.enter);
    const f = await until(ui.lastFrame, /configs: linux-6\.18 vs linux-6\.19/);
    expect(asked).toEqual(['linux-6.18', 'linux-6.19']);
    expect(statusOf(f)).toMatch(/\| \d+ div( \| \w+)? \| configs: linux-6\.18 vs linux-6\.19/);
    // Once read, the count is the pair's own, as a load under that pair gives it.
    const pair = await loadInspection(S1, [buildConfig('linux-6.18', 'x86'), buildConfig('linux-6.19', 'x86')], { registry: reg });
    const done = await until(() => statusOf(ui.lastFrame()), /divergent ops \|/);
    expect(done).toContain(`| ${pair.divergentOps.length} div`);
    expect(done).toContain(`configs: linux-6.18 vs linux-6.19; ${pair.divergentOps.length} divergent ops`);
    ui.unmount();
  });

  it('q quits: the app unmounts and further keys change nothing', async () => {
    const ui = open(oob);
    ui.stdin.write('q');
    await sleep(50);
    const before = ui.frames.length;
    ui.stdin.write('j');
    await sleep(50);
    expect(ui.frames.length).toBe(before);
  });
});
