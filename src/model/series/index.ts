/** The series registry and the kernel presets (ordered lists of series). */
import type { SeriesDef } from './define.js';
import lazyfreeV6 from './lazyfree-thp-v6.js';
import lazyfreeV2 from './lazyfree-thp-v2.js';
import { part1, part2, part3, part4 } from './batched-unmap-v4.js';
import oobFix from './oob-fix-v4.js';
import { v2 as ttuSyncV2, final as ttuSyncFinal } from './ttu-sync.js';
import fbatch from './split-queue-fbatch-v6.js';
import fcHost from './fc-host-pmd-split.js';
import fcPv from './fc-pv-remote-flush.js';
import mutantDiscardClean from './mutant-discard-clean-only.js';
import mutantDirtyFirst from './mutant-dirty-before-ref.js';
import mutantSplitFreeze from './mutant-split-freeze-unlocked.js';
import mutantScanUnpinned from './mutant-scan-unpinned-unlink.js';
import mutantFbatchRequeue from './mutant-fbatch-requeue-unguarded.js';
import mutantSplitUnqueueFirst from './mutant-split-unqueue-first.js';

export type { SeriesDef } from './define.js';

export const SERIES: SeriesDef[] = [lazyfreeV2, lazyfreeV6, part1, part2, part3, part4, oobFix, ttuSyncV2, ttuSyncFinal, fbatch, fcHost, fcPv, mutantDiscardClean, mutantDirtyFirst, mutantSplitFreeze, mutantScanUnpinned, mutantFbatchRequeue, mutantSplitUnqueueFirst];

export function findSeries(id: string): SeriesDef | undefined {
  return SERIES.find((s) => s.id === id);
}

/** `batched-unmap` → every part of its newest version; `batched-unmap@v4` → its parts; exact ids as is. */
export function expandSeriesName(name: string): string[] {
  const exact = findSeries(name);
  if (exact) return [exact.id];
  const [slug, version] = name.split('@');
  const matches = SERIES.filter((s) => s.slug === slug && (!version || s.version === version));
  if (matches.length === 0) return [];
  const v = version ?? matches[matches.length - 1]!.version;
  return matches.filter((s) => s.version === v).map((s) => s.id);
}

export interface Preset {
  id: string;
  traits: string;
  series: string[];
  notes: string;
}

const S612 = ['ttu-sync@final', 'lazyfree-thp@v6'];
const S618 = [...S612, 'batched-unmap@v4-1', 'batched-unmap@v4-2', 'batched-unmap@v4-3', 'batched-unmap@v4-4', 'oob-fix@v4'];

export const PRESETS: Preset[] = [
  { id: 'linux-6.1', traits: '6.1', series: [], notes: 'No mTHP; per-task rss cache; PMD split before unmap; every large folio met by MADV_FREE/PAGEOUT at PTE level is split.' },
  { id: 'linux-6.12', traits: '6.12', series: S612, notes: 'TTU_SYNC (6.10) and lazyfree PMD discard (6.11); no batched unmap; no mm_vmscan_reclaim_pages.' },
  { id: 'linux-6.18', traits: '6.18', series: S618, notes: 'Batched unmap of lazyfree large folios (6.15) with the out-of-bounds fix (6.16).' },
  { id: 'linux-6.18-fc', traits: '6.18', series: [...S618, 'fc-host-pmd-split@observed'], notes: 'Upstream 6.18 plus what the 6.18.44-fc capture host was observed to do: lazyfree PMD THPs are split before unmap.' },
  { id: 'linux-6.18-fc-pvm', traits: '6.18', series: [...S618, 'fc-host-pmd-split@observed', 'fc-pv-remote-flush@observed'], notes: 'linux-6.18-fc as a PVM guest (boot log: remote TLB flushes via PVM_HC_FLUSH_TLB_MULTI): nothing is traced on the CPUs a flush reaches.' },
  { id: 'linux-6.19', traits: '6.19', series: [...S618, 'split-queue-fbatch@v6'], notes: 'folio_batch deferred_split_scan().' },
];

export function findPreset(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

/** The preset for a kernel release string (`6.1.0-56-cloud-amd64` → linux-6.1, `6.18.44-fc…` → linux-6.18-fc). */
export function presetForRelease(release: string | undefined, machine: { tlbRemoteFlush?: string } = {}): Preset | undefined {
  if (!release) return undefined;
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return undefined;
  const mm = `${m[1]}.${m[2]}`;
  if (mm === '6.18' && /-fc/.test(release)) return findPreset(machine.tlbRemoteFlush === 'hypercall' ? 'linux-6.18-fc-pvm' : 'linux-6.18-fc');
  return findPreset(`linux-${mm}`);
}
