/**
 * Plain data mirroring the kernel structures the model needs (kernel field names where a
 * kernel field exists). No behaviour here: paths live in kernel/*.ts.
 *
 * Page tables: x86-64 4-level with 4 KiB pages. The upper levels collapse into a map keyed by
 * `addr >> PMD_SHIFT`; each PMD slot is none, a PTE table of PTRS_PER_PTE fixed slots, or a
 * huge PMD mapping a 2 MiB folio (with its deposited PTE table). A PTE table is a fixed
 * 512-slot array; reading or writing outside 0..511 is a violation (kernel/pgtable.ts), never
 * a silent `undefined`.
 *
 * Concurrency: nothing here assumes one thread. Locks the kernel takes (PTL, split-queue lock,
 * folio lock) are fields, so a later race explorer can interleave paths at lock points.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PTRS_PER_PTE = 512;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 1 << PMD_SHIFT;
export const HPAGE_PMD_ORDER = 9;
export const HPAGE_PMD_NR = 512;

export const enum Lru {
  None = -1,
  InactiveAnon = 0,
  ActiveAnon = 1,
  InactiveFile = 2,
  ActiveFile = 3,
  Unevictable = 4,
}

export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;
export const RSS_NAMES = ['MM_FILEPAGES', 'MM_ANONPAGES', 'MM_SWAPENTS', 'MM_SHMEMPAGES'] as const;

/**
 * A folio's life for diff: its key (first pfn @ the op that made it; a split piece's, its
 * parent's + the piece's index) and its steps, as codes into Kernel.storySteps. A diff keeps one
 * per folio of each config, so it is kept small: the key is spelled out when asked, and the steps
 * are run-length coded in a string — per run the code and then the run's length, one UTF-16 unit
 * each (a code from 0x8000 takes two) — so that equal stories are equal strings.
 */
export class FolioStory {
  /** The runs closed so far, coded (see the class); the open run is kept as two numbers. */
  private closed = '';
  private lastCode = -1;
  private lastRun = 0;

  constructor(
    private readonly pfn: number,
    private readonly op: number,
    /** A split piece's key, spelled out. */
    private readonly pieceKey: string | undefined,
    readonly order: number,
    /** Address of its first page, once known. */
    public addr: number,
  ) {}

  get key(): string {
    return this.pieceKey ?? `${this.pfn.toString(16)}@${this.op}`;
  }

  /** The steps, run-length coded (see the class); built when read, not at each step. */
  get steps(): string {
    return this.lastRun === 0 ? this.closed : this.closed + runText(this.lastCode, this.lastRun);
  }

  add(code: number): void {
    if (code === this.lastCode && this.lastRun < 0xffff) {
      this.lastRun++;
      return;
    }
    if (this.lastRun > 0) this.closed += runText(this.lastCode, this.lastRun);
    this.lastCode = code;
    this.lastRun = 1;
  }
}

function runText(code: number, run: number): string {
  return code < 0x8000 ? String.fromCharCode(code, run) : String.fromCharCode(0x8000 | (code >>> 15), code & 0x7fff, run);
}

/** The runs of a story's coded steps: [code, length] in order (a run may continue in the next). */
export function storyRuns(steps: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < steps.length; ) {
    let code = steps.charCodeAt(i++);
    if (code & 0x8000) code = ((code & 0x7fff) << 15) | steps.charCodeAt(i++);
    out.push([code, steps.charCodeAt(i++)]);
  }
  return out;
}

/**
 * A folio. A class with every field set once in the constructor, not a 30-field object literal:
 * measured on the bench trace's 170 k ops (lifted beforehand, model and fidelity only), the
 * literal version took 1.2–1.3 s and this one 0.78–0.84 s (making a folio: ~1.2 → ~0.2 µs).
 */
