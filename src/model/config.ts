/**
 * A configuration: an arch profile, the kernel baseline traits of a release, and the ordered
 * list of series applied on top (presets are such lists). Traits are facts of a release that
 * no modelled series changes (when a feature appeared); series are the patches we compare.
 */

export type Arch = 'x86' | 'arm64';

export interface KernelTraits {
  /** Release the baseline follows (`6.1`, `6.12`, `6.18`). */
  release: string;
  /** Anonymous multi-size THP (6.8+). */
  mthp: boolean;
  /** MADV_FREE/PAGEOUT keep a fully covered PTE-mapped large folio whole (6.9/6.10+); 6.1 splits any. */
  madvKeepsLargeFolios: boolean;
  /**
   * The mm's rss counters are percpu_counters and every update traces rss_stat: f1a7941243c1
   * "mm: convert mm's rss stats into percpu_counter" (Shakeel Butt, 6.2). 6.1 has
   * SPLIT_RSS_COUNTING: fault-path updates (add_mm_counter_fast()) wait in the task's
   * `rss_stat` cache until sync_mm_rss() — at the fault after TASK_RSS_EVENTS_THRESH faults
   * (check_sync_rss_stat()), at a zap of the task's own mm (add_mm_rss_vec()), at do_exit() and
   * exec_mmap(). Every point is listed in kernel.ts's rss section. Checked against the 6.1.0-57
   * captures: a store over 4 KiB pages traces one rss_stat per 66 faults (`size` +270336).
   */
  rssEveryUpdate: boolean;
  /** vmscan:mm_vmscan_reclaim_pages exists (6.13+). */
  reclaimPagesTracepoint: boolean;
  /** PMD THPs are put on the deferred split queue at fault (6.12+). */
  pmdQueuedAtFault: boolean;
  /** Per-size mTHP stats split/split_deferred (6.11+) and nr_anon_partially_mapped (6.12+). */
  mthpSplitStats: boolean;
  partiallyMappedFlag: boolean;
  /** Lazyfree discard tolerates VM_DROPPABLE (6.11+). */
  droppable: boolean;
  /** Per-CPU folio batch capacity (15 in 6.1, 31 later). */
  folioBatch: number;
  /** x86 `remote wrong CPU` reason and lazy mm_cpumask trimming (6.14+). */
  lazyCpumask: boolean;
  /**
   * x86 native_flush_tlb_multi() without freed page tables asks should_flush_tlb() (6db2526c1d69
   * "x86/mm/tlb: Only trim the mm_cpumask once a second", Rik van Riel, 6.14) instead of
   * tlb_is_not_lazy(): a CPU of mm_cpumask that has another mm loaded gets no IPI unless the
   * mask is due for trimming (should_trim_cpumask(), once a second per mm); a flush with no mm
   * (arch_tlbbatch_flush()) still reaches every CPU that is not lazy. Before, every CPU of the
   * mask that was not lazy got it — and no CPU stayed in a mask on another mm.
   * Commit verified (tip x86/mm merge notice; a later Fixes: tag). Note: it was also queued for
   * 6.12.y and 6.1.y stable ("[ Upstream commit 6db2526c1d69 ]" review mails, 6.1.128 base),
   * so a late 6.1 or 6.12 stable build may behave as 6.14 here; which Debian build carries it
   * was not checked.
   */
  flushSkipsOtherMm: boolean;
  /** Page tables freed at munmap are freed in the task (true) or via RCU in another context. */
  pgtableFreeInTask: boolean;
  /**
   * MADV_PAGEOUT ages young entries (a PMD invalidation flush) and its reclaim_pages() checks
   * references (shrink_folio_list(..., ignore_references=false)): 6.1. From 6.10 ("mm: madvise:
   * pageout: ignore references rather than clearing young") only MADV_COLD ages, and
   * MADV_PAGEOUT's reclaim ignores references.
   */
  pageoutAgesYoung: boolean;
  /**
   * Folios one deferred_split_scan() call takes (do_shrink_slab's nr_to_scan, SHRINK_BATCH).
   * [T] 6.12 and 6.18 split a 256-folio queue as two calls of 128, each in reverse queue order.
   */
  deferredScanBatch: number;
  /**
   * munmap, exit and MADV_DONTNEED drain this CPU's lru_add batch before unmapping
   * (unmap_region(), exit_mmap() and zap_page_range_single() call lru_add_drain() first), and
   * an mmu_gather's page release drains it again before dropping the zapped pages' references
   * (free_pages_and_swap_cache()). 6.1 and 6.12: yes (their sources; on 6.1 s6 the helper
   * thread's MADV_DONTNEED of its stack drained the 13 pages its faults had left in its CPU's
   * batch — their mm_lru_insertion events come before that zap's flush — and the munmap then
   * freed them; no 6.12 capture tells either way). 6.18: no — the pieces a reclaim pass had
   * left in the batch were neither put on the LRU nor freed at munmap (6.18 s5 64k-whole),
   * and that release no longer calls lru_add_drain() in newer sources.
   */
  unmapDrainsLruAdd: boolean;
  /**
   * 6.1 release_pages() collects a gather batch with list_add (head insertion): the pages of
   * each batch (8 in the on-stack bundle, then 510 per batch page) are freed in reverse [T].
   */
  zapFreesReversed: boolean;
  /**
   * A write fault on the huge zero PMD allocates a PMD THP in its place (mm/huge_memory.c
   * do_huge_zero_wp_pmd(): order-9 allocation, the zero PMD cleared and flushed, the THP mapped
   * writable with +2 MiB rss, the deposited table kept) — 1ced09e0331f "mm: allocate THP on
   * hugezeropage wp-fault" (Dev Jain), 6.13. Before (6.1, 6.12) do_huge_pmd_wp_page() falls
   * back: __split_huge_pmd() turns the zero PMD into 512 zero-page PTEs (one 2 MiB flush) and
   * the fault is retried at PTE level, copying one 4 KiB page (wp_page_copy()). On allocation
   * failure 6.13+ falls back the same way. Checked against the s13 pmd-read-write captures:
   * 6.12.95 and 6.1.0-57 split (`pages:-1`, then order-0 copies with `pages:1`), 6.18.44 maps
   * one order-9 folio per PMD (`pages:-1`, +2 MiB). Commit verified (Wei Yang's fix below cites
   * it with its subject).
   */
  hugeZeroWpAllocatesThp: boolean;
  /**
   * do_huge_zero_wp_pmd() puts the new THP on the deferred split queue (unflagged), as a first
   * PMD fault does since 6.12: "mm/huge_memory: add pmd folio to ds_queue in
   * do_huge_zero_wp_pmd()" (Wei Yang, v2 2025-10-02, Cc stable, during the 6.18 cycle; moves
   * deferred_split_folio() into map_anon_folio_pmd()). Without it the folio is on no queue.
   * Not visible in the s13 captures (no shrinker runs there); release attribution is
   * inferred from the mail date and the stable tag. Commit not pinned: akpm/mm's rev-lists
   * show it under several ids and no upstream reference to one was found.
   */
  hugeZeroWpQueuesThp: boolean;
  /**
   * mprotect(RW) makes an exclusive anonymous PTE writable even when it is clean
   * (mm/mprotect.c can_change_pte_writable()): Nadav Amit, "mm/mprotect: allow clean exclusive
   * anon pages to be writable" (with David Hildenbrand's series below, 6.2). 6.1 also wants
   * the PTE dirty; a clean one stays read-only and its next write faults (wp_page_reuse()).
   * Commit not pinned (only mm-branch ids found). Checked against s10 captures with the PMD
   * trait below.
   */
  mprotectCleanAnonWritable: boolean;
  /**
   * mprotect(RW) makes an exclusive anonymous PMD-mapped THP writable again
   * (mm/huge_memory.c change_huge_pmd() with MM_CP_TRY_CHANGE_WRITABLE and
   * can_change_pmd_writable()): c27f479ef542 "mm/huge_memory: try avoiding write faults when
   * changing PMD protection" (David Hildenbrand, v2 2022-11-08, 6.2). 6.1's change_huge_pmd()
   * leaves the PMD read-only: no flush at mprotect(RW), one fault per THP at the next write
   * (do_huge_pmd_wp_page() reuse, no flush). Checked against s10 pmd-ro-rw: 6.1.0-57 records
   * no flush for mprotect(RW) and four write faults; 6.12.95 and 6.18.44 flush `pages:4`
   * (four PMDs, 2 MiB stride) and take no fault. The id c27f479ef542 is from akpm/mm rev-lists
   * only (the same id in each); unverified upstream.
   */
  mprotectPmdWriteUpgrade: boolean;
  /**
   * MADV_FREE and MADV_DONTNEED over several VMAs gather every VMA's entries into one mmu_gather
   * and flush once at the end of the call (SeongJae Park, "mm/madvise: batch tlb flushes for
   * MADV_DONTNEED and MADV_FREE", v3 2025-04-09, 6.16; COLD and PAGEOUT were left per VMA).
   * Before, madvise_free_single_vma() and each VMA's zap have their own gather. Checked against
   * s10 64k-split (MADV_FREE over the three VMAs mprotect left): 6.12.95 flushes once per VMA
   * (`pages:8`, then `-1`, `-1`), 6.18.44 once (`-1`); and s16 4k-dontneed (two VMAs): 6.1.0-57
   * and 6.12.95 flush per VMA, 6.18.44 once. Series verified in the list archive (v3 cover
   * letter); commit ids not pinned.
   */
  madviseGatherPerCall: boolean;
  /**
   * MADV_DONTNEED frees a PTE table it leaves empty when its zap covered the table's whole
   * 2 MiB (CONFIG_PT_RECLAIM, on for x86-64: madvise_dontneed_single_vma() sets
   * zap_details.reclaim_pt; zap_pte_range() → try_get_and_clear_pmd() → free_pte(), which puts
   * the table in the gather like free_pgtables() does). Qi Zheng, "mm: pgtable: reclaim empty
   * PTE page in madvise(MADV_DONTNEED)" (6375e95f381e, verified by a later Fixes: tag), 6.14. Before, the table stays until munmap frees it
   * (with its flush). Checked against the 6.18.44 s17 64k-dontneed and s13 4k-read-only
   * captures: the munmap after a whole-table DONTNEED records no flush; 6.12.95 records one.
   */
  dontneedFreesEmptyPteTables: boolean;
  /**
   * MADV_COLD of a young PMD-mapped THP leaves the TLB flush to the call's mmu_gather: one flush
   * at the end, at PMD stride, over the PMDs it aged (`pages:8` for eight THPs) — no flush per
   * PMD. Observed, cause not located: the 6.18.44-fc s12 pmd-cold, pmd-cold-free and
   * pmd-cold-free-memcg captures flush that way; 6.12.95's madvise_cold_or_pageout_pte_range()
   * (pmdp_invalidate(), which flushes) and its captures flush each PMD (`pages:-1` each), as
   * does 6.1. Only the fc build of 6.18 was captured: whether upstream 6.18 does the same is
   * not known.
   */
  coldPmdFlushDeferred: boolean;
  /**
   * Reclaim scans with the multi-gen LRU (CONFIG_LRU_GEN_ENABLED, or lru_gen/enabled set at
   * boot): mm/vmscan.c shrink_lruvec() hands memcg reclaim to lru_gen_shrink_lruvec() →
   * evict_folios(), whose scan_folios() isolates MIN_LRU_BATCH (64) pages per eviction, instead
   * of shrink_inactive_list()'s lru_size >> priority in SWAP_CLUSTER_MAX steps; and
   * shrink_folio_list() keeps a mapped folio marked referenced while it was isolated without
   * checking its references again (lruGenRefsRework says which release does what). A build choice, not a release one: the Debian 6.12 kernel has it on (its
   * mm_vmscan_lru_isolate events print nr_requested=4096, scan_folios()'s MAX_LRU_BATCH), the
   * Debian 6.1 and Fedora 6.18 kernels have it off (nr_requested = the classic pass's count).
   */
  lruGen: boolean;
  /**
   * How the multi-gen LRU's reclaim treats PG_referenced (matters only with lruGen). Before Yu
   * Zhao's "mm/mglru: rework workingset protection" (e8597e91699a as a syzbot bisection in
   * linux-next names it; posted for mm-unstable in December 2024, 6.14 [I]): isolate_folio()
   * clears PG_referenced "for shrink_folio_list()", so a folio kept by one eviction for one
   * young entry (folio_check_references()'s FOLIOREF_KEEP sets it) is checked afresh by the
   * next — no young entry then, and it is reclaimed; shrink_folio_list()'s "folio_update_gen()
   * tried to promote this page?" keep applies only to a flag set while the folio was isolated
   * (lru_gen_look_around(), not modelled). After: isolate_folio() keeps PG_referenced, that keep
   * is gone, and folio_check_references() asks lru_gen_set_refs(): no young entry reclaims, the
   * first young one sets PG_referenced and keeps, a later one activates.
   */
  lruGenRefsRework: boolean;
  /**
   * mm/memcontrol.c memory_reclaim() asks try_to_free_mem_cgroup_pages() for a quarter of what
   * is left (at least SWAP_CLUSTER_MAX) per round: T.J. Mercier, "mm: memcg: use larger batches
   * for proactive reclaim" (287d5fedb377, 6.9; verified: git.kernel.org torvalds link), after
   * 0388536ac291 "mm:vmscan: fix inaccurate reclaim during proactive reclaim" (verified: a
   * revert mail quotes the full id; its release, 6.8 [I], is not checked) had capped each round
   * at SWAP_CLUSTER_MAX. 6.1 asks for the whole remainder in one call.
   */
  memoryReclaimQuarterBatch: boolean;
  /**
   * mm/vmscan.c shrink_folio_list() frees what it reclaimed the pre-6.9 way: a large folio at
   * once (destroy_large_folio() at free_it, before any deferred flush), order-0 folios onto a
   * list with list_add() — so after the final try_to_unmap_flush() free_unref_page_list() frees
   * them last reclaimed first. Matthew Wilcox, "mm: free folios in a batch in
   * shrink_folio_list()" (bc2ff4cbc329, verified: a github.com/torvalds/linux link; 6.9) made it a folio_batch of 31 for every order, flushed and freed in
   * reclaim order whenever it fills.
   */
  shrinkFreeList: boolean;
  /**
   * With shrinkFreeList, the large folio freed at once waits for the deferred TLB flush first:
   * try_to_unmap_flush() before destroy_large_folio(). Jiayuan Chen, "mm/vmscan: flush
   * deferred TLB before freeing large folios" (stable-only, 5.15.y/6.1.y/6.6.y: 92809ac752e6 in
   * linux-6.1.y, queued for 6.1.178; upstream fixed as a side effect of bc2ff4cbc329); the
   * Debian 6.1.192 kernels of the captures have it. Before it the THP's pages went back to the
   * allocator while another CPU could still hold a stale TLB entry for them.
   */
  shrinkFlushesBeforeLargeFree: boolean;
  /**
   * Splitting a PMD-mapped anonymous THP (split_huge_page() → unmap_page() → try_to_migrate()
   * with TTU_SPLIT_HUGE_PMD → __split_huge_pmd_locked() with `freeze`) queues it for deferred
   * split on the way: 6.1 gives the 512 subpages a PTE mapcount, drops the PMD mapping, then
   * drops each subpage's with page_remove_rmap(page + i), and the first of those leaves the
   * THP partly mapped → deferred_split_huge_page() (thp_deferred_split_page +1), until
   * __split_huge_page() takes it off the queue. Later the freeze path adds no PTE mappings,
   * so nothing is queued. Observed, commit not located: MADV_PAGEOUT of eight PMD THPs
   * without swap (thp_swpout_fallback, the split in shrink_folio_list()) counts
   * thp_deferred_split_page +8 on 6.1.0-57 (s12 pmd-pageout), +0 on 6.12.95 and 6.18.44.
   */
  freezeSplitQueuesDeferred: boolean;
  /**
   * A split of an anonymous large folio maps each zero-filled page back as the shared zero page
   * instead of the page itself (remap_page() with RMP_USE_SHARED_ZEROPAGE →
   * remove_migration_pte() → try_to_map_unused_to_zeropage(): one MM_ANONPAGES decrement per
   * page, no `remove_migration_pte` event for it, the page freed with the split's unmapped
   * pieces) — b1f202060afe "mm: remap unused subpages to shared zeropage when splitting
   * isolated thp" (Yu Zhao, Usama Arif), 6.12. 6.1 restores every page. Whether a page is
   * zero-filled is an input (the op's `migrated`/`restored` pages); seen in the 6.18.44
   * jemalloc capture (MADV_FREE of part of a 64K folio: 16 migration entries, 15 restored, one
   * rss decrement and one free).
   */
  splitRemapsZeroPages: boolean;
  /**
   * The mmu_gather's page batches take a run of a large folio's pages as two entries (page and
   * count, ENCODED_PAGE_BIT_NR_PAGES_NEXT) and count a batch full one entry early to keep room
   * for them — "mm/mmu_gather: add __tlb_remove_folio_pages()" (David Hildenbrand, the "optimize
   * unmap/zap with PTE-mapped THP" series, v3 2024-02-14, 6.9; commit id not pinned: the
   * archives show it under several). Before, each page is one entry, a batch full at its size.
   * Either way a gather holds the bundle of 8 plus 19 batches of 510 before a zap must flush and
   * free midway (zap_pte_range()'s force_flush): an exit of a program with some 9,700 pages
   * mapped shows it (the 6.18.44 jemalloc capture: its first flush after 8,848 pages).
   */
  gatherNrPagesEntries: boolean;
  /**
   * __split_huge_page() creates the tail folios last first (`for (i = nr - new_nr; i >= new_nr;
   * i -= new_nr)`, 6.1–6.14), and reclaim's split_folio_to_list() appends each to the caller's
   * list as it is made; from 6.15 __split_unmapped_folio() makes them first to last (Zi Yan's
   * folio_split() series). shrink_folio_list() then takes them in list order and keeps the
   * rejected ones with list_add() — so the order reclaim puts a split folio's pieces back, and
   * frees those the zero page now maps when the lru_add batch drains, is reversed between them:
   * pages 1…15 of a 64K folio on 6.12, 15…1 on 6.18 (after the head either way).
   */
  splitTailsCreatedLastFirst: boolean;
  /**
   * Splitting a dirty PMD marks its 512 PTEs dirty. 6.1 does not: "Partly revert mm/thp: carry
   * over dirty bit when thp splits on pmd" (624a2c94f5b7, 6.1-rc) left only SetPageDirty() on the
   * folio, and "mm/thp: re-apply mkdirty for small pages after split" (e833bc503405) came in 6.2.
   * It shows where mprotect() makes the entries writable again: 6.1's can_change_pte_writable()
   * wants the entry dirty, so after a split an RO→RW mprotect leaves them read-only and needs no
   * flush.
   */
  pmdSplitPtesDirty: boolean;
  /**
   * unmap_folio() unmaps a PTE-mapped folio for its split with TTU_BATCH_FLUSH, so the per-PTE
   * flushes are deferred (should_defer_flush(): another CPU in mm_cpumask) into one batched flush
   * before the split — "mm: huge_memory: batch tlb flush when splitting a pte-mapped THP" (Baolin
   * Wang, 6.8). 6.1 flushes each entry as try_to_migrate_one() clears it.
   */
  splitBatchFlush: boolean;
  /**
   * The callers of a split pass a page of the THP, not the folio, and keep their reference on
   * that page: 6.1's __split_huge_page() puts every other piece first to last — the head first
   * when nothing maps it — and the caller's put_page() frees that page last. 6.1's
   * madvise_free_pte_range() and madvise_cold_or_pageout_pte_range() split_huge_page() the page
   * their PTE walk met; deferred_split_scan() takes each THP off its list as the page holding
   * the list head (list_entry(pos, struct page, deferred_list): page[2], page_deferred_list())
   * and splits and puts that page. Reclaim (split_folio_to_list()) and the huge-PMD branches
   * pass the head. The folio conversions ("madvise: Convert madvise_cold_or_pageout_pte_range()
   * to use folios", Vishal Moola, posted 2022-12-06, its madvise_free_pte_range() counterpart,
   * and deferred_split_scan()'s, 6.3–6.4 [I]) hold the folio and split_folio() it: the head is
   * put last. Checked against 6.1.0-57 s19-mix: pmd-seed7 and pmd-seed8 (a MADV_COLD of a
   * PTE-mapped THP whose first pages were zapped frees them head first, in order) and
   * pmd-seed19-memcg (memcg reclaim's deferred split frees pages 0, 1, 3…47, then page 2).
   */
  splitHoldsSubpage: boolean;
  /**
   * MADV_FREE/COLD/PAGEOUT call flush_tlb_batched_pending() again when they retake the PTE lock
   * after splitting a large folio (383c4613c67c "mm: close theoretical race where stale TLB
   * entries could linger", 6.16, in 6.12.y stable; it did not apply to 6.1.y).
   */
  madviseSplitFlushesPending: boolean;
}

