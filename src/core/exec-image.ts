/**
 * The layout of an executable a workload exec'd, as `foliolab record` saves it in settings.txt
 * (one `exec-image:` line per file: the program and its ELF interpreter). No tracepoint carries
 * it: elf_load() (fs/binfmt_elf.c) maps each PT_LOAD segment privately from the file up to the
 * end of its file part, zeroes the rest of that last page (padzero(): the kernel's write fault
 * there is in the trace) and maps what lies past it as anonymous memory (vm_brk_flags(): bss).
 * Only the load bias of a position-independent image is random; the lifter finds it from that
 * fault.
 *
 *   exec-image: /usr/bin/sort type=dyn entry=0x5ba0 interp=/lib64/ld-linux-x86-64.so.2 load=r@0x0+0x3a38/0x3a38,rx@0x4000+0x12345/0x12345,rw@0x1ad10+0x1338/0x1400 relro=0x1ad10+0x12f0
 *               path            ET_DYN|ET_EXEC e_entry  PT_INTERP                          PT_LOAD: flags@p_vaddr+p_filesz/p_memsz, in order     PT_GNU_RELRO vaddr+memsz
 */

export interface ExecSegment {
  read: boolean;
  write: boolean;
  exec: boolean;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ExecImage {
  path: string;
  /** ET_DYN (position-independent: loaded at a random bias) or ET_EXEC (at its vaddrs). */
  type: 'dyn' | 'exec';
  entry: number;
  interp?: string;
  load: ExecSegment[];
  relro?: { vaddr: number; memsz: number };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function formatExecImage(img: ExecImage): string {
  const load = img.load.map((s) => `${s.read ? 'r' : ''}${s.write ? 'w' : ''}${s.exec ? 'x' : ''}${!s.read && !s.write && !s.exec ? '-' : ''}@${hex(s.vaddr)}+${hex(s.filesz)}/${hex(s.memsz)}`).join(',');
  return [
    `exec-image: ${img.path}`, `type=${img.type}`, `entry=${hex(img.entry)}`,
    ...(img.interp ? [`interp=${img.interp}`] : []), `load=${load || '-'}`,
    ...(img.relro ? [`relro=${hex(img.relro.vaddr)}+${hex(img.relro.memsz)}`] : []),
  ].join(' ');
}

const SEGMENT = /^([rwx-]+)@(0x[0-9a-f]+)\+(0x[0-9a-f]+)\/(0x[0-9a-f]+)$/;

/** The `exec-image:` lines of a settings.txt text; malformed lines are skipped. */
export function parseExecImages(settings: string): ExecImage[] {
  const out: ExecImage[] = [];
  for (const m of settings.matchAll(/^exec-image: (\S+) (.*)$/gm)) {
    const kv = new Map<string, string>();
    for (const w of m[2]!.split(' ')) {
      const i = w.indexOf('=');
      if (i > 0) kv.set(w.slice(0, i), w.slice(i + 1));
    }
    const type = kv.get('type');
    const entry = Number(kv.get('entry'));
    if ((type !== 'dyn' && type !== 'exec') || !Number.isSafeInteger(entry)) continue;
    const load: ExecSegment[] = [];
    let bad = false;
    for (const s of (kv.get('load') ?? '-') === '-' ? [] : kv.get('load')!.split(',')) {
      const sm = SEGMENT.exec(s);
      if (!sm) { bad = true; break; }
      load.push({ read: sm[1]!.includes('r'), write: sm[1]!.includes('w'), exec: sm[1]!.includes('x'), vaddr: Number(sm[2]), filesz: Number(sm[3]), memsz: Number(sm[4]) });
    }
    if (bad) continue;
    const img: ExecImage = { path: m[1]!, type, entry, load };
    const interp = kv.get('interp');
    if (interp) img.interp = interp;
    const rm = /^(0x[0-9a-f]+)\+(0x[0-9a-f]+)$/.exec(kv.get('relro') ?? '');
    if (rm) img.relro = { vaddr: Number(rm[1]), memsz: Number(rm[2]) };
    out.push(img);
  }
  return out;
}