export class Folio {
  declare readonly id: number;
  declare readonly order: number;
  declare readonly nr: number;
  /** First pfn, from the recorded allocation when the trace has one. */
  declare readonly pfn: number;
  /** Page offset of the first page in its anon_vma's linear space (`folio->index`). */
  declare index: number;
  /** The anon_vma root: the family of mms (parent and forked children) that may map it. */
  declare anonRoot: number;
  declare anon: boolean;
  declare swapbacked: boolean;
  declare dirty: boolean;
  declare referenced: boolean;
  declare active: boolean;
  declare mlocked: boolean;
  declare lru: Lru;
  /** Taken off the LRU by reclaim or MADV_PAGEOUT (holds a reference). */
  declare isolated: boolean;
  declare refcount: number;
  /** Number of PTE and PMD entries mapping any part of the folio (a PMD counts 1). */
  declare large_mapcount: number;
  declare entire_mapcount: number;
  /** Per-page mapcount (CONFIG_PAGE_MAPCOUNT): how many PTEs map each page. */
  declare page_mapcount: Int32Array;
  /** Distinct pages mapped by PTEs. */
  declare nr_pages_mapped: number;
  /** On the deferred split queue (`!list_empty(&folio->_deferred_list)`). */
  declare on_deferred_list: boolean;
  declare partially_mapped: boolean;
  /** Held by a per-CPU LRU batch (lru_add / lru_lazyfree) until it drains. */
  declare in_lru_batch: boolean;
  declare freed: boolean;
  /** Pages of this folio that were written since it was mapped (for the per-page dirty view). */
  declare exclusive: boolean;
  /** What has happened to it so far, when stories are on (diff). */
  declare story: FolioStory | undefined;
  /** Links of the LRU list it is on (`folio->lru`) and of the kernel's list of live folios. */
  declare lruOn: FolioList | null;
  declare lruPrev: Folio | null;
  declare lruNext: Folio | null;
  declare allOn: FolioList | null;
  declare allPrev: Folio | null;
  declare allNext: Folio | null;
  /** Scratch of the invariant check: mapping entries counted in check number `invEpoch`. */
  declare invEpoch: number;
  declare invMaps: number;
  /**
   * Kernel.accessEpoch when the kernel last made entries of this folio old (MADV_FREE,
   * MADV_COLD/PAGEOUT, a reference check): an access since then sets the accessed bit again,
   * and one no event shows (Mm.unseenAt later than this) leaves the bit unknown.
   */
  declare agedAt: number;

  // Fields are `declare`d and set here, each once with its final type: class-field initializers
  // (a separate initializer function, fields first set to undefined) measured slower than this.
  constructor(id: number, order: number, nr: number, pfn: number, index: number, anonRoot: number) {
    this.id = id;
    this.order = order;
    this.nr = nr;
    this.pfn = pfn;
    this.index = index;
    this.anonRoot = anonRoot;
    this.anon = true;
    this.swapbacked = true;
    this.dirty = false;
    this.referenced = false;
    this.active = false;
    this.mlocked = false;
    this.lru = Lru.None;
    this.isolated = false;
    this.refcount = 0;
    this.large_mapcount = 0;
    this.entire_mapcount = 0;
    this.page_mapcount = new Int32Array(nr);
    this.nr_pages_mapped = 0;
    this.on_deferred_list = false;
    this.partially_mapped = false;
    this.in_lru_batch = false;
    this.freed = false;
    this.exclusive = true;
    this.story = undefined;
    this.lruOn = null;
    this.lruPrev = null;
    this.lruNext = null;
    this.allOn = null;
    this.allPrev = null;
    this.allNext = null;
    this.invEpoch = 0;
    this.invMaps = 0;
    this.agedAt = 0;
  }
}

/** Which pair of a folio's links a FolioList threads through. */
export const enum FolioLink {
  Lru = 0,
  All = 1,
}

