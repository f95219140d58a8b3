/**
 * The tracepoints a capture enables, and the ones replay cannot do without.
 *
 * `record --events` takes a comma-separated list of sets (`default`, `sched`) and
 * `system:event` names (globs as tracefs' set_event accepts them: `vmscan:*`). `sched` is an
 * addition to the default set, not a replacement: a multi-CPU run still needs every event the
 * single-CPU one does, plus the IPIs that show remote flushes.
 */

/**
 * What `default` enables. exit and exit_group never return, so their sys_exit_ events never
 * fire; they are enabled anyway, so that set_event (saved in settings.txt) lists both halves of
 * every syscall a check of the capture may look for.
 */
export const DEFAULT_EVENTS: readonly string[] = [
  'syscalls:sys_enter_mmap', 'syscalls:sys_exit_mmap', 'syscalls:sys_enter_munmap', 'syscalls:sys_exit_munmap',
  'syscalls:sys_enter_mremap', 'syscalls:sys_exit_mremap', 'syscalls:sys_enter_madvise', 'syscalls:sys_exit_madvise',
  'syscalls:sys_enter_mprotect', 'syscalls:sys_exit_mprotect', 'syscalls:sys_enter_brk', 'syscalls:sys_exit_brk',
  'syscalls:sys_enter_clone', 'syscalls:sys_exit_clone', 'syscalls:sys_enter_clone3', 'syscalls:sys_exit_clone3',
  'syscalls:sys_enter_fork', 'syscalls:sys_exit_fork', 'syscalls:sys_enter_vfork', 'syscalls:sys_exit_vfork',
  'syscalls:sys_enter_exit', 'syscalls:sys_exit_exit', 'syscalls:sys_enter_exit_group', 'syscalls:sys_exit_exit_group', 'syscalls:sys_enter_wait4', 'syscalls:sys_exit_wait4',
  'syscalls:sys_enter_execve', 'syscalls:sys_exit_execve', 'sched:sched_process_exec',
  'exceptions:page_fault_user', 'exceptions:page_fault_kernel', 'tlb:tlb_flush', 'vmscan:*', 'pagemap:*',
  'kmem:rss_stat', 'kmem:mm_page_alloc', 'kmem:mm_page_free', 'kmem:mm_page_free_batched',
  'sched:sched_switch', 'sched:sched_migrate_task', 'sched:sched_process_fork', 'sched:sched_process_exit',
  'huge_memory:*', 'thp:*', 'migrate:*',
  // read() and write() move page cache and fault on user buffers from inside the kernel: as
  // ops of their own, the page-cache pages they allocate and free are not taken for the last
  // fault's. The page cache's own events say which file pages were added or dropped during the
  // trace (what fault-around maps depends on it; pages cached before the trace stay unknown).
  'syscalls:sys_enter_read', 'syscalls:sys_exit_read', 'syscalls:sys_enter_write', 'syscalls:sys_exit_write',
  'syscalls:sys_enter_pread64', 'syscalls:sys_exit_pread64', 'syscalls:sys_enter_pwrite64', 'syscalls:sys_exit_pwrite64',
  'syscalls:sys_enter_openat', 'syscalls:sys_exit_openat', 'syscalls:sys_enter_close', 'syscalls:sys_exit_close',
  'filemap:mm_filemap_add_to_page_cache', 'filemap:mm_filemap_delete_from_page_cache',
  // Which file pages a fault mapped (fault-around: filemap_map_pages()), and the fault that
  // went to the file (filemap_fault()).
  'filemap:mm_filemap_map_pages', 'filemap:mm_filemap_fault',
];

/** IPIs and the function-call vectors that carry remote TLB flushes (added by `sched`). */
export const SCHED_EVENTS: readonly string[] = [
  'ipi:*', 'irq_vectors:call_function_entry', 'irq_vectors:call_function_exit',
  'irq_vectors:call_function_single_entry', 'irq_vectors:call_function_single_exit',
];

/** The named sets `--events` understands. */
export const EVENT_SETS: Readonly<Record<string, readonly string[]>> = {
  default: DEFAULT_EVENTS,
  sched: [...DEFAULT_EVENTS, ...SCHED_EVENTS],
};

/**
 * `default,sched,kmem:mm_page_free_batched` → the event list, each once, in order. An unknown
 * bare word (no `:`) is returned in `unknown` rather than passed to tracefs, where it would
 * match an event of that name in any system.
 */
export function expandEventSpec(spec: string): { events: string[]; unknown: string[] } {
  const events: string[] = [];
  const unknown: string[] = [];
  const seen = new Set<string>();
  const add = (e: string): void => {
    if (!seen.has(e)) { seen.add(e); events.push(e); }
  };
  for (const word of spec.split(',').map((x) => x.trim()).filter(Boolean)) {
    const set = EVENT_SETS[word];
    if (set) set.forEach(add);
    else if (word.includes(':')) add(word);
    else unknown.push(word);
  }
  return { events, unknown };
}

export { REPLAY_REQUIRED_EVENTS, missingRequiredEvents, eventId, type RequiredEvent } from '../core/required-events.js';
