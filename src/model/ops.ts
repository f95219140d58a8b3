/**
 * The operation vocabulary: what a workload did, as the model consumes it. Owned by the model
 * and produced by replay/ (lifting trace events), so the model never imports its producer.
 * Every op carries `at` (the trace line that caused it) so outcomes point back to the input.
 */

export interface OpRef {
  /** Index of the op in the stream. */
  index: number;
  /** 1-based line of the trace event that produced it (0 for synthetic ops). */
  line: number;
  /** Timestamp of that event (ns), for timelines. */
  tsNs?: number;
}

/** A page allocation the kernel recorded right after a fault (`kmem:mm_page_alloc`). */
export interface AllocFact {
  pfn: number;
  order: number;
  /** `user`: a data folio (GFP_HIGHUSER_MOVABLE / GFP_TRANSHUGE…); `pgtable`: a page-table page. */
  use: 'user' | 'pgtable';
  /**
   * Times the kernel ran memcg reclaim while charging this allocation to a memcg at its limit
   * (mm_vmscan_memcg_reclaim_begin after it, in the same fault): try_charge_memcg() →
   * try_to_free_mem_cgroup_pages() for the allocation's pages.
   */
  memcgReclaim?: number;
  /**
   * Allocated the way a fault's anonymous folio is retried after a failed charge
   * (alloc_anon_folio(): GFP_TRANSHUGE* for a large order, zeroed for order 0): only such an
   * allocation after a larger one in the same fault is that fault's fallback — page-cache
   * pages a read() allocates after a fault into its buffer are not.
   */
  anonFault?: boolean;
  /**
   * An order-0 user page allocated without __GFP_ZERO (the gfp mask was recorded): its contents
   * are copied from another page (do_cow_fault(), wp_page_copy() of a non-zero page), never
   * do_anonymous_page()'s zeroed folio.
   */
  copy?: boolean;
}

/** A run of present pages at consecutive pfns, all alike (`fl: snap pages`). */
export interface SnapshotRun {
  addr: number;
  /** Pages in the run. */
  n: number;
  /** pfn of the run's first page; page i is at pfn + i. */
  pfn: number;
  /** An anonymous page, a file page (or shared anonymous), or the shared zero page. */
  what: 'anon' | 'file' | 'zero';
  /** pagemap's exclusively-mapped bit. */
  exclusive: boolean;
  /** A swap-backed file page (tmpfs, shmem): counted in MM_SHMEMPAGES. */
  swapbacked: boolean;
  /** `head`: the run's first page heads a compound folio and the rest are its tails; `tail`: every page is a tail of the folio the run before began. */
  compound?: 'head' | 'tail';
}

/** One VMA of the address space at `fl: begin` (`fl: snap vma`), with its present pages. */
export interface SnapshotVma {
  start: number;
  end: number;
  /** File offset in bytes (/proc/self/maps). */
  off: number;
  /** What /proc/self/maps names it: an anonymous mapping, a private or shared file mapping, the brk heap, the stack, or a special mapping. */
  kind: 'anon' | 'file' | 'shared' | 'heap' | 'stack' | 'vdso' | 'vvar' | 'vsyscall';
  name: string;
  read: boolean;
  write: boolean;
  exec: boolean;
  shared: boolean;
  runs: SnapshotRun[];
}

export const MADV = {
  MADV_NORMAL: 0,
  MADV_RANDOM: 1,
  MADV_SEQUENTIAL: 2,
  MADV_WILLNEED: 3,
  MADV_DONTNEED: 4,
  MADV_FREE: 8,
  MADV_REMOVE: 9,
  MADV_DONTFORK: 10,
  MADV_DOFORK: 11,
  MADV_HUGEPAGE: 14,
  MADV_NOHUGEPAGE: 15,
  MADV_DONTDUMP: 16,
  MADV_DODUMP: 17,
  MADV_COLD: 20,
  MADV_PAGEOUT: 21,
} as const;
export type Advice = keyof typeof MADV;

