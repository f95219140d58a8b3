/**
 * Page-table access with bounds: a PTE table is a fixed 512-slot array, and any index outside
 * 0..511 is recorded as a violation of the table it was taken from — the model of reading past
 * the end of a page-table page. What the out-of-table read "sees" is the next table's slot when
 * `oobMode` is `adjacent` (the next table page happens to follow physically), else nothing.
 */
import { PMD_SIZE, PTRS_PER_PTE, type Mm, type PteTable } from '../state.js';
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
  if (k.oobMode === 'adjacent') {
    const next = tableOf(mm, tableAddr + (Math.floor(idx / PTRS_PER_PTE)) * PMD_SIZE);
    return next ? at(next, ((idx % PTRS_PER_PTE) + PTRS_PER_PTE) % PTRS_PER_PTE) : null;
  }
  return null;
}
