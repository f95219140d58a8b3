import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatRegistry } from './registry.js';
import { checkPrintFmtGrammar, parsePrintFmt } from './parser.js';
import { checkPrintFmtLexer } from './tokens.js';
import { grammarsDir } from '../../paths.js';
import { parseFormatFile } from './format-file.js';

describe('print fmt parser', () => {
  it('its tokens and grammar pass chevrotain\'s validations (skipped when the parser is built at run time)', () => {
    expect(() => checkPrintFmtGrammar()).not.toThrow();
    expect(() => checkPrintFmtLexer()).not.toThrow();
  });

  it('reads a string, field references and a symbol table', () => {
    const r = parsePrintFmt(
      '"pages:%ld reason:%s (%d)", REC->pages, __print_symbolic(REC->reason, { 0, "flush on task switch" }, { 3, "local MM shootdown" }), REC->reason',
    );
    expect(r.errors).toEqual([]);
    expect(r.ast!.fmt).toBe('pages:%ld reason:%s (%d)');
    expect(r.ast!.args).toHaveLength(3);
    expect(r.ast!.args[0]).toEqual({ k: 'member', obj: { k: 'id', name: 'REC' }, name: 'pages' });
    const sym = r.ast!.args[1]!;
    expect(sym.k).toBe('call');
    if (sym.k === 'call') {
      expect(sym.fn).toBe('__print_symbolic');
      expect(sym.args).toHaveLength(3);
      expect(sym.args[2]).toMatchObject({ k: 'list', items: [{ k: 'num', v: 3n }, { k: 'str', v: 'local MM shootdown' }] });
    }
  });

  it('tells a C cast from a parenthesised expression', () => {
    const r = parsePrintFmt('"%lx %d %p", ((unsigned long)(REC->start)), (REC->a) - 1, (((struct page *)vmemmap_base) + (REC->pfn))');
    expect(r.errors).toEqual([]);
    const [a, b, c] = r.ast!.args;
    expect(a).toMatchObject({ k: 'cast', type: 'unsigned long' });
    expect(b).toMatchObject({ k: 'bin', op: '-', l: { k: 'member', name: 'a' } });
    expect(c).toMatchObject({ k: 'bin', op: '+', l: { k: 'cast', type: 'struct page *' } });
  });

  it('respects C precedence in ternaries and masks', () => {
    const r = parsePrintFmt('"%s", REC->flags & 0x0001u ? "M" : " "');
    expect(r.ast!.args[0]).toMatchObject({
      k: 'cond',
      c: { k: 'bin', op: '&', r: { k: 'num', v: 1n } },
      a: { k: 'str', v: 'M' },
      b: { k: 'str', v: ' ' },
    });
  });

  it('reports the offset of a syntax error', () => {
    const text = '"%d", __print_symbolic(REC->x, { 0, "a" )';
    const r = parsePrintFmt(text);
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.errors[0]!.offset).toBe(text.lastIndexOf(')'));
  });

  it('parses every shipped format file without a problem', () => {
    const reg = FormatRegistry.fromDirectory(grammarsDir);
    expect(reg.releases.length).toBeGreaterThanOrEqual(3);
    let n = 0;
    for (const release of reg.releases) {
      for (const name of ['tlb_flush', 'rss_stat', 'mm_page_alloc', 'mm_page_free', 'sched_switch', 'mm_lru_insertion']) {
        const f = reg.format(name, release);
        if (!f || f.release !== release) continue;
        expect(f.problems, `${f.path}`).toEqual([]);
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(15);
    expect(reg.issues).toEqual([]);
  });
});

describe('format file', () => {
  it('reads fields with types, sizes and signedness', () => {
    const text = readFileSync(join(grammarsDir, '6.18.44-fc-v669/tlb/tlb_flush/format'), 'utf8');
    const f = parseFormatFile(text, 'x', 'tlb', '6.18');
    expect(f.name).toBe('tlb_flush');
    expect(f.id).toBe(188);
    expect(f.fieldByName.get('pages')).toMatchObject({ type: 'unsigned long', size: 8, signed: false });
    expect(f.fieldByName.get('reason')).toMatchObject({ type: 'int', size: 4, signed: true });
    expect(f.problems).toEqual([]);
  });

  it('reports each malformed line with its line and column', () => {
    const text = readFileSync(join(grammarsDir, '../fixtures/grammars/broken-1.0/tlb/tlb_flush/format'), 'utf8');
    const f = parseFormatFile(text, 'broken', 'tlb', 'broken-1.0');
    const lines = f.problems.map((p) => p.line);
    expect(lines).toContain(5); // `field:int reason` lacks its `;`
    expect(lines).toContain(8); // `{ 0, "…" )` in the print fmt
    const pf = f.problems.find((p) => p.line === 8)!;
    expect(text.split('\n')[7]!.slice(pf.column - 1)).toMatch(/^\)/);
    expect(f.printFmt).toBeUndefined();
  });

  it('reads a statement expression (kvmmmu formats) as unparsable arguments, without throwing', () => {
    // `({ const char *p = f(p); p; })`: the declaration inside fails the expression grammar; under
    // error recovery the call after it met no callee.
    const r = parsePrintFmt(' "%s", ({ const char *p = f(p); p; })');
    expect(r.errors.length).toBeGreaterThan(0);
  });
});
