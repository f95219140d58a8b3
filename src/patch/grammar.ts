/**
 * The small languages of patch mail, in chevrotain: the subject prefix
 * (`Re: [RFC PATCH mm-unstable v2 3/4] title`) and trailer lines (`Reviewed-by: Name <mail>`,
 * `Fixes: 1234abcd ("title")`, `Link: https://…`, `Cc: <stable@…> # 6.1+`).
 *
 * The subject title itself is free text and is not tokenised: the grammar covers the prefix
 * (reply markers and bracketed tag groups), and the title is whatever follows it.
 */
import type { CstNode, IToken } from 'chevrotain';
import { CstParser, createToken, Lexer } from '../core/chevrotain.js';

// ---------------------------------------------------------------------------------------------
// Subject prefix.

const SWs = createToken({ name: 'SWs', pattern: /[ \t]+/, group: Lexer.SKIPPED });
const Reply = createToken({ name: 'Reply', pattern: /(?:re|fwd?|aw|sv)\s*:/i });
const LBr = createToken({ name: 'LBr', pattern: /\[/ });
const RBr = createToken({ name: 'RBr', pattern: /\]/ });
const Version = createToken({ name: 'Version', pattern: /v\d+(?:\.\d+)?(?![\w/.-])/i });
const Part = createToken({ name: 'Part', pattern: /\d+\s*\/\s*\d+(?![\w/])/ });
const TagWord = createToken({ name: 'TagWord', pattern: /[^\s[\]]+/ });
const subjectTokens = [SWs, Reply, LBr, RBr, Version, Part, TagWord];
const subjectLexer = new Lexer(subjectTokens, { ensureOptimizations: false, positionTracking: 'onlyOffset' });

class SubjectParser extends CstParser {
  constructor() {
    super(subjectTokens, { recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  prefix = this.RULE('prefix', () => {
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(Reply) }, { ALT: () => this.SUBRULE(this.group) }]);
    });
  });

  group = this.RULE('group', () => {
    this.CONSUME(LBr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(Version) }, { ALT: () => this.CONSUME(Part) }, { ALT: () => this.CONSUME(TagWord) }, { ALT: () => this.CONSUME(Reply) }]);
    });
    this.CONSUME(RBr);
  });
}

const subjectParser = new SubjectParser();

export interface SubjectInfo {
  raw: string;
  /** The title after every reply marker and tag group. */
  title: string;
  reply: boolean;
  /** `PATCH`, `RFC`, `RESEND`, trees such as `mm-unstable`, in order. */
  tags: string[];
  version?: number;
  part?: number;
  total?: number;
  rfc: boolean;
  /** A tree named in the tags (`mm-unstable`, `mm-new`, `net-next`…). */
  tree?: string;
  /** The subject carries a `[… PATCH …]` tag group at all. */
  isPatch: boolean;
  /** The `k/M` and `vN` tags as written (for pointing at them). */
  partImage?: string;
  versionImage?: string;
}

/** Where the prefix ends: after the last reply marker or bracket group at the start. */
function prefixEnd(s: string): number {
  let i = 0;
  for (;;) {
    const ws = /^\s*/.exec(s.slice(i))![0].length;
    const rest = s.slice(i + ws);
    const r = /^(?:re|fwd?|aw|sv)\s*:/i.exec(rest);
    if (r) {
      i += ws + r[0].length;
      continue;
    }
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0) return i;
      i += ws + close + 1;
      continue;
    }
    return i;
  }
}

export function parseSubject(raw: string): SubjectInfo {
  const text = raw.replace(/\s+/g, ' ').trim();
  const end = prefixEnd(text);
  const lexed = subjectLexer.tokenize(text.slice(0, end));
  subjectParser.input = lexed.tokens;
  const cst = subjectParser.prefix();
  const info: SubjectInfo = { raw: text, title: text.slice(end).trim(), reply: false, tags: [], rfc: false, isPatch: false };
  if (lexed.errors.length || subjectParser.errors.length) return info;
  const tokens: IToken[] = [];
  const collect = (node: CstNode): void => {
    for (const children of Object.values(node.children)) {
      for (const c of children) {
        if ('children' in c) collect(c);
        else tokens.push(c);
      }
    }
  };
  collect(cst);
  tokens.sort((a, b) => a.startOffset - b.startOffset);
  for (const t of tokens) {
    switch (t.tokenType) {
      case Reply:
        info.reply = true;
        break;
      case Version:
        info.version = Number(t.image.slice(1));
        info.versionImage = t.image;
        break;
      case Part: {
        const [k, m] = t.image.split('/').map((x) => Number(x.trim()));
        info.part = k;
        info.total = m;
        info.partImage = t.image;
        break;
      }
      case TagWord: {
        info.tags.push(t.image);
        const u = t.image.toUpperCase();
        if (u === 'PATCH' || u === 'PATCHSET') info.isPatch = true;
        else if (u === 'RFC') info.rfc = true;
        else if (/^[a-z][\w.-]*-[\w.-]+$/i.test(t.image) || /^(mm|net|bpf|tip|linux)[\w.-]*$/i.test(t.image)) info.tree ??= t.image;
        break;
      }
      default:
        break;
    }
  }
  if (info.rfc) info.isPatch = true;
  return info;
}

