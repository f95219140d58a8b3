/**
 * kernel/fork.c dup_mm() → dup_mmap() (mm/mmap.c from 6.17) and mm/memory.c copy_page_range():
 * the child's copy of the parent's address space, and what it records (the child's rss_stat,
 * the parent's flush).
 *
 * Memory mapped before the window. A real workload's mm already held memory when the scenario
 * window opened (its binary's data and bss, heap, stack; file pages of its text). With the
 * snapshot of it that the workload writes after `fl: begin` (`snapshot` op, load_snapshot()),
 * that memory is the model's like any other. Without one (`prewindow` op), the mm carries
 * `preWindow`: the model knows the
 * memory it saw mapped and nothing else. A fork then copies both; the model predicts the copy of
 * what it knows (VMAs it saw created by mmap), and the output of the rest — the other VMAs'
 * per-table rss updates, and every later fault, copy-on-write or zap of that memory — is outside
 * the model, named by the input that would carry it.
 *
 * The copy-on-write that follows a fork (mm/memory.c do_wp_page() and mm/huge_memory.c
 * do_huge_pmd_wp_page() for anonymous folios another mapping shares) is here too, beside the
 * copy that set it up; memory.ts calls it where a write fault finds a read-only entry.
 */
import type { AllocFact, SnapshotRun, SnapshotVma } from '../ops.js';
import {
  MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, PTE_WRITE, PTRS_PER_PTE, PteTable, type Folio, type Mm, type Vma,
} from '../state.js';
import type { Kernel } from './kernel.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { folio_add_rmap_ptes, folio_mappings, folio_put_refs, folio_remove_rmap_ptes, free_folio } from './rmap.js';
import { folio_add_lru } from './swap.js';
import { FLUSH_ALL, flush_tlb_mm_range } from './tlbflush.js';
import { filemap_add_folio, mm_counter, page_cache } from './filemap.js';

/** Whether `vma`'s output may mix with memory the model never saw mapped. */
export function vma_outside_model(mm: Mm, vma: Vma | undefined): boolean {
  return mm.preWindow !== undefined && (vma === undefined || vma.implicit);
}

/**
 * The op's recorded output covers memory mapped before the window as well as memory the model
 * knows (a fork copies both, an exit zaps both): the model's prediction is then the part of the
 * recorded output that is its own, in order, and the rest is outside the model.
 */
export function output_shares_pre_window(mm: Mm | undefined, kind: string, lastThread: boolean): string | undefined {
  if (!mm?.preWindow) return undefined;
  if (kind === 'fork' || (kind === 'exit' && lastThread)) return `${kind === 'fork' ? 'fork copy' : 'exit'} of ${mm.preWindow.missing}`;
  return undefined;
}

/**
 * 6.1 exit_mmap(): every page the zap clears takes a slot of the mmu_gather's batches, file
 * pages too, and release_pages() frees each batch in reverse (ZapGather.finish()). Where the mm
 * maps file pages the model does not hold (Vma.unseenPages: the binary's text, fault-around's
 * neighbours), where each batch ends — and so the order of the frees — is not the model's to
 * predict: its frees are compared as a set. What lacks, or undefined.
 */
export function exit_zaps_unseen_pages(mm: Mm): string | undefined {
  if (!mm.vmas.some((v) => v.unseenPages)) return undefined;
  return '6.1 exit of file pages the model does not hold (where its gather batches end, so the order of its frees, depends on them)';
}

/**
 * dup_mmap(): the parent's VMAs in address order, each copied by copy_page_range() unless
 * VM_DONTCOPY (MADV_DONTFORK); then flush_tlb_mm(oldmm) for the entries it write-protected.
 * Model deviation: a VMA without an anon_vma (only read faults, zero-page entries) is copied
 * too; the kernel skips it and the child faults it in again.
 */
