/**
 * What the engine returns for each op: the tracepoint events the kernel would have emitted
 * (same names and fields as tracefs), invariant violations, and nothing else — decide, then
 * emit; the engine does no I/O.
 */
import type { OpRef } from './ops.js';

export type Emission =
  /**
   * `offTask`: traced on a CPU where none of the modelled tasks is current (a flush IPI's handler
   * running in another task's context): a capture that follows only the workload's tasks
   * (set_event_pid) cannot record it.
   * `uncertain`: the flush depends on what the trace cannot show — `touched`: page-table bits a
   * user store or access to present memory sets without an event (the kernel may have flushed a
   * different range, or not at all); `ipi`: whether an earlier flush IPI reached a CPU before or
   * after its task switch (the send may not have happened); `unseen`: pages the model does not
   * hold (file pages mapped by a fault and its fault-around) widen the zap's range.
   */
  | { ev: 'tlb_flush'; cpu: number; pages: number; reason: number; offTask?: boolean; uncertain?: UncertainFlush }
  /**
   * `uncertain` (`fileCache`): a file rss update whose page count depends on page-cache state no
   * event shows (which pages of a fault-around window were uptodate and not marked for readahead
   * before the window): matched by position, its value counted apart.
   */
  | { ev: 'rss_stat'; cpu: number; mm: number; curr: number; member: number; size: number; delta: number; uncertain?: 'fileCache' }
  | { ev: 'mm_page_free'; cpu: number; pfn: number; order: number; what: 'folio' | 'pgtable' }
  | {
      ev: 'mm_vmscan_reclaim_pages';
      cpu: number;
      nid: number;
      nr_scanned: number;
      nr_reclaimed: number;
      nr_dirty: number;
      nr_writeback: number;
      nr_congested: number;
      nr_immediate: number;
      nr_activate_anon: number;
      nr_activate_file: number;
      nr_ref_keep: number;
      nr_unmap_fail: number;
    }
  | { ev: 'mm_shrink_slab'; cpu: number; cache_items: number; retval: number };

export type UncertainFlush = 'touched' | 'ipi' | 'unseen';

export const TLB_REASONS = ['flush on task switch', 'remote shootdown', 'local shootdown', 'local MM shootdown', 'remote IPI send', 'remote wrong CPU'];
export const TLB_LOCAL_MM_SHOOTDOWN = 3;
export const TLB_LOCAL_SHOOTDOWN = 2;
export const TLB_REMOTE_SHOOTDOWN = 1;
export const TLB_REMOTE_SEND_IPI = 4;
export const TLB_REMOTE_WRONG_CPU = 5;

/**
 * Invariant breaches: records, never exceptions. One row per code a replay can raise
 * (conformance/violations.test.ts has a trigger for each). Properties of interleavings —
 * unified PTE state after try_to_unmap() (TTU_SYNC's goal), lost deferred splits — are the race
 * explorer's invariants (src/race/invariants.ts): a replay follows one recorded interleaving.
 */
export const VIOLATIONS = {
  pte_access_within_table: 'A page-table entry was read or written outside index 0..511 of the table it was taken from.',
  pte_access_within_vma: 'A page-table entry beyond the VMA end was read as part of a batch.',
  mapcount_matches_mappings: "A folio's large_mapcount differs from the number of PTE/PMD entries mapping it.",
  refcount_covers_references: "A folio's refcount is below the references the model can account for.",
  no_stale_tlb_for_freed_page: 'A folio was freed while a CPU could still hold a TLB entry for it.',
  split_queue_len_matches_list: "The deferred split queue's length differs from its list (per the preset's rule).",
} as const;
export type ViolationCode = keyof typeof VIOLATIONS;

export interface Violation {
  code: ViolationCode;
  at: OpRef;
  message: string;
  folio?: number;
  pfn?: number;
  addr?: number;
  /** The series whose hook was running when it happened, if any. */
  series?: string;
}

/**
 * What a drop_caches op's output shares with other processes (Engine.sharesUnknownOutput()):
 * their memory only, so a free of a page the workload allocated, or an update of the workload's
 * own rss counters, in its record is still the workload's and compared.
 */
export const OTHERS_FOLIOS_SPLIT = 'other processes\' partially mapped large folios split by the deferred-split shrinker (which ones they hold is in no event)';

/**
 * What a system call outside the model whose memcg charge ran reclaim (Op `chargeReclaim`)
 * shares its output with: the rest of the call, which is not the workload's memory. The reclaim
 * of the workload's folios is the model's, so its frees of the workload's pages and updates of
 * the workload's own rss are compared, as for OTHERS_FOLIOS_SPLIT.
 */
export const SYSCALL_BESIDES_RECLAIM = 'what a system call outside the model did besides its memcg charge\'s reclaim';

/**
 * Decisions of an op that took what no event shows: `accessed`, a reference check that found an
 * entry old (an unseen access may have made it young); `reference`, a lazyfree folio discarded
 * while a thread that may touch it ran on another CPU (a load takes no reference, but its fault on
 * the folio's migration entries during a split, or a fault in progress on it, does, and
 * folio_ref_freeze() then fails); `order`, a fault that overlapped another task's
 * fault on the same page (Op fault `racedWith`: the model applies each whole, in the order they
 * began). `n` counts them, `why` is the first's reason.
 */
export interface UnseenDecisions {
  n: number;
  what: 'accessed' | 'reference' | 'order';
  /** The processes whose state the decision may have set apart from the kernel's: the mm's family (parent and forked children share folios). */
  tgids: number[];
  why: string;
}
