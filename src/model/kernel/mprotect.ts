/**
 * mm/mprotect.c: mprotect() of anonymous memory — do_mprotect_pkey(), mprotect_fixup(),
 * change_protection() down to change_pte_range() and change_huge_pmd() — and the x86 rule that
 * decides which entry changes need a TLB flush (pte_needs_flush() / huge_pmd_needs_flush()).
 *
 * What a call does, per VMA it covers (6.1, 6.12, 6.18 alike unless a trait says otherwise):
 * 1. New flags equal to the old ones: nothing at all (no split, no flush).
 * 2. Otherwise the VMA is cut at the range ends (split_vma(); 6.1 first tries vma_merge(), 6.12+
 *    vma_modify_flags(): both end with the same VMAs). Cutting through a PMD-mapped THP splits
 *    that PMD first (vma_adjust_trans_huge() → split_huge_pmd_address(): thp_split_pmd, the 2 MiB
 *    invalidation flushed at once — `pages:-1`). The folio stays whole and fully mapped, now by
 *    PTEs of two VMAs: nothing is queued for deferred split. A PTE-mapped large folio cut by the
 *    boundary is left alone; later MADV_FREE/COLD/PAGEOUT see it partly in each VMA and split it.
 * 3. change_protection() over the part of the VMA in the range: every present entry is rewritten
 *    with the VMA's new page protection. For a private mapping that protection is read-only
 *    (copy-on-write); when the VMA is writable the entry is made writable again where the write
 *    fault would do nothing but that (MM_CP_TRY_CHANGE_WRITABLE + can_change_pte_writable():
 *    an exclusive anonymous page). An entry whose write bit changed — either way — needs a flush
 *    on x86 (_PAGE_RW is in pte_flags_need_flush()'s flush-on-change set); its range is gathered
 *    (tlb_flush_pte_range(): 4 KiB stride; tlb_flush_pmd_range() for a huge PMD: 2 MiB stride
 *    unless PTEs were gathered too).
 * 4. The VMA merges with neighbours whose flags now match (vma_merge()): mprotect(RW) over a
 *    range that mprotect(RO) had cut out joins the three VMAs again. Page tables are not
 *    touched by the merge (PMD-split THPs stay PTE-mapped).
 * One mmu_gather covers the whole call; x86 (MMU_GATHER_MERGE_VMAS) does not flush at a VMA's
 * end, so tlb_finish_mmu() flushes once, over [lowest, highest) of every gathered entry. A call
 * that changed no entry's write bit flushes nothing.
 *
 * A later write to an entry left read-only faults: do_wp_page() / do_huge_pmd_wp_page() on an
 * exclusive anonymous folio reuses it (wp_page_reuse(): made writable, dirty and young; x86's
 * ptep_set_access_flags() does not flush) — memory.ts handles that fault.
 *
 * PROT_NONE: the entries lose _PAGE_PRESENT (they become PROT_NONE entries), which needs a flush
 * for every present entry, zero-page ones included; leaving PROT_NONE needs none (the old entry
 * was not present: pte_needs_flush() returns false), whatever the write bit becomes.
 *
 * Model deviation: the VMA keeps read and write only. PROT_EXEC is not tracked: a change of
 * PROT_EXEC alone (x86 flushes it: _PAGE_NX) is taken as no change, and an exec-only VMA is
 * taken as PROT_NONE. Soft-dirty and userfaultfd write-protection (which keep entries
 * read-only) are not modelled.
 */
