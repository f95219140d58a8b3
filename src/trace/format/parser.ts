/**
 * Parser of the `print fmt` language (see tokens.ts): a string literal, then comma-separated
 * C expressions. Produces a small expression tree (PrintArg) that compile.ts turns into a
 * payload decoder, the way libtraceevent's event_read_print()/process_arg() build print_args.
 *
 * One parser instance for the whole program (chevrotain's recommended singleton), with
 * recovery on, so a malformed format yields diagnostics and whatever could be read.
 */
import type { IToken, TokenType } from 'chevrotain';
import { EmbeddedActionsParser } from '../../core/chevrotain.js';
import * as T from './tokens.js';

export type Expr =
  | { k: 'str'; v: string }
  | { k: 'num'; v: bigint; text: string }
  | { k: 'char'; v: bigint }
  | { k: 'id'; name: string }
  | { k: 'member'; obj: Expr; name: string }
  | { k: 'index'; obj: Expr; idx: Expr }
  | { k: 'call'; fn: string; args: Expr[] }
  | { k: 'cast'; type: string; e: Expr }
  | { k: 'un'; op: string; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'cond'; c: Expr; a: Expr; b: Expr }
  | { k: 'list'; items: Expr[] }
  | { k: 'bad' };

export interface PrintFmtAst {
  fmt: string;
  args: Expr[];
}

const TYPE_WORDS = new Set([
  'unsigned', 'signed', 'long', 'int', 'short', 'char', 'void', 'struct', 'union', 'enum', 'const',
  'volatile', 'bool', '_Bool', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', '__u8', '__u16',
  '__u32', '__u64', '__s8', '__s16', '__s32', '__s64', 'size_t', 'ssize_t', 'pid_t', 'uid_t', 'gid_t',
]);

function isTypeWord(name: string): boolean {
  return TYPE_WORDS.has(name) || name.endsWith('_t');
}

function unescapeC(lit: string): string {
  const body = lit.slice(1, -1);
  if (!body.includes('\\')) return body;
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        return String.fromCharCode(parseInt(e, 8));
      case 'x': return String.fromCharCode(parseInt(e.slice(1), 16));
      default: return e;
    }
  });
}

function parseNum(text: string): bigint {
  const digits = text.replace(/[uUlL]+$/, '');
  return BigInt(digits);
}

const BINARY_LEVELS: TokenType[][] = [
  [T.OrOr],
  [T.AndAnd],
  [T.Pipe],
  [T.Caret],
  [T.Amp],
  [T.EqEq, T.NotEq],
  [T.Lt, T.Gt, T.Le, T.Ge],
  [T.Shl, T.Shr],
  [T.Plus, T.Minus],
  [T.Star, T.Slash, T.Percent],
];