interface Base {
  /** Thread id that issued it and the address space (thread-group id) it acts on. */
  tid: number;
  tgid: number;
  /** CPU the issuing thread ran on. */
  cpu: number;
  at: OpRef;
  /**
   * Head pfns of the workload's folios the kernel moved from a per-CPU lru_add batch onto the
   * LRU during this op (`mm_lru_insertion`). The batch also holds other tasks' folios, so when
   * it fills is not knowable from the workload alone: the recorded moves say when it drained.
   */
  lruAdded?: number[];
  /**
   * How many of the op's recorded allocations (`allocs`) came before its first `lruAdded` move:
   * where in the op the batch drained (a fault retried after readahead filled the batch in its
   * first try drained there, before the retry put that try's folio).
   */
  lruAddedAt?: number;
  /**
   * For each `lruAdded` move, how much of the op's recorded output came before it: its page
   * frees and reclaim_pages() passes (`mm_page_free`, `mm_vmscan_reclaim_pages`). An op that
   * puts folios back in several passes (MADV_PAGEOUT over several page tables) fills the batch
   * in one pass and sees it drain in a later one.
   */
  lruAddedPos?: number[];
  /**
   * Head pfns of the workload's folios another task moved from a per-CPU lru_add batch onto the
   * LRU (its `mm_lru_insertion`) while this op's task was switched out in the middle of it, on
   * the CPU the op runs on: that task's drain came before the op's output that followed.
   */
  lruDrainedMidway?: number[];
  /**
   * Task switches of the workload's other threads on other CPUs while this op's task was in the
   * middle of it, each once `at` of the op's own recorded events had come: a thread switched in
   * loads the mm there (the op's flushes reach that CPU from then on, and reclaim defers them:
   * should_defer_flush()); one switched out leaves the CPU to the idle task (lazily) or to
   * another process's mm.
   */
  siblingSwitchesAt?: SiblingSwitch[];
  /**
   * Page addresses this op's folio splits turned into migration entries (`set_migration_pte`, the
   * pages of a `set_migration_pmd`) and those the split restored to their own page
   * (`remove_migration_pte`): a page unmapped and not restored was zero-filled, and 6.12+ maps
   * the shared zero page there instead. Page contents are otherwise in no event.
   */
  migrated?: number[];
  restored?: number[];
  /**
   * The deferred-split shrinker's calls from reclaim during this op, in order
   * (`mm_shrink_slab_start` of deferred_split_scan): the reclaim pass's priority and the scan
   * budget do_shrink_slab() computed (`total_scan`: it includes the work deferred by earlier
   * calls, nr_deferred, which lives across reclaims and other tasks' reclaim).
   */
  shrinks?: Array<{ priority: number; totalScan: number }>;
  /**
   * The reclaim passes over the inactive LRU during this op, in order
   * (`mm_vmscan_lru_shrink_inactive`): the pages the pass looked at and how many of them its
   * reference checks kept (nr_ref_keep: a young entry found, or the rmap trylock failing). Which
   * entries were young is hardware state no event shows — a user's load sets it — and this is
   * the one record of what folio_check_references() found; the pass's other counts are its
   * outcome and are not read.
   */
  inactivePasses?: Array<{ scanned: number; refKeep: number }>;
  /**
   * CPUs that answered this op's flush IPI with `remote wrong CPU` in another process's context
   * (recorded by `record`'s second instance): the IPI reached them while they ran another mm,
   * and they left the mm's mm_cpumask. When it lands is the scheduler's doing, not the workload's.
   */
  ipiLeft?: number[];
  /**
   * Times a memcg charge made in this op ran reclaim (mm_vmscan_memcg_reclaim_begin in the op)
   * for a charge that is not one of a fault's listed allocations: a slab object or socket buffer
   * charged with __GFP_ACCOUNT in a system call (a write(2) to a socket, a vma's allocation in
   * mmap), charged to the memcg at its limit — try_charge_memcg() → try_to_free_mem_cgroup_pages().
   * A fault's own charges are on its allocations (AllocFact `memcgReclaim`).
   */
  chargeReclaim?: number;
}

