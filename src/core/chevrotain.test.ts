import { describe, expect, it } from 'vitest';
import * as entry from 'chevrotain';
import { chevrotainSource, createToken, Lexer } from './chevrotain.js';

describe('chevrotain loader', () => {
  it('loads the single-file build (fast start) and it lexes like the package entry point', () => {
    expect(chevrotainSource).toBe('bundle');
    const lex = (ct: typeof createToken, L: typeof Lexer): string[] => {
      const Word = ct({ name: 'Word', pattern: /[a-z]+/ });
      const Space = ct({ name: 'Space', pattern: / +/, group: L.SKIPPED });
      return new L([Word, Space]).tokenize('tlb flush pages').tokens.map((t) => t.image);
    };
    expect(lex(createToken, Lexer)).toEqual(['tlb', 'flush', 'pages']);
    expect(lex(createToken, Lexer)).toEqual(lex(entry.createToken, entry.Lexer));
  });
});
