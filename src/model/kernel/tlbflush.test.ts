/**
 * Which CPUs an x86 flush reaches and what each traces, per release (arch/x86/mm/tlb.c):
 *
 *   CPU0: thread A (the one flushing)     CPU1: thread B, then what the scheduler put there
 *
 * Each scenario drives the engine with ops (sched switches are inputs) and asserts the kernel's
 * rules: native_flush_tlb_multi() skips lazy CPUs unless page tables were freed
 * (tlb_is_not_lazy(), should_flush_tlb()), 6.14+ also skips CPUs on another mm
 * (should_flush_tlb()), a lazy CPU that gets the IPI switches to init_mm, 6.14+ leaves a CPU in
 * mm_cpumask until a flush finds it on another mm (`remote wrong CPU`), the batched flush (no mm)
 * reaches every CPU not lazy, and an exiting task's exit_mmap() runs lazily.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { buildConfig } from '../presets.js';
import type { Emission } from '../emit.js';
import { TLB_LOCAL_MM_SHOOTDOWN, TLB_LOCAL_SHOOTDOWN, TLB_REMOTE_SEND_IPI, TLB_REMOTE_SHOOTDOWN, TLB_REMOTE_WRONG_CPU } from '../emit.js';
import type { Op } from '../ops.js';
import { cpu_tlbstate, flush_tlb_batched_pending, flush_tlb_mm_range, set_tlb_ubc_flush_pending, should_defer_flush, try_to_unmap_flush } from './tlbflush.js';

const A = 100; // the main thread (thread-group leader), CPU0
const B = 101; // the helper thread, CPU1
const BASE = 0x7f0000000000;

type Flush = Extract<Emission, { ev: 'tlb_flush' }>;

function setup(preset: string) {
  const e = new Engine(buildConfig(preset), { checkInvariants: false });
  let line = 1;
  const step = (op: Record<string, unknown>): Flush[] => {
    const o = { tid: A, tgid: A, cpu: 0, at: { index: line, line, tsNs: line * 1000 }, ...op } as unknown as Op;
    line++;
    return e.step(o).emitted.filter((x): x is Flush => x.ev === 'tlb_flush');
  };
  step({ kind: 'run', on: true });
  step({ kind: 'mmap', addr: BASE, len: 0x400000, prot: 3, flags: 0x22, anon: true });
  step({ kind: 'thread', child: B });
  step({ kind: 'run', on: true, tid: B, cpu: 1 });
  step({ kind: 'fault', tid: B, cpu: 1, addr: BASE, write: true, allocs: [] });
  step({ kind: 'fault', addr: BASE + 0x200000, write: true, allocs: [] });
  const mm = e.k.mms.get(A)!;
  return { e, step, mm };
}

const on = (fs: Flush[], cpu: number, reason?: number) => fs.filter((f) => f.cpu === cpu && (reason === undefined || f.reason === reason));
/** Flushes traced in a workload task's context (what a capture of the workload can show). */
const seen = (fs: Flush[]) => fs.filter((f) => !f.offTask && f.reason !== 0);

describe('x86 flush targets: a thread running on the other CPU', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: the other CPU runs the flush function in the workload's context`, () => {
      const { step } = setup(preset);
      const fs = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
      expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN)).toHaveLength(1);
      const remote = on(fs, 1, TLB_REMOTE_SHOOTDOWN);
      expect(remote).toHaveLength(1);
      expect(remote[0]!.offTask).toBeFalsy();
      // The IPI is sent before the local flush runs.
      expect(fs.indexOf(on(fs, 0, TLB_REMOTE_SEND_IPI)[0]!)).toBeLessThan(fs.indexOf(on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN)[0]!));
    });
  }
});

