/**
 * Generic `key=value` / `key:value` decoding, for events with no format file or whose payload
 * does not match it. A chevrotain lexer splits the payload into keys and words; a value runs
 * from its key to the next key, so values with spaces survive (`reason=flush on task switch (0)`).
 * This is the slow, forgiving path; events decoded here are counted as "fallback".
 */
import type { IToken } from 'chevrotain';
import { createToken, Lexer } from '../../core/chevrotain.js';
import { parseNumber, type Fields } from '../format/compile.js';

const Spaces = createToken({ name: 'Spaces', pattern: /[ \t]+/ });
/** A key: a name directly followed by `=` or `:`, at the start or after whitespace/comma. */
const Key = createToken({
  name: 'Key',
  pattern: /[A-Za-z_][A-Za-z0-9_.]*(?:=|: ?)/,
});
const Comma = createToken({ name: 'Comma', pattern: /,/ });
const WORD_START: string[] = [];
for (let c = 33; c < 256; c++) if (c !== 44 && c !== 127) WORD_START.push(String.fromCharCode(c));
const Word = createToken({ name: 'Word', pattern: /[^ \t,]+/, start_chars_hint: WORD_START });

/** Built on first use: only a payload no format decodes needs it (~25 ms of start-up otherwise). */
let built: InstanceType<typeof Lexer> | undefined;
export function genericLexer(): InstanceType<typeof Lexer> {
  return (built ??= new Lexer([Spaces, Key, Comma, Word], {
    ensureOptimizations: true,
    positionTracking: 'onlyOffset',
  }));
}

function typed(v: string): number | string {
  if (/^-?\d{1,15}$/.test(v)) return Number(v);
  if (/^0x[0-9a-fA-F]+$/.test(v)) return parseNumber(v, 16, undefined);
  return v;
}

export function decodeGeneric(payload: string): Fields {
  const out: Fields = {};
  const { tokens } = genericLexer().tokenize(payload);
  let key: string | undefined;
  let valStart = -1;
  let valEnd = -1;
  let loose = 0;
  const flush = (): void => {
    if (key === undefined) return;
    const v = valStart >= 0 ? payload.slice(valStart, valEnd).replace(/,$/, '') : '';
    out[key] = typed(v);
  };
  let prev: IToken | undefined;
  for (const t of tokens) {
    const startsKey = t.tokenType === Key && (prev === undefined || prev.tokenType === Spaces || prev.tokenType === Comma);
    if (startsKey) {
      flush();
      key = t.image.replace(/[=:] ?$/, '');
      valStart = -1;
    } else if (t.tokenType !== Spaces) {
      if (key === undefined) {
        out[`_${loose++}`] = typed(t.image);
      } else {
        if (valStart < 0) valStart = t.startOffset;
        valEnd = t.startOffset + t.image.length;
      }
    }
    prev = t;
  }
  flush();
  return out;
}
