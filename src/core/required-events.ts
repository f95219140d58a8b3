/**
 * The tracepoints replay reads, in one list for the two sides that need it: `record` enables
 * them, replay names those a capture lacks. Kept in core because neither side may import the
 * other (src/layering.test.ts).
 */
export interface RequiredEvent {
  system: string;
  name: string;
  /** `input`: lifted into an op; `output`: compared with the model's prediction; `marker`: the workload's `fl:` markers. */
  role: 'input' | 'output' | 'marker';
  why: string;
  /** Not enabled through set_event: ftrace:print is written by trace_marker when options/markers is 1. */
  viaMarker?: boolean;
}

const sc = (name: string, why: string): RequiredEvent => ({ system: 'syscalls', name, role: 'input', why });

/**
 * The events replay reads (src/replay/lift.ts lifts the inputs, src/fidelity/compare.ts
 * compares the outputs). A capture without one of them replays wrongly or compares nothing: the
 * syscalls' exits carry mmap's address, mremap's new address, a clone's child and a failed
 * munmap/madvise; mm_page_alloc gives the pfns of the workload's folios, without which its
 * frees cannot be told from other tasks'. mm_vmscan_reclaim_pages exists from 6.13 on: a kernel
 * without it has nothing to enable (see missingRequiredEvents' `available`).
 */
export const REPLAY_REQUIRED_EVENTS: readonly RequiredEvent[] = [
  sc('sys_enter_mmap', 'mmap: length, protection, flags'),
  sc('sys_exit_mmap', 'mmap: the address it returned'),
  sc('sys_enter_munmap', 'munmap'),
  sc('sys_exit_munmap', 'munmap: whether it failed'),
  sc('sys_enter_mremap', 'mremap'),
  sc('sys_exit_mremap', 'mremap: the new address'),
  sc('sys_enter_madvise', 'madvise'),
  sc('sys_exit_madvise', 'madvise: whether it failed'),
  sc('sys_enter_clone', 'clone: thread or fork'),
  sc('sys_exit_clone', 'clone: the child'),
  sc('sys_enter_clone3', 'clone3 (threads)'),
  sc('sys_exit_clone3', 'clone3: the child'),
  sc('sys_enter_fork', 'fork'),
  sc('sys_exit_fork', 'fork: the child'),
  sc('sys_enter_vfork', 'vfork'),
  sc('sys_exit_vfork', 'vfork: the child'),
  sc('sys_enter_exit', 'thread exit'),
  sc('sys_enter_exit_group', 'process exit'),
  { system: 'exceptions', name: 'page_fault_user', role: 'input', why: 'user page faults' },
  {
    system: 'exceptions', name: 'page_fault_kernel', role: 'input',
    why: "faults the kernel takes on user memory (copy_to_user() into a fresh buffer): they populate memory, and 6.1's per-task rss cache counts them toward its sync",
  },
  { system: 'kmem', name: 'mm_page_alloc', role: 'input', why: 'the pfns and orders of the pages a fault allocated' },
  { system: 'sched', name: 'sched_switch', role: 'input', why: 'which CPUs run the mm (lazy TLB, remote flushes)' },
  {
    system: 'pagemap', name: 'mm_lru_insertion', role: 'input',
    why: "when a per-CPU lru_add batch drained: the batch also holds other tasks' folios, and a folio unmapped while it waits there is freed by that drain, not by the unmap",
  },
  {
    system: 'vmscan', name: 'mm_vmscan_lru_shrink_inactive', role: 'input',
    why: "what each reclaim pass's reference checks found (nr_ref_keep): which entries were young is hardware state a user's load sets, in no other event",
  },
  { system: 'tlb', name: 'tlb_flush', role: 'output', why: 'TLB flushes (compared)' },
  { system: 'kmem', name: 'rss_stat', role: 'output', why: 'RSS counters (compared; also the exec that starts the workload)' },
  { system: 'kmem', name: 'mm_page_free', role: 'output', why: 'page frees (compared)' },
  { system: 'vmscan', name: 'mm_vmscan_reclaim_pages', role: 'output', why: 'MADV_PAGEOUT reclaim counts (compared; 6.13+)' },
  { system: 'ftrace', name: 'print', role: 'marker', why: 'the workload markers (fl: begin/phase/store/…)', viaMarker: true },
];

/** Does a set_event selection (`system:event`, `system:*`, `*:*`, `system`, bare `event`) cover `r`? */
function covers(sel: string, r: RequiredEvent): boolean {
  const s = sel.trim();
  if (!s || s.startsWith('!')) return false;
  const i = s.indexOf(':');
  if (i < 0) return s === r.name || s === r.system || s === '*';
  const sys = s.slice(0, i);
  const ev = s.slice(i + 1);
  return (sys === '*' || sys === '' || sys === r.system) && (ev === '*' || ev === '' || ev === r.name);
}

/**
 * The required events that `selection` lacks. `selection` is what a capture enabled
 * (set_event lines, `--events` words, or the names of the events a parsed trace holds —
 * `sys_enter_mmap`, `tlb_flush`, `print`). `available` (`system:event` → exists on the
 * recording kernel), when given, leaves out events that kernel does not have.
 */
export function missingRequiredEvents(
  selection: Iterable<string>,
  opts: { available?: (system: string, name: string) => boolean; required?: readonly RequiredEvent[] } = {},
): RequiredEvent[] {
  const sel = [...selection];
  return (opts.required ?? REPLAY_REQUIRED_EVENTS).filter(
    (r) => !sel.some((s) => covers(s, r)) && (opts.available === undefined || opts.available(r.system, r.name)),
  );
}

/** `syscalls:sys_enter_mmap` for a required event. */
export const eventId = (r: RequiredEvent): string => `${r.system}:${r.name}`;