/**
 * A list of folios threaded through links in the folios themselves, as the kernel's list_head
 * is: adding, removing and moving a folio cost a few pointer writes and no hashing, and the
 * list iterates oldest first. A folio is on at most one list per link pair (one LRU list at a
 * time: adding it to another list takes it off the one it is on). Measured against
 * `Set<Folio>` for the live-folio and LRU lists (same run as Folio's figures): 1.7–2.1 s with
 * Sets, 0.78–0.84 s with these — a Set must first give each new folio an identity hash.
 */
export class FolioList implements Iterable<Folio> {
  private head: Folio | null = null;
  private tail: Folio | null = null;
  size = 0;

  constructor(private readonly link: FolioLink) {}

  has(f: Folio): boolean {
    return (this.link === FolioLink.Lru ? f.lruOn : f.allOn) === this;
  }

  /** Append (a member is moved to the end, as a Set's delete + add would). */
  add(f: Folio): void {
    const lru = this.link === FolioLink.Lru;
    const on = lru ? f.lruOn : f.allOn;
    if (on !== null) on.delete(f);
    const t = this.tail;
    if (lru) {
      f.lruOn = this;
      f.lruPrev = t;
      f.lruNext = null;
      if (t) t.lruNext = f;
    } else {
      f.allOn = this;
      f.allPrev = t;
      f.allNext = null;
      if (t) t.allNext = f;
    }
    if (!t) this.head = f;
    this.tail = f;
    this.size++;
  }

  /** Remove; false when the folio was not on this list. */
  delete(f: Folio): boolean {
    if (!this.has(f)) return false;
    const lru = this.link === FolioLink.Lru;
    const prev = lru ? f.lruPrev : f.allPrev;
    const next = lru ? f.lruNext : f.allNext;
    if (prev) {
      if (lru) prev.lruNext = next;
      else prev.allNext = next;
    } else this.head = next;
    if (next) {
      if (lru) next.lruPrev = prev;
      else next.allPrev = prev;
    } else this.tail = prev;
    if (lru) {
      f.lruOn = null;
      f.lruPrev = f.lruNext = null;
    } else {
      f.allOn = null;
      f.allPrev = f.allNext = null;
    }
    this.size--;
    return true;
  }

  /** Each folio in order, without an iterator object per step (the list must not change meanwhile). */
  forEach(fn: (f: Folio) => void): void {
    const lru = this.link === FolioLink.Lru;
    for (let f = this.head; f; f = lru ? f.lruNext : f.allNext) fn(f);
  }

  *[Symbol.iterator](): Iterator<Folio> {
    for (let f = this.head; f; ) {
      const next = this.link === FolioLink.Lru ? f.lruNext : f.allNext;
      yield f;
      f = next;
    }
  }
}

/** A PTE's flag bits, above the page index in PteTable.bits. */
export const PTE_WRITE = 1 << 16;
export const PTE_DIRTY = 1 << 17;
export const PTE_YOUNG = 1 << 18;
/**
 * The entry maps the shared zero page (its folio slot is null: vm_normal_folio() finds no
 * folio there, so rmap, rss, LRU and reclaim never see it). Present and read-only: zap and
 * mremap clear it and flush it, fork copies it, a write fault copies-on-write from it.
 */
export const PTE_ZERO = 1 << 19;
export const PTE_PAGE_MASK = 0xffff;

/**
 * A PTE's value, read out of its table: the folio it maps, the page within that folio, and
 * its bits. A value, not a reference: writing to it changes nothing in the table.
 */
export interface Pte {
  folio: Folio;
  /** Page within the folio. */
  page: number;
  write: boolean;
  dirty: boolean;
  young: boolean;
}

/**
 * A page of 512 PTEs. Entries are packed (the folio per slot, and the page index with the
 * write/dirty/young bits in one integer per slot) rather than an object per entry: a replay
 * maps millions of pages, and per-entry objects made the fault path the model's hottest spot.
 */
