/**
 * Race scenario files (`races/*.race`): a chevrotain grammar, one singleton parser.
 *
 *   race R1 "reclaim's lockless first-PTE read vs a break-before-make of PTE0"
 *   source "seed 004 (TTU_SYNC RFC), 73bc32875ee9"
 *   setup {
 *     folio F 64K at 0 lazyfree;          # size, first page's slot (page index in the VMA), flags
 *   }
 *   thread A cpu 0 { reclaim(F); }
 *   thread B cpu 1 { bbm(F, 0); }
 *   invariant unified_pte_state;
 *   expect "linux-6.12 -ttu-sync" { unified_pte_state Sometimes; }
 *   expect "linux-6.12" { unified_pte_state Never vacuity "linux-6.12 -ttu-sync"; }
 *
 * Folio flags: lazyfree, dirty, dirty-ptes, queued (on the split queue, in file order),
 * partially-mapped, half-mapped (only its first half mapped), unmapped. A 2M folio without `at` is PMD-mapped. `vma droppable;` marks the
 * VMA VM_DROPPABLE. Every `Never` names its vacuity partner: a config (or mutant) under which
 * the same invariant is not Never. Errors are reported with file:line:col.
 */
import type { IToken, TokenType } from 'chevrotain';
import { createToken, EmbeddedActionsParser, Lexer } from '../core/chevrotain.js';
import { INVARIANTS, isInvariant, type InvariantName } from './invariants.js';
import { OPS } from './paths.js';

export type Verdict = 'Sometimes' | 'Never' | 'Always';
export const VERDICTS: Verdict[] = ['Sometimes', 'Never', 'Always'];

export interface Pos {
  line: number;
  col: number;
}

export interface FolioSpec {
  name: string;
  sizeKb: number;
  at?: number;
  flags: string[];
  pos: Pos;
}

export interface OpSpec {
  name: string;
  args: Array<string | number>;
  pos: Pos;
}

export interface ThreadSpec {
  name: string;
  cpu: number;
  ops: OpSpec[];
  pos: Pos;
}

export interface Expectation {
  invariant: InvariantName;
  verdict: Verdict;
  vacuity?: string;
  pos: Pos;
}

export interface Scenario {
  id: string;
  title: string;
  source?: string;
  file: string;
  setup: { folios: FolioSpec[]; droppable: boolean };
  threads: ThreadSpec[];
  invariants: InvariantName[];
  expects: Array<{ config: string; results: Expectation[]; pos: Pos }>;
}

export interface ScenarioError {
  file: string;
  line: number;
  col: number;
  message: string;
}

