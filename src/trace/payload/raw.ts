/**
 * Raw field payloads, typed by the event's format file:
 *
 *   tlb_flush:            [FAILED TO PARSE] reason=3 pages=16    (libtraceevent could not print it)
 *   tlb_flush:            reason=3 pages=16                      (`trace-cmd report -R`)
 *
 * Values are numbers (decimal or 0x-hex) or, for string fields, text. Fields with a symbol
 * table in the print fmt get their name attached, as the printed form would have had it.
 */
import type { CompiledDecoder, Fields } from '../format/compile.js';
import { parseNumber } from '../format/compile.js';

export const FAILED_TO_PARSE = '[FAILED TO PARSE]';

export function decodeRaw(payload: string, decoder: CompiledDecoder, strict: boolean): Fields | undefined {
  const fmt = decoder.format;
  let text = payload;
  if (text.startsWith(FAILED_TO_PARSE)) text = text.slice(FAILED_TO_PARSE.length);
  const out: Fields = {};
  const re = /(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g;
  let n = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const key = m[1]!;
    const val = m[2]!;
    const fd = fmt.fieldByName.get(key);
    if (!fd) {
      if (strict) return undefined;
      out[key] = val;
      continue;
    }
    n++;
    if (fd.isString) { out[key] = val; continue; }
    const hex = /^-?0x/i.test(val);
    const num = parseNumber(val, hex ? 16 : 10, fd);
    const table = decoder.symbolTables.get(key);
    if (table && typeof num === 'number') {
      const hit = table.find(([v]) => v !== undefined && Number(v) === num);
      out[key] = hit ? { value: num, name: hit[1] } : num;
    } else out[key] = num;
  }
  return n > 0 ? out : undefined;
}