export class PteTable {
  readonly kind = 'table' as const;
  /** Folio mapped by each slot; null = pte_none, or the zero page when PTE_ZERO is set in `bits`. */
  readonly folio: Array<Folio | null> = new Array<Folio | null>(PTRS_PER_PTE).fill(null);
  /** Page within the folio (bits 0–15) | PTE_WRITE | PTE_DIRTY | PTE_YOUNG, per slot. */
  readonly bits = new Int32Array(PTRS_PER_PTE);
  /** Number of non-none entries (zero-page entries included). */
  used = 0;

  constructor(
    /** pfn of the page-table page (recorded allocation), or 0 when unknown. */
    public pfn: number,
  ) {}

  /** Set slot `i` to map page `page` of `f` (the caller keeps `used`). */
  set(i: number, f: Folio, page: number, write: boolean, dirty: boolean, young: boolean): void {
    this.folio[i] = f;
    this.bits[i] = page | (write ? PTE_WRITE : 0) | (dirty ? PTE_DIRTY : 0) | (young ? PTE_YOUNG : 0);
  }

  /** Set slot `i` to a raw value read earlier (restore, move); a zero-page entry has no folio. */
  setRaw(i: number, f: Folio | null, bits: number): void {
    this.folio[i] = f;
    this.bits[i] = f || (bits & PTE_ZERO) !== 0 ? bits : 0;
  }

  /** Map the shared zero page at slot `i`: present, read-only, clean (the caller keeps `used`). */
  setZero(i: number, young: boolean): void {
    this.folio[i] = null;
    this.bits[i] = PTE_ZERO | (young ? PTE_YOUNG : 0);
  }

  /** Slot `i` maps the shared zero page (is_zero_pfn(pte_pfn())). */
  isZero(i: number): boolean {
    return (this.bits[i]! & PTE_ZERO) !== 0;
  }

  /** pte_none(): neither a folio's page nor the zero page. */
  none(i: number): boolean {
    return this.folio[i] === null && (this.bits[i]! & PTE_ZERO) === 0;
  }

  clear(i: number): void {
    this.folio[i] = null;
    this.bits[i] = 0;
  }

  page(i: number): number {
    return this.bits[i]! & PTE_PAGE_MASK;
  }

  dirty(i: number): boolean {
    return (this.bits[i]! & PTE_DIRTY) !== 0;
  }

  young(i: number): boolean {
    return (this.bits[i]! & PTE_YOUNG) !== 0;
  }

  write(i: number): boolean {
    return (this.bits[i]! & PTE_WRITE) !== 0;
  }

  /** pte_mkdirty + pte_mkyoung (a write access). */
  touch(i: number): void {
    this.bits[i] = this.bits[i]! | PTE_DIRTY | PTE_YOUNG;
  }

  /** pte_mkyoung (a read access: the hardware sets the accessed bit). */
  mkyoung(i: number): void {
    this.bits[i] = this.bits[i]! | PTE_YOUNG;
  }

  /** Clear the young bit; whether it was set (ptep_test_and_clear_young). */
  mkold(i: number): boolean {
    const b = this.bits[i]!;
    this.bits[i] = b & ~PTE_YOUNG;
    return (b & PTE_YOUNG) !== 0;
  }

  /** Clear the young and dirty bits; whether either was set (MADV_FREE's pte_mkold + pte_mkclean). */
  mkcleanOld(i: number): boolean {
    const b = this.bits[i]!;
    this.bits[i] = b & ~(PTE_YOUNG | PTE_DIRTY);
    return (b & (PTE_YOUNG | PTE_DIRTY)) !== 0;
  }

  /** Slot `i` as a value (inspectors, tests), or null when none. */
  get(i: number): Pte | null {
    const f = this.folio[i];
    if (!f) return null;
    const b = this.bits[i]!;
    return { folio: f, page: b & PTE_PAGE_MASK, write: (b & PTE_WRITE) !== 0, dirty: (b & PTE_DIRTY) !== 0, young: (b & PTE_YOUNG) !== 0 };
  }
}

