/* S18 memcg-limit: reclaim forced by a memcg limit (direct reclaim from the workload's own
 * page faults, not memory.reclaim). Needs --memcg DIR. Region A (--size, default 16MB,
 * 2MB-aligned) is populated and MADV_FREEd; then the memcg limit is set to size*5/4
 * (memory.max on cgroup v2, memory.limit_in_bytes on v1; marker `fl: note memcg-limit
 * bytes=N`) and region B (size/2) is populated: B's faults exceed the limit and reclaim the
 * lazyfree folios of A from the LRU (no swap: only lazyfree anon is reclaimable).
 *   --mode 64k (hugepages-64kB=always) | pmd (MADV_HUGEPAGE on A and B) | 4k
 *   --variant free          as above
 *   --variant free-redirty  after MADV_FREE one byte of every other folio of A is written
 *                           again (those folios are dirty: reclaim must skip them)
 * Then both regions are unmapped and the limit is lifted (phase unlimit). */
#include "fl.h"

static int fl_memcg_limit(long long bytes)
{
	char p[320], b[32];
	snprintf(p, sizeof p, "%s/memory.max", fl_memcg_dir);
	int fd = open(p, O_WRONLY);
	if (fd < 0) {
		snprintf(p, sizeof p, "%s/memory.limit_in_bytes", fl_memcg_dir);
		fd = open(p, O_WRONLY);
	}
	if (fd < 0)
		fl_die("open memcg limit file");
	int n = bytes < 0 ? snprintf(b, sizeof b, strstr(p, "memory.max") ? "max" : "-1")
			  : snprintf(b, sizeof b, "%lld", bytes);
	fl_mark("note memcg-limit bytes=%lld file=%s", bytes, strrchr(p, '/') + 1);
	long r = write(fd, b, n);
	int e = errno;
	close(fd);
	printf("memcg-limit %s=%s ret=%ld%s%s\n", p, b, r, r < 0 ? " errno=" : "", r < 0 ? strerror(e) : "");
	return r < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "free", .mode = "64k" };
	fl_parse(argc, argv, &o);
	if (!o.memcg) {
		fprintf(stderr, "s18 needs --memcg DIR\n");
		return 2;
	}
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = 16 * MB;
	size_t fsz = pmd ? SZ_2M : m4k ? PAGE : SZ_64K;
	size_t blen = o.size / 2;
	long long limit = (long long)o.size * 5 / 4;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s", o.mode, o.variant);
	fl_start(&o, "S18", vname);
	char *a = fl_phase_map(o.size, pmd);
	printf("region A addr=%p len=0x%zx\n", (void *)a, o.size);
	fl_phase_store("populate-a", a, o.size, 1);
	fl_phase_madvise("lazyfree-a", a, o.size, MADV_FREE, "free");
	if (!strcmp(o.variant, "free-redirty")) {
		fl_phase("redirty-a");
		fl_store_stride(a + 0x123, 2 * fsz, o.size / (2 * fsz), 2);
		fl_phase_done();
	}
	fl_phase("limit");
	fl_memcg_limit(limit);
	fl_phase_done();
	fl_phase("map-b");
	char *b = fl_map_aligned(blen, SZ_2M);
	if (pmd)
		fl_madvise(b, blen, MADV_HUGEPAGE, "hugepage");
	fl_phase_done();
	printf("region B addr=%p len=0x%zx limit=%lld\n", (void *)b, blen, limit);
	fl_phase_store("populate-b", b, blen, 3);
	fl_phase("munmap");
	munmap(b, blen);
	munmap(a, o.size);
	fl_phase_done();
	fl_phase("unlimit");
	fl_memcg_limit(-1);
	fl_phase_done();
	fl_end();
	return 0;
}
