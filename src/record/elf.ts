/**
 * The program headers of an exec'd file (ELF64, little-endian: x86-64 and arm64), read at
 * record time: the layout elf_load() gives it is an input of the exit's zap and of the first
 * faults of the new image that no tracepoint carries (see core/exec-image.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { ExecImage, ExecSegment } from '../core/exec-image.js';

const PT_LOAD = 1;
const PT_INTERP = 3;
const PT_GNU_RELRO = 0x6474e552;
const ET_EXEC = 2;
const ET_DYN = 3;

/** The file's ELF64 image, or undefined when it is no such file (a script, another class). */
export function readElfImage(path: string): ExecImage | undefined {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return undefined; }
  try {
    const read = (pos: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      const n = readSync(fd, b, 0, len, pos);
      return b.subarray(0, n);
    };
    const eh = read(0, 64);
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return undefined;
    const etype = eh.readUInt16LE(16);
    if (etype !== ET_EXEC && etype !== ET_DYN) return undefined;
    const entry = Number(eh.readBigUInt64LE(24));
    const phoff = Number(eh.readBigUInt64LE(32));
    const phentsize = eh.readUInt16LE(54);
    const phnum = eh.readUInt16LE(56);
    if (phentsize < 56 || phnum > 256) return undefined;
    const ph = read(phoff, phentsize * phnum);
    if (ph.length < phentsize * phnum) return undefined;
    const img: ExecImage = { path, type: etype === ET_DYN ? 'dyn' : 'exec', entry, load: [] };
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const type = ph.readUInt32LE(o);
      const flags = ph.readUInt32LE(o + 4);
      const offset = Number(ph.readBigUInt64LE(o + 8));
      const vaddr = Number(ph.readBigUInt64LE(o + 16));
      const filesz = Number(ph.readBigUInt64LE(o + 32));
      const memsz = Number(ph.readBigUInt64LE(o + 40));
      if (type === PT_LOAD) {
        const s: ExecSegment = { read: (flags & 4) !== 0, write: (flags & 2) !== 0, exec: (flags & 1) !== 0, vaddr, filesz, memsz };
        img.load.push(s);
      } else if (type === PT_INTERP && filesz > 1 && filesz < 4096) {
        img.interp = read(offset, filesz).toString('latin1').replace(/\0.*$/s, '');
      } else if (type === PT_GNU_RELRO) img.relro = { vaddr, memsz };
    }
    return img;
  } finally {
    closeSync(fd);
  }
}

/**
 * The images of the files a workload exec'd (`sched_process_exec: filename=…` lines of its
 * trace, in order, each once) and of their interpreters.
 */
export function execImages(filenames: Iterable<string>, read: (p: string) => ExecImage | undefined = readElfImage): ExecImage[] {
  const out: ExecImage[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    const img = read(p);
    if (!img) return;
    out.push(img);
    if (img.interp) add(img.interp);
  };
  for (const f of filenames) add(f);
  return out;
}
