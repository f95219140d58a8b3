/* S20 reader: a second thread reads the region (one byte per page, over and over) on CPU 1
 * while the main thread, on CPU 0, zaps or reclaims it. A read of a present page leaves no
 * event (it only sets the PTE's accessed bit); a read of a page the zap took faults in the
 * zero page (a read fault on anonymous memory), or on a PMD THP region the huge zero page.
 * --variant <op>:
 *   dontneed   MADV_DONTNEED of the whole region while the reader runs
 *   half       MADV_DONTNEED of the first half, then of the second
 *   free       MADV_FREE, then MADV_PAGEOUT (or memcg reclaim) while the reader runs
 *   cold       MADV_COLD, then MADV_PAGEOUT while the reader runs
 * --mode 4k (8MB order-0) | 64k (16MB, the enabled mTHP size) | pmd (16MB, MADV_HUGEPAGE). */
#include "fl.h"
#include <pthread.h>

static char *region;
static size_t rlen;
static volatile int stop_read;
static volatile int started;
static volatile unsigned long sink;

static void *reader(void *arg)
{
	(void)arg;
	fl_pin(1);
	fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
	fl_mark("note role=reader addr=%p len=0x%zx", (void *)region, rlen);
	unsigned long sum = 0;
	__atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&stop_read, __ATOMIC_SEQ_CST))
		for (size_t off = 0; off < rlen; off += 4096)
			sum += *(volatile char *)(region + off);
	sink = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "dontneed", .mode = "4k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = m4k ? 8 * MB : 16 * MB;
	rlen = o.size;
	fl_pin(0);
	char vname[64];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, o.variant, o.memcg ? "-memcg" : "");
	fl_start(&o, "S20", vname);
	fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
	region = fl_phase_map(o.size, pmd);
	printf("region addr=%p len=0x%zx mode=%s op=%s\n", (void *)region, o.size, o.mode, o.variant);
	fl_phase_store("populate", region, o.size, 1);
	fl_phase("start-reader");
	pthread_t th;
	if (pthread_create(&th, NULL, reader, NULL))
		fl_die("pthread_create");
	while (!__atomic_load_n(&started, __ATOMIC_SEQ_CST))
		usleep(1000);
	usleep(20000);
	fl_phase_done();
	if (!strcmp(o.variant, "dontneed")) {
		fl_phase_madvise("dontneed", region, o.size, MADV_DONTNEED, "dontneed");
	} else if (!strcmp(o.variant, "half")) {
		fl_phase_madvise("dontneed-a", region, o.size / 2, MADV_DONTNEED, "dontneed");
		usleep(20000);
		fl_phase_madvise("dontneed-b", region + o.size / 2, o.size / 2, MADV_DONTNEED, "dontneed");
	} else if (!strcmp(o.variant, "free")) {
		fl_phase_madvise("lazyfree", region, o.size, MADV_FREE, "free");
		usleep(20000);
		fl_phase_reclaim("pageout", region, o.size, &o);
	} else if (!strcmp(o.variant, "cold")) {
		fl_phase_madvise("cold", region, o.size, MADV_COLD, "cold");
		usleep(20000);
		fl_phase_reclaim("pageout", region, o.size, &o);
	} else {
		fprintf(stderr, "unknown variant %s\n", o.variant);
		return 2;
	}
	usleep(20000);
	fl_phase("stop-reader");
	__atomic_store_n(&stop_read, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	fl_phase_done();
	fl_phase_munmap(region, o.size);
	fl_end();
	return 0;
}
