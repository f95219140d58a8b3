/**
 * Syscall events as the tracefs `trace` file prints them. The kernel does not use the print
 * fmt of `syscalls/sys_enter_*` here (kernel/trace/trace_syscalls.c prints its own text):
 *
 *   sys_madvise(start: 7f7a11e00000, len_in: 10000000, behavior: e)       6.1 / 6.12: hex, no 0x
 *   sys_madvise(start: 0x7f80a3600000, len_in: 0x200000, behavior: 0x15)  6.18: with 0x
 *   sys_madvise -> 0x0                                                     exit: return value
 *
 * Every argument is printed in hex whatever its type; the return value is a `long` printed as
 * an unsigned hex word, so `0xfffffffffffffff4` is -12 (-ENOMEM).
 */
import type { EventFormat } from '../format/format-file.js';
import { parseNumber, type Fields } from '../format/compile.js';

const RET_FIELD = { name: 'ret', type: 'long', offset: 0, size: 8, signed: true, isString: false };

export function decodeSyscallEnter(args: string, format: EventFormat | undefined): Fields | undefined {
  const out: Fields = {};
  if (args.trim() === '') return out;
  for (const part of args.split(', ')) {
    const colon = part.indexOf(': ');
    if (colon <= 0) return undefined;
    const key = part.slice(0, colon);
    const val = part.slice(colon + 2).trim();
    if (!/^(?:0x)?[0-9a-fA-F]+$/.test(val)) return undefined;
    const fd = format?.fieldByName.get(key);
    out[key] = parseNumber(val, 16, fd);
  }
  return out;
}

export function decodeSyscallExit(ret: string): Fields | undefined {
  if (!/^(?:0x)?[0-9a-fA-F]+$/.test(ret) && !/^-?\d+$/.test(ret)) return undefined;
  const hex = ret.startsWith('0x') || /[a-fA-F]/.test(ret);
  return { ret: parseNumber(ret, hex ? 16 : 10, RET_FIELD) };
}
