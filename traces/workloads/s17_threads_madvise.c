/* S17 threads-madvise: the mm runs on two CPUs while the main thread zaps: MADV_DONTNEED or
 * munmap (zap_page_range / unmap_region with the mmu_gather flush, not reclaim's batch).
 * Main thread pinned to CPU0 stores the first half; the helper, pinned to CPU1, stores the
 * second half, then
 *   spin   busy-waits on CPU1 (mm live there)    sleep  blocks in read() (CPU1 idle, lazy TLB)
 *   exit   has exited (joined) before the zap
 * --variant <op>-<helper>, op: dontneed (whole region) | munmap (whole region) |
 *   halves (MADV_DONTNEED of the helper's half, then munmap of the main half) |
 *   free (MADV_FREE + MADV_PAGEOUT of the whole region, then munmap).
 * --mode 4k (8MB order-0) | 64k (16MB) | pmd (16MB, MADV_HUGEPAGE). */
#include "fl.h"
#include <pthread.h>

static char *region;
static size_t rlen;
static volatile int stop_spin;
static int pfd[2];
static const char *hmode;
static volatile int touched;

static void *helper(void *arg)
{
	(void)arg;
	fl_pin(1);
	fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
	fl_store(region + rlen / 2, rlen / 2, 1);
	__atomic_store_n(&touched, 1, __ATOMIC_SEQ_CST);
	if (!strcmp(hmode, "spin")) {
		while (!__atomic_load_n(&stop_spin, __ATOMIC_SEQ_CST))
			;
	} else if (!strcmp(hmode, "sleep")) {
		char c;
		if (read(pfd[0], &c, 1) < 0)
			fl_die("read");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "dontneed-spin", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = m4k ? 8 * MB : 16 * MB;
	static char op[32];
	snprintf(op, sizeof op, "%s", o.variant);
	char *dash = strrchr(op, '-');
	if (!dash) {
		fprintf(stderr, "variant must be <op>-<spin|sleep|exit>\n");
		return 2;
	}
	*dash = 0;
	hmode = dash + 1;
	rlen = o.size;
	if (pipe(pfd))
		fl_die("pipe");
	fl_pin(0);
	char vname[64];
	snprintf(vname, sizeof vname, "%s-%s", o.mode, o.variant);
	fl_start(&o, "S17", vname);
	fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
	region = fl_phase_map(o.size, pmd);
	printf("region addr=%p len=0x%zx mode=%s op=%s helper=%s\n", (void *)region, o.size, o.mode,
	       op, hmode);
	pthread_t th;
	fl_phase("populate");
	fl_store(region, o.size / 2, 1);
	if (pthread_create(&th, NULL, helper, NULL))
		fl_die("pthread_create");
	while (!__atomic_load_n(&touched, __ATOMIC_SEQ_CST))
		usleep(1000);
	if (!strcmp(hmode, "exit"))
		pthread_join(th, NULL);
	else
		usleep(20000);
	fl_phase_done();
	int unmapped = 0;
	if (!strcmp(op, "dontneed")) {
		fl_phase_madvise("dontneed", region, o.size, MADV_DONTNEED, "dontneed");
	} else if (!strcmp(op, "munmap")) {
		fl_phase("zap-munmap");
		munmap(region, o.size);
		fl_phase_done();
		unmapped = 1;
	} else if (!strcmp(op, "halves")) {
		fl_phase_madvise("dontneed", region + o.size / 2, o.size / 2, MADV_DONTNEED, "dontneed");
		fl_phase("zap-munmap");
		munmap(region, o.size / 2);
		fl_phase_done();
		fl_phase("munmap-rest");
		munmap(region + o.size / 2, o.size / 2);
		fl_phase_done();
		unmapped = 1;
	} else {
		fl_phase_madvise("lazyfree", region, o.size, MADV_FREE, "free");
		fl_phase_reclaim("pageout", region, o.size, &o);
	}
	fl_phase("release-helper");
	if (strcmp(hmode, "exit")) {
		__atomic_store_n(&stop_spin, 1, __ATOMIC_SEQ_CST);
		if (write(pfd[1], "x", 1) != 1)
			fl_die("write");
		pthread_join(th, NULL);
	}
	fl_phase_done();
	if (!unmapped)
		fl_phase_munmap(region, o.size);
	fl_end();
	return 0;
}
