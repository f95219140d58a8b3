import { describe, expect, it } from 'vitest';
import { specialLine } from './special-lines.js';

describe('special lines', () => {
  it('reads every spelling of lost events', () => {
    expect(specialLine('CPU:1 [LOST 123 EVENTS]')).toEqual({ kind: 'lost', cpu: 1, count: 123 });
    expect(specialLine('CPU:0 [LOST EVENTS]')).toEqual({ kind: 'lost', cpu: 0, count: null });
    expect(specialLine('CPU:3 [45 EVENTS DROPPED]')).toEqual({ kind: 'lost', cpu: 3, count: 45 });
    expect(specialLine('CPU:2 [EVENTS DROPPED]')).toEqual({ kind: 'lost', cpu: 2, count: null });
  });

  it('reads tracefs and trace-cmd headers', () => {
    expect(specialLine('# tracer: nop')).toMatchObject({ kind: 'comment', tracer: 'nop' });
    expect(specialLine('# entries-in-buffer/entries-written: 14996/15000   #P:2')).toMatchObject({ entries: 14996, written: 15000, cpus: 2 });
    expect(specialLine('##### CPU 1 buffer started ####')).toEqual({ kind: 'buffer-started', cpu: 1 });
    expect(specialLine('cpus=2')).toEqual({ kind: 'trace-cmd-header', cpus: 2 });
    expect(specialLine('version = 6')).toEqual({ kind: 'trace-cmd-header' });
    expect(specialLine('')).toEqual({ kind: 'blank' });
  });

  it('leaves event lines alone', () => {
    expect(specialLine(' bash-1 [000] ..... 1.0: tlb_flush: pages:1 reason:x (3)')).toBeUndefined();
    expect(specialLine('CPU:1 [LOST many EVENTS]')).toBeUndefined();
  });
});
