/**
 * mm/memory.c: anonymous faults (do_anonymous_page, do_huge_pmd_anonymous_page, and the
 * copy-on-write from the zero page, do_wp_page → wp_page_copy) and zap (unmap_page_range for
 * munmap, MADV_DONTNEED and exit).
 *
 * The zero page: a read fault on an untouched anonymous page maps the shared zero page
 * (do_anonymous_page without FAULT_FLAG_WRITE): no allocation, no rss, no rmap, no flush. On a
 * range where a PMD THP is allowed, with use_zero_page, it maps the huge zero folio instead
 * (huge_memory.ts). Such entries are present, so a later write is a write-protect fault that
 * copies (allocation, +1 rss, the old entry cleared and flushed), and zap clears them inside its
 * flush range without touching rss, rmap or frees.
 *
 * The folio size chosen at a fault is what the kernel recorded (the data-page allocation that
 * followed the fault) or, with no allocation events, the highest enabled mTHP size that fits.
 * Model deviation: file-backed and shared mappings are not modelled; a fault the model cannot
 * attribute to an anonymous mapping it knows is reported as unmodelled, with no prediction.
 */
import type { AllocFact } from '../ops.js';
import {
  HPAGE_PMD_NR, HPAGE_PMD_ORDER, MM_ANONPAGES, PAGE_SIZE, PMD_SIZE, PTE_WRITE, PTRS_PER_PTE,
  PteTable, type Folio, type HugePmd, type Mm, type Vma,
} from '../state.js';
import type { Kernel } from './kernel.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { deferred_split_folio, folio_add_rmap_ptes, folio_put_refs, folio_remove_rmap_pmd, folio_remove_rmap_ptes, free_folio } from './rmap.js';
import { do_huge_zero_wp_pmd, set_huge_zero_folio, split_huge_pmd_locked, zap_deposited_table } from './huge_memory.js';
import { folio_add_lru, lru_add_drain, lru_add_observed } from './swap.js';
import { mem_cgroup_charge_allocs } from './memcontrol.js';
import { flush_tlb_batched_pending, flush_tlb_mm_range } from './tlbflush.js';
import { do_wp_page_anon, huge_pmd_wp_must_split, untraced, wp_page_copy } from './fork.js';
import { bind_cow_fault, do_fault_around, do_read_fault_recorded, guessed_page, mm_counter, unguess_page, unseenBlock } from './filemap.js';

export function find_vma(mm: Mm, addr: number): Vma | undefined {
  for (const v of mm.vmas) if (addr >= v.vm_start && addr < v.vm_end) return v;
  return undefined;
}

function thpAllowed(k: Kernel, vma: Vma, sizeKb: number): boolean {
  if (vma.nohugepage) return false;
  // Without per-size controls (before mTHP, 6.8: 6.1 has only transparent_hugepage/enabled)
  // the PMD size follows the global setting, as `inherit` does.
  const s = k.config.thp.sizes[sizeKb] ?? (sizeKb === 2048 ? 'inherit' : 'never');
  const mode = s === 'inherit' ? k.config.thp.enabled : s;
  return mode === 'always' || (mode === 'madvise' && vma.hugepage);
}

/** The orders a write fault may allocate at `addr`, highest first (thp_vma_allowable_orders). */
function allowableOrders(k: Kernel, vma: Vma): number[] {
  const out: number[] = [];
  if (thpAllowed(k, vma, 2048)) out.push(HPAGE_PMD_ORDER);
  if (k.traits.mthp) for (const kb of [1024, 512, 256, 128, 64, 32, 16]) if (thpAllowed(k, vma, kb)) out.push(Math.log2(kb / 4));
  return out;
}

export type FaultResult = 'mapped' | 'present' | 'zero-page' | 'unmodelled';

const NO_ALLOCS: AllocFact[] = [];
/** Upper page-table levels, the one nearest the PTE table first. */
const UPPER_LEVELS = ['pmd', 'pud'] as const;

/**
 * do_fault() → __do_fault() on a special mapping whose ->fault handler installs the entry
 * itself and returns VM_FAULT_NOPAGE (the vDSO data page: vvar_fault() → vmf_insert_pfn()).
 * With no PTE table there yet, __do_fault() first preallocates one (vmf->prealloc_pte), then
 * the handler's insert allocates and installs its own (get_locked_pte() → __pte_alloc()), and
 * do_fault() frees the unused preallocation on the way out: the record shows two page-table
 * allocations and no data folio, in memory no VMA the model knows maps (the program reads the
 * clock through the vDSO: fl.h fl_now_ns()).
 * Model deviation: the mapping itself and the table the handler installed are not held (no
 * VMA of the model covers them); only the preallocated table's free is the op's output.
 */
function nopage_fault(k: Kernel, pgt: AllocFact[]): FaultResult {
  const prealloc = pgt[pgt.length - 2]!;
  k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: prealloc.pfn, order: 0, what: 'pgtable' });
  return 'present';
}

