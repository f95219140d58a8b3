/**
 * mm/mremap.c: mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of anonymous memory — move_vma().
 *
 * The destination is unmapped first (MREMAP_FIXED), a VMA is made at the new address, and
 * move_page_tables() walks the old range in extents that end at the next PMD boundary of the
 * old address, of the new address, or at the end, whichever comes first:
 *  - a huge PMD whose extent is a whole, aligned PMD moves as one entry (move_huge_pmd(): one
 *    flush of the old 2 MiB); otherwise it is split first (split_huge_pmd(), with its flush)
 *    and its PTEs move like any others;
 *  - a PTE table whose extent is a whole PMD moves as one entry (move_normal_pmd(), x86 has
 *    CONFIG_HAVE_MOVE_PMD): the table page itself changes place, one flush of the old 2 MiB;
 *  - otherwise move_ptes(): a destination table is allocated if there is none, the present
 *    entries move, and if any did the old extent is flushed (flush_tlb_range()).
 * Then the old range is unmapped (do_vmi_munmap()): it holds no entry any more, but the page
 * tables it emptied are freed, and the gather that frees them flushes their range at PMD stride.
 * Page tables allocated for the destination are the mm_page_alloc events recorded in the call,
 * in order. rss does not change. vm_pgoff moves with the VMA, so the rmap still finds each folio.
 *
 * Model deviation: a huge PMD moved to another 1 GiB region keeps its deposited table under
 * the old region (no modelled path withdraws it there before the PMD is zapped or split).
 */
import type { AllocFact } from '../ops.js';
import { PAGE_SIZE, PMD_SIZE, PteTable, type Mm } from '../state.js';
import { split_huge_pmd_locked } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { do_munmap, split_vmas } from './mmap.js';
import { pmdIndex, pteIndex } from './pgtable.js';
import { flush_tlb_range } from './tlbflush.js';

export function do_mremap(k: Kernel, mm: Mm, oldAddr: number, oldLen: number, newLen: number, newAddr: number, allocs: AllocFact[] = []): void {
  if (newAddr === oldAddr) return;
  const len = Math.min(oldLen, newLen);
  do_munmap(k, mm, newAddr, newLen);
  split_vmas(mm, oldAddr, oldAddr + oldLen);
  const src = mm.vmas.find((v) => v.vm_start === oldAddr);
  if (!src) return;
  // copy_vma(): the new VMA; the old one stays until the old range is unmapped below.
  mm.vmas.push({ ...src, vm_start: newAddr, vm_end: newAddr + newLen });
  mm.vmas.sort((a, b) => a.vm_start - b.vm_start);
  let nextAlloc = 0;
  const tablePfn = (): number => {
    while (nextAlloc < allocs.length) {
      const a = allocs[nextAlloc++]!;
      if (a.use === 'pgtable') return a.pfn;
    }
    return 0;
  };
  let old = oldAddr;
  let nw = newAddr;
  const oldEnd = oldAddr + len;
  // The PMD slots of the old range that hold something, in order: an empty stretch is skipped
  // in one step (get_old_pmd() finds nothing there) rather than one extent at a time.
  const held = [...mm.pmds.keys()].filter((pi) => pi >= pmdIndex(oldAddr) && pi * PMD_SIZE < oldEnd).sort((a, b) => a - b);
  let h = 0;
  while (old < oldEnd) {
    while (h < held.length && held[h]! < pmdIndex(old)) h++;
    if (h === held.length) break;
    if (held[h]! > pmdIndex(old)) {
      const skip = held[h]! * PMD_SIZE - old;
      old += skip;
      nw += skip;
    }
    const extent = Math.min((pmdIndex(old) + 1) * PMD_SIZE - old, oldEnd - old, (pmdIndex(nw) + 1) * PMD_SIZE - nw);
    const from = mm.pmds.get(pmdIndex(old));
    if (from && from.kind === 'huge') {
      if (extent === PMD_SIZE && !mm.pmds.has(pmdIndex(nw))) {
        // move_huge_pmd()
        mm.pmds.delete(pmdIndex(old));
        mm.pmds.set(pmdIndex(nw), from);
        flush_tlb_range(k, mm, old, old + PMD_SIZE);
        old += extent;
        nw += extent;
        continue;
      }
      // split_huge_pmd(): the PTEs are then moved below.
      mm.pmds.set(pmdIndex(old), split_huge_pmd_locked(k, mm, src, pmdIndex(old) * PMD_SIZE, from));
    }
    const table = mm.pmds.get(pmdIndex(old));
    if (table && table.kind === 'table') {
      if (extent === PMD_SIZE && !mm.pmds.has(pmdIndex(nw))) {
        // move_normal_pmd(): the whole table moves.
        mm.pmds.delete(pmdIndex(old));
        mm.pmds.set(pmdIndex(nw), table);
        flush_tlb_range(k, mm, old, old + PMD_SIZE);
      } else {
        let to = mm.pmds.get(pmdIndex(nw));
        if (!to) {
          to = new PteTable(tablePfn());
          mm.pmds.set(pmdIndex(nw), to);
        }
        if (to.kind === 'table') {
          let present = false;
          for (let i = 0; i < extent / PAGE_SIZE; i++) {
            const si = pteIndex(old) + i;
            if (table.none(si)) continue;
            // A zero-page entry (no folio) moves and is flushed like any present one.
            to.setRaw(pteIndex(nw) + i, table.folio[si] ?? null, table.bits[si]!);
            table.clear(si);
            table.used--;
            to.used++;
            present = true;
            k.cost.pteClears++;
          }
          if (present) flush_tlb_range(k, mm, old, old + extent);
        }
      }
    }
    old += extent;
    nw += extent;
  }
  // do_vmi_munmap() of the old range: no entry is left, the tables it emptied are freed.
  do_munmap(k, mm, oldAddr, oldLen);
}
