/**
 * mm/filemap.c: the page cache of the files a snapshot's private file mappings map (the
 * workload's binary), and filemap_map_pages() — fault-around's mapping of the cached pages
 * next to a read fault (mm/memory.c do_fault_around() picks the range).
 *
 * Only VMAs whose file pages the model holds (Vma.filePages: from the address-space snapshot,
 * load_snapshot() in fork.ts) come here; other file mappings stay outside the model.
 * Model deviation: every page of such a file is taken to be in the page cache (a static binary
 * that just ran, or one on tmpfs, is whole in it) up to the end of its last mapping, which is
 * taken as the file's end (i_size is in no event); a page the snapshot did not show mapped is a
 * new order-0 folio of the cache at a made-up pfn (it is never freed while the file is cached).
 */
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, PAGE_SIZE, type Folio, type Mm, type PteTable, type Vma } from '../state.js';
import type { FileFaultEvent, Op } from '../ops.js';
import type { FileCache, Kernel } from './kernel.js';
import { pteIndex } from './pgtable.js';
import { folio_add_rmap_ptes, folio_remove_rmap_ptes } from './rmap.js';

/** mm_counter() (include/linux/mm.h): the rss counter a folio's mapped pages count in. */
export function mm_counter(f: Folio): number {
  return f.anon ? MM_ANONPAGES : f.swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** A file's cached pages by page offset (Kernel.fileCaches). */
export function page_cache(k: Kernel, file: string): FileCache {
  const all = k.fileCaches;
  let c = all.get(file);
  if (!c) { c = new Map(); all.set(file, c); }
  return c;
}

/** A new folio of `file`'s cache: not anonymous, held by the cache (one reference), on no LRU the model scans. */
export function filemap_add_folio(k: Kernel, file: string, order: number, pfn: number | undefined, index: number, swapbacked: boolean): Folio {
  const f = k.newFolio(order, pfn, index, 0);
  f.anon = false;
  f.swapbacked = swapbacked;
  f.exclusive = false;
  f.refcount = 1;
  const c = page_cache(k, file);
  for (let i = 0; i < f.nr; i++) c.set(index + i, { folio: f, page: i });
  return f;
}

/**
 * filemap_map_pages() over PTE slots [from, to] of `table` (vma's part, pgoffs from `pgoff0` at
 * slot `from`): every cached page whose PTE is none is mapped read-only and young, with its
 * rmap and a reference; the rss is added once for the call (6.10+, "mm: filemap: batch mm
 * counter updating in filemap_map_pages()"; 6.1 per page into the task's cache). Returns the
 * pages mapped.
 */
export function filemap_map_pages(k: Kernel, mm: Mm, vma: Vma, table: PteTable, from: number, to: number, pgoff0: number): number {
  const file = vma.file!;
  const c = page_cache(k, file);
  const type = vma.fileSwapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
  let n = 0;
  for (let i = from; i <= to; i++) {
    if (!table.none(i)) continue;
    const pgoff = pgoff0 + (i - from);
    let e = c.get(pgoff);
    if (!e) e = { folio: filemap_add_folio(k, file, 0, undefined, pgoff, vma.fileSwapbacked === true), page: 0 };
    table.set(i, e.folio, e.page, false, false, true);
    table.used++;
    folio_add_rmap_ptes(k, e.folio, e.page, 1);
    e.folio.refcount++;
    n++;
  }
  if (n > 0) {
    if (k.traits.rssEveryUpdate) k.addMmCounter(mm, type, n);
    else k.addMmCounterFast(mm, type, n);
  }
  return n;
}

/** fault_around_bytes: 64 KiB (mm/memory.c). */
export const FAULT_AROUND_PAGES = 16;

/**
 * do_fault_around() (mm/memory.c) for a read fault at `addr` in a file VMA whose pages the model
 * holds: the window of fault_around_bytes aligned down around the fault, moved (not cut) to
 * start at the VMA's start, cut at its end and at the page table's; filemap_map_pages() then
 * maps what is cached there.
 */
export function do_fault_around(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number): number {
  const { from, to } = fault_around_window(vma, addr);
  const pgoff0 = vma.vm_pgoff + Math.floor((addr - vma.vm_start) / PAGE_SIZE) - (pteIndex(addr) - from);
  return filemap_map_pages(k, mm, vma, table, from, to, pgoff0);
}

/** do_fault_around()'s window: PTE slots [from, to] of the fault's table. */
function fault_around_window(vma: Vma, addr: number): { from: number; to: number } {
  const pteOff = pteIndex(addr);
  const vmaOff = Math.floor((addr - vma.vm_start) / PAGE_SIZE);
  const from = Math.max(pteOff - (pteOff % FAULT_AROUND_PAGES), pteOff - Math.min(pteOff, vmaOff));
  const vmaPages = (vma.vm_end - vma.vm_start) / PAGE_SIZE;
  const to = Math.min(from + FAULT_AROUND_PAGES, 512, pteOff + vmaPages - vmaOff) - 1;
  return { from, to };
}

/**
 * Ties `vma` to the file and offset a page-cache event of one of its faults names (the file
 * page at `addr` is `pgoff`): the first event sets them, later ones must agree. False when they
 * do not (the model's VMA is not the kernel's), or when the file lies on a device whose pages
 * may be shmem (major 0: tmpfs, but also btrfs, overlayfs, NFS — which rss counter they count
 * in, MM_FILEPAGES or MM_SHMEMPAGES, is in no event).
 */
function bind_file(vma: Vma, ev: FileFaultEvent, addr: number, pgoff: number): boolean {
  const delta = pgoff - Math.floor(addr / PAGE_SIZE);
  if (ev.file.startsWith('0:')) return false;
  if (vma.fileDelta === undefined) vma.fileDelta = delta;
  if (vma.file === undefined) vma.file = ev.file;
  return vma.fileDelta === delta && vma.file === ev.file;
}

/** Maps file page `pgoff` of `vma`'s file at slot `i` (none before): read-only, young; its rmap and reference. */
function map_file_page(k: Kernel, vma: Vma, table: PteTable, i: number, pgoff: number): void {
  const file = vma.file!;
  let e = page_cache(k, file).get(pgoff);
  if (!e) e = { folio: filemap_add_folio(k, file, 0, undefined, pgoff, vma.fileSwapbacked === true), page: 0 };
  table.set(i, e.folio, e.page, false, false, true);
  table.used++;
  folio_add_rmap_ptes(k, e.folio, e.page, 1);
  e.folio.refcount++;
}

/**
 * do_read_fault() (mm/memory.c) in a file VMA whose faults' page-cache events the capture
 * records (Vma.fileEvents), in their order:
 *  - `mm_filemap_map_pages` [first, last]: do_fault_around() ran filemap_map_pages() over the
 *    window the model computes (its start is `first`; `last` is cut at the file's end), which
 *    maps every cached page whose PTE is none and adds them to the rss once for the call — a
 *    traced update even of 0 (6.10+: "mm: filemap: batch mm counter updating in
 *    filemap_map_pages()"; the event is traced only once a folio was found). 6.1: per page,
 *    into the task's rss cache.
 *  - `mm_filemap_fault` of the faulting page, the op's last page-cache event: fault-around did
 *    not map it, filemap_fault() got it, finish_fault() maps that one page (regular files; a
 *    whole folio only for anonymous shmem) and adds 1. One followed by fault-around again was a
 *    try that returned VM_FAULT_RETRY (it waited for the page's I/O): nothing mapped then.
 * Model deviation: every page of the window, up to `last`, is taken as cached and uptodate
 * (filemap_map_pages() also skips a folio that is locked, not uptodate or marked for
 * readahead: which of them were is in no event).
 * Returns 'unmodelled' when an event does not fit the model's VMA (then nothing is mapped).
 */
export function do_read_fault_recorded(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number, events: readonly FileFaultEvent[] | undefined): 'mapped' | 'present' | 'unmodelled' {
  const idx = pteIndex(addr);
  const page = addr - (addr % PAGE_SIZE);
  const type = vma.fileSwapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
  let mapped = false;
  const evs = (events ?? []).filter((e) => !e.added);
  if (page_cache_unknown(k, events, false)) {
    // What fault-around mapped here depends on page-cache state no event shows: the VMA's pages
    // are no longer all known (its zaps' rss and flush ranges neither).
    for (const e of events ?? []) k.filePartlyCached.add(e.file);
    vma.unseenPages = true;
  }
  for (let j = 0; j < evs.length; j++) {
    const ev = evs[j]!;
    if (ev.last === undefined) {
      if (!bind_file(vma, ev, page, ev.first)) return 'unmodelled';
      if (j < evs.length - 1 || !table.none(idx)) continue;
      map_file_page(k, vma, table, idx, ev.first);
      // filemap_fault() returns the page uptodate (and clears its readahead mark).
      shown_uptodate(k, ev.file).add(ev.first);
      k.addMmCounterFast(mm, type, 1);
      mapped = true;
      continue;
    }
    const { from, to } = fault_around_window(vma, addr);
    const fromAddr = page - (idx - from) * PAGE_SIZE;
    if (!bind_file(vma, ev, fromAddr, ev.first)) return 'unmodelled';
    const last = from + (ev.last - ev.first);
    // A window the model's VMA does not give.
    if (last > to) return 'unmodelled';
    // The event names the range asked (start_pgoff, end_pgoff), not the pages mapped: a page the
    // window has not shown uptodate may have been skipped (not uptodate, locked, PG_readahead
    // from a readahead before the window), so the count mapped is the model's guess.
    const shown = shown_uptodate(k, ev.file);
    const base = fromAddr;
    let guess = false;
    let n = 0;
    // filemap_fault() after this fault-around: it did not map the faulting page (else the fault
    // would have ended with VM_FAULT_NOPAGE).
    const missedFault = evs.slice(j + 1).some((x) => x.last === undefined);
    for (let i = from; i <= last; i++) {
      if (!table.none(i) || (missedFault && i === idx)) continue;
      const pgoff = ev.first + (i - from);
      map_file_page(k, vma, table, i, pgoff);
      if (!shown.has(pgoff)) {
        guess = true;
        guessed(mm).add(base + (i - from) * PAGE_SIZE);
      }
      n++;
      if (!k.traits.rssEveryUpdate) k.addMmCounterFast(mm, type, 1);
    }
    if (k.traits.rssEveryUpdate) {
      if (guess) k.rssUncertain = type;
      try {
        k.addMmCounter(mm, type, n, true);
      } finally {
        k.rssUncertain = undefined;
      }
    }
    if (n > 0) mapped = true;
  }
  return mapped ? 'mapped' : 'present';
}

/**
 * A write fault's page-cache event in a VMA of recorded file faults (do_cow_fault(): the
 * `mm_filemap_fault` of the page it copies) ties the VMA to its file; false when it does not
 * fit the model's VMA.
 */
export function bind_cow_fault(k: Kernel, vma: Vma, addr: number, events: readonly FileFaultEvent[] | undefined): boolean {
  for (const ev of events ?? []) {
    if (ev.added) k.filePartlyCached.add(ev.file);
    else if (ev.last === undefined && !bind_file(vma, ev, addr - (addr % PAGE_SIZE), ev.first)) return false;
  }
  return true;
}

/**
 * Per file, the pages the window has shown uptodate in the page cache with no readahead mark:
 * those filemap_fault() returned. Any other page's state before the window is in no event.
 */
function shown_uptodate(k: Kernel, file: string): Set<number> {
  const all = k.fileShownUptodate;
  let s = all.get(file);
  if (!s) { s = new Set(); all.set(file, s); }
  return s;
}

/**
 * Per mm, the addresses of file pages the model mapped by its guess of a fault-around (a page
 * the window had not shown uptodate): the kernel may have left their PTEs none.
 */
function guessed(mm: Mm): Set<number> {
  return (mm.guessedFilePages ??= new Set());
}

/**
 * Whether the page at `addr` was mapped by the model's guess (see guessed()); `forget` drops it
 * (its PTE is being cleared).
 */
export function guessed_page(mm: Mm, addr: number, forget: boolean): boolean {
  const s = mm.guessedFilePages;
  if (!s) return false;
  const page = addr - (addr % PAGE_SIZE);
  const had = s.has(page);
  if (had && forget) s.delete(page);
  return had;
}

/**
 * A fault that found no PTE at `addr` where the model had guessed fault-around mapped a page:
 * the kernel skipped it, so the model's guess gives way (PTE cleared, rmap, reference and rss
 * taken back with no event: none was the kernel's).
 */
export function unguess_page(k: Kernel, mm: Mm, table: PteTable, addr: number): void {
  const i = pteIndex(addr);
  const f = table.folio[i];
  guessed_page(mm, addr, true);
  if (!f || f.anon) return;
  const page = table.page(i);
  table.clear(i);
  table.used--;
  folio_remove_rmap_ptes(k, f, page, 1);
  f.refcount--;
  const sink = k.emitSink;
  const keep = k.keepOut;
  k.emitSink = undefined;
  k.keepOut = false;
  try {
    k.addMmCounter(mm, mm_counter(f), -1);
  } finally {
    k.emitSink = sink;
    k.keepOut = keep;
  }
}

/**
 * Whether which pages a read fault's fault-around could map depends on page-cache state no event
 * shows: filemap_map_pages() maps only folios that are uptodate, unlocked and not marked for
 * readahead (PG_readahead, set by an earlier readahead), and the window start's cache is in no
 * event. A file none of whose pages the window saw added or missed is taken as cached whole (a
 * binary or library that ran before); once a fault shows it otherwise — readahead added pages
 * (`mm_filemap_add_to_page_cache`), or a read fault needed filemap_fault() because fault-around
 * could not map the faulting page — its later fault-arounds are not predicted exactly either.
 */
export function page_cache_unknown(k: Kernel, events: readonly FileFaultEvent[] | undefined, write: boolean): boolean {
  if (!events) return false;
  const partly = k.filePartlyCached;
  for (const e of events) {
    if (e.added || (!write && e.last === undefined) || partly.has(e.file)) return true;
  }
  return false;
}

/** The mm got a mapping of recorded file faults (Vma.fileEvents; Mm.fileEvents). */
export function mm_has_file_events(mm: Mm): void {
  mm.fileEvents = true;
}

/** The 64 KiB block of `addr` (Mm.unseenBlocks). */
export const unseenBlock = (addr: number): number => Math.floor(addr / (FAULT_AROUND_PAGES * PAGE_SIZE));

/** Why file rss is not predicted (file_rss_unknown_why()): what the capture lacks for it. */
export const FILE_RSS_NO_EVENTS = 'the capture records no page-cache events of its file faults (filemap:mm_filemap_map_pages, filemap:mm_filemap_fault: which file pages each fault maps) and no snapshot of the file pages mapped';
export const FILE_RSS_PRE_WINDOW = 'the mm holds file mappings from before the window, whose pages no snapshot at fl: begin shows';
export const FILE_RSS_CACHE = 'the page cache of the file was shown incomplete in the window (readahead added pages, or fault-around could not map the faulting page): which pages fault-around found uptodate is in no event';
export const FILE_RSS_UNSEEN = 'a fault mapped file pages where the model knows no file mapping it holds (the vdso, a mapping from before the window, an event that did not fit the VMA)';

/**
 * Whether `op`'s file and shmem rss updates are the model's to predict: every file page the op
 * may map or unmap is one the model holds — its faults' page-cache events were inputs, or a
 * snapshot showed it. Decided from the inputs before the op (compare.ts then compares or sets
 * aside the recorded MM_FILEPAGES/MM_SHMEMPAGES updates).
 */
export function file_rss_known(k: Kernel, mm: Mm | undefined, op: Op): boolean {
  return file_rss_unknown_why(k, mm, op) === undefined;
}

/** What keeps `op`'s file rss from being predicted (one of the FILE_RSS_* reasons), if anything. */
export function file_rss_unknown_why(k: Kernel, mm: Mm | undefined, op: Op): string | undefined {
  // Without recorded file faults, the snapshot's file pages are the only ones the model holds:
  // their updates are predicted while it holds any.
  if (!mm || mm.fileEvents !== true) return k.holdsFilePages() ? undefined : mm?.preWindow ? FILE_RSS_PRE_WINDOW : FILE_RSS_NO_EVENTS;
  if (mm.preWindow) return FILE_RSS_PRE_WINDOW;
  // Anonymous memory maps no file page; a file VMA's pages are known from its faults' events or
  // from the snapshot (which holds its shared and special mappings' pages too) until a fault
  // maps there what the model does not hold.
  const vmaKnown = (v: Vma): boolean => v.anon || (!v.unseenPages && (v.filePages === true || v.file !== undefined));
  const rangeWhy = (start: number, end: number): string | undefined => {
    if (mm.unseenBlocks) for (const b of mm.unseenBlocks) if (b * FAULT_AROUND_PAGES * PAGE_SIZE < end && (b + 1) * FAULT_AROUND_PAGES * PAGE_SIZE > start) return FILE_RSS_UNSEEN;
    for (const v of mm.vmas) {
      if (v.vm_start >= end || v.vm_end <= start || vmaKnown(v)) continue;
      return v.file !== undefined && k.filePartlyCached.has(v.file) ? FILE_RSS_CACHE : FILE_RSS_UNSEEN;
    }
    return undefined;
  };
  // 6.1 keeps file counts in the task's rss cache, synced at any later op: only an mm whose
  // file pages are all known is predicted there.
  if (!k.traits.rssEveryUpdate) {
    const why = rangeWhy(0, Number.MAX_SAFE_INTEGER);
    if (why) return why;
  }
  switch (op.kind) {
    case 'fault': {
      const v = mm.vmas.find((x) => x.vm_start <= op.addr && x.vm_end > op.addr);
      if (v === undefined || !vmaKnown(v)) return v?.file !== undefined && k.filePartlyCached.has(v.file) ? FILE_RSS_CACHE : FILE_RSS_UNSEEN;
      return v.anon || !page_cache_unknown(k, op.file, op.write) ? undefined : FILE_RSS_CACHE;
    }
    case 'munmap':
      return rangeWhy(op.addr, op.addr + op.len);
    case 'mremap':
      return rangeWhy(op.addr, op.addr + op.oldLen);
    case 'madvise':
      return rangeWhy(op.addr, op.addr + op.len);
    case 'mmap':
      return (op.flags & 0x10) === 0 ? undefined : rangeWhy(op.addr, op.addr + op.len);
    default:
      return rangeWhy(0, Number.MAX_SAFE_INTEGER);
  }
}
