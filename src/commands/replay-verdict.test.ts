/**
 * `foliolab replay` never gives a verdict it cannot stand behind: a selection that matched
 * nothing, a file that is no trace, a trace without the events replay lifts, events the model
 * does not represent, lost events, flushes that are not the workload's, a trace without markers.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveP) => {
    const child = execFile(process.execPath, [join(packageRoot, 'bin/run.js'), ...args], { cwd: packageRoot, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      // oclif wraps error messages to the terminal width: unwrapped for matching.
      resolveP({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.replace(/\s*\n ›\s+/g, ' ') });
    });
    child.stdin!.end();
  });
}

const S1DIR = join(packageRoot, 'traces/6.18.44-fc-v669/s1-mthp64k-lazyfree-pageout');
const S1 = join(S1DIR, 'trace.txt.gz');
const s1Lines = (): string[] => gunzipSync(readFileSync(S1)).toString('utf8').split('\n');

const made: string[] = [];
afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

/** The capture with its lines edited, beside a copy of its settings.txt (the kernel's preset). */
function edited(edit: (lines: string[]) => string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'foliolab-verdict-'));
  made.push(dir);
  copyFileSync(join(S1DIR, 'settings.txt'), join(dir, 'settings.txt'));
  const f = join(dir, 'trace.txt');
  writeFileSync(f, edit(s1Lines()).join('\n'));
  return f;
}

/** Index of the first line holding `text` after the line holding `after`. */
function lineOf(lines: string[], text: string, after = ''): number {
  const from = after ? lines.findIndex((l) => l.includes(after)) : 0;
  return lines.findIndex((l, i) => i > from && l.includes(text));
}

/** A copy of a workload line's header (task, CPU, time) with other flags and event text. */
function like(line: string, flags: string, event: string): string {
  return line.replace(/\] \S+ +(\d+\.\d+): .*$/, `] ${flags}  $1: ${event}`);
}