/**
 * A file fault's own page-cache events, in order: `filemap:mm_filemap_map_pages` (fault-around's
 * filemap_map_pages() over file pages [first, last], `last` cut at the file's end),
 * `filemap:mm_filemap_fault` (filemap_fault() of page `first`; `last` absent), or
 * `filemap:mm_filemap_add_to_page_cache` (`added`: readahead put pages [first, last] in the
 * page cache). `file` names the file (device and inode).
 */
export interface FileFaultEvent {
  file: string;
  first: number;
  last?: number;
  added?: boolean;
}

export type Op =
  /**
   * `off`: a file mapping's offset in bytes. `fileEvents`: the capture records the file faults'
   * page-cache events (FileFaultEvent), so every page a fault maps there is an input.
   */
  | (Base & { kind: 'mmap'; addr: number; len: number; prot: number; flags: number; anon: boolean; off?: number; fileEvents?: boolean })
  | (Base & { kind: 'munmap'; addr: number; len: number })
  /** `allocs`: the page tables the move allocated for the destination (mm_page_alloc, in order). */
  | (Base & { kind: 'mremap'; addr: number; oldLen: number; newLen: number; flags: number; newAddr: number; allocs?: AllocFact[] })
  | (Base & { kind: 'madvise'; addr: number; len: number; advice: Advice | number })
  /** mprotect(addr, len, prot): `prot` is the PROT_* bits as passed. */
  | (Base & { kind: 'mprotect'; addr: number; len: number; prot: number })
  /** brk(brk): `result` is what it returned (the break after the call). */
  | (Base & { kind: 'brk'; brk: number; result?: number })
  /** A system call the model does not represent (brk, read, …): its output is outside the model. */
  | (Base & { kind: 'syscall'; name: string })
  /**
   * A page fault. `present`: the hardware's error code said the entry was present (x86
   * X86_PF_PROT; a write fault with it is a write-protect fault, do_wp_page()); absent when the
   * trace does not say.
   */
  | (Base & {
    kind: 'fault'; addr: number; write: boolean; present?: boolean; allocs: AllocFact[]; file?: FileFaultEvent[];
    /**
     * Another task's fault on the same page overlapped this one in time (one of them was
     * switched out runnable in the middle of it): the trace line of that fault. Which of the two
     * took the page-table lock first after deciding decides the outcome (which copies, which
     * reuses), and the trace orders their starts only.
     */
    racedWith?: number;
    /** The process of that fault. */
    racedTgid?: number;
  })
  /** A user store to already-mapped memory (a marker): dirties present PTEs, no fault. */
  | (Base & {
    kind: 'store'; addr: number; len: number; stride: number; count: number;
    /** A load (`fl: load`): the hardware sets the accessed bit only. */
    read?: boolean;
  })
  | (Base & { kind: 'fork'; child: number })
  | (Base & { kind: 'thread'; child: number })
  | (Base & { kind: 'exit' })
  /**
   * Before the scenario window: a fault of the workload's task that the model does not apply,
   * counted only for the task's rss cache (6.1 syncs it every 64 faults); and the exec that
   * started the task's new mm (its cache was synced and reset then).
   */
  | (Base & { kind: 'fault-count'; allocs: AllocFact[] })
  | (Base & { kind: 'exec' })
  /**
   * The workload's address space when the window opened (`fl: begin`). Without a snapshot of
   * it, `missing` names what the trace lacks: the mm then holds memory the model never saw
   * mapped (its binary's data, heap, stack), whose output in a fork, an exit or a fault on it
   * is outside the model (kernel/fork.ts). `cpus`: the CPUs its task ran on before the window
   * since its exec (each had the mm loaded); `lazy`: those it last left for the idle task or a
   * kernel thread, with nothing recorded running there since (each still holds the mm lazily).
   */
  | (Base & { kind: 'prewindow'; missing: string; cpus?: number[]; lazy?: number[] })
  /**
   * The workload's address space when the window opened, from its `fl: snap` markers: every
   * VMA of /proc/self/maps with its present pages (/proc/self/pagemap). It replaces `prewindow`:
   * the memory it holds is the model's (a fork copies it, faults and the exit's zap act on it).
   */
  | (Base & { kind: 'snapshot'; vmas: SnapshotVma[] })
  /**
   * A thread of the mm was switched in (`on`) or out on `cpu` (sched_switch). Out: `idle`, to a
   * task without an mm (the idle task, a kernel thread: lazy TLB); `ours`, to another task of the
   * workload; else to another process's task.
   */
  /**
   * A workload task switched in or out (`sched_switch`). `overlaps`: a switch out that came
   * while an op of another of the workload's tasks, on another CPU, was in flight (its flush
   * IPI to this CPU may have landed on either side of the switch).
   */
  | (Base & {
    kind: 'run'; on: boolean; idle?: boolean; ours?: boolean; overlaps?: boolean;
    /** Also placed inside a sibling's system call (Op siblingSwitchesAt): not moved before it. */
    placed?: boolean;
  })
  /**
   * A task of another process was switched in on `cpu` while that CPU held the workload's mm
   * lazily (after a workload task left it for the idle task or a kernel thread): switch_mm().
   */
  | (Base & { kind: 'switch-other' })
  /**
   * A per-CPU lru_add batch drained outside the workload's ops (another task filled it, or
   * lru_add_drain_all()'s work ran on `cpu`), moving `pfns` of the workload's folios onto the LRU.
   * An empty list only says that the trace records these moves (`mm_lru_insertion`).
   */
  | (Base & { kind: 'lru-drain'; pfns: number[] })
  /**
   * An argument page of an execve(): copy_strings() → get_arg_page() faulted it into the new
   * mm's stack (a zeroed user page, counted in that mm's rss before exec_mmap()), `pfn` as
   * recorded; one op per page, the first the stack's top. Its address is in no event.
   */
  | (Base & { kind: 'exec-arg-page'; pfn: number })
  /**
   * An exec'd ELF image's mappings as elf_load() made them (the file's program headers, saved
   * by `record`, placed at the load bias the image's padzero() fault gave): `file` ones are
   * private file mappings, the others its bss (anonymous). `fileEvents` as for mmap.
   */
  | (Base & { kind: 'exec-image'; vmas: Array<{ start: number; end: number; file: boolean; read: boolean; write: boolean }>; fileEvents?: boolean })
  /**
   * What the capture records beyond the workload's tasks (`record`'s header marker `wide=`):
   * `mm_lru_insertion` and `tlb_flush` of every other task, so the lru_add drains and flush-IPI
   * arrivals in other tasks' context are inputs, not unknowns.
   */
  | (Base & { kind: 'capture'; wide: string[] })
  /**
   * Thread `tid` follows the marker convention in the window (`fl: thread`): its stores and loads
   * to the workload's memory are marked — except `reads`, [addr, addr + len) it declared it
   * reads at any time from now on without marking each read (`fl: note role=reader`).
   */
  | (Base & { kind: 'accesses'; reads?: [number, number] })
  /** memcg reclaim of the workload's own cgroup (`memory.reclaim` / `memory.force_empty`). */
  | (Base & { kind: 'memcg-reclaim'; bytes: number; how: string })
  /** `echo 2 > /proc/sys/vm/drop_caches`: runs the shrinkers, among them deferred_split_scan. */
  | (Base & { kind: 'drop-caches'; value: number })
  /** Window structure: the scenario's begin/end, phases, and counter reads (not modelled work). */
  | (Base & { kind: 'marker'; verb: 'begin' | 'end' | 'phase' | 'counters-begin' | 'counters-end' | 'note'; text: string });

export type OpKind = Op['kind'];

/** A sibling thread's task switch inside an op (Op.siblingSwitchesAt). */
export interface SiblingSwitch {
  cpu: number;
  /** The sibling thread. */
  tid: number;
  /** How many of the op's own recorded events came before it. */
  at: number;
  /** Switched in (true) or out. */
  on: boolean;
  /** Switched out to the idle task or a kernel thread (the CPU keeps the mm lazily). */
  idle?: boolean;
  /** Switched out to another task of the workload (whose switch-in loads the mm). */
  ours?: boolean;
}
