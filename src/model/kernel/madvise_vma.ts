/**
 * mm/madvise.c madvise_update_vma(): the advices that only change VMA flags — MADV_HUGEPAGE /
 * MADV_NOHUGEPAGE (VM_HUGEPAGE, VM_NOHUGEPAGE), MADV_DONTFORK / MADV_DOFORK (VM_DONTCOPY),
 * MADV_DONTDUMP / MADV_DODUMP (VM_DONTDUMP). Per VMA the range covers: flags already as asked,
 * nothing; otherwise the VMA is cut at the range ends (split_vma(), which PMD-splits a THP the
 * cut goes through, with its flush) and the part in the range takes the new flags; then VMAs
 * whose flags match again merge (vma_modify_flags() / vma_merge()). No entry changes and nothing
 * else is flushed.
 */
import type { Mm, Vma } from '../state.js';
import type { Kernel } from './kernel.js';
import { split_vma, vma_merge } from './mmap.js';

export type VmaFlagAdvice = 'hugepage' | 'nohugepage' | 'dontfork' | 'dofork' | 'dontdump' | 'dodump';

/** The VMA as the advice leaves it (a copy), or undefined when its flags already are. */
function advised(v: Vma, advice: VmaFlagAdvice): Partial<Vma> | undefined {
  switch (advice) {
    case 'hugepage': return v.hugepage && !v.nohugepage ? undefined : { hugepage: true, nohugepage: false };
    case 'nohugepage': return v.nohugepage && !v.hugepage ? undefined : { nohugepage: true, hugepage: false };
    case 'dontfork': return v.dontcopy ? undefined : { dontcopy: true };
    case 'dofork': return v.dontcopy ? { dontcopy: false } : undefined;
    case 'dontdump': return v.dontdump ? undefined : { dontdump: true };
    case 'dodump': return v.dontdump ? { dontdump: false } : undefined;
  }
}

export function madvise_update_vma(k: Kernel, mm: Mm, start: number, end: number, advice: VmaFlagAdvice): void {
  for (const v of mm.vmas.filter((x) => x.vm_start < end && x.vm_end > start)) {
    const change = advised(v, advice);
    if (!change) continue;
    let part = v;
    if (start > part.vm_start) part = split_vma(k, mm, part, start);
    if (end < part.vm_end) split_vma(k, mm, part, end);
    Object.assign(part, change);
  }
  vma_merge(mm, start, end);
}