describe('replay: nothing selected is an error', () => {
  it('--pid and --comm that match no task exit 1 naming the tasks the trace has', async () => {
    for (const sel of [['--pid', '4242'], ['--comm', 'no-such-task']]) {
      const r = await run(['replay', ...sel, S1]);
      expect(r.code, sel.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/matched nothing/);
      expect(r.stderr).toMatch(/s1_mthp64k_lazy-18983 \(\d+\)/);
      expect(r.stdout).not.toMatch(/MATCHED/);
    }
  });

  it('a file that is not a trace exits 1 instead of "MATCHED 0/0"', async () => {
    const r = await run(['replay', join(packageRoot, 'README.md')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds no trace events/);
    expect(r.stdout).toBe('');
  });

  it('a trace with none of the events replay lifts exits 1 and says what it holds', async () => {
    const f = edited((ls) => ls.filter((l) => l.startsWith('#') || /sched_switch|ipi_|tracing_mark_write/.test(l)).concat(
      [' s1_mthp64k_lazy-18983   [001] d..2.  4360.400000: sched_switch: prev_comm=s1_mthp64k_lazy prev_pid=18983 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120'],
    ));
    const r = await run(['replay', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/none of the events replay lifts/);
    expect(r.stderr).toMatch(/sched_switch \(\d+\)/);
  });
});

describe('replay: the verdict says what it could not check', () => {
  it('a system call the model does not represent is its own outcome: PARTIAL, named, counted, with its line', async () => {
    let at = 0;
    const f = edited((ls) => {
      const i = lineOf(ls, 'sys_madvise -> 0x0', 'phase name=lazyfree');
      at = i + 2;
      const base = ls[i]!;
      // An msync of the workload after the MADV_FREE, with a one-page flush recorded during it.
      return [...ls.slice(0, i + 1),
        like(base, '.....', 'sys_msync(start: 0x7fd51f800000, len: 0x1000, flags: 0x4)'),
        like(base, 'd..1.', 'tlb_flush: pages:1 reason:local MM shootdown (3)'),
        like(base, '.....', 'sys_msync -> 0x0'),
        ...ls.slice(i + 1)];
    });
    const r = await run(['replay', '--json', f]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.fidelity.verdict).toBe('partial');
    expect(j.fidelity.matched).toBe(false);
    expect(j.fidelity.opsMismatched).toBe(0);
    const o = j.fidelity.outsideModel.find((x: { kind: string }) => x.kind === 'syscall msync');
    expect(o).toEqual({ kind: 'syscall msync', ops: 1, events: 1, firstLine: at });
    const t = await run(['replay', f]);
    expect(t.stdout).toMatch(/fidelity  PARTIAL/);
    expect(t.stdout).toMatch(new RegExp(`syscall msync: 1 op, 1 events, first at line ${at}`));
    expect((await run(['replay', '--strict', f])).code).toBe(1);
  });

  it('lost events: the replay does not claim exactness across them', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'sys_madvise -> 0x0', 'phase name=lazyfree');
      return [...ls.slice(0, i + 1), 'CPU:0 [LOST 12 EVENTS]', ...ls.slice(i + 1)];
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.opsMismatched).toBe(0);
    expect(j.fidelity.verdict).toBe('partial');
    expect(j.fidelity.reasons.join(' ')).toMatch(/lost_events ×1/);
  });

  it('a flush IPI from another mm that lands in the workload\'s context is classified apart, not a mismatch', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'sys_madvise(', 'phase name=lazyfree');
      const base = ls[i]!;
      // Received in the IPI handler (hardirq) with no send of the workload before them.
      return [...ls.slice(0, i),
        like(base, 'd.h1.', 'tlb_flush: pages:0 reason:remote wrong CPU (5)'),
        like(base, 'd.h..', 'tlb_flush: pages:1 reason:remote shootdown (1)'),
        ...ls.slice(i)];
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.verdict).toBe('matched');
    expect(j.fidelity.foreignIpiFlushes).toBe(2);
    // The same lines outside hardirq context are flushes of the workload's own: compared.
    const g = edited((ls) => {
      const i = lineOf(ls, 'sys_madvise(', 'phase name=lazyfree');
      return [...ls.slice(0, i), like(ls[i]!, 'd..1.', 'tlb_flush: pages:1 reason:remote shootdown (1)'), ...ls.slice(i)];
    });
    const k = JSON.parse((await run(['replay', '--json', g])).stdout);
    expect(k.fidelity.verdict).toBe('mismatched');
  });

  it('without fl: markers it says what is not checked, and --pid compares the whole trace', async () => {
    const f = edited((ls) => ls.filter((l) => !l.includes('fl: ')));
    const t = await run(['replay', f]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/the whole trace from the workload's first event \(no fl: begin\/end markers\)/);
    expect(t.stdout).toMatch(/not visible: user stores/);
    expect(t.stdout).toMatch(/counter deltas: not checked/);
    expect(t.stdout).not.toMatch(/all equal over 0 values/);
    const j = JSON.parse((await run(['replay', '--json', '--pid', '18983', f])).stdout);
    expect(j.checks).toEqual({ window: 'whole trace', stores: 'not visible', counters: 'no per-phase deltas beside the trace' });
    expect(j.fidelity.compared).toBeGreaterThan(8000);
  });

  it('a syscall whose arguments did not decode is not replayed as something else', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'sys_madvise(', 'phase name=lazyfree');
      return [...ls.slice(0, i), ls[i]!.replace(/len_in: 0x8000000/, 'len_in: ???'), ...ls.slice(i + 1)];
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.verdict).not.toBe('matched');
    expect(j.inputGaps.join(' ')).toMatch(/1 × syscalls of the workload whose arguments did not decode, or lie outside the address space, were not replayed \(first at line \d+\)/);
  });

  it('an allocation of an impossible order is named and ignored, not a crash', async () => {
    let line = 0;
    const f = edited((ls) => {
      const i = ls.findIndex((l) => /mm_page_alloc: .*order=4 .*GFP_TRANSHUGE/.test(l));
      line = i + 1;
      return ls.map((l, j) => (j === i ? l.replace(/order=4/, 'order=-1') : l));
    });
    const r = await run(['replay', '--json', f]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.fidelity.verdict).not.toBe('matched');
    expect(j.inputGaps).toContain(`1 × mm_page_alloc events of the workload with an impossible order or pfn were ignored (first at line ${line})`);
  });

  it('protocol breaches of the trace are named, counted and make the replay partial', async () => {
    const f = edited((ls) => {
      const enter = lineOf(ls, 'sys_madvise(', 'phase name=lazyfree');
      const fault = lineOf(ls, 'page_fault_user:', 'fl: begin');
      return ls.flatMap((l, j) => (j === enter || j === fault ? [l, l] : [l]));
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.verdict).toBe('partial');
    const gaps = j.inputGaps.join('\n');
    expect(gaps).toMatch(/1 × syscall entries came while the task was still in another call/);
    expect(gaps).toMatch(/1 × events repeat the one before them exactly/);
  });

  it('a malformed marker is ignored and named: an empty pid= does not reset the workload, a huge store does not hang', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'fl: phase name=lazyfree');
      const base = ls[i]!;
      return [...ls.slice(0, i),
        base.replace(/fl: .*$/, 'fl: begin scenario=S1 variant=x pid='),
        base.replace(/fl: .*$/, `fl: store addr=0x7fd51f800000 len=${2 ** 53}`),
        base.replace(/fl: .*$/, 'fl: frobnicate now'),
        ...ls.slice(i)];
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.workload.pid).toBe(18983);
    expect(j.fidelity.opsMismatched).toBe(0);
    expect(j.fidelity.verdict).toBe('partial');
    expect(j.inputGaps.join('\n')).toMatch(/3 × fl: markers were malformed/);
  });

  it('a capture of the seed benchmark on a machine busy with another mm\'s shootdowns still matches', async () => {
    const busy = join(packageRoot, 'traces/6.18.44-fc-v1147/s1-mthp64k-lazyfree-pageout.busy.rec/trace.txt.gz');
    const j = JSON.parse((await run(['replay', '--json', busy])).stdout);
    expect(j.fidelity.verdict).toBe('matched');
    expect(j.fidelity.foreignIpiFlushes).toBeGreaterThan(0);
    expect(j.counterCheck.matched).toBe(true);
  });

  it('a fault the kernel takes on user memory populates it like the task\'s own (page_fault_kernel is lifted)', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'page_fault_user:', 'fl: phase name=populate');
      return ls.map((l, j) => (j === i ? l.replace('page_fault_user:', 'page_fault_kernel:') : l));
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.verdict).toBe('matched');
    const clean = JSON.parse((await run(['replay', '--json', '--kernel', 'linux-6.18-fc', S1])).stdout);
    expect(j.ops).toBe(clean.ops);
  });

  it('6.1 without exceptions:page_fault_kernel: the replay names the input its rss cache needs', async () => {
    const t = join(packageRoot, 'traces/6.1.0-56-cloud-amd64/s2-pmd-thp-lazyfree-pageout/trace.txt.gz');
    const j = JSON.parse((await run(['replay', '--json', t])).stdout);
    expect(j.fidelity.verdict).toBe('partial');
    expect(j.fidelity.reasons.join(' ')).toMatch(/exceptions:page_fault_kernel is not recorded: 6\.1's per-task rss cache/);
  });

  it('a fault at an address no user mapping can have is named and ignored (it made the replay spin)', async () => {
    const f = edited((ls) => {
      const i = lineOf(ls, 'page_fault_user:', 'fl: phase name=populate');
      return ls.map((l, j) => (j === i ? l.replace(/address=\S+/, 'address=-99999999999999999999') : l));
    });
    const j = JSON.parse((await run(['replay', '--json', f])).stdout);
    expect(j.fidelity.verdict).not.toBe('matched');
    expect(j.inputGaps.join(' ')).toMatch(/1 × user page faults at an address outside the user address space/);
  });
});