import { PAGE_SIZE, PMD_SIZE, PTE_DIRTY, PTE_WRITE, PTRS_PER_PTE, type HugePmd, type Mm, type PteTable, type Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { split_huge_pmd_locked } from './huge_memory.js';
import { split_vma, vma_merge } from './mmap.js';
import { flush_tlb_batched_pending, flush_tlb_mm_range } from './tlbflush.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_ALL = 7;

/** struct mmu_gather as mprotect uses it: the flush range, and whether only PMDs were gathered. */
class ProtGather {
  start = Number.POSITIVE_INFINITY;
  end = 0;
  pmdOnly = true;

  /** tlb_flush_pte_range() / tlb_flush_pmd_range(). */
  add(start: number, end: number, pmd: boolean): void {
    if (start < this.start) this.start = start;
    if (end > this.end) this.end = end;
    if (!pmd) this.pmdOnly = false;
  }

  /** tlb_finish_mmu(): one flush of the gathered range (tlb_get_unmap_shift() picks the stride). */
  finish(k: Kernel, mm: Mm): void {
    if (this.end === 0) return;
    flush_tlb_mm_range(k, mm, this.start, this.end, this.pmdOnly ? 21 : 12);
  }
}

/**
 * do_mprotect_pkey() for `[start, start + len)`. Returns a reason when part of the range is
 * memory the model does not represent (no VMA it knows, or a file/shared one): the known
 * anonymous VMAs are still changed, but the call's output is then not the model's to predict.
 */
export function do_mprotect(k: Kernel, mm: Mm, start: number, len: number, prot: number): string | undefined {
  const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end <= start) return undefined;
  let unknown: string | undefined;
  // Holes in the model's VMA list, or VMAs it does not model.
  let covered = start;
  for (const v of mm.vmas) {
    if (v.vm_end <= start || v.vm_start >= end) continue;
    if (v.vm_start > covered) unknown = 'mprotect of memory the model knows no VMA for';
    if (!v.anon && !file_pages_held(v)) unknown ??= 'mprotect of a file or shared mapping';
    covered = Math.max(covered, v.vm_end);
  }
  if (covered < end) unknown ??= 'mprotect of memory the model knows no VMA for';
  const tlb = new ProtGather();
  let changed = false;
  // for_each_vma_range(): the VMAs as they are now; each may be cut, so look them up by address.
  for (let addr = start; addr < end; ) {
    const vma = mm.vmas.find((v) => v.vm_start <= addr && v.vm_end > addr) ?? mm.vmas.find((v) => v.vm_start > addr && v.vm_start < end);
    if (!vma) break;
    const s = Math.max(addr, vma.vm_start);
    const e = Math.min(end, vma.vm_end);
    addr = e;
    if (!vma.anon && !file_pages_held(vma)) {
      // A private file mapping is split too (ld.so's mprotect of an image's RELRO range): a zap
      // updates rss once per VMA and page table, so the split shows in its anonymous copies'
      // rss_stat; the entries' change is not predicted (the call's output is outside the model).
      if (vma.privateFile) mprotect_split(k, mm, vma, s, e, prot);
      continue;
    }
    if (mprotect_fixup(k, mm, vma, s, e, prot, tlb)) changed = true;
  }
  tlb.finish(k, mm);
  // vma_merge() for the VMAs the call changed, with whichever neighbour now matches.
  if (changed) vma_merge(mm, start, end);
  return unknown;
}

/**
 * A private file mapping made in the window whose every mapped page the model holds (its faults'
 * page-cache events were inputs, Vma.fileEvents, and no fault mapped there what it does not
 * hold): change_protection() rewrites its entries like an anonymous VMA's — a file page stays
 * read-only (never exclusive anonymous: can_change_pte_writable() refuses it), an anonymous
 * copy made by a write fault is made writable again or read-only as for anonymous memory.
 */
function file_pages_held(v: Vma): boolean {
  return v.privateFile === true && v.fileEvents === true && v.unseenPages !== true;
}

/** mprotect_fixup(): split the VMA to the range, set its flags, change its entries; false if nothing changed. */
function mprotect_fixup(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, prot: number, tlb: ProtGather): boolean {
  const read = (prot & PROT_READ) !== 0;
  const write = (prot & PROT_WRITE) !== 0;
  // Equal flags: mprotect_fixup() returns before touching the VMA or its page tables.
  if (vma.read === read && vma.write === write) return false;
  const wasNone = !vma.read && !vma.write;
  let v = vma;
  if (start > v.vm_start) v = split_vma(k, mm, v, start);
  if (end < v.vm_end) split_vma(k, mm, v, end);
  v.read = read;
  v.write = write;
  change_protection(k, mm, v, start, end, { wasNone, none: (prot & PROT_ALL) === 0 }, tlb);
  return true;
}

/** mprotect_fixup()'s split and new flags alone, for a VMA whose entries the model does not hold whole. */
function mprotect_split(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, prot: number): void {
  const read = (prot & PROT_READ) !== 0;
  const write = (prot & PROT_WRITE) !== 0;
  if (vma.read === read && vma.write === write) return;
  let v = vma;
  if (start > v.vm_start) v = split_vma(k, mm, v, start);
  if (end < v.vm_end) split_vma(k, mm, v, end);
  v.read = read;
  v.write = write;
}

/** What the change does to presence: entries of a PROT_NONE VMA are not present (PROT_NONE entries). */
interface Presence {
  wasNone: boolean;
  none: boolean;
}

