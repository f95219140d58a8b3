/**
 * mm/mmap.c, mm/vma.c, mm/mremap.c: the VMA operations the workloads make (fork's copy: fork.ts).
 * VMAs are split at range boundaries. Merging is modelled where mprotect() restores matching
 * flags (vma_merge()); elsewhere it is not (Model deviation: adjacent anonymous mappings stay
 * separate VMAs; no tracepoint depends on it in the modelled paths, but mTHP eligibility at a
 * region edge does — faults take the recorded folio size).
 */
import { PAGE_SIZE, PMD_SIZE, type Mm, type Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import { free_pgtables, releaseAtLeast, zap_range, ZapGather } from './memory.js';
import { pmdIndex } from './pgtable.js';
import { lru_add_drain } from './swap.js';
import { split_huge_pmd_locked } from './huge_memory.js';
import { mm_runs_on } from './tlbflush.js';
import { untraced, vma_outside_model } from './fork.js';
import { FAULT_AROUND_PAGES, mm_has_file_events } from './filemap.js';

const MAP_ANONYMOUS = 0x20;
const MAP_FIXED = 0x10;
const MAP_SHARED = 0x01;
const MAP_STACK = 0x20000;
const PROT_READ = 1;
const PROT_WRITE = 2;

/**
 * mmap_region(): a mapping over existing ones (MAP_FIXED) unmaps them first (their pages zapped
 * and flushed, their tables freed, as munmap() does). `vm_pgoff` is the model's anon index space
 * for every VMA (a file mapping's file offset is not needed: its file pages are not modelled).
 */
export function do_mmap(k: Kernel, mm: Mm, addr: number, len: number, prot: number, flags: number, file?: { off?: number; events: boolean }): void {
  window_saw(mm, addr, addr + len);
  const anon = (flags & MAP_ANONYMOUS) !== 0 && (flags & MAP_SHARED) === 0;
  const privateFile = (flags & MAP_ANONYMOUS) === 0 && (flags & MAP_SHARED) === 0;
  if ((flags & MAP_FIXED) !== 0) {
    if (mm.vmas.some((v) => v.vm_start < addr + len && v.vm_end > addr)) do_munmap(k, mm, addr, len);
  } else {
    // Without MAP_FIXED the kernel maps only where nothing is: what the model holds there is a
    // guess about VMAs it never saw whole (an implicit VMA grown over a gap), given up.
    clip_implicit(mm, addr, addr + len);
    split_vmas(mm, addr, addr + len);
    mm.vmas = mm.vmas.filter((v) => v.vm_end <= addr || v.vm_start >= addr + len);
  }
  // calc_vm_flag_bits(): MAP_STACK maps to VM_NOHUGEPAGE since 6.7 (Yang Shi, "mm: mmap: map
  // MAP_STACK to VM_NOHUGEPAGE", c4608d1bf7c6): a thread stack then never merges with an
  // adjacent anonymous VMA without it (mprotect()'s vma_merge() compares the flags), and the
  // exit's zap updates rss once per VMA.
  const nohugepage = (flags & MAP_STACK) !== 0 && releaseAtLeast(k, 6, 7);
  mm.vmas.push({
    vm_start: addr, vm_end: addr + len, vm_pgoff: addr / PAGE_SIZE, read: (prot & PROT_READ) !== 0,
    write: (prot & PROT_WRITE) !== 0, hugepage: false, nohugepage, locked: false, droppable: false, anon, implicit: false,
    ...(privateFile ? { privateFile } : {}),
    ...(privateFile && file?.events ? file_vma(file.off === undefined ? undefined : file.off / PAGE_SIZE - addr / PAGE_SIZE) : {}),
  });
  mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
  if (privateFile && file?.events) mm_has_file_events(mm);
  // vma_merge_new_range(): a new private anonymous mapping right next to one of equal flags
  // whose anon index continues it becomes part of it (the maple tree holds one VMA), so a zap
  // later updates rss once for both in a page table. The neighbour's anon_vma must be its own
  // alone (is_mergeable_anon_vma(): list_is_singular() of its chain), which a fork child's is not.
  if (anon && mm.anonRoot === mm.id) vma_merge(mm, addr, addr + len);
}

/** Split VMAs so that `start` and `end` fall on VMA boundaries. */
export function split_vmas(mm: Mm, start: number, end: number): void {
  const out: Vma[] = [];
  for (const v of mm.vmas) {
    let cur = v;
    for (const cut of [start, end]) {
      if (cut > cur.vm_start && cut < cur.vm_end) {
        const left: Vma = { ...cur, vm_end: cut };
        const right: Vma = { ...cur, vm_start: cut, vm_pgoff: cur.vm_pgoff + (cut - cur.vm_start) / PAGE_SIZE };
        out.push(left);
        cur = right;
      }
    }
    out.push(cur);
  }
  mm.vmas = out.sort((a, b) => a.vm_start - b.vm_start);
}

/**
 * split_vma() at `addr` inside `vma`, with vma_adjust_trans_huge(): a PMD-mapped THP whose
 * 2 MiB range the new boundary cuts is PMD-split first (split_huge_pmd_address(): its flush, and
 * the folio then mapped by PTEs on both sides). Returns the part from `addr` on.
 */
export function split_vma(k: Kernel, mm: Mm, vma: Vma, addr: number): Vma {
  const pi = pmdIndex(addr);
  const e = addr % PMD_SIZE !== 0 ? mm.pmds.get(pi) : undefined;
  if (e && e.kind === 'huge' && pi * PMD_SIZE >= vma.vm_start && (pi + 1) * PMD_SIZE <= vma.vm_end) split_huge_pmd_locked(k, mm, vma, pi * PMD_SIZE, e);
  const i = mm.vmas.indexOf(vma);
  const right: Vma = { ...vma, vm_start: addr, vm_pgoff: vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE };
  vma.vm_end = addr;
  mm.vmas.splice(i + 1, 0, right);
  return right;
}

/** Whether two adjacent VMAs may be one (is_mergeable_vma(): same flags, anon pgoff continuous). */
function mergeable(a: Vma, b: Vma): boolean {
  return a.vm_end === b.vm_start && a.anon && b.anon && !a.implicit && !b.implicit &&
    a.read === b.read && a.write === b.write && a.hugepage === b.hugepage && a.nohugepage === b.nohugepage &&
    a.locked === b.locked && a.droppable === b.droppable && !a.dontcopy === !b.dontcopy && !a.dontdump === !b.dontdump &&
    a.vm_pgoff + (a.vm_end - a.vm_start) / PAGE_SIZE === b.vm_pgoff;
}

/**
 * vma_merge() after a flags change over [start, end): each VMA there joins its neighbour when
 * they can be one (the VMA before `start` and the one at `end` included). Page tables are not
 * touched.
 */
export function vma_merge(mm: Mm, start: number, end: number): void {
  const vmas = mm.vmas;
  for (let i = 1; i < vmas.length; ) {
    const a = vmas[i - 1]!;
    const b = vmas[i]!;
    if (b.vm_start >= start && a.vm_end <= end && mergeable(a, b)) {
      a.vm_end = b.vm_end;
      vmas.splice(i, 1);
      continue;
    }
    i++;
  }
}

/**
 * brk(): the heap is one anonymous VMA from the break the program first saw (brk(0) after exec
 * returns mm->start_brk) to the page-aligned break. Growing extends it (do_brk_flags()),
 * shrinking unmaps the top (do_vmi_align_munmap(): zap, flush, free as munmap() does); a call
 * that returns another value than asked changed nothing. Pages faulted there before the heap
 * was known (the model's implicit VMAs) become the heap's.
 */
export function do_brk(k: Kernel, mm: Mm, arg: number, result: number | undefined): void {
  if (result === undefined || !Number.isSafeInteger(result) || result <= 0) return;
  const align = (x: number): number => Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
  if (!mm.brk) {
    // brk(0) tells where the heap starts (a new image's first break is its start_brk).
    if (arg === 0) mm.brk = { start: result, end: result };
    return;
  }
  if (arg !== result) return;
  const start = align(mm.brk.start);
  const oldEnd = align(mm.brk.end);
  const newEnd = align(result);
  mm.brk.end = result;
  if (newEnd < oldEnd) {
    do_munmap(k, mm, newEnd, oldEnd - newEnd);
    return;
  }
  if (newEnd === oldEnd) return;
  const heap = mm.vmas.find((v) => v.heap);
  clip_implicit(mm, start, newEnd);
  if (heap) heap.vm_end = newEnd;
  else {
    mm.vmas.push({
      vm_start: start, vm_end: newEnd, vm_pgoff: start / PAGE_SIZE, read: true, write: true, hugepage: false, nohugepage: false,
      locked: false, droppable: false, anon: true, implicit: false, heap: true,
    });
    mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
  }
}

/** The model's implicit VMAs give up [from, to) (their pages stay in the page tables). */
function clip_implicit(mm: Mm, from: number, to: number): void {
  const out: Vma[] = [];
  for (const v of mm.vmas) {
    if (!v.implicit || v.vm_end <= from || v.vm_start >= to) { out.push(v); continue; }
    if (v.vm_start < from) out.push({ ...v, vm_end: from });
    if (v.vm_end > to) out.push({ ...v, vm_start: to, vm_pgoff: to / PAGE_SIZE });
  }
  mm.vmas = out;
}

/** The address ranges calls of the window mapped, unmapped or moved (Mm.windowRanges, munmap_outside_model()). */
export function window_saw(mm: Mm, start: number, end: number): void {
  if (!mm.preWindow) return;
  (mm.windowRanges ??= []).push([start, end]);
}

/**
 * Why munmap() of [start, start + len) may unmap what the model does not hold: a part of it lies
 * in no VMA the model knows (a mapping whose mmap() the trace did not show, made before the
 * window), and a fault mapped pages there (Mm.unseenBlocks).
 */
export function munmap_outside_model(mm: Mm, start: number, len: number): string | undefined {
  const end = start + len;
  let covered = start;
  const holes: Array<[number, number]> = [];
  for (const v of mm.vmas) {
    if (v.vm_end <= start || v.vm_start >= end) continue;
    if (v.vm_start > covered) holes.push([covered, v.vm_start]);
    covered = Math.max(covered, v.vm_end);
  }
  if (covered < end) holes.push([covered, end]);
  if (holes.length === 0) return undefined;
  // The mm held memory before the window whose mmap() no event showed: a hole no call of the
  // window mapped, unmapped or moved may be such a mapping, with pages whose rss, flush and
  // frees the model cannot know.
  if (mm.preWindow) {
    const seen = mm.windowRanges ?? [];
    const unseen = holes.some(([a, b]) => {
      let at = a;
      for (const [s, e] of [...seen].sort((x, y) => x[0] - y[0])) if (s <= at && e > at) at = e;
      return at < b;
    });
    if (unseen) return `munmap of ${mm.preWindow.missing}`;
  }
  const blocks = mm.unseenBlocks;
  if (blocks && holes.some(([a, b]) => [...blocks].some((x) => x * 65536 < b && (x + 1) * 65536 > a))) return 'munmap of memory the model knows no VMA for, where a fault mapped pages';
  return undefined;
}

export function do_munmap(k: Kernel, mm: Mm, start: number, len: number): void {
  const end = start + len;
  window_saw(mm, start, end);
  split_vmas(mm, start, end);
  const gone = mm.vmas.filter((v) => v.vm_start >= start && v.vm_end <= end);
  mm.vmas = mm.vmas.filter((v) => !(v.vm_start >= start && v.vm_end <= end));
  // unmap_region(): one mmu_gather for every VMA in the range, flushed once at the end.
  if (gone.length > 0 && k.traits.unmapDrainsLruAdd) lru_add_drain(k);
  const tlb = new ZapGather();
  for (const v of gone) zap_range(k, mm, v, v.vm_start, v.vm_end, {}, tlb);
  free_pgtables(k, mm, gone, tlb);
  tlb.finish(k, mm);
}

/**
 * exit_mmap(): every VMA zapped under one mmu_gather. Where the mm holds memory mapped before
 * the window, the model's implicit VMAs are parts of VMAs it never saw whole: the kernel's
 * per-table rss updates there count pages the model does not know, so their zap is applied
 * untraced (fork.ts).
 */
export function exit_mmap(k: Kernel, mm: Mm): void {
  const all = [...mm.vmas];
  mm.vmas = [];
  if (k.traits.unmapDrainsLruAdd) lru_add_drain(k);
  const known = mm.preWindow ? all.filter((v) => !vma_outside_model(mm, v)) : all;
  const tlb = new ZapGather();
  // Pages mapped where the model knows no VMA (the vdso) take the kernel's batch entries too, and
  // so do those of memory mapped before the window (zapped in address order with the rest: how
  // many is in no event).
  if (mm.unseenBlocks && mm.unseenBlocks.size > 0) {
    tlb.unseenFill = true;
    tlb.unseenMax += mm.unseenBlocks.size * FAULT_AROUND_PAGES;
  }
  if (mm.preWindow) tlb.unseenMax = Number.MAX_SAFE_INTEGER;
  for (const v of known) zap_range(k, mm, v, v.vm_start, v.vm_end, {}, tlb);
  free_pgtables(k, mm, known, tlb);
  tlb.finish(k, mm);
  const rest = mm.preWindow ? all.filter((v) => vma_outside_model(mm, v)) : [];
  if (rest.length > 0) {
    untraced(k, () => {
      const t = new ZapGather();
      for (const v of rest) zap_range(k, mm, v, v.vm_start, v.vm_end, {}, t);
      free_pgtables(k, mm, rest, t);
      t.finish(k, mm);
    });
  }
  mm.exited = true;
}

/**
 * fs/binfmt_elf.c elf_load() for each PT_LOAD of an exec'd image (its layout from the capture):
 * the file part as a private file mapping, the bss past its last file page as anonymous memory.
 * What the model had guessed there (implicit VMAs of faults it saw before: the padzero() fault
 * comes after the mappings are made, so only a retry could precede it) gives way.
 */
export function elf_map_image(mm: Mm, vmas: ReadonlyArray<{ start: number; end: number; file: boolean; read: boolean; write: boolean }>, fileEvents = false): void {
  for (const v of vmas) {
    if (mm.vmas.some((w) => !w.implicit && w.vm_start < v.end && w.vm_end > v.start)) continue;
    clip_implicit(mm, v.start, v.end);
    mm.vmas.push({
      vm_start: v.start, vm_end: v.end, vm_pgoff: v.start / PAGE_SIZE, read: v.read, write: v.write, hugepage: false, nohugepage: false,
      locked: false, droppable: false, anon: !v.file, implicit: false, ...(v.file ? { privateFile: true } : {}),
      ...(v.file && fileEvents ? file_vma(undefined) : {}),
    });
  }
  if (fileEvents) mm_has_file_events(mm);
  mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
}

/**
 * A private file mapping made in the window by a capture that records its faults' page-cache
 * events: every page a fault maps there is an input, so the model holds them all (Vma.fileEvents).
 * `fileDelta` (the file offset less the first page) when the call said it; an exec'd image's
 * segment offsets are in no event before the first fault's (`record` saves only vaddr and sizes).
 */
function file_vma(fileDelta: number | undefined): Partial<Vma> {
  return { filePages: true, fileEvents: true, ...(fileDelta === undefined ? {} : { fileDelta }) };
}

/**
 * fs/exec.c exec_mmap() for a successful execve(): the task takes the mm bprm_mm_init() built
 * (activate_mm() loads it on this CPU) and puts the old one (mmput() → exit_mmap()), whose user
 * it no longer is — the old mm's rss updates are traced with curr=0. 6.1 first syncs the task's
 * rss cache into the old mm (sync_mm_rss()) and starts the new mm with an empty one.
 * Model deviation: other threads of the old mm (killed by de_thread() before) are dropped
 * with it; the new image's mappings (ELF segments, stack) are not modelled until they fault.
 */
export function exec_mmap(k: Kernel, old: Mm, tid: number): Mm {
  if (!k.traits.rssEveryUpdate) for (const t of old.threads) k.syncMmRss(old, t);
  for (const t of old.threads) k.taskRss.delete(t);
  for (const [t, m] of k.mms) if (m === old) k.mms.delete(t);
  old.threads.clear();
  const mm = k.newMm(old.tgid);
  if (tid !== old.tgid) {
    mm.threads.add(tid);
    k.mms.set(tid, mm);
  }
  mm_runs_on(k, mm, k.cpu);
  exit_mmap(k, old);
  return mm;
}
