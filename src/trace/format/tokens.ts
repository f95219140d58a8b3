/**
 * Tokens of the `print fmt` language of tracefs format files: a C string literal followed by
 * C expressions over `REC->field`, with helper calls (`__print_symbolic`, `__print_flags`,
 * `__get_str`, …) whose symbol tables are brace lists. Source: the kernel's
 * include/trace/stages/stage3_trace_output.h and libtraceevent's event-parse.c, which reads the
 * same text. The lexer is a chevrotain singleton with its optimisations enforced.
 */
import type { TokenType } from 'chevrotain';
import { createToken, Lexer } from '../../core/chevrotain.js';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n]|\\.)*"/ });
export const CharLiteral = createToken({ name: 'CharLiteral', pattern: /'(?:[^'\\\n]|\\.)'/ });
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*/,
});
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const Shl = createToken({ name: 'Shl', pattern: /<</ });
export const Shr = createToken({ name: 'Shr', pattern: />>/ });
export const Le = createToken({ name: 'Le', pattern: /<=/ });
export const Ge = createToken({ name: 'Ge', pattern: />=/ });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/ });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/ });
export const AndAnd = createToken({ name: 'AndAnd', pattern: /&&/ });
export const OrOr = createToken({ name: 'OrOr', pattern: /\|\|/ });
export const Amp = createToken({ name: 'Amp', pattern: /&/ });
export const Pipe = createToken({ name: 'Pipe', pattern: /\|/ });
export const Caret = createToken({ name: 'Caret', pattern: /\^/ });
export const Plus = createToken({ name: 'Plus', pattern: /\+/ });
export const Minus = createToken({ name: 'Minus', pattern: /-/ });
export const Star = createToken({ name: 'Star', pattern: /\*/ });
export const Slash = createToken({ name: 'Slash', pattern: /\// });
export const Percent = createToken({ name: 'Percent', pattern: /%/ });
export const Lt = createToken({ name: 'Lt', pattern: /</ });
export const Gt = createToken({ name: 'Gt', pattern: />/ });
export const Bang = createToken({ name: 'Bang', pattern: /!/ });
export const Tilde = createToken({ name: 'Tilde', pattern: /~/ });
export const Question = createToken({ name: 'Question', pattern: /\?/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/ });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/ });
export const Dot = createToken({ name: 'Dot', pattern: /\./ });

/** Longer operators first: chevrotain takes the first pattern that matches. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  StringLiteral,
  CharLiteral,
  NumberLiteral,
  Identifier,
  Arrow,
  Shl,
  Shr,
  Le,
  Ge,
  EqEq,
  NotEq,
  AndAnd,
  OrOr,
  Amp,
  Pipe,
  Caret,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Lt,
  Gt,
  Bang,
  Tilde,
  Question,
  Colon,
  Comma,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Dot,
];

/**
 * The token set is a constant: chevrotain's validations of it are made by a test
 * (checkPrintFmtLexer) and skipped at run time.
 */
export const printFmtLexer = new Lexer(allTokens, { ensureOptimizations: true, positionTracking: 'full', skipValidations: true });

/** Build the lexer with chevrotain's validations on: throws if the token set is faulty. */
export function checkPrintFmtLexer(): void {
  new Lexer(allTokens, { ensureOptimizations: true, positionTracking: 'full' });
}