/** handle_mm_fault() for an anonymous mapping. */
export function handle_mm_fault(k: Kernel, mm: Mm, addr: number, write: boolean, allocs: AllocFact[], present?: boolean): FaultResult {
  k.checkSyncRss(mm);
  if (allocs.length > 1) allocs = release_retried(k, allocs);
  // Charges first: failed ones free their folio, reclaim runs where the record says it did.
  const user: AllocFact | undefined = allocs.length ? mem_cgroup_charge_allocs(k, allocs) : undefined;
  let pgt: AllocFact[] = NO_ALLOCS;
  // A non-data allocation of a large order in a fault is the huge zero folio, allocated at its
  // first use system-wide (mm_get_huge_zero_folio(), after the deposit table): not a page table.
  // Model deviation: recognised by its order alone (its gfp mask, GFP_TRANSHUGE without
  // __GFP_MOVABLE, reads as a page-table allocation to the lifter).
  let hugeZeroAlloc = false;
  for (const a of allocs) {
    if (a.use === 'user') continue;
    else if (a.order >= 2) hugeZeroAlloc = true;
    else {
      if (pgt === NO_ALLOCS) pgt = [];
      pgt.push(a);
    }
  }
  let vma = find_vma(mm, addr);
  if (!vma) {
    if (!user) {
      // A mapping the model never saw made (the vdso, memory from before the window): what the
      // fault mapped there, fault-around's neighbours included, is not the model's.
      (mm.unseenBlocks ??= new Set()).add(unseenBlock(addr));
      if (!write && present !== true && pgt.length >= 2 && !mm.pmds.has(pmdIndex(addr))) return nopage_fault(k, pgt);
      return 'unmodelled';
    }
    // Memory the model did not see mapped: an implicit VMA. A copied page there is a private
    // file mapping's (an exec'd image's data segment: do_cow_fault(), or wp_page_copy() of a
    // file page read before); a zeroed one is anonymous memory (bss, the stack, early heap).
    const size = PAGE_SIZE << user.order;
    const start = addr - (addr % size);
    vma = implicit_vma(mm, start, start + size, user.copy === true);
  }
  if (!vma.anon) {
    // A fault in a file-backed or shared mapping maps pages the model does not hold — all but
    // a first write into a private one, which copies into a new anonymous folio.
    if (!vma.filePages && (!vma.privateFile || !(write && user?.order === 0 && present === false))) vma.unseenPages = true;
    if (!vma.privateFile) return 'unmodelled';
  }
  // Page-table pages allocated before the PTE table (or THP deposit) are upper levels, filled
  // top-down by __handle_mm_fault(): …, PUD table, PMD table, then the PTE table.
  const needsTable = !mm.pmds.has(pmdIndex(addr));
  const upper = needsTable ? pgt.slice(0, -1) : pgt;
  for (let i = upper.length - 1, n = 0; i >= 0 && n < 2; i--, n++) {
    const level = UPPER_LEVELS[n]!;
    const key = `${level}:${Math.floor(addr / 2 ** (level === 'pmd' ? 30 : 39))}`;
    if (!mm.upperTables.has(key)) mm.upperTables.set(key, upper[i]!.pfn);
  }
  if (vma.privateFile) return file_private_fault(k, mm, vma, addr, write, present, user, pgt);
  const pi = pmdIndex(addr);
  const haddr = pi * PMD_SIZE;
  let entry = mm.pmds.get(pi);
  // do_huge_pmd_wp_page() on a THP another mapping shares: split, then copy at PTE level (fork.ts).
  if (write && entry && entry.kind === 'huge' && !entry.zero && !entry.write && vma.write && huge_pmd_wp_must_split(entry.folio)) entry = split_huge_pmd_locked(k, mm, vma, haddr, entry);
  if (entry && entry.kind === 'huge') {
    if (!write) return 'present';
    if (!entry.zero) {
      // do_huge_pmd_wp_page() on a read-only PMD of an exclusive anonymous THP (left so by
      // mprotect): reused, made writable; x86 pmdp_set_access_flags() does not flush.
      if (!entry.write && vma.write && entry.folio.exclusive) entry.write = true;
      entry.dirty = true;
      entry.young = true;
      return 'present';
    }
    // do_huge_pmd_wp_page() on the huge zero PMD: 6.13+ tries a PMD THP in its place (the
    // recorded allocation decides where there is one: an order-0 copy means it fell back).
    if (user ? user.order === HPAGE_PMD_ORDER : k.traits.hugeZeroWpAllocatesThp) {
      do_huge_zero_wp_pmd(k, mm, vma, haddr, user?.pfn);
      return 'mapped';
    }
    // Fallback (6.1, 6.12 always): split the zero PMD into zero-page PTEs and retry the fault
    // at PTE level, where it copies one page from the zero page.
    entry = split_huge_pmd_locked(k, mm, vma, haddr, entry as HugePmd);
  }
  // PMD THP: the recorded allocation says order 9, or (without records) the policy allows it.
  const pmdFits = haddr >= vma.vm_start && haddr + PMD_SIZE <= vma.vm_end && !entry;
  const wantPmd = user ? user.order === HPAGE_PMD_ORDER : allocs.length === 0 && write && pmdFits && allowableOrders(k, vma)[0] === HPAGE_PMD_ORDER;
  if (wantPmd && pmdFits) {
    do_huge_pmd_anonymous_page(k, mm, vma, haddr, user?.pfn, pgt[pgt.length - 1]?.pfn ?? 0);
    return 'mapped';
  }
  // A read fault where a PMD THP is allowed maps the huge zero folio (use_zero_page, default 1).
  if (!write && !user && pmdFits && k.config.thp.use_zero_page !== false && allowableOrders(k, vma)[0] === HPAGE_PMD_ORDER) {
    set_huge_zero_folio(k, mm, haddr, pgt[pgt.length - 1]?.pfn ?? 0, hugeZeroAlloc);
    return 'zero-page';
  }
  let table = entry;
  if (!table) {
    table = new PteTable(pgt[pgt.length - 1]?.pfn ?? 0);
    mm.pmds.set(pi, table);
  }
  const idx = pteIndex(addr);
  if (table.folio[idx]) return fault_on_anon_page(k, mm, vma, table, addr, write, user);
  if (table.isZero(idx)) {
    if (!write) return 'present';
    wp_page_copy_from_zero(k, mm, vma, table, addr, user);
    return 'mapped';
  }
  if (write && present === true && user?.order === 0 && vma.implicit) {
    wp_page_copy_unseen(k, mm, vma, table, addr, user);
    return 'mapped';
  }
  if (!write && !user) {
    // do_anonymous_page() without FAULT_FLAG_WRITE: the zero page, read-only (x86 page
    // protections carry the accessed bit: young).
    table.setZero(idx, true);
    table.used++;
    k.cost.pteClears++;
    return 'zero-page';
  }
  let order = user ? user.order : 0;
  if (!user) {
    // alloc_anon_folio(): an order is kept only if every PTE of its block is none — a
    // zero-page entry is not, so a read anywhere in a block rules that block's order out.
    for (const o of allowableOrders(k, vma)) {
      if (o >= HPAGE_PMD_ORDER) continue;
      const nr = 1 << o;
      const s = addr - (addr % (nr * PAGE_SIZE));
      if (s < vma.vm_start || s + nr * PAGE_SIZE > vma.vm_end) continue;
      const i0 = pteIndex(s);
      let none = true;
      for (let j = i0; j < i0 + nr && none; j++) none = table.none(j);
      if (none) { order = o; break; }
      k.count(k.mthpCounter(o, 'anon_fault_fallback'));
    }
  }
  do_anonymous_page(k, mm, vma, table, addr, order, user?.pfn, write);
  if (vma.implicit && mm.argPages) place_arg_pages(k, mm, addr);
  return 'mapped';
}


