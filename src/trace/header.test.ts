import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isScanError, LineKind, newScratch, scanHeader, scanInto, scanRange, type ScannedHeader } from './header.js';
import { lexLine } from './line-lexer.js';

function ok(line: string, pad = false): ScannedHeader {
  const h = scanHeader(line, pad);
  if (isScanError(h)) throw new Error(`scan failed at ${h.col}: ${h.message}`);
  return h;
}

describe('line header scanner', () => {
  it('reads the tracefs layout with the latency column', () => {
    const h = ok(' s1_mthp64k_lazy-18983   [001] d..3.  4360.330646: tlb_flush: pages:1 reason:local MM shootdown (3)');
    expect(h).toMatchObject({ comm: 's1_mthp64k_lazy', pid: 18983, cpu: 1, lat: 'd..3.', ts: '4360.330646', tsNs: 4360330646000, name: 'tlb_flush', kind: LineKind.Event });
    expect(h.payload).toBe('pages:1 reason:local MM shootdown (3)');
    expect(h.tgid).toBeUndefined();
  });

  it('reads the -tgid column, known and unknown', () => {
    expect(ok('           bash-1234    (   1200) [000] ....   12.000001: x: y')).toMatchObject({ comm: 'bash', pid: 1234, tgid: 1200, lat: '....' });
    expect(ok('           bash-1234    (-------) [000] ....   12.000001: x: y').tgid).toBeUndefined();
  });

  it('reads lines without a latency column, and nanosecond timestamps', () => {
    expect(ok('            bash-1234  [002]    12.000000123: x: y')).toMatchObject({ cpu: 2, lat: '', tsNs: 12000000123 });
  });

  it('keeps task names with spaces, dashes and slashes', () => {
    expect(ok(' kworker/u4:1-events_unbound-123  [000] ..... 1.5: x: y')).toMatchObject({ comm: 'kworker/u4:1-events_unbound', pid: 123 });
    expect(ok('   my task-with-dashes-42 [001] ..... 1.5: x: y')).toMatchObject({ comm: 'my task-with-dashes', pid: 42 });
    expect(ok('<...>-7 [001] ..... 1.5: x: y')).toMatchObject({ comm: '<...>', pid: 7 });
  });

  it('reads the syscall enter and exit forms', () => {
    const e = ok(' a-1 [001] ..... 1.5: sys_madvise(start: 0x7f, len_in: 0x200000, behavior: 0x15)');
    expect(e).toMatchObject({ kind: LineKind.SyscallEnter, name: 'sys_madvise', payload: 'start: 0x7f, len_in: 0x200000, behavior: 0x15' });
    const x = ok(' a-1 [001] ..... 1.5: sys_madvise -> 0x0');
    expect(x).toMatchObject({ kind: LineKind.SyscallExit, name: 'sys_madvise', payload: '0x0' });
  });

  it('skips trace-cmd padding after the event name only when asked', () => {
    expect(ok(' a-1 [001]  4360.330584: mm_page_alloc:        page=0x1', true).payload).toBe('page=0x1');
    expect(ok(' a-1 [001]  4360.330584: x:  two', false).payload).toBe(' two');
  });

  it('says where a malformed header goes wrong', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['garbage', 0, /TASK-PID \[CPU\]/],
      [' a-1 [001] ..... 1.5 x: y', 17, /timestamp/],
      [' a-1 [001] ..... 1.5: : y', 22, /event name/],
      [' a-x [001] ..... 1.5: e: y', 3, /PID/],
      [' a-1 [001] ..... 1.5: e y', 23, /`:`/],
    ];
    for (const [line, col, msg] of cases) {
      const h = scanHeader(line, false);
      expect(isScanError(h), line).toBe(true);
      if (isScanError(h)) {
        expect(h.col, line).toBe(col);
        expect(h.message).toMatch(msg);
      }
    }
  });

  it('reads a line in place in its chunk of text as it reads the line alone', () => {
    // Lines of real shapes and damaged ones, between other lines: the scan must not look past
    // the line's end (a `:`, `(` or space of the next line) or before its start.
    const real = [
      '  s1_mthp64k_lazy-18983   [001] .....  4360.330584: mm_page_alloc: page=0x1 pfn=0x2 order=0',
      '           <idle>-0       [000] d.h1.   12.000001: tlb_flush: pages:1 reason:remote shootdown (1)',
      '  s1_mthp64k_lazy-18983   [001] .....  4360.331493: sys_brk(brk: 0)',
      '  s1_mthp64k_lazy-18983   [001] .....  4360.331494: sys_brk -> 0x18075000',
      '            bash-1234    (   1234) [000] d..1.   12.000001: tlb_flush: pages:1',
      ' s1_mthp64k_lazy-18983 [001]  4360.330584: mm_page_alloc:        page=0x133689',
      '  a-1 [001] 1.5: sys_x',
      '  a-1 [001] 1.5: sys_x -',
      '  a-1 [001] 1.5: sys_x(',
      '  a-1 [001] 1.5:',
    ];
    const line = fc.oneof(fc.constantFrom(...real), fc.string({ maxLength: 80 }), fc.constantFrom(...real).chain((l) => fc.nat(l.length).map((n) => l.slice(0, n))));
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), line, fc.constantFrom('\n', '\r\n', ''), fc.string({ maxLength: 30 }), fc.boolean(), (before, l, end, after, pad) => {
        fc.pre(!l.includes('\n') && !l.endsWith('\r') && !before.includes('\n') && !after.includes('\n'));
        // The line ends at a newline, a CR before it (not part of the line), or the text's end.
        const text = `${before}\n${l}${end}${end === '' ? '' : after}`;
        const start = before.length + 1;
        const a = newScratch();
        const b = newScratch();
        const okA = scanInto(l, pad, a);
        const okB = scanRange(text, start, start + l.length, pad, b);
        expect(okB).toBe(okA);
        if (!okA) return;
        for (const k of ['commStart', 'commEnd', 'nameStart', 'nameEnd', 'tsStart', 'tsEnd', 'payloadStart', 'payloadEnd'] as const) expect(b[k] - start, k).toBe(a[k]);
        expect(b.latEnd - b.latStart).toBe(a.latEnd - a.latStart);
        if (a.latEnd > a.latStart) expect(b.latStart - start).toBe(a.latStart);
        expect([b.pid, b.tgid, b.cpu, b.tsNs, b.tsFrac, b.kind]).toEqual([a.pid, a.tgid, a.cpu, a.tsNs, a.tsFrac, a.kind]);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws, whatever the line', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => { scanHeader(s, false); scanHeader(s, true); lexLine(s); }), { numRuns: 3000 });
  });

  it('agrees with the chevrotain line lexer on generated well-formed lines', () => {
    const comm = fc.stringMatching(/^[a-zA-Z0-9_/:.<>-]([a-zA-Z0-9_/: .<>-]{0,14}[a-zA-Z0-9_/:.<>])?$/);
    const line = fc.record({
      comm,
      pid: fc.integer({ min: 0, max: 4194304 }),
      cpu: fc.integer({ min: 0, max: 255 }),
      lat: fc.constantFrom('', 'd..1.', '.....', 'dNh2.', 'X..1'),
      secs: fc.integer({ min: 0, max: 999999 }),
      frac: fc.stringMatching(/^\d{6}$/),
      name: fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/),
      payload: fc.stringMatching(/^[ -~]{0,60}$/),
    });
    fc.assert(
      fc.property(line, (l) => {
        const text = `${l.comm.padStart(16)}-${l.pid} [${String(l.cpu).padStart(3, '0')}] ${l.lat}${l.lat ? ' ' : ''}${l.secs}.${l.frac}: ${l.name}: ${l.payload}`;
        const h = ok(text);
        const x = lexLine(text);
        expect(x.error).toBeUndefined();
        expect([h.comm, h.pid, h.cpu, h.ts, h.name, h.payload]).toEqual([x.comm!.trimStart(), x.pid, x.cpu, x.ts, x.name, x.payload]);
        expect(h.comm).toBe(l.comm);
        expect(h.lat).toBe(l.lat);
      }),
      { numRuns: 2000 },
    );
  });
});
