/**
 * Copy tracefs event format files into a grammars tree:
 *   <events>/<system>/<event>/format  →  <dest>/<system>/<event>/format  (+ header_page, header_event)
 * The files are kernel output; they are copied byte for byte.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';

// tracefs files report size 0: copyFile would copy nothing. Read, then write.
const copyFileSync = (from: string, to: string): void => writeFileSync(to, readFileSync(from));
import { join } from 'node:path';

/** The systems foliolab reads, and the syscalls its workloads make. */
export const DEFAULT_SYSTEMS = [
  'tlb', 'kmem', 'vmscan', 'pagemap', 'huge_memory', 'thp', 'migrate', 'sched', 'exceptions', 'ftrace',
  'ipi', 'irq_vectors', 'compaction', 'oom', 'task', 'syscalls',
];
export const DEFAULT_SYSCALLS = [
  'mmap', 'munmap', 'mremap', 'madvise', 'mprotect', 'brk', 'clone', 'clone3', 'fork', 'vfork', 'exit',
  'exit_group', 'wait4', 'process_madvise', 'execve', 'write',
];

export interface CopyResult {
  copied: number;
  systems: string[];
  missing: string[];
}

export function copyFormats(eventsDir: string, dest: string, systems = DEFAULT_SYSTEMS, syscalls = DEFAULT_SYSCALLS): CopyResult {
  const res: CopyResult = { copied: 0, systems: [], missing: [] };
  mkdirSync(dest, { recursive: true });
  for (const h of ['header_page', 'header_event']) {
    const p = join(eventsDir, h);
    if (existsSync(p)) copyFileSync(p, join(dest, h));
  }
  for (const sys of systems) {
    const sdir = join(eventsDir, sys);
    if (!existsSync(sdir) || !statSync(sdir).isDirectory()) { res.missing.push(sys); continue; }
    res.systems.push(sys);
    for (const ev of readdirSync(sdir)) {
      if (sys === 'syscalls' && !syscalls.some((s) => ev === `sys_enter_${s}` || ev === `sys_exit_${s}`)) continue;
      const src = join(sdir, ev, 'format');
      if (!existsSync(src)) continue;
      mkdirSync(join(dest, sys, ev), { recursive: true });
      copyFileSync(src, join(dest, sys, ev, 'format'));
      res.copied++;
    }
  }
  return res;
}