export const TRAITS: Record<string, KernelTraits> = {
  '6.1': {
    release: '6.1', mthp: false, madvKeepsLargeFolios: false, rssEveryUpdate: false, reclaimPagesTracepoint: false,
    pmdQueuedAtFault: false, mthpSplitStats: false, partiallyMappedFlag: false, droppable: false, folioBatch: 15,
    lazyCpumask: false, flushSkipsOtherMm: false, pgtableFreeInTask: true, pageoutAgesYoung: true, deferredScanBatch: 128, zapFreesReversed: true, unmapDrainsLruAdd: true,
    hugeZeroWpAllocatesThp: false, hugeZeroWpQueuesThp: false,
    mprotectCleanAnonWritable: false, mprotectPmdWriteUpgrade: false, madviseGatherPerCall: false, dontneedFreesEmptyPteTables: false, coldPmdFlushDeferred: false,
    lruGen: false, lruGenRefsRework: false, memoryReclaimQuarterBatch: false, shrinkFreeList: true, shrinkFlushesBeforeLargeFree: true,
    freezeSplitQueuesDeferred: true, splitRemapsZeroPages: false, gatherNrPagesEntries: false, splitTailsCreatedLastFirst: true, pmdSplitPtesDirty: false, splitBatchFlush: false, splitHoldsSubpage: true, madviseSplitFlushesPending: false,
  },
  '6.12': {
    release: '6.12', mthp: true, madvKeepsLargeFolios: true, rssEveryUpdate: true, reclaimPagesTracepoint: false,
    pmdQueuedAtFault: true, mthpSplitStats: true, partiallyMappedFlag: true, droppable: true, folioBatch: 31,
    lazyCpumask: false, flushSkipsOtherMm: false, pgtableFreeInTask: true, pageoutAgesYoung: false, deferredScanBatch: 128, zapFreesReversed: false, unmapDrainsLruAdd: true,
    hugeZeroWpAllocatesThp: false, hugeZeroWpQueuesThp: false,
    mprotectCleanAnonWritable: true, mprotectPmdWriteUpgrade: true, madviseGatherPerCall: false, dontneedFreesEmptyPteTables: false, coldPmdFlushDeferred: false,
    lruGen: true, lruGenRefsRework: false, memoryReclaimQuarterBatch: true, shrinkFreeList: false, shrinkFlushesBeforeLargeFree: true,
    freezeSplitQueuesDeferred: false, splitRemapsZeroPages: true, gatherNrPagesEntries: true, splitTailsCreatedLastFirst: true, pmdSplitPtesDirty: true, splitBatchFlush: true, splitHoldsSubpage: false, madviseSplitFlushesPending: true,
  },
  '6.18': {
    release: '6.18', mthp: true, madvKeepsLargeFolios: true, rssEveryUpdate: true, reclaimPagesTracepoint: true,
    pmdQueuedAtFault: true, mthpSplitStats: true, partiallyMappedFlag: true, droppable: true, folioBatch: 31,
    lazyCpumask: true, flushSkipsOtherMm: true, pgtableFreeInTask: false, pageoutAgesYoung: false, deferredScanBatch: 128, zapFreesReversed: false, unmapDrainsLruAdd: false,
    hugeZeroWpAllocatesThp: true, hugeZeroWpQueuesThp: true,
    mprotectCleanAnonWritable: true, mprotectPmdWriteUpgrade: true, madviseGatherPerCall: true, dontneedFreesEmptyPteTables: true, coldPmdFlushDeferred: true,
    lruGen: false, lruGenRefsRework: true, memoryReclaimQuarterBatch: true, shrinkFreeList: false, shrinkFlushesBeforeLargeFree: true,
    freezeSplitQueuesDeferred: false, splitRemapsZeroPages: true, gatherNrPagesEntries: true, splitTailsCreatedLastFirst: false, pmdSplitPtesDirty: true, splitBatchFlush: true, splitHoldsSubpage: false, madviseSplitFlushesPending: true,
  },
};
TRAITS['6.19'] = { ...TRAITS['6.18']!, release: '6.19' };