/**
 * fs/exec.c get_arg_page(): copy_strings() faults each page of the argument and environment
 * strings into the new mm's stack (get_user_pages_remote() → do_anonymous_page(): +1 anon rss
 * on the new mm, traced before exec_mmap() with curr=0, the op's output outside the model).
 * The pages lie at the top of the stack VMA, which setup_arg_pages() moves to its randomised
 * place: no event carries that address, so the pages wait here until placed.
 * Model deviation: the page is not queued on the lru_add batch (its drain moves it onto the
 * LRU, no event the model predicts depends on it: it stays mapped until the exit's zap).
 */
export function get_arg_page(k: Kernel, mm: Mm, pfn: number): void {
  const l = (mm.argPages ??= []);
  l.push(pfn);
  untraced(k, () => k.addMmCounter(mm, MM_ANONPAGES, 1));
}

/**
 * The new image's first anonymous fault (`addr`) is on its stack — create_elf_tables() writing
 * the auxiliary vector below the strings, or the loader's first stack frame: nothing else
 * anonymous is touched before (elf_load() zeroes only within the data segment's file page).
 * The stack is used downwards from the strings, so the argument pages are the pages right
 * above that fault's, the first allocated at the top; they join its VMA.
 * Model deviation: placed by that inference, not by an address the trace records.
 */
function place_arg_pages(k: Kernel, mm: Mm, addr: number): void {
  const pfns = mm.argPages!;
  mm.argPages = undefined;
  const base = addr - (addr % PAGE_SIZE) + PAGE_SIZE;
  const n = pfns.length;
  const vma = implicit_vma(mm, base, base + n * PAGE_SIZE, false);
  for (let i = 0; i < n; i++) {
    const a = base + (n - 1 - i) * PAGE_SIZE;
    const pi = pmdIndex(a);
    let table = mm.pmds.get(pi);
    if (table && table.kind === 'huge') continue;
    if (!table) {
      // Model deviation: the table execve() allocated for a page across a PMD boundary is not known.
      table = new PteTable(0);
      mm.pmds.set(pi, table);
    }
    const idx = pteIndex(a);
    if (!table.none(idx)) continue;
    const f = k.newFolio(0, pfns[i], vma.vm_pgoff + (a - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
    table.set(idx, f, 0, true, true, true);
    table.used++;
    folio_add_rmap_ptes(k, f, 0, 1);
    f.refcount = 1;
    k.story(f, 'an execve() argument page', a);
  }
}

/**
 * do_wp_page() on a zero-page PTE → wp_page_copy() with no old folio (vm_normal_folio() is
 * NULL for the zero pfn): a zeroed order-0 folio — always order 0, also where mTHP is enabled
 * (6.1–6.18; the s13 64k-read-sparse captures copy 4 KiB pages in a 64 KiB=always VMA) — then,
 * under the PTE lock, +1 anon rss (6.1: into the task's cache, inc_mm_counter_fast), the old
 * entry cleared and flushed (ptep_clear_flush: one page), the new writable dirty entry set,
 * rmap and lru_add. `user` is the recorded allocation when the trace has one.
 */
function wp_page_copy_from_zero(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, user: AllocFact | undefined): void {
  k.addMmCounterFast(mm, MM_ANONPAGES, 1);
  wp_page_copy(k, mm, vma, table, addr, user, 'copied from the zero page');
}

/**
 * The implicit VMA for [start, end): the kernel's VMA there (the stack, bss, the brk heap) is
 * not known, only that it holds this page. One implicit VMA grows over the others of the same
 * page table when no VMA the model knows lies between them: the kernel's VMAs there are rarely
 * several (the heap starts past bss at a randomised offset, the stack lies far above), and a
 * zap updates rss once per VMA and page table (zap_pte_range()), so one tiny VMA per folio
 * would update it once per folio.
 * Anonymous and private-file implicit VMAs (`file`: pages the kernel copied, an exec'd image's
 * data segment) never merge: the kernel's bss VMA begins where the data segment's file
 * mapping ends (elf_load(): vm_brk_flags() after the last file page).
 * Model deviation: two kernel VMAs of one kind within one page table the model never saw made
 * are taken as one.
 */
function implicit_vma(mm: Mm, start: number, end: number, file: boolean): Vma {
  const lo = Math.floor(start / PMD_SIZE) * PMD_SIZE;
  const hi = lo + PMD_SIZE;
  for (let i = 0; i < mm.vmas.length; i++) {
    const v = mm.vmas[i]!;
    if (!v.implicit || v.vm_end <= lo || v.vm_start >= hi || !v.privateFile !== !file) continue;
    const from = Math.min(v.vm_start, start);
    const to = Math.max(v.vm_end, end);
    // Only across what no other VMA holds.
    if (mm.vmas.some((w) => w !== v && w.vm_start < to && w.vm_end > from)) continue;
    v.vm_start = from;
    v.vm_end = to;
    v.vm_pgoff = from / PAGE_SIZE;
    return v;
  }
  const vma: Vma = {
    vm_start: start, vm_end: end, vm_pgoff: start / PAGE_SIZE, read: true, write: true, hugepage: false, nohugepage: false,
    locked: false, droppable: false, anon: !file, implicit: true, ...(file ? { privateFile: true } : {}),
  };
  // In address order, as the maple tree keeps them: unmaps and exit walk them in that order.
  mm.vmas.push(vma);
  mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
  return vma;
}

/**
 * A fault that returned VM_FAULT_RETRY and ran again: its first try had allocated its folio
 * before waiting for the file page (do_cow_fault()'s folio_prealloc(), then __do_fault() sleeping
 * on the page lock) and put it on the way out (folio_put(), freeing it); the retry allocates
 * anew. The record shows that as a second data folio of the same order in one fault (a smaller
 * one is the mTHP charge fallback instead: see mem_cgroup_charge_allocs()). Returns the
 * allocations without what the earlier tries put.
 */
function release_retried(k: Kernel, allocs: AllocFact[]): AllocFact[] {
  let first = -1;
  for (let i = 0; i < allocs.length; i++) {
    const a = allocs[i]!;
    if (a.use !== 'user') continue;
    if (first < 0) { first = i; continue; }
    const f = allocs[first]!;
    if (a.order !== f.order) return allocs;
    // The batch drained during the first try (readahead's page-cache folios filled it): its
    // frees come before the first try puts its folio.
    const at = k.op.lruAddedAt;
    if (at !== undefined && at <= i && k.op.lruAdded) lru_add_observed(k, k.op.lruAdded);
    k.count('pgfree', 1 << f.order);
    k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: f.pfn, order: f.order, what: 'folio' });
    // A page table allocated after that folio is the first try's preallocated one
    // (__do_fault()'s vmf->prealloc_pte), freed on the way out too (do_fault(): pte_free());
    // those allocated before it were installed and stay: the retry finds them.
    const dropped = new Set<number>([first]);
    for (let j = first + 1; j < i; j++) {
      const t = allocs[j]!;
      if (t.use === 'user' || t.order !== 0) continue;
      dropped.add(j);
      k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: t.pfn, order: 0, what: 'pgtable' });
    }
    return release_retried(k, allocs.filter((_, j) => !dropped.has(j)));
  }
  return allocs;
}

