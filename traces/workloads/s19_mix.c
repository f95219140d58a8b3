/* S19 mix: a seeded random sequence of the operations the other scenarios take one at a time,
 * on a few regions at once — nobody tuned the model to its order. Each step picks a region and
 * one of: store a random range, MADV_DONTNEED / MADV_FREE / MADV_COLD / MADV_PAGEOUT of a
 * random range, mprotect(PROT_READ) of a random range and back, munmap of the head or the tail,
 * mremap of the whole region to a new place at a random page offset from a PMD boundary, or
 * (with --memcg) reclaim of the memcg. Ranges are page-aligned, not folio-aligned. Regions are
 * remapped when too small.
 *   --variant seedN   the sequence (N: any number)      --iters STEPS (default 40)
 *   --variant seedN-spin | seedN-sleep   a second thread on CPU 1 (the main thread on CPU 0)
 *                     busy-waits (the mm live there: flushes reach it by IPI) or blocks in
 *                     read() (CPU 1 idle, lazy TLB) while the steps run
 *   --mode 4k | 64k | 32k | ... (mTHP sizes as the capture enables them) | pmd (MADV_HUGEPAGE)
 * One phase, "mix", holds every step; each step is printed with its arguments. */
#include "fl.h"
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#endif

#define NREG 3

static unsigned long long fl_rng;
static volatile int stop_spin;
static int pfd[2];
static int spin;

static void *helper(void *arg)
{
	(void)arg;
	fl_pin(1);
	fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
	if (spin) {
		while (!__atomic_load_n(&stop_spin, __ATOMIC_SEQ_CST))
			;
	} else {
		char c;
		if (read(pfd[0], &c, 1) < 0)
			fl_die("read");
	}
	return NULL;
}

static unsigned rnd(unsigned n)
{
	fl_rng = fl_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((fl_rng >> 33) % n);
}

struct region {
	char *p;
	size_t len;
};

static void region_new(struct region *r, int pmd)
{
	size_t pages = pmd ? 512 * (2 + rnd(3)) : 64 + rnd(1024);
	r->len = pages * PAGE;
	r->p = fl_map_aligned(r->len, SZ_2M);
	if (pmd)
		fl_madvise(r->p, r->len, MADV_HUGEPAGE, "hugepage");
	printf("step map addr=%p len=0x%zx\n", (void *)r->p, r->len);
}

/* a random page-aligned subrange of r: start, and length in pages */
static void subrange(const struct region *r, size_t *off, size_t *len)
{
	size_t pages = r->len / PAGE;
	size_t a = rnd(pages), n = 1 + rnd(pages - a);
	if (n > 256 && rnd(2))
		n = 1 + rnd(256);
	*off = a * PAGE;
	*len = n * PAGE;
}

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 40, .variant = "seed1", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd");
	fl_rng = strtoull(o.variant + (strncmp(o.variant, "seed", 4) ? 0 : 4), NULL, 0) * 0x9e3779b97f4a7c15ULL + 1;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, o.variant, o.memcg ? "-memcg" : "");
	int threaded = strstr(o.variant, "-spin") || strstr(o.variant, "-sleep");
	spin = strstr(o.variant, "-spin") != NULL;
	pthread_t th;
	if (threaded) {
		if (pipe(pfd))
			fl_die("pipe");
		fl_pin(0);
	}
	fl_start(&o, "S19", vname);
	if (threaded) {
		fl_mark("thread tid=%ld cpu=%d", (long)syscall(SYS_gettid), sched_getcpu());
		if (pthread_create(&th, NULL, helper, NULL))
			fl_die("pthread_create");
	}
	struct region reg[NREG];
	fl_phase("mmap");
	for (int i = 0; i < NREG; i++)
		region_new(&reg[i], pmd);
	fl_phase_done();
	fl_phase("mix");
	for (int step = 0; step < o.iters; step++) {
		struct region *r = &reg[rnd(NREG)];
		if (r->len < 16 * PAGE) {
			munmap(r->p, r->len);
			region_new(r, pmd);
		}
		size_t off, len;
		subrange(r, &off, &len);
		unsigned what = rnd(o.memcg ? 11 : 10);
		char *a = r->p + off;
		switch (what) {
		case 0: case 1: case 2:
			printf("step store addr=%p len=0x%zx\n", (void *)a, len);
			fl_store(a, len, step + 1);
			break;
		case 3: fl_madvise(a, len, MADV_DONTNEED, "dontneed"); break;
		case 4: fl_madvise(a, len, MADV_FREE, "free"); break;
		case 5: fl_madvise(a, len, MADV_COLD, "cold"); break;
		case 6: fl_madvise(a, len, MADV_PAGEOUT, "pageout"); break;
		case 7:
			printf("step mprotect addr=%p len=0x%zx\n", (void *)a, len);
			if (mprotect(a, len, PROT_READ) || mprotect(a, len, PROT_READ | PROT_WRITE))
				fl_die("mprotect");
			break;
		case 8: {
			/* munmap the head or the tail (at least 16 pages stay) */
			size_t cut = len < r->len - 16 * PAGE ? len : r->len - 16 * PAGE;
			if (!cut)
				break;
			if (rnd(2)) {
				printf("step munmap-head addr=%p len=0x%zx\n", (void *)r->p, cut);
				munmap(r->p, cut);
				r->p += cut;
			} else {
				printf("step munmap-tail addr=%p len=0x%zx\n", (void *)(r->p + r->len - cut), cut);
				munmap(r->p + r->len - cut, cut);
			}
			r->len -= cut;
			break;
		}
		case 9: {
			/* a new place: a fresh 2MB-aligned hole, then a random page offset into it */
			size_t shift = pmd ? (rnd(2) ? 0 : rnd(512) * PAGE) : rnd(512) * PAGE;
			char *hole = fl_map_aligned(r->len + SZ_2M, SZ_2M);
			char *dst = hole + shift;
			void *q = mremap(r->p, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
			printf("step mremap from=%p to=%p len=0x%zx ret=%p\n", (void *)r->p, (void *)dst, r->len, q);
			if (q == MAP_FAILED) {
				munmap(hole, r->len + SZ_2M);
				break;
			}
			if (shift)
				munmap(hole, shift);
			munmap(dst + r->len, SZ_2M - shift);
			r->p = dst;
			break;
		}
		case 10:
			printf("step reclaim bytes=0x%zx\n", len);
			fl_memcg_reclaim(len);
			break;
		}
	}
	fl_phase_done();
	if (threaded) {
		__atomic_store_n(&stop_spin, 1, __ATOMIC_SEQ_CST);
		if (write(pfd[1], "x", 1) != 1)
			fl_die("write");
		pthread_join(th, NULL);
	}
	fl_phase("munmap");
	for (int i = 0; i < NREG; i++)
		munmap(reg[i].p, reg[i].len);
	fl_phase_done();
	fl_end();
	return 0;
}