describe('x86 flush targets: the other thread went idle (lazy TLB)', () => {
  for (const preset of ['linux-6.1', 'linux-6.12', 'linux-6.18']) {
    it(`${preset}: no IPI without freed page tables; the next flush that frees tables sends one and the CPU drops the mm`, () => {
      const { step, mm, e } = setup(preset);
      step({ kind: 'run', on: false, idle: true, tid: B, cpu: 1 });
      expect(cpu_tlbstate(e.k, 1)).toMatchObject({ loaded: mm, lazy: true });
      // MADV_DONTNEED of one page frees no table: the lazy CPU is skipped but stays in the mask,
      // so the sender still traces the IPI send.
      const dontneed = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
      expect(on(dontneed, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(on(dontneed, 1)).toHaveLength(0);
      expect(mm.cpumask.has(1)).toBe(true);
      // munmap frees the page tables: on_each_cpu_mask() reaches CPU1, which switches to init_mm
      // instead of flushing (a task-switch flush, in the idle task's context).
      const unmap = step({ kind: 'munmap', addr: BASE, len: 0x200000 });
      expect(on(unmap, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(seen(on(unmap, 1))).toHaveLength(0);
      expect(cpu_tlbstate(e.k, 1).loaded).toBe('init');
      if (preset === 'linux-6.18') {
        // 6.14+: still in the mask; the next flush finds it on another mm and trims it.
        expect(mm.cpumask.has(1)).toBe(true);
        const next = step({ kind: 'munmap', addr: BASE + 0x200000, len: 0x200000 });
        expect(on(next, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
        expect(on(next, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(1);
        expect(mm.cpumask.has(1)).toBe(false);
      } else {
        // Before 6.14 switching to init_mm takes the CPU out of the old mm's mask.
        expect(mm.cpumask.has(1)).toBe(false);
        const next = step({ kind: 'munmap', addr: BASE + 0x200000, len: 0x200000 });
        expect(on(next, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(0);
        expect(on(next, 0, TLB_LOCAL_MM_SHOOTDOWN)).toHaveLength(1);
      }
    });
  }

  it('a kernel thread leaves the CPU lazy as the idle task does; a later switch to another process loads its mm', () => {
    for (const preset of ['linux-6.12', 'linux-6.18']) {
      const { step, mm, e } = setup(preset);
      step({ kind: 'run', on: false, idle: true, tid: B, cpu: 1 });
      step({ kind: 'switch-other', tid: A, cpu: 1 });
      expect(cpu_tlbstate(e.k, 1)).toMatchObject({ loaded: 'other', lazy: false });
      expect(mm.cpumask.has(1)).toBe(preset === 'linux-6.18');
    }
  });
});

describe('x86 flush targets: the other thread left for another process', () => {
  it('6.12: the CPU leaves mm_cpumask at the switch (switch_mm_irqs_off()): no IPI at all', () => {
    const { step, mm } = setup('linux-6.12');
    step({ kind: 'run', on: false, idle: false, tid: B, cpu: 1 });
    expect(mm.cpumask.has(1)).toBe(false);
    const fs = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(0);
    expect(on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN)).toHaveLength(1);
  });

  it('6.18: the CPU stays in the mask; should_flush_tlb() skips it until page tables are freed, then it is trimmed', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'run', on: false, idle: false, tid: B, cpu: 1 });
    expect(mm.cpumask.has(1)).toBe(true);
    const dontneed = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    expect(on(dontneed, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
    expect(on(dontneed, 1)).toHaveLength(0);
    expect(mm.cpumask.has(1)).toBe(true);
    const unmap = step({ kind: 'munmap', addr: BASE, len: 0x200000 });
    const wrong = on(unmap, 1, TLB_REMOTE_WRONG_CPU);
    expect(wrong).toHaveLength(1);
    // Traced in the other process's task: a capture of the workload does not hold it.
    expect(wrong[0]!.offTask).toBe(true);
    expect(mm.cpumask.has(1)).toBe(false);
  });

  it('6.18: once a second a flush also trims a CPU on another mm (should_trim_cpumask())', () => {
    const { step, mm, e } = setup('linux-6.18');
    step({ kind: 'run', on: false, idle: false, tid: B, cpu: 1 });
    const late = { at: { index: 1e6, line: 1e6, tsNs: (mm.next_trim_cpumask ?? 0) + 1 } };
    e.k.op = { kind: 'marker', tid: A, tgid: A, cpu: 0, verb: 'note', text: '', ...late } as unknown as Op;
    e.k.cpu = 0;
    e.k.out = [];
    flush_tlb_mm_range(e.k, mm, BASE, BASE + 0x1000);
    const fs = e.k.out as Flush[];
    expect(on(fs, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(1);
    expect(mm.cpumask.has(1)).toBe(false);
  });
});

describe('batched (deferred) flush: arch_tlbbatch_flush() has no mm', () => {
  function batched(preset: string, helper: 'running' | 'other' | 'idle') {
    const { step, mm, e } = setup(preset);
    if (helper === 'other') step({ kind: 'run', on: false, idle: false, tid: B, cpu: 1 });
    if (helper === 'idle') step({ kind: 'run', on: false, idle: true, tid: B, cpu: 1 });
    const k = e.k;
    k.cpu = 0;
    k.tid = A;
    k.out = [];
    const f = [...k.folios][0]!;
    const defer = should_defer_flush(k, mm, true);
    if (defer) set_tlb_ubc_flush_pending(k, mm, BASE, BASE + 0x1000, false, f);
    try_to_unmap_flush(k);
    return { defer, fs: k.out as Flush[], mm, k };
  }

  it('6.18: a CPU left on another mm keeps reclaim deferring and gets every batched flush (no wrong-CPU trim)', () => {
    const { defer, fs, mm } = batched('linux-6.18', 'other');
    expect(defer).toBe(true);
    expect(on(fs, 0, TLB_REMOTE_SEND_IPI).map((x) => x.pages)).toEqual([-1]);
    expect(on(fs, 0, TLB_LOCAL_SHOOTDOWN).map((x) => x.pages)).toEqual([-1]);
    const remote = on(fs, 1, TLB_REMOTE_SHOOTDOWN);
    expect(remote).toHaveLength(1);
    expect(remote[0]!.offTask).toBe(true);
    expect(mm.cpumask.has(1)).toBe(true);
  });

  it('a lazy CPU is skipped by the batched flush; flush_tlb_batched_pending() (freed_tables) reaches it', () => {
    for (const preset of ['linux-6.12', 'linux-6.18']) {
      const { defer, fs, mm, k } = batched(preset, 'idle');
      expect(defer).toBe(true);
      expect(on(fs, 1)).toHaveLength(0);
      k.out = [];
      flush_tlb_batched_pending(k, mm);
      const pending = k.out as Flush[];
      expect(on(pending, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(on(pending, 1).map((x) => x.reason)).toEqual([0]);
      expect(cpu_tlbstate(k, 1).loaded).toBe('init');
    }
  });

  it('6.12: a CPU that left for another process is out of the mask: no deferral', () => {
    const { defer, fs } = batched('linux-6.12', 'other');
    expect(defer).toBe(false);
    expect(fs).toHaveLength(0);
  });
});

describe('exit', () => {
  for (const preset of ['linux-6.12', 'linux-6.18']) {
    it(`${preset}: exit_mmap() runs after exit_mm() made the CPU lazy: no local shootdown is traced, the lazy CPU switches to init_mm`, () => {
      const { step, e } = setup(preset);
      step({ kind: 'exit', tid: B, cpu: 1 });
      step({ kind: 'run', on: false, idle: true, tid: B, cpu: 1 });
      const fs = step({ kind: 'exit' });
      expect(on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN)).toHaveLength(0);
      expect(cpu_tlbstate(e.k, 0).loaded).toBe('init');
      // The helper's CPU still held the mm lazily: the exit's table-freeing flush reaches it.
      expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
      expect(cpu_tlbstate(e.k, 1).loaded).toBe('init');
    });
  }
});

describe('a switch recorded inside an op', () => {
  it('the op runs with its mm loaded on its CPU, and the switch stands after it', () => {
    const { step, mm, e } = setup('linux-6.12');
    // A's switch to another process came in the middle of the munmap (handed on before it).
    step({ kind: 'run', on: false, idle: false });
    const fs = step({ kind: 'munmap', addr: BASE + 0x200000, len: 0x200000 });
    expect(on(fs, 0, TLB_LOCAL_MM_SHOOTDOWN)).toHaveLength(1);
    expect(cpu_tlbstate(e.k, 0).loaded).toBe('other');
    expect(mm.cpumask.has(0)).toBe(false);
  });
});

describe('a flush IPI in flight while its target switched to another process', () => {
  // A (CPU0) flushes while B's CPU1 switches to another process's task in the middle of A's op.
  const race = (preset: string) => {
    const { e, step, mm } = setup(preset);
    step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    step({ kind: 'run', on: false, tid: B, cpu: 1, ours: false, overlaps: true });
    step({ kind: 'fault', addr: BASE + 0x1000, write: true, allocs: [] });
    const next = step({ kind: 'madvise', addr: BASE + 0x1000, len: 0x1000, advice: 'MADV_DONTNEED' });
    return { e, step, mm, next };
  };

  it('6.18: the next send depends on which side the IPI landed (uncertain), until a task of the mm runs there again', () => {
    const { step, mm, next } = race('linux-6.18');
    expect(mm.cpumaskUncertain?.has(1)).toBe(true);
    expect(on(next, 0, TLB_REMOTE_SEND_IPI).map((f) => f.uncertain)).toEqual(['ipi']);
    expect(on(next, 0, TLB_LOCAL_MM_SHOOTDOWN).map((f) => f.uncertain)).toEqual([undefined]);
    step({ kind: 'run', on: true, tid: B, cpu: 1 });
    step({ kind: 'fault', addr: BASE + 0x2000, write: true, allocs: [] });
    const after = step({ kind: 'madvise', addr: BASE + 0x2000, len: 0x1000, advice: 'MADV_DONTNEED' });
    expect(on(after, 0, TLB_REMOTE_SEND_IPI).map((f) => f.uncertain)).toEqual([undefined]);
  });

  it('6.12: the switch itself takes the CPU out of mm_cpumask: nothing is uncertain', () => {
    const { mm, next } = race('linux-6.12');
    expect(mm.cpumaskUncertain?.size ?? 0).toBe(0);
    expect(on(next, 0, TLB_REMOTE_SEND_IPI)).toEqual([]);
  });

  it('6.18: a switch that did not overlap a sending op leaves nothing uncertain', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    step({ kind: 'run', on: false, tid: B, cpu: 1, ours: false });
    expect(mm.cpumaskUncertain?.size ?? 0).toBe(0);
  });
});

describe('flush-IPI arrivals the capture recorded in other processes (record\'s second instance)', () => {
  it('6.18: an op whose IPI reached CPU1 on another mm (ipiLeft) takes CPU1 out of mm_cpumask; later flushes stay local', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'run', on: false, tid: B, cpu: 1, ours: false });
    const fs = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED', ipiLeft: [1] });
    expect(on(fs, 0, TLB_REMOTE_SEND_IPI)).toHaveLength(1);
    expect(on(fs, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(1);
    expect(mm.cpumask.has(1)).toBe(false);
    step({ kind: 'fault', addr: BASE + 0x1000, write: true, allocs: [] });
    const next = step({ kind: 'madvise', addr: BASE + 0x1000, len: 0x1000, advice: 'MADV_DONTNEED' });
    expect(on(next, 0, TLB_REMOTE_SEND_IPI)).toEqual([]);
  });

  it('6.18: without ipiLeft the CPU on another mm is skipped and stays in the mask', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'run', on: false, tid: B, cpu: 1, ours: false });
    const fs = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    expect(on(fs, 1)).toEqual([]);
    expect(mm.cpumask.has(1)).toBe(true);
  });

  it('6.18: with every task\'s flushes recorded, a switch during a sending op leaves nothing uncertain', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'capture', wide: ['tlb:tlb_flush'] });
    step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED' });
    step({ kind: 'run', on: false, tid: B, cpu: 1, ours: false, overlaps: true });
    expect(mm.cpumaskUncertain?.size ?? 0).toBe(0);
  });
});

describe('an ipiLeft CPU the model still has on the mm lazily', () => {
  it('6.18: the record says the IPI found another mm there (init_mm after an unseen flush): it leaves the mask', () => {
    const { step, mm } = setup('linux-6.18');
    step({ kind: 'run', on: false, tid: B, cpu: 1, idle: true });
    const fs = step({ kind: 'madvise', addr: BASE, len: 0x1000, advice: 'MADV_DONTNEED', ipiLeft: [1] });
    expect(on(fs, 1, TLB_REMOTE_WRONG_CPU)).toHaveLength(1);
    expect(mm.cpumask.has(1)).toBe(false);
  });
});