export interface HugePmd {
  kind: 'huge';
  /** For the huge zero PMD: the one shared huge zero folio (huge_memory.ts HUGE_ZERO_FOLIO). */
  folio: Folio;
  /**
   * Maps the huge zero folio (is_huge_zero_pmd()): read-only, no rss, no rmap, never on an
   * LRU; it still owns a deposited page table, which a split turns into 512 zero-page PTEs.
   */
  zero?: boolean;
  write: boolean;
  dirty: boolean;
  young: boolean;
}

export type PmdEntry = PteTable | HugePmd;

export interface Vma {
  vm_start: number;
  vm_end: number;
  /** In pages: for anonymous VMAs `vm_start >> PAGE_SHIFT` at creation, kept across mremap. */
  vm_pgoff: number;
  read: boolean;
  write: boolean;
  hugepage: boolean;
  nohugepage: boolean;
  locked: boolean;
  droppable: boolean;
  /** VM_DONTCOPY (MADV_DONTFORK): fork does not copy the VMA. */
  dontcopy?: boolean;
  /** VM_DONTDUMP (MADV_DONTDUMP). */
  dontdump?: boolean;
  anon: boolean;
  /**
   * A private file mapping (MAP_PRIVATE with a file): its file pages are not modelled, the
   * anonymous copies its write faults make are (do_cow_fault(), wp_page_copy()).
   */
  privateFile?: boolean;
  /**
   * The kernel may map pages here the model does not hold: file pages (a read fault maps one and
   * fault-around its neighbours, as the page cache allows), a shared mapping's pages. A zap's
   * flush range then depends on them.
   */
  unseenPages?: boolean;
  /** An anonymous mapping the model did not see created (stack, heap before the window). */
  implicit: boolean;
  /** The brk heap (mm.brk). */
  heap?: boolean;
  /**
   * dup_mmap() copies no entry of this VMA (vma_needs_copy() false): it has no anon_vma (only
   * file pages or the zero page were ever mapped) or is a special mapping (vdso, vvar) whose
   * entries the child faults in again. Set for VMAs from the address-space snapshot.
   */
  noPteCopy?: boolean;
  /**
   * A private file mapping whose file pages the model holds (from the address-space snapshot):
   * `file` names the file (its page cache, kernel/filemap.ts), `fileSwapbacked` says it is on
   * tmpfs/shmem (its pages count in MM_SHMEMPAGES). Read faults there map pages (fault-around).
   */
  filePages?: boolean;
  file?: string;
  fileSwapbacked?: boolean;
  /**
   * Made in the window (an exec'd image's segment, an mmap() of a file) by a capture that records
   * the file faults' page-cache events: the pages each fault maps here come from those events
   * (filemap.ts do_read_fault_recorded()), and `filePages` holds.
   */
  fileEvents?: boolean;
  /**
   * The file page at address `a` of this VMA is `a / PAGE_SIZE + fileDelta` (vm_pgoff less the
   * VMA's first page; unchanged by splits): from the mmap() offset or the first page-cache event.
   */
  fileDelta?: number;
}