export function dup_mmap(k: Kernel, parent: Mm, childTgid: number): Mm {
  const child = k.newMm(childTgid, parent.anonRoot);
  child.cpumask = new Set([k.cpu]);
  if (parent.preWindow) {
    parent.preWindow.forked = true;
    child.preWindow = { missing: parent.preWindow.missing, forked: true };
  }
  for (const v of parent.vmas) {
    if (v.dontcopy) continue;
    const cv: Vma = { ...v };
    child.vmas.push(cv);
    // vma_needs_copy(): no anon_vma (and not VM_PFNMAP/VM_MIXEDMAP) — the child faults in again;
    // until it does, it maps nothing there the model does not hold.
    if (v.noPteCopy) {
      delete cv.unseenPages;
      continue;
    }
    // The model's implicit VMAs stand for parts of VMAs it never saw (the stack, the heap): the
    // kernel's per-table rss update there also counts pages the model does not know.
    copy_page_range(k, parent, child, v, !vma_outside_model(parent, v));
  }
  flush_tlb_mm_range(k, parent, 0, FLUSH_ALL, PAGE_SHIFT, true);
  return child;
}

/** The child's counters move by `rss` pages (add_mm_rss_vec()); traced only where the model knows the whole update. */
function child_rss(k: Kernel, child: Mm, rss: number[], traced: boolean): void {
  if (traced) k.addMmRssVec(child, rss);
  else for (let i = 0; i < rss.length; i++) child.rss[i as 0]! += rss[i]!;
}

/**
 * copy_page_range() over one VMA: per PMD, copy_huge_pmd() for a PMD-mapped THP (its own
 * add_mm_counter()), else copy_pte_range() over the VMA's part of the table, whose rss is
 * added once for the table (add_mm_rss_vec(): one rss_stat per counter that moved). Anonymous
 * entries become read-only in both (copy-on-write); 6.10+ copy a large folio's run of PTEs in
 * one batch (folio_pte_batch() in copy_present_ptes()), which changes no traced output.
 */
function copy_page_range(k: Kernel, parent: Mm, child: Mm, vma: Vma, traced: boolean): void {
  for (let pi = pmdIndex(vma.vm_start); pi * PMD_SIZE < vma.vm_end; pi++) {
    const e = parent.pmds.get(pi);
    if (!e) continue;
    if (e.kind === 'huge') {
      if (pi * PMD_SIZE < vma.vm_start || (pi + 1) * PMD_SIZE > vma.vm_end) continue;
      e.write = false;
      child.pmds.set(pi, { ...e });
      k.deposit(child, pi * PMD_SIZE, 0);
      // The huge zero PMD is shared as it is: no rss, no folio reference (copy_huge_pmd()).
      if (e.zero) continue;
      e.folio.refcount++;
      e.folio.entire_mapcount++;
      e.folio.large_mapcount++;
      e.folio.exclusive = false;
      const huge = [0, 0, 0, 0];
      huge[MM_ANONPAGES] = 512;
      child_rss(k, child, huge, traced);
      continue;
    }
    let t = child.pmds.get(pi);
    if (!t || t.kind === 'huge') {
      t = new PteTable(0);
      child.pmds.set(pi, t);
    }
    const lo = Math.max(vma.vm_start, pi * PMD_SIZE);
    const hi = Math.min(vma.vm_end, (pi + 1) * PMD_SIZE);
    const rss = [0, 0, 0, 0];
    for (let i = pteIndex(lo), end = i + (hi - lo) / PAGE_SIZE; i < end && i < PTRS_PER_PTE; i++) {
      const f = e.folio[i];
      if (!f) {
        // A zero-page entry is copied as it is (no folio, no rss).
        if (e.isZero(i)) { t.setRaw(i, null, e.bits[i]!); t.used++; }
        continue;
      }
      e.bits[i] = e.bits[i]! & ~PTE_WRITE;
      t.setRaw(i, f, e.bits[i]!);
      t.used++;
      f.refcount++;
      f.large_mapcount++;
      f.page_mapcount[e.page(i)]!++;
      if (f.anon) f.exclusive = false;
      rss[mm_counter(f)]!++;
    }
    child_rss(k, child, rss, traced);
  }
}