/** A fault on a PTE that maps an anonymous page the model holds. */
function fault_on_anon_page(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, write: boolean, user: AllocFact | undefined): FaultResult {
  if (!write) return 'present';
  const idx = pteIndex(addr);
  // do_wp_page() on a page a fork shared: reused or copied (fork.ts).
  if (!table.write(idx) && vma.write && do_wp_page_anon(k, mm, vma, table, addr, user)) return 'mapped';
  // do_wp_page() on a read-only PTE of an exclusive anonymous page (left so by mprotect):
  // wp_page_reuse() makes it writable; x86 ptep_set_access_flags() does not flush.
  if (!table.write(idx) && vma.write && table.folio[idx]!.exclusive) table.bits[idx] = table.bits[idx]! | PTE_WRITE;
  table.touch(idx);
  return 'present';
}

/**
 * A fault in a private file mapping. A read maps the file page (do_read_fault(), with
 * fault-around's neighbours): not modelled, and nothing traced but file rss. A first write
 * copies the file page into a new anonymous folio (do_cow_fault(): +1 anon, no flush — nothing
 * was mapped there); a write to a present file page copies it too (wp_page_copy(), one-page
 * flush); a write to an anonymous copy is the anonymous write-protect path. The error code
 * (`present`) and the recorded order-0 allocation tell which happened.
 */
function file_private_fault(k: Kernel, mm: Mm, vma: Vma, addr: number, write: boolean, present: boolean | undefined, user: AllocFact | undefined, pgt: AllocFact[]): FaultResult {
  const pi = pmdIndex(addr);
  let table = mm.pmds.get(pi);
  if (table && table.kind === 'huge') return 'unmodelled';
  if (!table) {
    table = new PteTable(pgt[pgt.length - 1]?.pfn ?? 0);
    mm.pmds.set(pi, table);
  }
  const idx = pteIndex(addr);
  let held = table.folio[idx];
  // A fault that finds no PTE where the model guessed fault-around mapped a file page (a read
  // fault there, or a write fault on a not-present entry): the kernel had skipped that page.
  if (held && !held.anon && (!write ? present !== true : present === false) && guessed_page(mm, addr, false)) {
    unguess_page(k, mm, table, addr);
    held = null;
  }
  // A fault on the present entry shows the guess was the kernel's too.
  if (held && !held.anon && present === true) guessed_page(mm, addr, true);
  if (held && !held.anon) {
    // A file page the model holds: a read finds it mapped; a write copies it (do_wp_page()).
    if (!write) return 'present';
    if (user?.order !== 0) return 'unmodelled';
    wp_page_copy_file(k, mm, vma, table, addr, user);
    return 'mapped';
  }
  if (held) return fault_on_anon_page(k, mm, vma, table, addr, write, user);
  // do_read_fault(): fault-around maps the cached pages around the fault — those the fault's
  // recorded page-cache events name, or (a VMA from the snapshot) those the cache holds.
  const events = k.op.kind === 'fault' ? k.op.file : undefined;
  if (!write && vma.fileEvents) {
    const r = do_read_fault_recorded(k, mm, vma, table, addr, events);
    if (r === 'unmodelled') file_pages_unknown(vma);
    return r;
  }
  if (write && vma.fileEvents && !bind_cow_fault(k, vma, addr, events)) file_pages_unknown(vma);
  if (!write && vma.filePages) return do_fault_around(k, mm, vma, table, addr) > 0 ? 'mapped' : 'present';
  if (!write) return 'present';
  if (user?.order !== 0) return 'unmodelled';
  if (present === true) {
    wp_page_copy_unseen(k, mm, vma, table, addr, user);
    return 'mapped';
  }
  if (present === undefined) return 'unmodelled';
  do_cow_fault(k, mm, vma, table, addr, user.pfn);
  return 'mapped';
}