const FOLIO_FLAGS = ['lazyfree', 'dirty', 'dirty-ptes', 'queued', 'partially-mapped', 'half-mapped', 'unmapped'];

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });
const Str = createToken({ name: 'Str', pattern: /"[^"\n]*"/ });
const Size = createToken({ name: 'Size', pattern: /\d+[KM]\b/ });
const Int = createToken({ name: 'Int', pattern: /0x[0-9a-fA-F]+|\d+/ });
const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_'.-]*/ });
const kw = (name: string): TokenType => createToken({ name: `Kw_${name}`, pattern: new RegExp(`${name}\\b`), longer_alt: Ident });
const Race = kw('race');
const Source = kw('source');
const Setup = kw('setup');
const FolioKw = kw('folio');
const At = kw('at');
const VmaKw = kw('vma');
const ThreadKw = kw('thread');
const Cpu = kw('cpu');
const InvariantKw = kw('invariant');
const Expect = kw('expect');
const Vacuity = kw('vacuity');
const LBrace = createToken({ name: 'LBrace', pattern: /\{/ });
const RBrace = createToken({ name: 'RBrace', pattern: /\}/ });
const LParen = createToken({ name: 'LParen', pattern: /\(/ });
const RParen = createToken({ name: 'RParen', pattern: /\)/ });
const Comma = createToken({ name: 'Comma', pattern: /,/ });
const Semi = createToken({ name: 'Semi', pattern: /;/ });

const allTokens = [WhiteSpace, Comment, Str, Size, Int, Race, Source, Setup, FolioKw, At, VmaKw, ThreadKw, Cpu, InvariantKw, Expect, Vacuity, Ident, LBrace, RBrace, LParen, RParen, Comma, Semi];
const lexer = new Lexer(allTokens, { ensureOptimizations: true, positionTracking: 'full' });

const pos = (t: IToken): Pos => ({ line: t.startLine ?? 0, col: t.startColumn ?? 0 });
const unquote = (t: IToken): string => t.image.slice(1, -1);
const int = (t: IToken): number => Number(t.image);

interface RawFolio { name: IToken; size: IToken; at?: IToken; flags: IToken[] }
interface RawOp { name: IToken; args: IToken[] }
interface RawThread { name: IToken; cpu: IToken; ops: RawOp[] }
interface RawExpect { config: IToken; rows: Array<{ inv: IToken; verdict: IToken; vacuity?: IToken }> }
interface RawFile {
  id?: IToken;
  title?: IToken;
  source?: IToken;
  folios: RawFolio[];
  vma: IToken[];
  threads: RawThread[];
  invariants: IToken[];
  expects: RawExpect[];
}

class RaceParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { recoveryEnabled: true });
    this.performSelfAnalysis();
  }

  public file = this.RULE('file', (): RawFile => {
    const out: RawFile = { folios: [], vma: [], threads: [], invariants: [], expects: [] };
    this.CONSUME(Race);
    out.id = this.CONSUME(Ident);
    this.OPTION(() => { out.title = this.CONSUME(Str); });
    this.OPTION2(() => {
      this.CONSUME(Source);
      out.source = this.CONSUME2(Str);
    });
    this.CONSUME(Setup);
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => { out.folios.push(this.SUBRULE(this.folio)); } },
        {
          ALT: () => {
            this.CONSUME(VmaKw);
            this.MANY2(() => { out.vma.push(this.CONSUME2(Ident)); });
            this.CONSUME(Semi);
          },
        },
      ]);
    });
    this.CONSUME(RBrace);
    this.AT_LEAST_ONE(() => { out.threads.push(this.SUBRULE(this.thread)); });
    this.AT_LEAST_ONE2(() => {
      this.CONSUME(InvariantKw);
      out.invariants.push(this.CONSUME3(Ident));
      this.MANY3(() => {
        this.CONSUME(Comma);
        out.invariants.push(this.CONSUME4(Ident));
      });
      this.OPTION3(() => this.CONSUME2(Semi));
    });
    this.MANY4(() => { out.expects.push(this.SUBRULE(this.expect)); });
    return out;
  });

  private folio = this.RULE('folio', (): RawFolio => {
    this.CONSUME(FolioKw);
    const name = this.CONSUME(Ident);
    const size = this.CONSUME(Size);
    let at: IToken | undefined;
    this.OPTION(() => {
      this.CONSUME(At);
      at = this.CONSUME(Int);
    });
    const flags: IToken[] = [];
    this.MANY(() => { flags.push(this.CONSUME2(Ident)); });
    this.CONSUME(Semi);
    return { name, size, at, flags };
  });

  private thread = this.RULE('thread', (): RawThread => {
    this.CONSUME(ThreadKw);
    const name = this.CONSUME(Ident);
    this.CONSUME(Cpu);
    const cpu = this.CONSUME(Int);
    this.CONSUME(LBrace);
    const ops: RawOp[] = [];
    this.MANY(() => {
      const opName = this.CONSUME2(Ident);
      const args: IToken[] = [];
      this.CONSUME(LParen);
      this.OPTION(() => {
        args.push(this.SUBRULE(this.arg));
        this.MANY2(() => {
          this.CONSUME(Comma);
          args.push(this.SUBRULE2(this.arg));
        });
      });
      this.CONSUME(RParen);
      this.OPTION2(() => this.CONSUME(Semi));
      ops.push({ name: opName, args });
    });
    this.CONSUME(RBrace);
    return { name, cpu, ops };
  });

  private arg = this.RULE('arg', (): IToken => this.OR([{ ALT: () => this.CONSUME(Ident) }, { ALT: () => this.CONSUME(Int) }]));

  private expect = this.RULE('expect', (): RawExpect => {
    this.CONSUME(Expect);
    const config = this.CONSUME(Str);
    this.CONSUME(LBrace);
    const rows: RawExpect['rows'] = [];
    this.MANY(() => {
      const inv = this.CONSUME(Ident);
      const verdict = this.CONSUME2(Ident);
      let vacuity: IToken | undefined;
      this.OPTION(() => {
        this.CONSUME(Vacuity);
        vacuity = this.CONSUME2(Str);
      });
      this.CONSUME(Semi);
      rows.push({ inv, verdict, vacuity });
    });
    this.CONSUME(RBrace);
    return { config, rows };
  });
}

const parser = new RaceParser();

