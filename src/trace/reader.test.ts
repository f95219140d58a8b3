import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineSplitter, openChunks } from './reader.js';

function split(chunks: Buffer[], max = 1 << 20) {
  const lines: Array<[string, number, number]> = [];
  const long: Array<[number, number]> = [];
  const sp = new LineSplitter({ line: (l, n, o) => lines.push([l, n, o]), tooLong: (n, _o, b) => long.push([n, b]) }, max);
  for (const c of chunks) sp.push(c);
  sp.end();
  return { lines, long, unterminated: sp.unterminated, bytes: sp.bytes };
}

function chunked(buf: Buffer, cuts: number[]): Buffer[] {
  const pts = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of pts) { out.push(buf.subarray(prev, p)); prev = p; }
  out.push(buf.subarray(prev));
  return out;
}

describe('line splitter', () => {
  it('gives the same lines, numbers and byte offsets however the input is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[^\n]{0,30}$/u), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (ls, cuts, finalNl) => {
        const text = ls.join('\n') + (finalNl && ls.length ? '\n' : '');
        const buf = Buffer.from(text, 'utf8');
        const whole = split([buf]);
        const parts = split(chunked(buf, cuts));
        expect(parts.lines).toEqual(whole.lines);
        // Offsets are byte offsets of each line start.
        for (const [l, , off] of whole.lines) expect(buf.subarray(off, off + Buffer.byteLength(l)).toString('utf8')).toBe(l.replace(/\r$/, ''));
      }),
      { numRuns: 500 },
    );
  });

  it('strips CR of CRLF endings and counts multi-byte characters in offsets', () => {
    const r = split([Buffer.from('a\r\nµx\nb', 'utf8')]);
    expect(r.lines).toEqual([['a', 1, 0], ['µx', 2, 3], ['b', 3, 7]]);
    expect(r.unterminated).toBe(true);
  });

  it('skips an over-long line without holding it, and goes on', () => {
    const big = Buffer.alloc(5000, 0x61);
    const r = split([Buffer.from('x\n'), big.subarray(0, 2000), big.subarray(2000), Buffer.from('\ny\n')], 1000);
    expect(r.lines.map((l) => l[0])).toEqual(['x', 'y']);
    expect(r.long).toEqual([[2, 5000]]);
    expect(r.lines[1]).toEqual(['y', 3, 2 + 5000 + 1]);
  });
});

describe('openChunks', () => {
  it('gunzips input that starts with the gzip magic, whatever its name', async () => {
    const text = 'hello\nworld\n'.repeat(1000);
    const out: Buffer[] = [];
    for await (const c of openChunks(Readable.from([gzipSync(Buffer.from(text))]))) out.push(c);
    expect(Buffer.concat(out).toString()).toBe(text);
  });

  it('passes plain text through, even one byte at a time', async () => {
    const out: Buffer[] = [];
    const src = Readable.from(['a', 'b', '\n', 'c'].map((s) => Buffer.from(s)));
    for await (const c of openChunks(src)) out.push(c);
    expect(Buffer.concat(out).toString()).toBe('ab\nc');
  });

  it('rejects a corrupt gzip stream', async () => {
    const gz = gzipSync(Buffer.from('x'.repeat(100000)));
    const bad = Buffer.concat([gz.subarray(0, 30), Buffer.alloc(50, 7)]);
    await expect(async () => { for await (const c of openChunks(Readable.from([bad]))) void c; }).rejects.toThrow();
  });
});