/** A VMA of recorded file faults whose events did not fit it: from now on its file pages are not the model's. */
function file_pages_unknown(vma: Vma): void {
  vma.fileEvents = false;
  vma.filePages = false;
  vma.unseenPages = true;
}

/**
 * mm/memory.c do_cow_fault(): the first write to a page of a private file mapping copies the
 * file page into a new order-0 anonymous folio and maps it (finish_fault() → set_pte_range():
 * rmap and lru_add). Since 6.10 (Kefeng Wang, "mm: move mm counter updating out of
 * set_pte_range()") finish_fault() updates rss after set_pte_range(), so an lru_add batch this
 * folio fills drains — freeing what only the batch still held — before the fault's rss_stat;
 * before it (6.1 do_set_pte()) the counter came first, as in do_anonymous_page().
 * Model deviation: the file page read in (and its fault-around neighbours) is not modelled.
 */
function do_cow_fault(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, pfn: number | undefined): void {
  if (!releaseAtLeast(k, 6, 10)) {
    do_anonymous_page(k, mm, vma, table, addr, 0, pfn, true);
    return;
  }
  const f = k.newFolio(0, pfn, vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
  const i = pteIndex(addr);
  table.set(i, f, 0, vma.write, true, true);
  k.cost.pteClears++;
  table.used++;
  folio_add_rmap_ptes(k, f, 0, 1);
  f.refcount = 1;
  k.story(f, 'copied from a file page', addr);
  folio_add_lru(k, f);
  k.addMmCounterFast(mm, MM_ANONPAGES, 1);
}

export function releaseAtLeast(k: Kernel, major: number, minor: number): boolean {
  const [a = 0, b = 0] = k.traits.release.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * do_wp_page() → wp_page_copy() on an entry the model never saw mapped, in memory whose mapping
 * it did not see made (an exec'd image's data and bss, the early heap): the fault's error code
 * says the entry was present and read-only, and the recorded order-0 allocation says the kernel
 * copied rather than reused. Such an entry is a private file page (a data segment not yet
 * written) or the zero page, and either copy adds one anonymous page (6.1: into the task's
 * cache); a file page's own MM_FILEPAGES decrement is file rss, outside the model. The old
 * entry is cleared and flushed (ptep_clear_flush(): one page) and the copy mapped writable.
 * Model deviation: an anonymous page another mm shares (a fork before the window) is copied
 * without an rss change; the caller keeps memory a fork shared out of this path.
 */
/**
 * do_wp_page() → wp_page_copy() on a file page of a private mapping that the model holds: the
 * copy is a new anonymous page (the recorded allocation); under the PTE lock the file counter
 * drops and the anonymous one rises (6.1: both in the task's cache), then the old entry is
 * cleared and flushed (one page) and the copy mapped writable. The file page loses this mapping
 * and its reference; the page cache keeps it.
 */
function wp_page_copy_file(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, user: AllocFact): void {
  const idx = pteIndex(addr);
  const old = table.folio[idx]!;
  const page = table.page(idx);
  k.addMmCounterFast(mm, mm_counter(old), -1);
  k.addMmCounterFast(mm, MM_ANONPAGES, 1);
  wp_page_copy(k, mm, vma, table, addr, user, 'copied on write from a file page');
  folio_remove_rmap_ptes(k, old, page, 1);
  folio_put_refs(k, old, 1);
}

function wp_page_copy_unseen(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, user: AllocFact): void {
  k.addMmCounterFast(mm, MM_ANONPAGES, 1);
  table.used++;
  wp_page_copy(k, mm, vma, table, addr, user, 'copied on write from a page mapped before the model saw it');
}

function do_anonymous_page(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, order: number, pfn: number | undefined, write: boolean): void {
  const nr = 1 << order;
  const start = addr - (addr % (nr * PAGE_SIZE));
  const f = k.newFolio(order, pfn, vma.vm_pgoff + (start - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
  const i0 = pteIndex(start);
  for (let i = 0; i < nr; i++) {
    table.set(i0 + i, f, i, vma.write, write, true);
    k.cost.pteClears++;
  }
  table.used += nr;
  folio_add_rmap_ptes(k, f, 0, nr);
  f.refcount = nr;
  k.story(f, 'faulted in', start);
  if (order > 0) {
    k.addMmCounter(mm, MM_ANONPAGES, nr);
    k.count(k.mthpCounter(order, 'anon_fault_alloc'));
    if (k.traits.mthp) k.count(k.mthpCounter(order, 'nr_anon'));
  } else k.addMmCounterFast(mm, MM_ANONPAGES, nr);
  folio_add_lru(k, f);
}

function do_huge_pmd_anonymous_page(k: Kernel, mm: Mm, vma: Vma, haddr: number, pfn: number | undefined, depositPfn: number): void {
  const f = k.newFolio(HPAGE_PMD_ORDER, pfn, vma.vm_pgoff + (haddr - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
  mm.pmds.set(pmdIndex(haddr), { kind: 'huge', folio: f, write: vma.write, dirty: true, young: true });
  k.deposit(mm, haddr, depositPfn);
  f.entire_mapcount = 1;
  f.large_mapcount = 1;
  f.refcount = 1;
  k.story(f, 'faulted in (PMD)', haddr);
  k.addMmCounter(mm, MM_ANONPAGES, HPAGE_PMD_NR);
  k.count('thp_fault_alloc');
  k.count('nr_anon_transparent_hugepages');
  k.count(k.mthpCounter(HPAGE_PMD_ORDER, 'anon_fault_alloc'));
  if (k.traits.mthp) k.count(k.mthpCounter(HPAGE_PMD_ORDER, 'nr_anon'));
  folio_add_lru(k, f);
  // 6.12+: queued at fault (not partially mapped) so the shrinker can find underused THPs.
  if (k.traits.pmdQueuedAtFault) deferred_split_folio(k, f, false);
}

// ---------------------------------------------------------------------------------------------
// Zap.

/** The mmu_gather of a zap: flush range, stride, and what to free after the flush. */
export class ZapGather {
  start = Number.POSITIVE_INFINITY;
  end = 0;
  pmdOnly = true;
  freedTables: number[] = [];
  /**
   * `mmu_gather.freed_tables`: a page table left the tree (pte_free_tlb() and the like), whether
   * its page is freed after the flush or later through RCU — the flush must then reach lazy CPUs.
   */
  freed_tables = false;
  toFree: Folio[] = [];
  /** The page batch each of `toFree` was gathered into (6.1 frees each batch in reverse). */
  private toFreeBatch: number[] = [];
  /** The range covers pages the model does not hold (Vma.unseenPages): the flush is uncertain. */
  unseen = false;
  /**
   * Pages the model does not hold were gathered (here or before a midway flush): the kernel's
   * batches fill at other entries than the model's, so where a full batch forces a midway flush
   * is not knowable either.
   */
  unseenFill = false;
  /** Entries the model's own pages took, and at most how many pages the model does not hold the zaps may have gathered (since the last flush). */
  private entries = 0;
  unseenMax = 0;
  /**
   * Zapped pages whose references the release drops (folio, references), in zap order — kept
   * only where the release first drains the lru_add batch (traits.unmapDrainsLruAdd); elsewhere
   * the references go as the entries are cleared and `toFree` collects what that freed.
   */
  puts: Array<{ folio: Folio; refs: number; batch: number }> = [];
  /** The page batches (struct mmu_gather_batch): the active one (0: the local bundle), its entries, and how many more were allocated. */
  private batch = 0;
  private batchNr = 0;
  private batches = 0;
  /**
   * Every batch is full (tlb_next_batch() failed at MAX_GATHER_BATCH_COUNT): the zap must flush
   * and free what it gathered before it goes on (zap_pte_range()'s force_flush → tlb_flush_mmu()).
   */
  full = false;

  /**
   * __tlb_remove_folio_pages_size(): a run of `nr` pages of one folio takes one entry, or two
   * from 6.9 when `nr` > 1 (ENCODED_PAGE_BIT_NR_PAGES_NEXT, traits.gatherNrPagesEntries, which
   * also keeps room for two: a batch counts as full one entry early). A full batch moves on to
   * the next, allocating it (GFP_NOWAIT) up to MAX_GATHER_BATCH_COUNT; past that, full.
   */
  private addEntries(k: Kernel, nr: number): void {
    const two = k.traits.gatherNrPagesEntries;
    this.entries += two && nr > 1 ? 2 : 1;
    this.batchNr += two && nr > 1 ? 2 : 1;
    const max = this.batch === 0 ? MMU_GATHER_BUNDLE : MAX_GATHER_BATCH;
    if (this.batchNr < (two ? max - 1 : max)) return;
    if (this.batch < this.batches) {
      this.batch++;
      this.batchNr = 0;
    } else if (this.batches < MAX_GATHER_BATCH_COUNT) {
      this.batches++;
      this.batch++;
      this.batchNr = 0;
    } else this.full = true;
  }

  /** Drop the references of `nr` cleared entries of `f`, now or at the release. */
  put(k: Kernel, f: Folio, nr: number): void {
    // 6.1 gathers each page of a run on its own.
    const batch = this.batch;
    if (k.traits.gatherNrPagesEntries) this.addEntries(k, nr);
    else for (let i = 0; i < nr; i++) this.addEntries(k, 1);
    // Whether the unmap or a later drain frees it depends on when the shared batch drains.
    if (f.in_lru_batch) {
      if (!k.lruObserved) k.lruUnknown++;
      else if (!k.wideEvents.has('pagemap:mm_lru_insertion')) for (const b of k.lruBatches.values()) if (b.othersRan && b.add.includes(f)) k.lruExposed++;
    }
    if (k.traits.unmapDrainsLruAdd) this.puts.push({ folio: f, refs: nr, batch });
    else if (folio_put_refs(k, f, nr)) { this.toFree.push(f); this.toFreeBatch.push(batch); }
  }

  /**
   * tlb_finish_mmu(): one flush of the gathered range, then free pages and tables. `midway`:
   * tlb_flush_mmu() with the batches full — flush and free the gathered pages, start the range
   * and the batches again (the allocated batches are kept); page tables go at the end
   * (free_pgtables() runs after the zaps).
   */
  finish(k: Kernel, mm: Mm, midway = false): void {
    // With the pages the model does not hold, the kernel's batches may have filled (a forced
    // flush, the rss update split there) where the model's did not, or elsewhere.
    if (this.unseenMax > 0 && this.entries + this.unseenMax >= GATHER_CAPACITY) {
      const what = this.unseenMax >= Number.MAX_SAFE_INTEGER ? 'pages of memory mapped before the window (how many is in no event)' : `up to ${this.unseenMax} pages the model does not hold`;
      k.unseenOutput ??= `the zap gathered ${what} beside its own ${this.entries} entries: where the kernel's mmu_gather batches filled (a forced flush, the rss update split there) is not knowable`;
    }
    if (this.end > 0) {
      k.flushUncertain = this.unseen || (midway && this.unseenFill) ? 'unseen' : undefined;
      flush_tlb_mm_range(k, mm, this.start, this.end, this.pmdOnly ? 21 : 12, this.freed_tables);
      k.flushUncertain = undefined;
    }
    if (this.puts.length > 0) {
      // free_pages_and_swap_cache() (only when pages were gathered): lru_add_drain(), then the
      // release in zap order.
      lru_add_drain(k);
      for (const p of this.puts) if (folio_put_refs(k, p.folio, p.refs)) { this.toFree.push(p.folio); this.toFreeBatch.push(p.batch); }
      this.puts = [];
    }
    // The gather's page batches hold the folios, then (6.1, no RCU table freeing) the page
    // tables free_pgtables() added after them.
    type Entry = { folio: Folio } | { pfn: number };
    let entries: Entry[] = this.toFree.map((folio) => ({ folio }));
    const tables: Entry[] = midway ? [] : this.freedTables.filter((p) => p).map((pfn) => ({ pfn }));
    if (k.traits.zapFreesReversed) {
      // 6.1 release_pages() walks each batch in order: a large folio is freed on the spot
      // (__folio_put_large()), an order-0 page is put on a list with list_add() and the list is
      // freed after the walk — so per batch, the large folios in order, then the rest reversed.
      // A batch holds every page gathered, freed or not (a page another mm still maps takes a
      // slot too); the page tables free_pgtables() gathered come after them.
      const batchOf = this.toFreeBatch.slice();
      for (let i = 0; i < tables.length; i++) { batchOf.push(this.batch); this.addEntries(k, 1); }
      const all = [...entries, ...tables];
      entries = [];
      for (let i = 0; i < all.length; ) {
        let j = i;
        while (j < all.length && batchOf[j] === batchOf[i]) j++;
        const batch = all.slice(i, j);
        const large = batch.filter((e) => 'folio' in e && e.folio.order > 0);
        const small = batch.filter((e) => !('folio' in e && e.folio.order > 0));
        entries.push(...large, ...small.reverse());
        i = j;
      }
    } else entries.push(...tables);
    for (const e of entries) {
      if ('folio' in e) free_folio(k, e.folio);
      else k.emit({ ev: 'mm_page_free', cpu: k.cpu, pfn: e.pfn, order: 0, what: 'pgtable' });
    }
    this.start = Number.POSITIVE_INFINITY;
    this.end = 0;
    this.pmdOnly = true;
    if (!midway) this.freedTables = [];
    this.freed_tables = false;
    this.unseen = false;
    this.toFree = [];
    this.toFreeBatch = [];
    this.batch = 0;
    this.batchNr = 0;
    this.entries = 0;
    this.unseenMax = 0;
    this.full = false;
    if (!midway) this.batches = 0;
  }
}

/** include/asm-generic/tlb.h: the mmu_gather's own page bundle, a batch page's entries, and how many batch pages a gather may allocate. */
const MMU_GATHER_BUNDLE = 8;
const MAX_GATHER_BATCH = (4096 - 16) / 8;
const MAX_GATHER_BATCH_COUNT = Math.floor(10000 / MAX_GATHER_BATCH);
/** The entries a gather holds before it must flush (its bundle and every batch page it may allocate). */
const GATHER_CAPACITY = MMU_GATHER_BUNDLE + MAX_GATHER_BATCH_COUNT * MAX_GATHER_BATCH;

export interface ZapOptions {
  /**
   * MADV_DONTNEED with CONFIG_PT_RECLAIM (traits.dontneedFreesEmptyPteTables): a PTE table whose
   * whole 2 MiB the zap covered and left empty is freed at once (zap_pte_range() → free_pte()).
   */
  reclaimPt?: boolean;
}

/**
 * unmap_page_range() + tlb_finish_mmu() over [start, end) of one VMA: clear entries (large
 * folios in batches), update rss once per page table (add_mm_rss_vec), flush the gathered
 * range once, then free what lost its last reference.
 */
export function zap_range(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, opts: ZapOptions, gather?: ZapGather): void {
  const g = gather ?? new ZapGather();
  const unseen = (from: number): void => {
    if (!vma.unseenPages) return;
    g.unseenMax = Math.min(Number.MAX_SAFE_INTEGER, g.unseenMax + Math.ceil((end - from) / PAGE_SIZE));
    // Pages the model does not hold may be mapped anywhere in the range: where the kernel's
    // gather starts and ends, and whether it flushes at all, is not knowable.
    g.unseen = true;
    g.unseenFill = true;
    g.pmdOnly = false;
    g.start = Math.min(g.start, from);
    g.end = Math.max(g.end, end);
  };
  unseen(start);
  let addr = start;
  while (addr < end) {
    const pi = pmdIndex(addr);
    const next = Math.min(end, (pi + 1) * PMD_SIZE);
    const e = mm.pmds.get(pi);
    if (!e) { addr = next; continue; }
    if (e.kind === 'huge') {
      const haddr = pi * PMD_SIZE;
      if (addr === haddr && next === haddr + PMD_SIZE) {
        // zap_huge_pmd()
        mm.pmds.delete(pi);
        k.cost.pmdClears++;
        g.start = Math.min(g.start, haddr);
        g.end = Math.max(g.end, haddr + PMD_SIZE);
        if (e.zero) {
          // The huge zero PMD: only its deposited table is freed (no rss, no rmap, no page).
          zap_deposited_table(k, mm, haddr);
          addr = next;
          continue;
        }
        const f = e.folio;
        folio_remove_rmap_pmd(k, f);
        zap_deposited_table(k, mm, haddr);
        k.addMmCounter(mm, MM_ANONPAGES, -HPAGE_PMD_NR);
        g.put(k, f, 1);
        // tlb_remove_page_size(): a full gather is flushed at once.
        if (g.full) {
          g.finish(k, mm, true);
          unseen(next);
        }
        addr = next;
        continue;
      }
      // Partial: split the PMD first (__split_huge_pmd), then zap its PTEs.
      split_huge_pmd_locked(k, mm, vma, haddr, e);
      continue;
    }
    // zap_pte_range(): under the PTL, first flush what a batched unmap left pending.
    flush_tlb_batched_pending(k, mm);
    const rss = [0, 0, 0, 0];
    // A file page the model mapped by its guess of a fault-around (filemap.ts guessed()) makes
    // this table's file rss update a guess too.
    let guessedRss: number | undefined;
    const addRss = (): void => {
      k.rssUncertain = guessedRss;
      try {
        k.addMmRssVec(mm, rss);
      } finally {
        k.rssUncertain = undefined;
      }
    };
    for (let a = addr; a < next; ) {
      const idx = pteIndex(a);
      const f = e.folio[idx];
      if (!f) {
        if (e.isZero(idx)) {
          // zap_present_ptes() with no folio (the zero page): cleared and added to the flush
          // range, nothing else — no rss, rmap or page to free.
          e.clear(idx);
          e.used--;
          k.cost.pteClears++;
          g.pmdOnly = false;
          g.start = Math.min(g.start, a);
          g.end = Math.max(g.end, a + PAGE_SIZE);
        }
        a += PAGE_SIZE;
        continue;
      }
      // zap_present_ptes(): a batch of PTEs mapping consecutive pages of one large folio.
      const page = e.page(idx);
      const dirty = e.dirty(idx);
      let nr = 1;
      if (f.nr > 1 && k.traits.mthp) {
        while (a + nr * PAGE_SIZE < next && idx + nr < PTRS_PER_PTE) {
          if (e.folio[idx + nr] !== f || e.page(idx + nr) !== page + nr) break;
          nr++;
        }
      }
      for (let i = 0; i < nr; i++) { e.clear(idx + i); k.cost.pteClears++; }
      e.used -= nr;
      g.pmdOnly = false; // cleared PTEs: the flush stride is a page (tlb_get_unmap_shift)
      if (dirty) f.dirty = true;
      rss[mm_counter(f)] -= nr;
      if (!f.anon) for (let i = 0; i < nr; i++) if (guessed_page(mm, a + i * PAGE_SIZE, true)) guessedRss = mm_counter(f);
      folio_remove_rmap_ptes(k, f, page, nr);
      g.put(k, f, nr);
      g.start = Math.min(g.start, a);
      g.end = Math.max(g.end, a + nr * PAGE_SIZE);
      a += nr * PAGE_SIZE;
      if (g.full) {
        // force_flush: this table's rss so far, the flush and the free, then the rest of the
        // table in a new zap_pte_range() (its own rss update).
        addRss();
        rss.fill(0);
        guessedRss = undefined;
        g.finish(k, mm, true);
        unseen(a);
      }
    }
    addRss();
    // reclaim_pt_is_enabled(): this table's zap must span its whole PMD range.
    const reclaim = opts.reclaimPt === true && addr === pi * PMD_SIZE && next === (pi + 1) * PMD_SIZE;
    if (e.used === 0 && reclaim) pte_free_tlb(k, mm, g, pi);
    addr = next;
  }
  if (!gather) g.finish(k, mm);
}

function anyVmaIn(mm: Mm, start: number, end: number): boolean {
  return mm.vmas.some((v) => v.vm_start < end && v.vm_end > start);
}

/**
 * pte_free_tlb() of the PTE table at PMD index `pi`: the gather covers the table's first page
 * at PMD level (cleared_pmds: 2 MiB stride), so tlb_finish_mmu() flushes even when no PTE was
 * present — `pages:0` for one table, `pages:-1` past the ceiling.
 */
function pte_free_tlb(k: Kernel, mm: Mm, g: ZapGather, pi: number): void {
  const e = mm.pmds.get(pi);
  mm.pmds.delete(pi);
  g.start = Math.min(g.start, pi * PMD_SIZE);
  g.end = Math.max(g.end, pi * PMD_SIZE + PAGE_SIZE);
  if (k.traits.pgtableFreeInTask && e && e.kind !== 'huge' && e.pfn) g.freedTables.push(e.pfn);
  g.freed_tables = true;
}

/**
 * free_pgtables() (mm/memory.c) after unmap_vmas() zapped every VMA of `vmas` (already
 * detached from mm.vmas): the page tables of their range that no remaining VMA uses go into
 * the gather, once all zaps are done. free_pgd_range() walks the range in address order: the
 * PTE tables of each 1 GiB (free_pte_range()), then that PMD table when no VMA is left in its
 * 1 GiB (free_pmd_range()), and last the PUD table when none is left in its 512 GiB
 * (free_pud_range()). Each adds one page at the start of the region it covered (aligned down
 * to the PUD or P4D): the flush range reaches down there, so on x86 it is a full flush.
 * Model deviation: the floor/ceiling of the neighbouring VMAs is taken as "no remaining VMA
 * in the table's range"; nearby VMAs are walked as one range (free_pgtables() joins those
 * less than a PMD apart, the model joins all).
 */
export function free_pgtables(k: Kernel, mm: Mm, vmas: Vma[], g: ZapGather): void {
  if (vmas.length === 0) return;
  const start = Math.min(...vmas.map((v) => v.vm_start));
  const end = Math.max(...vmas.map((v) => v.vm_end));
  const first = pmdIndex(start);
  const last = pmdIndex(end - 1);
  const ptes = [...mm.pmds.keys()].filter((pi) => pi >= first && pi <= last).sort((a, b) => a - b);
  const GIB = 2 ** 30;
  const freeUpper = (level: 'pmd' | 'pud', r: number): void => {
    const shift = level === 'pmd' ? 30 : 39;
    const key = `${level}:${r}`;
    const pfn = mm.upperTables.get(key);
    if (pfn === undefined || anyVmaIn(mm, r * 2 ** shift, (r + 1) * 2 ** shift)) return;
    mm.upperTables.delete(key);
    g.start = Math.min(g.start, r * 2 ** shift);
    g.end = Math.max(g.end, r * 2 ** shift + PAGE_SIZE);
    if (k.traits.pgtableFreeInTask) g.freedTables.push(pfn);
    g.freed_tables = true;
  };
  let i = 0;
  for (let r = Math.floor(start / GIB); r <= Math.floor((end - 1) / GIB); r++) {
    for (; i < ptes.length && Math.floor((ptes[i]! * PMD_SIZE) / GIB) === r; i++) {
      const pi = ptes[i]!;
      const e = mm.pmds.get(pi)!;
      if (e.kind === 'huge' || e.used !== 0 || anyVmaIn(mm, pi * PMD_SIZE, (pi + 1) * PMD_SIZE)) continue;
      pte_free_tlb(k, mm, g, pi);
    }
    freeUpper('pmd', r);
  }
  for (let r = Math.floor(start / 2 ** 39); r <= Math.floor((end - 1) / 2 ** 39); r++) freeUpper('pud', r);
}
