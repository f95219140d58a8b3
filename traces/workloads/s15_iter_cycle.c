/* S15 iter-cycle: the same cycle N times in one process (--iters, default 6):
 * mmap (2MB-aligned; MADV_HUGEPAGE for pmd), populate, madvise, munmap.
 *   --mode 4k (2MB per iteration) | 64k (4MB) | pmd (4MB: 2 THPs)   --size MB overrides
 *   --variant dontneed   MADV_DONTNEED of the whole region
 *   --variant free       MADV_FREE (no reclaim: munmap frees the lazyfree folios)
 *   --variant pageout    MADV_FREE + MADV_PAGEOUT (or memcg reclaim with --memcg)
 *   --variant half       MADV_DONTNEED of the first half, MADV_FREE + MADV_PAGEOUT of the rest
 * Phase names carry the iteration: populate-0, madvise-0, munmap-0, populate-1, ... */
#include "fl.h"

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 6, .variant = "dontneed", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = m4k ? 2 * MB : 4 * MB;
	const char *v = o.variant;
	char vname[96], ph[32];
	snprintf(vname, sizeof vname, "%s-%s-x%d%s", o.mode, v, o.iters, o.memcg ? "-memcg" : "");
	fl_start(&o, "S15", vname);
	for (int it = 0; it < o.iters; it++) {
		fl_mark("note iter=%d", it);
		snprintf(ph, sizeof ph, "mmap-%d", it);
		fl_phase(ph);
		char *p = fl_map_aligned(o.size, SZ_2M);
		if (pmd)
			fl_madvise(p, o.size, MADV_HUGEPAGE, "hugepage");
		fl_phase_done();
		printf("iter %d region addr=%p len=0x%zx\n", it, (void *)p, o.size);
		snprintf(ph, sizeof ph, "populate-%d", it);
		fl_phase_store(ph, p, o.size, 1 + it);
		snprintf(ph, sizeof ph, "madvise-%d", it);
		fl_phase(ph);
		if (!strcmp(v, "dontneed"))
			fl_madvise(p, o.size, MADV_DONTNEED, "dontneed");
		else if (!strcmp(v, "free"))
			fl_madvise(p, o.size, MADV_FREE, "free");
		else if (!strcmp(v, "pageout")) {
			fl_madvise(p, o.size, MADV_FREE, "free");
			fl_reclaim(p, o.size, &o);
		} else {
			fl_madvise(p, o.size / 2, MADV_DONTNEED, "dontneed");
			fl_madvise(p + o.size / 2, o.size / 2, MADV_FREE, "free");
			fl_reclaim(p + o.size / 2, o.size / 2, &o);
		}
		fl_phase_done();
		snprintf(ph, sizeof ph, "munmap-%d", it);
		fl_phase(ph);
		munmap(p, o.size);
		fl_phase_done();
	}
	fl_end();
	return 0;
}
