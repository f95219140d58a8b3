/* S12 cold-pageout: MADV_COLD / MADV_PAGEOUT of dirty (not lazyfree) large folios, and
 * MADV_DONTNEED of head or tail pages of large folios.
 *   --mode pmd  16MB, MADV_HUGEPAGE: 8 PMD THPs      --mode 64k  8MB: 128 mTHPs
 *   --variant cold        MADV_COLD of the whole region, then munmap
 *   --variant pageout     MADV_PAGEOUT of the whole region (no swap: swap-backed folios stay;
 *                         large ones may be split by the swap-out fallback), munmap
 *   --variant cold-pageout  MADV_COLD, then MADV_PAGEOUT
 *   --variant cold-free   MADV_COLD, then MADV_FREE, then reclaim (MADV_PAGEOUT or --memcg)
 *   --variant dontneed-head  MADV_DONTNEED of the first 4K page of every folio, then
 *                         MADV_FREE + reclaim of the whole region, munmap
 *   --variant dontneed-tail  the same with the last 4K page of every folio
 *   --variant dontneed-mid   the same with the pages 1..(n/2) of every folio */
#include "fl.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "cold", .mode = "pmd" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd");
	if (!o.size)
		o.size = pmd ? 16 * MB : 8 * MB;
	size_t fsz = pmd ? SZ_2M : SZ_64K, nf = o.size / fsz;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, o.variant, o.memcg ? "-memcg" : "");
	fl_start(&o, "S12", vname);
	char *p = fl_phase_map(o.size, pmd);
	printf("region addr=%p len=0x%zx folios=%zu folio_size=0x%zx\n", (void *)p, o.size, nf, fsz);
	fl_phase_store("populate", p, o.size, 1);
	const char *v = o.variant;
	if (!strncmp(v, "cold", 4))
		fl_phase_madvise("cold", p, o.size, MADV_COLD, "cold");
	if (!strcmp(v, "pageout") || !strcmp(v, "cold-pageout"))
		fl_phase_madvise("pageout", p, o.size, MADV_PAGEOUT, "pageout");
	if (!strncmp(v, "dontneed", 8)) {
		fl_phase("dontneed");
		for (size_t i = 0; i < nf; i++) {
			char *f = p + i * fsz;
			if (!strcmp(v, "dontneed-head"))
				madvise(f, PAGE, MADV_DONTNEED);
			else if (!strcmp(v, "dontneed-tail"))
				madvise(f + fsz - PAGE, PAGE, MADV_DONTNEED);
			else
				madvise(f + PAGE, fsz / 2 - PAGE, MADV_DONTNEED);
		}
		fl_phase_done();
	}
	if (!strncmp(v, "dontneed", 8) || !strcmp(v, "cold-free")) {
		fl_phase_madvise("lazyfree", p, o.size, MADV_FREE, "free");
		fl_phase_reclaim("reclaim", p, o.size, &o);
	}
	fl_phase_munmap(p, o.size);
	fl_end();
	return 0;
}
