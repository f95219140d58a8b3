/**
 * The tracepoints replay reads (core/required-events.ts), grouped as replay judges a capture by
 * them: inputs it lifts, by the kind the lifter counts, and outputs it compares, by the model's
 * event name.
 */
import { eventId, REPLAY_REQUIRED_EVENTS } from '../core/required-events.js';
import type { LiftedKinds } from './lift.js';

const inputs = (pred: (name: string) => boolean): string[] => REPLAY_REQUIRED_EVENTS.filter((r) => r.role === 'input' && pred(r.name)).map(eventId);

/** Inputs, and what the model loses without them. */
export const REQUIRED_INPUTS: ReadonlyArray<{ events: string[]; what: string; kind: keyof LiftedKinds; onlyWithTasks?: boolean }> = [
  { events: inputs((n) => n.startsWith('sys_')), what: 'the mappings and the madvise/munmap calls the model replays', kind: 'syscalls' },
  { events: inputs((n) => n === 'page_fault_user'), what: 'the faults that populate memory', kind: 'page_fault_user' },
  { events: inputs((n) => n === 'mm_page_alloc'), what: 'the folio size each fault allocated', kind: 'mm_page_alloc' },
  // Which CPUs run the mm decides where flushes go: it matters once the workload has a second task.
  { events: inputs((n) => n === 'sched_switch'), what: 'which CPUs run the workload\'s tasks (where flushes must reach)', kind: 'sched_switch', onlyWithTasks: true },
];

type OutputKind = 'tlb_flush' | 'rss_stat' | 'mm_page_free' | 'mm_vmscan_reclaim_pages';

/** Output tracepoints compared with the model's predictions, by the model's event name. */
export const COMPARED_OUTPUTS: ReadonlyArray<{ event: string; kind: OutputKind }> = REPLAY_REQUIRED_EVENTS.filter((r) => r.role === 'output').map((r) => ({ event: eventId(r), kind: r.name as OutputKind }));
