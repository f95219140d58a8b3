/**
 * ASCII maps of an mm's page tables and folios (in the manner of tools/testing/vma): what a
 * conformance scenario expects before and after its step, written out so a reader can check it
 * against a series' changelog without running anything.
 *
 *   pmd 0x7f0000000000 table
 *     000-015  A+0..15    r - -
 *     016-511  none
 *   pmd 0x7f0000200000 huge B  w d y
 *   folio A  order 4  ref 16  map 16  lazyfree clean  lru inactive_file  deferred partially-mapped
 *
 * Entries: `none`, `zero` (the shared zero page), or a folio's pages (`A+0..15`: pages 0 to 15
 * of folio A); then write (`w`/`r`), dirty (`d`/`-`) and young (`y`/`-`). Consecutive slots
 * map one row when they continue the same folio with the same bits, or when each maps the next
 * order-0 piece of a split folio (`A+256..511 (256 folios)`).
 * Folios are named by the scenario (a name per first pfn); a split piece is `<name>+<page>`.
 */
import { Lru, PMD_SIZE, PTRS_PER_PTE, type Folio, type Mm, type PteTable } from '../state.js';
import type { Kernel } from '../kernel/kernel.js';

const LRU_NAMES: Record<number, string> = {
  [Lru.None]: 'none',
  [Lru.InactiveAnon]: 'inactive_anon',
  [Lru.ActiveAnon]: 'active_anon',
  [Lru.InactiveFile]: 'inactive_file',
  [Lru.ActiveFile]: 'active_file',
  [Lru.Unevictable]: 'unevictable',
};

/** Scenario names of folios by their first pfn. */
export type FolioNames = Record<string, number>;

function namer(names: FolioNames): (pfn: number) => { base: string; page: number } {
  const bases = Object.entries(names).sort((a, b) => b[1] - a[1]);
  return (pfn) => {
    for (const [n, p] of bases) if (pfn >= p && pfn < p + 512) return { base: n, page: pfn - p };
    return { base: `pfn 0x${pfn.toString(16)}`, page: 0 };
  };
}

/** `A` for a folio that starts at A's pfn and is not an order-0 piece of it; `A+3` for a piece. */
function folioName(f: Folio, nm: ReturnType<typeof namer>): string {
  const { base, page } = nm(f.pfn);
  if (base.startsWith('pfn')) return base;
  return page === 0 && f.nr > 1 ? base : `${base}+${page}`;
}

/** The folio's state, without its name: the same text for pieces a run can group. */
export function folioState(k: Kernel, f: Folio): string {
  const parts = [`order ${f.order}`, `ref ${f.refcount}`, `map ${f.large_mapcount}`];
  if (f.entire_mapcount > 0) parts.push('pmd-mapped');
  parts.push(f.anon && !f.swapbacked ? 'lazyfree' : 'anon', f.dirty ? 'dirty' : 'clean');
  if (f.isolated) parts.push('isolated');
  else if (f.in_lru_batch) parts.push('lru-batch');
  else parts.push(`lru ${LRU_NAMES[f.lru]}`);
  if (f.on_deferred_list) parts.push(k.deferred.list.includes(f) ? 'deferred' : 'deferred(private)');
  if (f.partially_mapped) parts.push('partially-mapped');
  return parts.join('  ');
}

function bits(t: PteTable, i: number): string {
  return `${t.write(i) ? 'w' : 'r'} ${t.dirty(i) ? 'd' : '-'} ${t.young(i) ? 'y' : '-'}`;
}

const pad3 = (n: number) => String(n).padStart(3, '0');

function renderTable(k: Kernel, t: PteTable, nm: ReturnType<typeof namer>): string[] {
  const rows: string[] = [];
  let i = 0;
  while (i < PTRS_PER_PTE) {
    const f = t.folio[i];
    let j = i + 1;
    let what: string;
    if (!f) {
      const zero = t.isZero(i);
      while (j < PTRS_PER_PTE && !t.folio[j] && t.isZero(j) === zero && (!zero || bits(t, j) === bits(t, i))) j++;
      what = zero ? `zero       ${bits(t, i)}` : 'none';
    } else {
      const b = bits(t, i);
      const page = t.page(i);
      if (f.nr > 1) {
        while (j < PTRS_PER_PTE && t.folio[j] === f && t.page(j) === page + (j - i) && bits(t, j) === b) j++;
        const name = folioName(f, nm);
        what = `${`${name}+${page}${j - i > 1 ? `..${page + j - i - 1}` : ''}`.padEnd(10)} ${b}`;
      } else {
        const st = folioState(k, f);
        while (j < PTRS_PER_PTE) {
          const g = t.folio[j];
          if (!g || g.nr !== 1 || g.pfn !== f.pfn + (j - i) || bits(t, j) !== b || folioState(k, g) !== st) break;
          j++;
        }
        const { base, page: p0 } = nm(f.pfn);
        const name = base.startsWith('pfn') ? base : j - i > 1 ? `${base}+${p0}..${p0 + j - i - 1}` : folioName(f, nm);
        what = `${name.padEnd(10)} ${b}`;
      }
    }
    rows.push(`  ${pad3(i)}-${pad3(j - 1)}  ${what}`.trimEnd());
    i = j;
  }
  return rows;
}

/** The mm's page tables, its live folios and the deferred split queue. */
export function renderMm(k: Kernel, mm: Mm, names: FolioNames): string {
  const nm = namer(names);
  const out: string[] = [];
  for (const pi of [...mm.pmds.keys()].sort((a, b) => a - b)) {
    const e = mm.pmds.get(pi)!;
    const addr = `0x${(pi * PMD_SIZE).toString(16)}`;
    if (e.kind === 'huge') {
      out.push(`pmd ${addr} huge ${e.zero ? 'zero' : folioName(e.folio, nm)}  ${e.write ? 'w' : 'r'} ${e.dirty ? 'd' : '-'} ${e.young ? 'y' : '-'}`);
    } else {
      out.push(`pmd ${addr} table`, ...renderTable(k, e, nm));
    }
  }
  // Live folios, grouped: consecutive order-0 pieces of one named folio with the same state.
  const live = [...k.folios].filter((f) => f.anonRoot === mm.anonRoot).sort((a, b) => a.pfn - b.pfn);
  for (let i = 0; i < live.length; ) {
    const f = live[i]!;
    const st = folioState(k, f);
    let j = i + 1;
    if (f.nr === 1) while (j < live.length && live[j]!.nr === 1 && live[j]!.pfn === f.pfn + (j - i) && folioState(k, live[j]!) === st) j++;
    const { base, page } = nm(f.pfn);
    const name = j - i > 1 && !base.startsWith('pfn') ? `${base}+${page}..${page + j - i - 1} (${j - i} folios)` : folioName(f, nm);
    out.push(`folio ${name}  ${st}`);
    i = j;
  }
  const q = k.deferred.list.filter((f) => f.anonRoot === mm.anonRoot);
  if (q.length > 0 || k.deferred.split_queue_len !== 0) out.push(`split queue [${q.map((f) => folioName(f, nm)).join(' ')}] len ${k.deferred.split_queue_len}`);
  return out.join('\n');
}
