import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { execImages, readElfImage } from './elf.js';

describe('readElfImage', () => {
  it("reads the node binary's program headers as its ELF header says", () => {
    const path = process.execPath;
    const b = readFileSync(path);
    if (b.readUInt32BE(0) !== 0x7f454c46) return; // not an ELF host
    const img = readElfImage(path)!;
    const phnum = b.readUInt16LE(56);
    const phoff = Number(b.readBigUInt64LE(32));
    const loads = [...Array(phnum).keys()].filter((i) => b.readUInt32LE(phoff + i * 56) === 1);
    expect(img.load).toHaveLength(loads.length);
    expect(img.load[0]!.vaddr).toBe(Number(b.readBigUInt64LE(phoff + loads[0]! * 56 + 16)));
    expect(img.entry).toBe(Number(b.readBigUInt64LE(24)));
    for (const s of img.load) expect(s.memsz).toBeGreaterThanOrEqual(s.filesz);
  });
  it('is undefined for a file that is not an ELF image', () => {
    expect(readElfImage(new URL(import.meta.url).pathname)).toBeUndefined();
    expect(readElfImage('/nonexistent/file')).toBeUndefined();
  });
  it('follows each image to its interpreter, each file once', () => {
    const read = (p: string) => (p === '/p' ? { path: p, type: 'dyn' as const, entry: 0, interp: '/ld', load: [] } : p === '/ld' ? { path: p, type: 'dyn' as const, entry: 0, load: [] } : undefined);
    expect(execImages(['/p', '/p', '/script'], read).map((i) => i.path)).toEqual(['/p', '/ld']);
  });
});
