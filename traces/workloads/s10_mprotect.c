/* S10 mprotect: permission changes on populated anonymous memory.
 *   --mode 4k (8MB, order-0) | 64k (8MB, hugepages-64kB=always) | pmd (8MB, MADV_HUGEPAGE)
 *   --variant ro-rw   populate, mprotect(PROT_READ) of the whole region, mprotect(RW) back,
 *                     write every page again (write faults or not, as the kernel decides),
 *                     MADV_DONTNEED, munmap
 *   --variant split   populate, mprotect(PROT_READ) of [p+off, p+off+len/2) where off is not a
 *                     folio boundary (64k: 0x8000 into a folio; pmd: 1MB into a THP; 4k: 0x3000):
 *                     the VMA is split through a large folio; then MADV_FREE + reclaim of the
 *                     whole region (three VMAs), munmap
 *   --variant split-rw  as split, then mprotect(RW) of the same range (VMAs merge back) and a
 *                     write of one byte per page of that range before MADV_FREE + reclaim
 * --memcg DIR: memcg reclaim instead of MADV_PAGEOUT. --iters N repeats the cycle. */
#include "fl.h"

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "ro-rw", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = 8 * MB;
	size_t off = pmd ? SZ_2M / 2 : m4k ? 0x3000 : 0x8000;
	int split = !strncmp(o.variant, "split", 5), splitrw = !strcmp(o.variant, "split-rw");
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, o.variant, o.memcg ? "-memcg" : "");
	fl_start(&o, "S10", vname);
	for (int it = 0; it < o.iters; it++) {
		if (o.iters > 1)
			fl_mark("note iter=%d", it);
		char *p = fl_phase_map(o.size, pmd);
		printf("region addr=%p len=0x%zx mode=%s variant=%s\n", (void *)p, o.size, o.mode,
		       o.variant);
		fl_phase_store("populate", p, o.size, 1);
		if (!split) {
			fl_phase("mprotect-ro");
			if (mprotect(p, o.size, PROT_READ))
				fl_die("mprotect ro");
			fl_phase_done();
			fl_phase("mprotect-rw");
			if (mprotect(p, o.size, PROT_READ | PROT_WRITE))
				fl_die("mprotect rw");
			fl_phase_done();
			fl_phase("rewrite");
			fl_store_stride(p, PAGE, o.size / PAGE, 2);
			fl_phase_done();
			fl_phase_madvise("dontneed", p, o.size, MADV_DONTNEED, "dontneed");
		} else {
			char *q = p + off;
			size_t ql = o.size / 2;
			fl_mark("note mprotect addr=%p len=0x%zx", (void *)q, ql);
			fl_phase("mprotect-split");
			if (mprotect(q, ql, PROT_READ))
				fl_die("mprotect split");
			fl_phase_done();
			if (splitrw) {
				fl_phase("mprotect-merge");
				if (mprotect(q, ql, PROT_READ | PROT_WRITE))
					fl_die("mprotect merge");
				fl_phase_done();
				fl_phase("rewrite");
				fl_store_stride(q, PAGE, ql / PAGE, 3);
				fl_phase_done();
			}
			fl_phase_madvise("lazyfree", p, o.size, MADV_FREE, "free");
			fl_phase_reclaim("pageout", p, o.size, &o);
		}
		fl_phase_munmap(p, o.size);
	}
	fl_end();
	return 0;
}