class PrintFmtParser extends EmbeddedActionsParser {
  /**
   * `validate`: check the grammar itself (ambiguities, left recursion) while building the
   * parser. The grammar is a constant, so the check is made by a test (checkPrintFmtGrammar)
   * and skipped at run time, where it cost every command ~40 ms before any work.
   */
  constructor(validate = false) {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, skipValidations: !validate });
    this.performSelfAnalysis();
  }

  public printFmt = this.RULE('printFmt', (): PrintFmtAst => {
    let fmt = '';
    this.AT_LEAST_ONE(() => {
      const t = this.CONSUME(T.StringLiteral);
      this.ACTION(() => { fmt += unescapeC(t.image); });
    });
    const args: Expr[] = [];
    this.MANY(() => {
      this.CONSUME(T.Comma);
      args.push(this.SUBRULE(this.expr));
    });
    return { fmt, args };
  });

  public expr = this.RULE('expr', (): Expr => this.SUBRULE(this.conditional));

  private conditional = this.RULE('conditional', (): Expr => {
    const c = this.SUBRULE(this.lor);
    let out: Expr = c;
    this.OPTION(() => {
      this.CONSUME(T.Question);
      const a = this.SUBRULE(this.expr);
      this.CONSUME(T.Colon);
      const b = this.SUBRULE2(this.conditional);
      out = { k: 'cond', c, a, b };
    });
    return out;
  });

  /** One rule per C precedence level (chevrotain records rules without arguments). */
  private level(name: string, ops: TokenType[], next: () => (idx?: number) => Expr) {
    return this.RULE(name, (): Expr => {
      let left: Expr = this.SUBRULE(next());
      const alts = ops.map((tt) => ({ ALT: () => this.CONSUME(tt) }));
      this.MANY(() => {
        const op = this.OR(alts);
        const right = this.SUBRULE2(next());
        this.ACTION(() => { left = { k: 'bin', op: op.image, l: left, r: right }; });
      });
      return left;
    });
  }

  private mul = this.level('mul', BINARY_LEVELS[9]!, () => this.unary);
  private add = this.level('add', BINARY_LEVELS[8]!, () => this.mul);
  private shift = this.level('shift', BINARY_LEVELS[7]!, () => this.add);
  private rel = this.level('rel', BINARY_LEVELS[6]!, () => this.shift);
  private eq = this.level('eq', BINARY_LEVELS[5]!, () => this.rel);
  private band = this.level('band', BINARY_LEVELS[4]!, () => this.eq);
  private bxor = this.level('bxor', BINARY_LEVELS[3]!, () => this.band);
  private bor = this.level('bor', BINARY_LEVELS[2]!, () => this.bxor);
  private land = this.level('land', BINARY_LEVELS[1]!, () => this.bor);
  private lor = this.level('lor', BINARY_LEVELS[0]!, () => this.land);

  private unary = this.RULE('unary', (): Expr => {
    return this.OR([
      {
        ALT: () => {
          const op = this.OR2([
            { ALT: () => this.CONSUME(T.Minus) },
            { ALT: () => this.CONSUME(T.Tilde) },
            { ALT: () => this.CONSUME(T.Bang) },
            { ALT: () => this.CONSUME(T.Star) },
            { ALT: () => this.CONSUME(T.Amp) },
            { ALT: () => this.CONSUME(T.Plus) },
          ]);
          const e = this.SUBRULE(this.unary);
          return { k: 'un', op: op.image, e } as Expr;
        },
      },
      { GATE: () => this.looksLikeCast(), ALT: () => this.SUBRULE(this.cast) },
      { ALT: () => this.SUBRULE(this.postfix) },
    ]);
  });

  private cast = this.RULE('cast', (): Expr => {
    this.CONSUME(T.LParen);
    const words: string[] = [];
    this.AT_LEAST_ONE(() => { words.push(this.CONSUME(T.Identifier).image); });
    this.MANY(() => { this.CONSUME(T.Star); words.push('*'); });
    this.CONSUME(T.RParen);
    const e = this.SUBRULE(this.unary);
    return { k: 'cast', type: words.join(' '), e };
  });

  private postfix = this.RULE('postfix', (): Expr => {
    // Under error recovery a failed subrule gives undefined: it stands as `bad` here.
    let e: Expr = this.SUBRULE(this.primary) ?? { k: 'bad' };
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Arrow);
            const n = this.CONSUME(T.Identifier);
            e = { k: 'member', obj: e, name: n.image };
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.Dot);
            const n = this.CONSUME2(T.Identifier);
            e = { k: 'member', obj: e, name: n.image };
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.LBracket);
            const idx = this.SUBRULE(this.expr);
            this.CONSUME(T.RBracket);
            e = { k: 'index', obj: e, idx };
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.LParen);
            const args: Expr[] = [];
            this.MANY_SEP({ SEP: T.Comma, DEF: () => args.push(this.SUBRULE2(this.expr)) });
            this.CONSUME(T.RParen);
            const fn = e.k === 'id' ? e.name : '?';
            e = { k: 'call', fn, args };
          },
        },
      ]);
    });
    return e;
  });

  private primary = this.RULE('primary', (): Expr => {
    return this.OR([
      { ALT: () => ({ k: 'id', name: this.CONSUME(T.Identifier).image }) as Expr },
      {
        ALT: () => {
          const t = this.CONSUME(T.NumberLiteral);
          return this.ACTION(() => ({ k: 'num', v: parseNum(t.image), text: t.image }) as Expr);
        },
      },
      {
        ALT: () => {
          let s = '';
          this.AT_LEAST_ONE(() => {
            const t = this.CONSUME(T.StringLiteral);
            this.ACTION(() => { s += unescapeC(t.image); });
          });
          return { k: 'str', v: s } as Expr;
        },
      },
      {
        ALT: () => {
          const t = this.CONSUME(T.CharLiteral);
          return this.ACTION(() => ({ k: 'char', v: BigInt(unescapeC(t.image).charCodeAt(0)) }) as Expr);
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          const e = this.SUBRULE(this.expr);
          this.CONSUME(T.RParen);
          return e;
        },
      },
      {
        ALT: () => {
          this.CONSUME(T.LBrace);
          const items: Expr[] = [];
          this.MANY_SEP({ SEP: T.Comma, DEF: () => items.push(this.SUBRULE2(this.expr)) });
          this.CONSUME(T.RBrace);
          return { k: 'list', items } as Expr;
        },
      },
    ]);
  });

  /** `(` type-words `*`* `)` followed by an operand: a C cast, not a parenthesised expression. */
  private looksLikeCast(): boolean {
    if (this.LA(1).tokenType !== T.LParen) return false;
    let i = 2;
    const words: string[] = [];
    while (this.LA(i).tokenType === T.Identifier) { words.push(this.LA(i).image); i++; }
    if (words.length === 0) return false;
    let stars = 0;
    while (this.LA(i).tokenType === T.Star) { stars++; i++; }
    if (this.LA(i).tokenType !== T.RParen) return false;
    if (words.length === 1 && stars === 0 && !isTypeWord(words[0]!)) return false;
    const next = this.LA(i + 1).tokenType;
    return (
      next === T.LParen || next === T.Identifier || next === T.NumberLiteral || next === T.StringLiteral ||
      next === T.CharLiteral || next === T.Minus || next === T.Tilde || next === T.Bang || next === T.Star ||
      next === T.Amp
    );
  }
}

const parser = new PrintFmtParser();

/** Build the parser with chevrotain's grammar validations on: throws if the grammar is faulty. */
export function checkPrintFmtGrammar(): void {
  new PrintFmtParser(true);
}

export interface PrintFmtError {
  message: string;
  /** 0-based character offset into the print fmt text. */
  offset: number;
}

export function parsePrintFmt(text: string): { ast: PrintFmtAst | undefined; errors: PrintFmtError[] } {
  const lex = T.printFmtLexer.tokenize(text);
  const errors: PrintFmtError[] = lex.errors.map((e) => ({ message: e.message, offset: e.offset }));
  parser.input = lex.tokens;
  const ast = parser.printFmt();
  for (const e of parser.errors) {
    const tok: IToken = e.token;
    const offset = Number.isFinite(tok.startOffset) ? tok.startOffset : text.length;
    errors.push({ message: e.message, offset });
  }
  return { ast: ast ?? undefined, errors };
}