export interface ThpSettings {
  /** `transparent_hugepage/enabled`. */
  enabled: 'always' | 'madvise' | 'never';
  /** Per size in KiB: `hugepages-<size>kB/enabled` (always | inherit | madvise | never). */
  sizes: Record<number, 'always' | 'inherit' | 'madvise' | 'never'>;
  /**
   * `transparent_hugepage/use_zero_page` (default 1): a read fault on an untouched PMD range
   * where a PMD THP is allowed maps the huge zero folio instead of 4 KiB zero-page PTEs.
   * Absent means 1.
   */
  use_zero_page?: boolean;
}

/** Where a size's policy is `always` (or `inherit` under enabled=always) every task's anonymous faults allocate such folios. */
export function allocatesForEveryone(sizeKb: number, thp: ThpSettings): boolean {
  const mode = thp.sizes[sizeKb] ?? (sizeKb === 2048 ? 'inherit' : 'never');
  return mode === 'always' || (mode === 'inherit' && thp.enabled === 'always');
}

/**
 * Where the settings name a size's policy and it allocates for no task (`never`, or `inherit`
 * under enabled=never). A size the settings do not list is not judged.
 */
export function allocatesForNone(sizeKb: number, thp: ThpSettings): boolean {
  const mode = thp.sizes[sizeKb] ?? (sizeKb === 2048 ? 'inherit' : undefined);
  return mode === 'never' || (mode === 'inherit' && thp.enabled === 'never');
}

export const DEFAULT_THP: ThpSettings = { enabled: 'madvise', sizes: { 64: 'never', 2048: 'inherit' } };

export interface ModelConfig {
  arch: Arch;
  traits: KernelTraits;
  /** Series ids (with version), in application order. */
  series: string[];
  /** Name for reports (`linux-6.18`, `linux-6.18 -batched-unmap`, …). */
  name: string;
  thp: ThpSettings;
}