/**
 * Runs `fn` with its tracepoints dropped: the model's own part of an update the kernel traces
 * together with memory the model does not know (the recorded event is outside the model).
 */
export function untraced(k: Kernel, fn: () => void): void {
  const sink = k.emitSink;
  const keep = k.keepOut;
  k.emitSink = undefined;
  k.keepOut = false;
  try {
    fn();
  } finally {
    k.emitSink = sink;
    k.keepOut = keep;
  }
}

/** Whether the kernel's release is `major.minor` or later. */
function releaseAtLeast(k: Kernel, major: number, minor: number): boolean {
  const [a = 0, b = 0] = k.traits.release.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * wp_can_reuse_anon_folio(): may a write fault keep `f`'s page (make its PTE writable) instead
 * of copying it? An exclusive page always (PageAnonExclusive). Else: 6.1 (do_wp_page()) when
 * the folio's one reference is this mapping, for any folio size; 6.2–6.14 the same for a small
 * folio only, never a page of a large one; 6.15+ (1da190f4d0a6 "mm: Copy-on-Write (COW) reuse
 * support for PTE-mapped THP", CONFIG_MM_ID) a large folio too when more than one of its pages
 * is mapped, all by this mm, and every reference is a mapping.
 * Model deviation: the folio's references are its mappings (no GUP pins, no swap cache).
 */
function wp_can_reuse_anon_folio(k: Kernel, mm: Mm, f: Folio): boolean {
  if (f.exclusive) return true;
  if (f.nr === 1 || k.traits.release === '6.1') return f.refcount === 1;
  if (!releaseAtLeast(k, 6, 15)) return false;
  if (f.large_mapcount <= 1 || f.entire_mapcount > 0) return false;
  return f.refcount === f.large_mapcount && folio_mappings(k, f).every((m) => m.mm === mm);
}

/**
 * do_huge_pmd_wp_page(): a write fault on a read-only PMD of an anonymous THP. Reused when
 * exclusive or when the PMD holds its only reference; otherwise __split_huge_pmd() (its 2 MiB
 * flush, thp_split_pmd) and the fault falls back to the PTE level, where do_wp_page() copies
 * the page. Whether it must split (the caller splits with split_huge_pmd_locked()).
 */
export function huge_pmd_wp_must_split(f: Folio): boolean {
  if (f.exclusive || f.refcount === 1) {
    f.exclusive = true;
    return false;
  }
  return true;
}

/**
 * wp_page_copy()'s new page: an order-0 folio (the recorded allocation) replaces the entry at
 * `addr` — the old entry cleared and flushed (ptep_clear_flush(): one page), the copy mapped
 * writable and dirty, onto this CPU's lru_add batch. What becomes of the old page is the
 * caller's (an anonymous page's mapping and reference dropped; the zero page has neither).
 */
export function wp_page_copy(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, user: AllocFact | undefined, story: string): Folio {
  const idx = pteIndex(addr);
  const f = k.newFolio(0, user?.pfn, vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
  table.clear(idx);
  k.cost.pteClears++;
  flush_tlb_mm_range(k, mm, addr, addr + PAGE_SIZE);
  table.set(idx, f, 0, vma.write, true, true);
  folio_add_rmap_ptes(k, f, 0, 1);
  f.refcount = 1;
  k.story(f, story, addr);
  folio_add_lru(k, f);
  return f;
}

/**
 * do_wp_page() on a read-only PTE of an anonymous page: reused (made writable, no flush on
 * x86) or copied by wp_page_copy(): a new order-0 folio (the recorded allocation), no rss
 * change for an anonymous old page, the old entry cleared and flushed (ptep_clear_flush(): one
 * page), the copy mapped writable and dirty, the old page's mapping dropped — a large folio
 * left partly mapped is queued for deferred split — and its reference put, freeing it when that
 * was the last. Returns whether it copied.
 */
export function do_wp_page_anon(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, user: AllocFact | undefined): boolean {
  const idx = pteIndex(addr);
  const old = table.folio[idx]!;
  if (wp_can_reuse_anon_folio(k, mm, old)) {
    if (old.nr === 1) old.exclusive = true;
    table.bits[idx] = table.bits[idx]! | PTE_WRITE;
    return false;
  }
  const page = table.page(idx);
  wp_page_copy(k, mm, vma, table, addr, user, 'copied on write');
  folio_remove_rmap_ptes(k, old, page, 1);
  k.story(old, 'page copied on write', addr);
  if (folio_put_refs(k, old, 1)) free_folio(k, old);
  return true;
}

/**
 * The address space at `fl: begin` as the workload's snapshot recorded it (/proc/self/maps and
 * pagemap, ops.ts SnapshotVma): its VMAs, and in them the present pages at the recorded pfns —
 * anonymous folios (mapped writable where the VMA is, PageAnonExclusive as pagemap's exclusive
 * bit says), zero-page entries, and file pages: folios of the file's page cache (filemap.ts),
 * mapped read-only, counted in MM_FILEPAGES or, swap-backed (tmpfs, the initramfs), in
 * MM_SHMEMPAGES. The rss counters take those pages without a trace event (they were counted
 * before the window). The mm holds no memory the model did not see any more; read faults in its
 * private file mappings map the pages around them (do_fault_around()).
 *
 * Model deviation: a VMA whose pages are only file pages or the zero page is taken to have no
 * anon_vma (the kernel keeps one once an anonymous page was ever mapped there) and the fork
 * skips it, as vma_needs_copy() does; vvar and vdso are special mappings it skips too, and a
 * fault there or in a shared mapping is not modelled. A compound run is one folio whose order
 * covers it (kpageflags gives its head and tails, not its order). The anonymous folios are on no
 * LRU list: most were faulted in before the workload joined a memory cgroup, and reclaim in the
 * window is over the workload's region; nothing in the window scans them.
 * 6.1 (SPLIT_RSS_COUNTING): the mm's anonymous counter is the snapshot's count less what the
 * task's rss cache still holds of the faults before the window.
 */
export function load_snapshot(k: Kernel, mm: Mm, vmas: readonly SnapshotVma[], tid: number): void {
  mm.preWindow = undefined;
  let anon = 0;
  const rss = [0, 0, 0, 0];
  for (const s of vmas) {
    if (s.kind === 'vsyscall') continue;
    const isAnon = s.kind === 'anon' || s.kind === 'heap' || s.kind === 'stack';
    const swapbacked = s.runs.some((r) => r.what === 'file' && r.swapbacked);
    const special = s.kind === 'vdso' || s.kind === 'vvar';
    const vma: Vma = {
      vm_start: s.start, vm_end: s.end,
      vm_pgoff: isAnon ? s.start / PAGE_SIZE : s.off / PAGE_SIZE,
      read: s.read, write: s.write, hugepage: false, nohugepage: false, locked: false, droppable: false,
      anon: isAnon, implicit: false,
    };
    if (s.kind === 'heap') vma.heap = true;
    if (s.kind === 'file') {
      vma.privateFile = true;
      vma.filePages = true;
      vma.file = s.name;
      if (swapbacked) vma.fileSwapbacked = true;
    } else if (!isAnon) {
      // vdso, vvar, shared mappings: their pages are held (their rss); a fault there is not
      // modelled (and marks the VMA as mapping pages the model does not hold).
      vma.file = `${s.kind}:${s.name}:${s.start}`;
      if (swapbacked) vma.fileSwapbacked = true;
    }
    const hasAnon = s.runs.some((r) => r.what === 'anon');
    if (special || s.kind === 'shared' || !hasAnon) vma.noPteCopy = true;
    mm.vmas.push(vma);
    // Runs of one compound folio: a head run and the tail runs after it, at following pfns.
    let f: Folio | undefined;
    let fPages = 0;
    for (let ri = 0; ri < s.runs.length; ri++) {
      const r = s.runs[ri]!;
      if (r.what === 'file') {
        f = load_file_run(k, mm, vma, s.runs, ri, f, rss);
        continue;
      }
      for (let i = 0; i < r.n; i++) {
        const addr = r.addr + i * PAGE_SIZE;
        const pi = Math.floor(addr / PMD_SIZE);
        let t = mm.pmds.get(pi);
        if (!t) { t = new PteTable(0); mm.pmds.set(pi, t); }
        if (t.kind === 'huge') continue;
        const idx = pteIndex(addr);
        if (r.what === 'zero') { t.setZero(idx, true); t.used++; continue; }
        if (r.compound !== 'tail' && (i === 0 || r.compound !== 'head')) {
          // A new folio: an order-0 page, or the head of a compound run and the tails after it.
          let nr = r.compound === 'head' ? r.n : 1;
          if (r.compound === 'head') for (let j = ri + 1; j < s.runs.length && s.runs[j]!.compound === 'tail'; j++) nr += s.runs[j]!.n;
          let order = 0;
          while (1 << order < nr) order++;
          f = k.newFolio(order, r.pfn + i, vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE, mm.anonRoot);
          f.exclusive = r.exclusive;
          // Its accessed bits' history lies before the window.
          f.agedAt = -1;
          fPages = 0;
          k.story(f, 'mapped before the window (snapshot)', addr);
        }
        if (!f) continue;
        t.set(idx, f, fPages, vma.write, true, true);
        t.used++;
        folio_add_rmap_ptes(k, f, fPages, 1);
        f.refcount++;
        fPages++;
        anon++;
      }
    }
  }
  mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
  const cached = k.traits.rssEveryUpdate ? 0 : (k.taskRss.get(tid)?.cache[MM_ANONPAGES] ?? 0);
  mm.rss[MM_ANONPAGES] += anon - cached;
  mm.rss[MM_FILEPAGES] += rss[MM_FILEPAGES]!;
  mm.rss[MM_SHMEMPAGES] += rss[MM_SHMEMPAGES]!;
}

/**
 * A run of file pages of the snapshot (`runs[ri]`): the file's cached folios at the recorded
 * pfns (a compound run one folio with the tail runs after it), mapped read-only where they are.
 * Returns the folio the next tail run continues.
 */
function load_file_run(k: Kernel, mm: Mm, vma: Vma, runs: readonly SnapshotRun[], ri: number, prev: Folio | undefined, rss: number[]): Folio | undefined {
  const r = runs[ri]!;
  const file = vma.file!;
  const cache = page_cache(k, file);
  let f = r.compound === 'tail' ? prev : undefined;
  for (let i = 0; i < r.n; i++) {
    const addr = r.addr + i * PAGE_SIZE;
    const pgoff = vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE;
    let e = cache.get(pgoff);
    if (!e) {
      if (!f || (r.compound !== 'tail' && (i === 0 || r.compound !== 'head'))) {
        let nr = r.compound === 'head' ? r.n : 1;
        if (r.compound === 'head') for (let j = ri + 1; j < runs.length && runs[j]!.compound === 'tail'; j++) nr += runs[j]!.n;
        let order = 0;
        while (1 << order < nr) order++;
        f = filemap_add_folio(k, file, order, r.pfn + i, pgoff, r.swapbacked);
      }
      e = { folio: f, page: pgoff - f.index };
      if (e.page >= f.nr) continue;
      cache.set(pgoff, e);
    }
    const pi = Math.floor(addr / PMD_SIZE);
    let t = mm.pmds.get(pi);
    if (!t) { t = new PteTable(0); mm.pmds.set(pi, t); }
    if (t.kind === 'huge') continue;
    t.set(pteIndex(addr), e.folio, e.page, false, false, true);
    t.used++;
    folio_add_rmap_ptes(k, e.folio, e.page, 1);
    e.folio.refcount++;
    rss[mm_counter(e.folio)]!++;
    f = e.folio;
  }
  return f;
}
