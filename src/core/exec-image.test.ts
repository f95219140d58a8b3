import { describe, expect, it } from 'vitest';
import { formatExecImage, parseExecImages, type ExecImage } from './exec-image.js';

const sortLike: ExecImage = {
  path: '/usr/bin/sort', type: 'dyn', entry: 0x6560, interp: '/lib64/ld-linux-x86-64.so.2',
  load: [
    { read: true, write: false, exec: false, vaddr: 0, filesz: 0x2c20, memsz: 0x2c20 },
    { read: true, write: false, exec: true, vaddr: 0x3000, filesz: 0x11b49, memsz: 0x11b49 },
    { read: true, write: true, exec: false, vaddr: 0x1b910, filesz: 0xc38, memsz: 0x1490 },
  ],
  relro: { vaddr: 0x1b910, memsz: 0x6f0 },
};

describe('exec-image lines (settings.txt)', () => {
  it('reads back what it writes, among other settings lines', () => {
    const text = `kernel: 6.18\n${formatExecImage(sortLike)}\nexec-image: /lib64/ld-linux-x86-64.so.2 type=dyn entry=0x1ab70 load=rw@0x31900+0x2810/0x29d8\ncommand: sort\n`;
    const imgs = parseExecImages(text);
    expect(imgs).toEqual([sortLike, { path: '/lib64/ld-linux-x86-64.so.2', type: 'dyn', entry: 0x1ab70, load: [{ read: true, write: true, exec: false, vaddr: 0x31900, filesz: 0x2810, memsz: 0x29d8 }] }]);
  });
  it('skips a malformed line', () => {
    expect(parseExecImages('exec-image: /x type=dyn entry=0x10 load=rw@0x10+zz/0x20\nexec-image: /y type=elf entry=0x0 load=-\n')).toEqual([]);
  });
});