// ---------------------------------------------------------------------------------------------
// Trailers.

export const TRAILER_KEYS = [
  'Signed-off-by', 'Reviewed-by', 'Acked-by', 'Tested-by', 'Suggested-by', 'Reported-by', 'Co-developed-by',
  'Cc', 'Fixes', 'Link', 'Closes', 'Reviewed-and-tested-by', 'Debugged-by', 'Requested-by',
] as const;

const TWs = createToken({ name: 'TWs', pattern: /[ \t]+/, group: Lexer.SKIPPED });
const Key = createToken({ name: 'Key', pattern: new RegExp(`(?:${TRAILER_KEYS.join('|')})\\s*:`, 'i') });
const Email = createToken({ name: 'Email', pattern: /<[^<>\s]*>/ });
const QuotedTitle = createToken({ name: 'QuotedTitle', pattern: /\("(?:[^"\n]|"(?!\)))*"\)/ });
const Url = createToken({ name: 'Url', pattern: /https?:\/\/\S+/ });
const Comment = createToken({ name: 'Comment', pattern: /#.*/ });
const Sha = createToken({ name: 'Sha', pattern: /[0-9a-f]{8,40}(?![\w])/ });
const Word = createToken({ name: 'Word', pattern: /[^\s<>#]+/ });
const trailerTokens = [TWs, Key, Email, QuotedTitle, Url, Comment, Sha, Word];
const trailerLexer = new Lexer(trailerTokens, { ensureOptimizations: false, positionTracking: 'onlyOffset' });

class TrailerParser extends CstParser {
  constructor() {
    super(trailerTokens, { recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  trailer = this.RULE('trailer', () => {
    this.CONSUME(Key);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Email) },
        { ALT: () => this.CONSUME(QuotedTitle) },
        { ALT: () => this.CONSUME(Url) },
        { ALT: () => this.CONSUME(Sha) },
        { ALT: () => this.CONSUME(Word) },
      ]);
    });
    this.OPTION(() => this.CONSUME(Comment));
  });
}

const trailerParser = new TrailerParser();

export interface Trailer {
  key: string;
  value: string;
  name?: string;
  email?: string;
  commit?: string;
  commitTitle?: string;
  url?: string;
  comment?: string;
}

/** Parses one trailer line; undefined when it is not one. */
export function parseTrailer(line: string): Trailer | undefined {
  const text = line.trim();
  if (!/^[A-Za-z-]+\s*:/.test(text)) return undefined;
  const lexed = trailerLexer.tokenize(text);
  if (lexed.errors.length || lexed.tokens[0]?.tokenType !== Key) return undefined;
  trailerParser.input = lexed.tokens;
  trailerParser.trailer();
  if (trailerParser.errors.length) return undefined;
  const key = canonicalKey(lexed.tokens[0]!.image.replace(/\s*:$/, ''));
  const t: Trailer = { key, value: text.slice(lexed.tokens[0]!.image.length).trim() };
  const words: string[] = [];
  for (const tok of lexed.tokens.slice(1)) {
    if (tok.tokenType === Email) t.email = tok.image.slice(1, -1);
    else if (tok.tokenType === QuotedTitle) t.commitTitle = tok.image.slice(2, -2);
    else if (tok.tokenType === Url) t.url = tok.image;
    else if (tok.tokenType === Comment) t.comment = tok.image.slice(1).trim();
    else if (tok.tokenType === Sha && key === 'Fixes' && !t.commit) t.commit = tok.image;
    else words.push(tok.image);
  }
  if (words.length && key !== 'Fixes' && key !== 'Link' && key !== 'Closes') t.name = words.join(' ').replace(/^"|"$/g, '');
  return t;
}

function canonicalKey(k: string): string {
  return TRAILER_KEYS.find((c) => c.toLowerCase() === k.toLowerCase()) ?? k;
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 encoded words in headers.

/** Decodes `=?charset?Q|B?text?=` words; unknown charsets are decoded as latin1 and reported. */
export function decodeRfc2047(s: string): { text: string; unknownCharset?: string } {
  let unknownCharset: string | undefined;
  const text = s.replace(/(=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)(\s+(?==\?))?/g, (word) => {
    const m = /^=\?([^?*]+)(?:\*[^?]*)?\?([QqBb])\?([^?]*)\?=/.exec(word.trim());
    if (!m) return word;
    const charset = m[1]!.toLowerCase();
    let bytes: Buffer;
    if (m[2]!.toUpperCase() === 'B') bytes = Buffer.from(m[3]!, 'base64');
    else bytes = Buffer.from(m[3]!.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      unknownCharset = charset;
      return bytes.toString('latin1');
    }
  });
  return { text, unknownCharset };
}
