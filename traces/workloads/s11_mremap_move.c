/* S11 mremap-move: a populated region is moved with one mremap(MREMAP_MAYMOVE|MREMAP_FIXED)
 * to a destination inside a PROT_NONE reservation, PMD-aligned or not.
 *   --mode pmd  8MB, MADV_HUGEPAGE: 4 PMD THPs
 *   --mode 64k  8MB, hugepages-64kB=always: 128 mTHPs
 *   --mode 4k   8MB of order-0 pages (hugepages-64kB=never, no MADV_HUGEPAGE)
 *   --variant aligned     dst 2MB-aligned: PMDs (pmd) / whole page tables (4k, 64k) move
 *   --variant unaligned   dst = 2MB-aligned + --off (default 0x1000): PMDs are split, PTEs
 *                         are moved one by one, mTHPs straddle page tables and are not
 *                         naturally aligned any more
 * After the move: one byte written per page at the new place (PTEs present: no faults
 * expected), MADV_FREE + reclaim (MADV_PAGEOUT, or memcg reclaim with --memcg) of the new
 * range, munmap. */
#include "fl.h"

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "unaligned", .mode = "pmd", .off = 0x1000 };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd");
	int aligned = !strcmp(o.variant, "aligned");
	if (!o.size)
		o.size = 8 * MB;
	char vname[96];
	if (aligned)
		snprintf(vname, sizeof vname, "%s-aligned%s", o.mode, o.memcg ? "-memcg" : "");
	else
		snprintf(vname, sizeof vname, "%s-off0x%lx%s", o.mode, o.off, o.memcg ? "-memcg" : "");
	fl_start(&o, "S11", vname);
	char *src = fl_phase_map(o.size, pmd);
	fl_phase("reserve");
	size_t rlen = o.size + 2 * SZ_2M;
	char *r = mmap(NULL, rlen + SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		fl_die("mmap reserve");
	char *dst = (char *)(((uintptr_t)r + SZ_2M - 1) & ~(SZ_2M - 1));
	if (!aligned)
		dst += o.off;
	fl_phase_done();
	printf("region src=%p dst=%p len=0x%zx mode=%s\n", (void *)src, (void *)dst, o.size, o.mode);
	fl_mark("note src=%p dst=%p len=0x%zx", (void *)src, (void *)dst, o.size);
	fl_phase_store("populate", src, o.size, 1);
	fl_phase("mremap");
	void *q = mremap(src, o.size, o.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	printf("mremap -> %p%s\n", q, q == MAP_FAILED ? " FAILED" : "");
	if (q == MAP_FAILED)
		fl_die("mremap");
	fl_phase_done();
	fl_phase("rewrite");
	fl_store_stride(dst, PAGE, o.size / PAGE, 2);
	fl_phase_done();
	fl_phase_madvise("lazyfree", dst, o.size, MADV_FREE, "free");
	fl_phase_reclaim("pageout", dst, o.size, &o);
	fl_phase("munmap");
	munmap(dst, o.size);
	munmap(r, rlen + SZ_2M);
	fl_phase_done();
	fl_end();
	return 0;
}
