/**
 * Page-table access with bounds: a PTE table is a fixed 512-slot array, and any index outside
 * 0..511 is recorded as a violation of the table it was taken from — the model of reading past
 * the end of a page-table page. Model deviation: what such a read sees in the kernel is whatever
 * memory follows the table page; here it sees nothing (pte_none), which ends any batch.
 */
import { PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE, type Mm, type PteTable } from '../state.js';
import type { PteBatchCtx } from '../hooks.js';
import type { Kernel } from './kernel.js';

export function pmdIndex(addr: number): number {
  return Math.floor(addr / PMD_SIZE);
}

export function pteIndex(addr: number): number {
  return Math.floor(addr / 4096) % PTRS_PER_PTE;
}

export function tableOf(mm: Mm, addr: number): PteTable | undefined {
  const e = mm.pmds.get(pmdIndex(addr));
  return e && e.kind === 'table' ? e : undefined;
}

/** Where a PTE read landed: a table and a slot in it. */
export interface PteSlot {
  table: PteTable;
  idx: number;
}

const at = (table: PteTable, idx: number): PteSlot | null => (table.folio[idx] ? { table, idx } : null);

/**
 * Read slot `idx` of `table`: the present entry's place, or null for pte_none (or a read that
 * saw nothing). Out-of-range indices are violations.
 */
export function pteRead(k: Kernel, mm: Mm, table: PteTable, tableAddr: number, idx: number, write = false): PteSlot | null {
  k.cost.pteReads++;
  if (idx >= 0 && idx < PTRS_PER_PTE) return at(table, idx);
  k.violate('pte_access_within_table', `${write ? 'write' : 'read'} of PTE index ${idx} of the table at 0x${tableAddr.toString(16)} (pfn 0x${table.pfn.toString(16)}): past its 512 entries`, {
    addr: tableAddr + idx * 4096,
  });
  return null;
}

/** Where a batch of PTEs starts: the hit entry of `folio` in `table` (the hooks' batch context, less its flags). */
export type PteRunStart = Omit<PteBatchCtx, 'hwpoison'>;

/**
 * mm/internal.h folio_pte_batch(): how many entries from the hit map consecutive pages of the
 * folio, up to `maxNr`. `bounded`: the caller has limited maxNr to the page table and the VMA,
 * as folio_unmap_pte_batch() does; unbounded (can_batch_unmap_folio_ptes() in batched unmap
 * v4) the scan may read past the VMA's end — recorded as pte_access_within_vma — and past
 * the table's last entry — pte_access_within_table, in pteRead().
 */
export function folio_pte_batch(k: Kernel, c: PteRunStart, maxNr: number, bounded: boolean): number {
  const firstPage = c.table.page(c.idx);
  const tableAddr = c.addr - c.idx * PAGE_SIZE;
  let n = 1;
  if (bounded) {
    // Within the table by construction: read the slots directly.
    const t = c.table;
    for (; n < maxNr && c.idx + n < PTRS_PER_PTE; n++) {
      k.cost.pteReads++;
      const j = c.idx + n;
      if (t.folio[j] !== c.folio || t.page(j) !== firstPage + n) break;
    }
    return n;
  }
  while (n < maxNr) {
    const j = c.idx + n;
    const a = c.addr + n * PAGE_SIZE;
    if (a >= c.vma.vm_end) {
      k.violate('pte_access_within_vma', `read of the PTE of 0x${a.toString(16)}, past the end of the VMA at 0x${c.vma.vm_start.toString(16)}-0x${c.vma.vm_end.toString(16)}, as part of a batch from 0x${c.addr.toString(16)}`, { addr: a });
    }
    const q = pteRead(k, c.mm, c.table, tableAddr, j);
    if (!q || q.table.folio[q.idx] !== c.folio || q.table.page(q.idx) !== firstPage + n) break;
    n++;
  }
  return n;
}
