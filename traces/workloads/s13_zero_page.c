/* S13 zero-page: read faults on untouched anonymous memory map the shared zero page (4k, or
 * the huge zero page for a THP-eligible PMD range when use_zero_page=1); writes then COW from it.
 *   --mode 4k  8MB order-0         --mode 64k  8MB, hugepages-64kB=always
 *   --mode pmd 8MB, MADV_HUGEPAGE
 *   --variant read-write     read one byte per page, then write the whole region, munmap
 *   --variant read-sparse    read one byte per page, then write one byte per 64K (--mode 4k/64k)
 *                            or per 2MB (pmd), MADV_DONTNEED, munmap
 *   --variant read-only      read one byte per page, MADV_DONTNEED, munmap */
#include "fl.h"

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "read-write", .mode = "4k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd");
	if (!o.size)
		o.size = 8 * MB;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s", o.mode, o.variant);
	fl_start(&o, "S13", vname);
	char *p = fl_phase_map(o.size, pmd);
	printf("region addr=%p len=0x%zx mode=%s\n", (void *)p, o.size, o.mode);
	fl_phase("read");
	fl_mark("load addr=%p len=0x1 stride=0x%lx count=%lu", (void *)p, PAGE, o.size / PAGE);
	unsigned long s = 0;
	for (size_t i = 0; i < o.size; i += PAGE)
		s += *(volatile char *)(p + i);
	sink = s;
	fl_phase_done();
	if (!strcmp(o.variant, "read-write")) {
		fl_phase_store("write", p, o.size, 1);
	} else if (!strcmp(o.variant, "read-sparse")) {
		fl_phase("write");
		size_t st = pmd ? SZ_2M : SZ_64K;
		fl_store_stride(p, st, o.size / st, 1);
		fl_phase_done();
	}
	if (strcmp(o.variant, "read-write"))
		fl_phase_madvise("dontneed", p, o.size, MADV_DONTNEED, "dontneed");
	fl_phase_munmap(p, o.size);
	fl_end();
	return 0;
}
