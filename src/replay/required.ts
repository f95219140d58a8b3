/**
 * The tracepoints replay reads: the inputs it lifts into ops and the kernel output it compares.
 * `foliolab record` enables them by default; replay names those a trace lacks.
 */
import type { LiftedKinds } from './lift.js';

/** Input tracepoints (system:event) and what the model loses without them. */
export const REQUIRED_INPUTS: ReadonlyArray<{ events: string[]; what: string; kind: keyof LiftedKinds }> = [
  {
    events: ['mmap', 'munmap', 'mremap', 'madvise', 'clone', 'clone3', 'fork', 'vfork', 'exit', 'exit_group'].flatMap((s) => [`syscalls:sys_enter_${s}`, `syscalls:sys_exit_${s}`]),
    what: 'the mappings and the madvise/munmap calls the model replays',
    kind: 'syscalls',
  },
  { events: ['exceptions:page_fault_user'], what: 'the faults that populate memory', kind: 'page_fault_user' },
  { events: ['kmem:mm_page_alloc'], what: 'the folio size each fault allocated', kind: 'mm_page_alloc' },
];

/** Output tracepoints compared with the model's predictions, by the model's event name. */
export const COMPARED_OUTPUTS: ReadonlyArray<{ event: string; kind: 'tlb_flush' | 'rss_stat' | 'mm_page_free' | 'mm_vmscan_reclaim_pages' }> = [
  { event: 'tlb:tlb_flush', kind: 'tlb_flush' },
  { event: 'kmem:rss_stat', kind: 'rss_stat' },
  { event: 'kmem:mm_page_free', kind: 'mm_page_free' },
  { event: 'vmscan:mm_vmscan_reclaim_pages', kind: 'mm_vmscan_reclaim_pages' },
];

/** Every tracepoint above, as `system:event`. */
export const REQUIRED_EVENTS: readonly string[] = [...REQUIRED_INPUTS.flatMap((r) => r.events), ...COMPARED_OUTPUTS.map((o) => o.event)];
