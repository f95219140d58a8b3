/**
 * khugepaged's collapses as a missing input. mm/khugepaged.c collapse_huge_page() replaces the
 * order-0 pages (or the pieces of a split THP) of a PMD range with a new THP: it allocates the
 * THP (thp_collapse_alloc), isolates and copies the old pages, flushes the range
 * (pmdp_collapse_flush(): an IPI to the workload's CPU while the workload runs there, seen as a
 * `remote shootdown` in the workload's context), maps the THP by a PMD and frees the old pages —
 * all in the khugepaged thread. A capture that follows the workload's tasks only records none of
 * it, and the model has no khugepaged: after a collapse, what the workload's later ops do to that
 * range (a munmap freeing an order-9 folio it never allocated, the old pages gone from the LRU
 * for reclaim) cannot be predicted.
 *
 * The vmstat delta the capture saved per phase says whether khugepaged collapsed anything while
 * the workload ran. thp_collapse_alloc is system-wide: on an idle test machine only the
 * workload's VM_HUGEPAGE ranges are candidates, so a collapse is taken as one of the workload's.
 */

/**
 * One input gap per phase in which khugepaged allocated a THP for a collapse: from that phase on
 * (TraceFacts `phaseGaps`) the model's state of the collapsed range is not the kernel's.
 */
export function khugepagedGaps(phaseDeltas: Record<string, Record<string, number>> | undefined): Array<{ phase: string; why: string }> {
  if (!phaseDeltas) return [];
  const out: Array<{ phase: string; why: string }> = [];
  for (const [phase, deltas] of Object.entries(phaseDeltas)) {
    const n = deltas.thp_collapse_alloc ?? 0;
    if (n <= 0) continue;
    out.push({
      phase,
      why: `khugepaged collapsed ${n} PMD range${n === 1 ? '' : 's'} during phase ${phase} (thp_collapse_alloc +${n}): ` +
        "collapse_huge_page() runs in the khugepaged thread, which a capture of the workload's tasks does not record, " +
        'and the model has no khugepaged — the collapsed ranges are predicted as they were before the collapse',
    });
  }
  return out;
}
