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
import type { Kernel } from './kernel.js';
import { pteIndex } from './pgtable.js';
import { folio_add_rmap_ptes } from './rmap.js';

/** mm_counter() (include/linux/mm.h): the rss counter a folio's mapped pages count in. */
export function mm_counter(f: Folio): number {
  return f.anon ? MM_ANONPAGES : f.swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** A file's cached pages by page offset: the folio and the page within it. */
type FileCache = Map<number, { folio: Folio; page: number }>;
const caches = new WeakMap<Kernel, Map<string, FileCache>>();

export function page_cache(k: Kernel, file: string): FileCache {
  let all = caches.get(k);
  if (!all) { all = new Map(); caches.set(k, all); }
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
const FAULT_AROUND_PAGES = 16;

/**
 * do_fault_around() (mm/memory.c) for a read fault at `addr` in a file VMA whose pages the model
 * holds: the window of fault_around_bytes aligned down around the fault, moved (not cut) to
 * start at the VMA's start, cut at its end and at the page table's; filemap_map_pages() then
 * maps what is cached there.
 */
export function do_fault_around(k: Kernel, mm: Mm, vma: Vma, table: PteTable, addr: number): number {
  const pteOff = pteIndex(addr);
  const vmaOff = Math.floor((addr - vma.vm_start) / PAGE_SIZE);
  const from = Math.max(pteOff - (pteOff % FAULT_AROUND_PAGES), pteOff - Math.min(pteOff, vmaOff));
  const vmaPages = (vma.vm_end - vma.vm_start) / PAGE_SIZE;
  const to = Math.min(from + FAULT_AROUND_PAGES, 512, pteOff + vmaPages - vmaOff) - 1;
  const pgoff0 = vma.vm_pgoff + vmaOff - (pteOff - from);
  return filemap_map_pages(k, mm, vma, table, from, to, pgoff0);
}