/** Parse a scenario file; errors (lexing, syntax, meaning) each with file:line:col. */
export function parseScenario(text: string, file: string): { value?: Scenario; errors: ScenarioError[] } {
  const errors: ScenarioError[] = [];
  const err = (p: Pos, message: string): void => { errors.push({ file, line: p.line, col: p.col, message }); };
  const lexed = lexer.tokenize(text);
  for (const e of lexed.errors) err({ line: e.line ?? 0, col: e.column ?? 0 }, `unexpected character ${JSON.stringify(text.slice(e.offset, e.offset + e.length))}`);
  parser.input = lexed.tokens;
  const raw = parser.file();
  for (const e of parser.errors) err(pos(e.token), `${e.message}${e.token.image ? ` (at \`${e.token.image}\`)` : ''}`);
  if (errors.length || !raw || !raw.id) return { errors };

  const folios: FolioSpec[] = [];
  const names = new Set<string>();
  for (const f of raw.folios) {
    const m = /^(\d+)([KM])$/.exec(f.size.image)!;
    const sizeKb = Number(m[1]) * (m[2] === 'M' ? 1024 : 1);
    const nr = sizeKb / 4;
    if (!Number.isInteger(nr) || nr < 1 || (nr & (nr - 1)) !== 0) err(pos(f.size), `folio size ${f.size.image} is not a power-of-two number of 4K pages`);
    if (names.has(f.name.image)) err(pos(f.name), `folio ${f.name.image} declared twice`);
    names.add(f.name.image);
    for (const fl of f.flags) if (!FOLIO_FLAGS.includes(fl.image)) err(pos(fl), `unknown folio flag \`${fl.image}\` (flags: ${FOLIO_FLAGS.join(', ')})`);
    if (!f.at && !(sizeKb === 2048) && !f.flags.some((x) => x.image === 'unmapped')) err(pos(f.name), `folio ${f.name.image}: a PTE-mapped folio needs \`at <slot>\``);
    folios.push({ name: f.name.image, sizeKb, at: f.at ? int(f.at) : undefined, flags: f.flags.map((x) => x.image), pos: pos(f.name) });
  }
  for (const v of raw.vma) if (v.image !== 'droppable') err(pos(v), `unknown vma flag \`${v.image}\` (flags: droppable)`);

  const threads: ThreadSpec[] = [];
  for (const t of raw.threads) {
    const ops: OpSpec[] = [];
    for (const o of t.ops) {
      const def = OPS[o.name.image];
      if (!def) { err(pos(o.name), `unknown operation \`${o.name.image}\` (operations: ${Object.keys(OPS).join(', ')})`); continue; }
      if (o.args.length !== def.args.length) { err(pos(o.name), `${o.name.image} takes ${def.args.length} argument(s) (${def.args.join(', ')}), got ${o.args.length}`); continue; }
      const args: Array<string | number> = [];
      o.args.forEach((a, i) => {
        if (def.args[i] === 'folio') {
          if (!names.has(a.image)) err(pos(a), `unknown folio \`${a.image}\``);
          args.push(a.image);
        } else {
          if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(a.image)) err(pos(a), `expected a number, got \`${a.image}\``);
          args.push(int(a));
        }
      });
      ops.push({ name: o.name.image, args, pos: pos(o.name) });
    }
    if (threads.some((x) => x.name === t.name.image)) err(pos(t.name), `thread ${t.name.image} declared twice`);
    threads.push({ name: t.name.image, cpu: int(t.cpu), ops, pos: pos(t.name) });
  }

  const invariants: InvariantName[] = [];
  for (const i of raw.invariants) {
    if (!isInvariant(i.image)) err(pos(i), `unknown invariant \`${i.image}\` (invariants: ${Object.keys(INVARIANTS).join(', ')})`);
    else invariants.push(i.image);
  }

  const expects: Scenario['expects'] = [];
  for (const e of raw.expects) {
    const results: Expectation[] = [];
    for (const r of e.rows) {
      if (!isInvariant(r.inv.image) || !invariants.includes(r.inv.image)) { err(pos(r.inv), `\`${r.inv.image}\` is not one of this scenario's invariants (${invariants.join(', ')})`); continue; }
      if (!VERDICTS.includes(r.verdict.image as Verdict)) { err(pos(r.verdict), `verdict \`${r.verdict.image}\` is not one of ${VERDICTS.join(', ')}`); continue; }
      if (r.verdict.image === 'Never' && !r.vacuity) err(pos(r.verdict), `a Never needs its vacuity partner: \`${r.inv.image} Never vacuity "<config under which it is not Never>";\``);
      results.push({ invariant: r.inv.image, verdict: r.verdict.image as Verdict, vacuity: r.vacuity ? unquote(r.vacuity) : undefined, pos: pos(r.inv) });
    }
    expects.push({ config: unquote(e.config), results, pos: pos(e.config) });
  }
  if (errors.length) return { errors };
  return {
    value: {
      id: raw.id.image, title: raw.title ? unquote(raw.title) : raw.id.image, source: raw.source ? unquote(raw.source) : undefined, file,
      setup: { folios, droppable: raw.vma.some((v) => v.image === 'droppable') }, threads, invariants, expects,
    },
    errors,
  };
}