/** change_protection() → change_pmd_range() over [start, end) of one VMA. */
function change_protection(k: Kernel, mm: Mm, vma: Vma, start: number, end: number, p: Presence, tlb: ProtGather): void {
  for (let addr = start; addr < end; ) {
    const pi = pmdIndex(addr);
    const next = Math.min(end, (pi + 1) * PMD_SIZE);
    let e = mm.pmds.get(pi);
    if (!e) { addr = next; continue; }
    if (e.kind === 'huge') {
      if (next - addr === PMD_SIZE) {
        change_huge_pmd(k, vma, e, pi * PMD_SIZE, p, tlb);
        addr = next;
        continue;
      }
      // A huge PMD the range covers only in part (the VMA split above normally split it
      // already): __split_huge_pmd(), then the PTE level.
      e = split_huge_pmd_locked(k, mm, vma, pi * PMD_SIZE, e);
    }
    change_pte_range(k, mm, vma, e, addr, next, p, tlb);
    addr = next;
  }
}

/**
 * change_pte_range(): each present entry gets the VMA's protection; the write bit is set back
 * where can_change_pte_writable() allows, and an entry whose write bit changed is gathered for
 * the flush (pte_needs_flush()). Empty slots are left alone (no uffd-wp markers here).
 */
function change_pte_range(k: Kernel, mm: Mm, vma: Vma, t: PteTable, start: number, end: number, p: Presence, tlb: ProtGather): void {
  k.cost.ptlLocks++;
  // Under the PTE lock, first the flush a batched unmap of this mm may still owe.
  flush_tlb_batched_pending(k, mm);
  const i0 = pteIndex(start);
  const n = Math.min(PTRS_PER_PTE - i0, (end - start) / PAGE_SIZE);
  for (let j = 0; j < n; j++) {
    const i = i0 + j;
    k.cost.pteReads++;
    const f = t.folio[i];
    if (!f && !t.isZero(i)) continue;
    const a = start + j * PAGE_SIZE;
    // A zero-page entry stays read-only whatever the protection: it changes only in presence.
    if (!f) {
      if (p.none && !p.wasNone) tlb.add(a, a + PAGE_SIZE, false);
      continue;
    }
    const old = t.bits[i]!;
    const wasWrite = (old & PTE_WRITE) !== 0;
    const nowWrite = vma.write && can_change_pte_writable(k, f.anon && f.exclusive, (old & PTE_DIRTY) !== 0);
    t.bits[i] = nowWrite ? old | PTE_WRITE : old & ~PTE_WRITE;
    // pte_needs_flush(): nothing for an entry that was not present; _PAGE_PRESENT cleared or
    // _PAGE_RW changed either way otherwise.
    if (!p.wasNone && (p.none || wasWrite !== nowWrite)) tlb.add(a, a + PAGE_SIZE, false);
  }
}

/**
 * can_change_pte_writable() for a private writable mapping: only an exclusive anonymous page
 * (the write fault would just reuse it). 6.1 also wants the entry dirty (traits.
 * mprotectCleanAnonWritable: Nadav Amit's "mm/mprotect: allow clean exclusive anon pages to be
 * writable", 6.2, dropped that).
 */
function can_change_pte_writable(k: Kernel, exclusiveAnon: boolean, dirty: boolean): boolean {
  if (!exclusiveAnon) return false;
  return k.traits.mprotectCleanAnonWritable || dirty;
}

/**
 * change_huge_pmd(): the PMD is invalidated without a flush (x86 pmdp_invalidate_ad()), rewritten
 * with the new protection, and gathered at 2 MiB stride if huge_pmd_needs_flush() says so (the
 * write bit changed). Making it writable again on mprotect(RW) (can_change_pmd_writable(): an
 * exclusive anonymous THP) is 6.2+ (traits.mprotectPmdWriteUpgrade); on 6.1 the PMD stays
 * read-only — nothing to flush — and the next write takes a fault that reuses it.
 */
function change_huge_pmd(k: Kernel, vma: Vma, pmd: HugePmd, haddr: number, p: Presence, tlb: ProtGather): void {
  k.cost.pmdLocks++;
  const f = pmd.folio;
  const nowWrite = !pmd.zero && vma.write && k.traits.mprotectPmdWriteUpgrade && f.anon && f.exclusive;
  const changed = pmd.write !== nowWrite;
  pmd.write = nowWrite;
  if (!p.wasNone && (p.none || changed)) tlb.add(haddr, haddr + PMD_SIZE, true);
}