export interface Mm {
  id: number;
  tgid: number;
  /** Family for anon rmap: forked children share the parent's root. */
  anonRoot: number;
  vmas: Vma[];
  pmds: Map<number, PmdEntry>;
  /** rss counters in pages. */
  rss: [number, number, number, number];
  /** CPUs that may hold TLB entries for this mm. */
  cpumask: Set<number>;
  /**
   * CPUs of `cpumask` that may have left it (6.14+): a task of this mm there switched to
   * another process while this mm's flush IPI was in flight to it — whether the IPI landed
   * before the switch (a flush; the CPU stays) or after it (`remote wrong CPU`; the CPU leaves)
   * is not in the trace's order of events. Certain again once a task of the mm runs there or a
   * flush finds it on another mm.
   */
  cpumaskUncertain?: Set<number>;
  /**
   * x86 `mm->context.next_trim_cpumask` (6.14+), as a trace time in ns: a flush after it may
   * trim CPUs running other mms from mm_cpumask. Set from the mm's first op.
   */
  next_trim_cpumask?: number;
  tlb_gen: number;
  /** Batched unmaps not yet flushed (`mm->tlb_flush_batched`). */
  tlbFlushPending: boolean;
  /** Threads of this mm. */
  threads: Set<number>;
  exited: boolean;
  /**
   * Deposited PTE tables of PMD-mapped THPs: a stack per PMD-table page (pmd_huge_pte), so a
   * withdraw takes the most recently deposited table, not the one deposited for that THP.
   */
  deposits: Map<number, { ring: number[]; head: number }>;
  /** Upper-level table pages seen allocated (`pmd:<addr>>30>`, `pud:<addr>>39>` → pfn). */
  upperTables: Map<string, number>;
  /**
   * The mm held memory before the window that the model never saw mapped (kernel/fork.ts):
   * `missing` names the input that would carry it; `forked` once a fork shared it copy-on-write.
   */
  preWindow?: { missing: string; forked: boolean };
  /** The program break as brk() calls showed it: the heap VMA is [start, PAGE_ALIGN(end)). */
  brk?: { start: number; end: number };
  /**
   * 64 KiB blocks (addr / 65536) where a fault found no VMA the model knows and mapped what the
   * model does not hold (a vdso page, a file page fault-around spread): their file rss is unknown.
   */
  unseenBlocks?: Set<number>;
  /**
   * Kernel.accessEpoch when a task of this mm last ran user code whose accesses no event shows
   * (see Kernel.accessesUnseen), and who and where, in words.
   */
  unseenAt?: number;
  /** Which task did, up to which trace line, and on which CPU (-1: before its call at that line). */
  unseenTid?: number;
  unseenLine?: number;
  unseenCpu?: number;
  /**
   * Addresses of file pages the model mapped by its guess of a fault-around (a page the window
   * had not shown uptodate): the kernel may have left their PTEs none (kernel/filemap.ts).
   */
  guessedFilePages?: Set<number>;
  /** A new mm's argument pages (pfns, the stack's top first) not yet placed at an address (kernel/memory.ts get_arg_page()). */
  argPages?: number[];
  /** The address ranges calls of the window mapped, unmapped or moved (kernel/mmap.ts munmap_outside_model()). */
  windowRanges?: Array<[number, number]>;
  /** The mm got a mapping whose file faults the trace records (Vma.fileEvents; kernel/filemap.ts). */
  fileEvents?: boolean;
}

/** 6.1 per-task rss cache (SPLIT_RSS_COUNTING, `current->rss_stat`): pending deltas and faults since sync. */
export interface TaskRss {
  cache: [number, number, number, number];
  events: number;
  /** The cache also holds counts of faults outside the model: its next sync is not the model's to predict. */
  unknown?: boolean;
}

/** The per-task unmap batch (`current->tlb_ubc`). */
export interface TlbUbc {
  flush_required: boolean;
  writable: boolean;
  cpumask: Set<number>;
  /** arm64: ranges whose TLBIs were issued but not yet synchronised. */
  ranges: Array<[number, number]>;
  mms: Set<Mm>;
}

export interface DeferredSplitQueue {
  /** In order, head first. */
  list: Folio[];
  split_queue_len: number;
  /** Folios moved to a scanner's private list (6.12–6.18 form). */
  privateList: Folio[];
}

/**
 * What one CPU's TLB holds (arch/x86 `cpu_tlbstate.loaded_mm` and `cpu_tlbstate_shared.is_lazy`):
 * a workload mm, `init_mm` (after a flush IPI made a lazy CPU leave its mm), or `other` — a task
 * of another process, or a CPU the trace has not shown yet. `lazy`: the CPU runs a task without
 * an mm (idle, a kernel thread, a task past exit_mm()) and keeps the previous mm loaded.
 */
export interface CpuTlbState {
  loaded: Mm | 'init' | 'other';
  lazy: boolean;
}
