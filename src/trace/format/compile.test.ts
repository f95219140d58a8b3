import { describe, expect, it } from 'vitest';
import { FormatRegistry } from './registry.js';
import { grammarsDir } from '../../paths.js';
import { compileDecoder, parseNumber, splitFormat } from './compile.js';
import { parseFormatFile } from './format-file.js';

const reg = FormatRegistry.fromDirectory(grammarsDir);
const R618 = '6.18.44-fc-v669';
const R61 = '6.1.0-56-cloud-amd64';

function decode(name: string, payload: string, release = R618) {
  const d = reg.decoders(name, release)[0]!;
  expect(d.format.release).toBe(release);
  return d.decode(payload);
}

describe('print fmt decoders on real payloads', () => {
  it('tlb_flush: pages signed, reason as name and number', () => {
    expect(decode('tlb_flush', 'pages:-1 reason:flush on task switch (0)')).toEqual({ pages: -1, reason: { value: 0, name: 'flush on task switch' } });
    expect(decode('tlb_flush', 'pages:16 reason:local MM shootdown (3)')).toEqual({ pages: 16, reason: { value: 3, name: 'local MM shootdown' } });
    expect(decode('tlb_flush', 'pages:1 reason:local mm shootdown (3)', R61)).toEqual({ pages: 1, reason: { value: 3, name: 'local mm shootdown' } });
  });

  it('rss_stat: the member symbol and the size in bytes', () => {
    expect(decode('rss_stat', 'mm_id=2263919243 curr=1 type=MM_ANONPAGES size=172032B')).toEqual({
      mm_id: 2263919243, curr: 1, member: { value: 1, name: 'MM_ANONPAGES' }, size: 172032,
    });
  });

  it('mm_page_alloc: hex pfn, order, gfp flags resolved to their mask', () => {
    const f = decode('mm_page_alloc', 'page=00000000ab082aa9 pfn=0x133689 order=9 migratetype=1 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP')!;
    expect(f.pfn).toBe(0x133689);
    expect(f.order).toBe(9);
    expect(f.page).toBe('00000000ab082aa9');
    expect(f.gfp_flags).toMatchObject({ flags: ['GFP_KERNEL_ACCOUNT', '__GFP_ZERO', '__GFP_COMP'] });
    // The 6.18 format file defines __GFP_ZERO as 1<<8, __GFP_COMP as 1<<18 and GFP_KERNEL_ACCOUNT
    // as bits 10|11|6|7|22: the value is exactly their union.
    const v = (f.gfp_flags as { value: number }).value;
    // Flag texts are resolved once and then remembered: a later payload gets its own array.
    (f.gfp_flags as { flags: string[] }).flags.push('changed by a consumer');
    const again = decode('mm_page_alloc', 'page=00000000ab082aa9 pfn=0x1 order=0 migratetype=1 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP')!;
    expect(again.gfp_flags).toEqual({ value: v, flags: ['GFP_KERNEL_ACCOUNT', '__GFP_ZERO', '__GFP_COMP'] });
    expect(v).toBe((1 << 8) | (1 << 18) | (1 << 10) | (1 << 11) | (1 << 6) | (1 << 7) | (1 << 22));
  });

  it('mm_lru_insertion: one flags word rebuilt from six ternaries', () => {
    expect(decode('mm_lru_insertion', 'folio=0000000025285670 pfn=0x118850 lru=0 flags=Ma bd ')).toMatchObject({ lru: 0, flags: 0x1 | 0x2 | 0x10 | 0x20 });
    expect(decode('mm_lru_insertion', 'folio=0000000025285670 pfn=0x118850 lru=3 flags= f  d ')).toMatchObject({ lru: 3, flags: 0x20 });
  });

  it('sched_switch: prev_state flags through a mask, and the empty state', () => {
    expect(decode('sched_switch', 'prev_comm=a b prev_pid=1 prev_prio=120 prev_state=D ==> next_comm=swapper/1 next_pid=0 next_prio=120')).toMatchObject({
      prev_comm: 'a b', prev_state: { value: 2, flags: ['D'] }, next_comm: 'swapper/1',
    });
    expect(decode('sched_switch', 'prev_comm=x prev_pid=1 prev_prio=120 prev_state=R+ ==> next_comm=y next_pid=2 next_prio=120')).toMatchObject({
      prev_state: { value: 256 },
    });
  });

  it('page_fault_user: %ps of an address with no symbol gives a number', () => {
    expect(decode('page_fault_user', 'address=0x7fd522120000 ip=0x424efa error_code=0x6')).toEqual({
      address: 0x7fd522120000, ip: 0x424efa, error_code: 6,
    });
  });

  it('syscall print fmt (trace-cmd form): zero-padded hex and a signed return value', () => {
    expect(decode('sys_enter_madvise', 'start: 0x7fd51f800000, len_in: 0x08000000, behavior: 0x00000008')).toEqual({
      start: 0x7fd51f800000, len_in: 0x8000000, behavior: 8,
    });
    expect(decode('sys_exit_mmap', '0xfffffffffffffff4')).toEqual({ ret: -12 });
  });

  it('refuses a payload that does not match', () => {
    expect(decode('tlb_flush', 'pages=16 reason=local MM shootdown (3)')).toBeUndefined();
    expect(decode('rss_stat', 'mm_id=1 curr=1 type=MM_ANONPAGES size=4096')).toBeUndefined();
  });
});

describe('format string splitting and numbers', () => {
  it('splits conversions, %% and %p extensions', () => {
    const segs = splitFormat('%ps: %s 100%% %08lx %-5d');
    expect(segs.filter((s) => 'conv' in s).map((s) => ('conv' in s ? s.conv.type + s.conv.ext : ''))).toEqual(['ps', 's', 'x', 'd']);
    expect(segs.some((s) => 'lit' in s && s.lit.includes('100%'))).toBe(true);
  });

  it('handles widths: right- and left-justified padding', () => {
    const f = parseFormatFile('name: t\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:int b;\toffset:12;\tsize:4;\tsigned:1;\n\nprint fmt: "a=%5d|b=%-4d|", REC->a, REC->b\n', 't', 's', 'r');
    const d = compileDecoder(f)!;
    expect(d.decode('a=   42|b=7   |')).toEqual({ a: 42, b: 7 });
  });

  it('keeps 64-bit values exact: signed words become negative, huge unsigned stay text', () => {
    const signed = { name: 'ret', type: 'long', offset: 0, size: 8, signed: true, isString: false };
    expect(parseNumber('ffffffffffffffff', 16, signed)).toBe(-1);
    expect(parseNumber('0xffffffffffffffff', 16, undefined)).toBe('0xffffffffffffffff');
    expect(parseNumber('7fd51f800000', 16, undefined)).toBe(0x7fd51f800000);
    expect(parseNumber('-42', 10, undefined)).toBe(-42);
  });
});
