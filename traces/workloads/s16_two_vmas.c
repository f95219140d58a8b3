/* S16 two-vmas: one madvise spanning two VMAs. A 2MB-aligned region (16MB) is populated,
 * then split into two VMAs by MADV_DONTFORK on its second half (VM_DONTCOPY: the VMA is split,
 * faults and folios are unchanged). The boundary is at the middle (a folio/PMD boundary) or,
 * with a "-mid" variant, half a folio further (64k: +0x8000, through an mTHP; pmd: +1MB,
 * through a PMD THP, which splits its PMD). Then one madvise over [p+len/4, p+3*len/4):
 *   --variant dontneed[-mid]   MADV_DONTNEED
 *   --variant free[-mid]       MADV_FREE, then munmap
 *   --variant pageout[-mid]    MADV_FREE, then MADV_PAGEOUT of the same span (or memcg reclaim)
 *   --mode 64k (hugepages-64kB=always) | pmd (MADV_HUGEPAGE) | 4k */
#include "fl.h"

#ifndef MADV_DONTFORK
#define MADV_DONTFORK 10
#endif

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "dontneed", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = 16 * MB;
	size_t fsz = pmd ? SZ_2M : m4k ? PAGE : SZ_64K;
	int mid = strstr(o.variant, "-mid") != NULL;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, o.variant, o.memcg ? "-memcg" : "");
	fl_start(&o, "S16", vname);
	char *p = fl_phase_map(o.size, pmd);
	fl_phase_store("populate", p, o.size, 1);
	char *b = p + o.size / 2 + (mid ? (m4k ? 0x3000 : fsz / 2) : 0);
	fl_mark("note vma-boundary=%p", (void *)b);
	printf("region addr=%p len=0x%zx boundary=%p\n", (void *)p, o.size, (void *)b);
	fl_phase("split-vma");
	if (madvise(b, p + o.size - b, MADV_DONTFORK))
		fl_die("madvise dontfork");
	fl_phase_done();
	char *s = p + o.size / 4;
	size_t sl = o.size / 2;
	if (!strncmp(o.variant, "dontneed", 8)) {
		fl_phase_madvise("dontneed", s, sl, MADV_DONTNEED, "dontneed");
	} else {
		fl_phase_madvise("lazyfree", s, sl, MADV_FREE, "free");
		if (!strncmp(o.variant, "pageout", 7))
			fl_phase_reclaim("pageout", s, sl, &o);
	}
	fl_phase_munmap(p, o.size);
	fl_end();
	return 0;
}
