/* S14 fork-cow: fork of a populated region of PMD THPs, mTHPs or 4K pages, then COW.
 *   --mode pmd 8MB MADV_HUGEPAGE (4 THPs) | 64k 8MB (128 mTHPs) | 4k 4MB order-0
 *   --variant child-write   the child writes the whole region (COW in the child), exits;
 *                           the parent reaps it, then MADV_FREE + reclaim, munmap
 *   --variant parent-write  the child blocks; the parent writes the whole region (COW in the
 *                           parent); the child is released and exits; munmap
 *   --variant child-exit    the child exits at once; after reaping it the parent writes the
 *                           whole region (folios exclusive again: reuse, no copy expected)
 *   --variant child-dontneed  the child MADV_DONTNEEDs the second half of every folio and
 *                           exits; the parent writes the whole region, munmap
 * The child waits on a pipe until the parent's phase for its work (child-work) has begun.
 * --memcg DIR: the parent's final reclaim is memcg reclaim (child-write). */
#include "fl.h"

int main(int argc, char **argv)
{
	struct fl_opts o = { .iters = 1, .variant = "child-write", .mode = "64k" };
	fl_parse(argc, argv, &o);
	int pmd = !strcmp(o.mode, "pmd"), m4k = !strcmp(o.mode, "4k");
	if (!o.size)
		o.size = m4k ? 4 * MB : 8 * MB;
	size_t fsz = pmd ? SZ_2M : m4k ? PAGE : SZ_64K;
	const char *v = o.variant;
	char vname[96];
	snprintf(vname, sizeof vname, "%s-%s%s", o.mode, v, o.memcg ? "-memcg" : "");
	int p2c[2];
	if (pipe(p2c))
		fl_die("pipe");
	fl_start(&o, "S14", vname);
	char *p = fl_phase_map(o.size, pmd);
	printf("region addr=%p len=0x%zx mode=%s variant=%s\n", (void *)p, o.size, o.mode, v);
	fl_phase_store("populate", p, o.size, 1);
	fl_phase("fork");
	pid_t c = fork();
	if (c < 0)
		fl_die("fork");
	if (c == 0) {
		char ch;
		fl_mark("note role=child pid=%d", getpid());
		if (read(p2c[0], &ch, 1) < 0)
			_exit(3);
		if (!strcmp(v, "child-write")) {
			fl_store(p, o.size, 2);
		} else if (!strcmp(v, "child-dontneed")) {
			if (fsz > PAGE)
				for (size_t i = 0; i < o.size; i += fsz)
					madvise(p + i + fsz / 2, fsz / 2, MADV_DONTNEED);
			else
				madvise(p + o.size / 2, o.size / 2, MADV_DONTNEED);
		}
		fl_mark("note role=child action=exit");
		_exit(0);
	}
	fl_phase_done();
	printf("child pid %d\n", c);
	int st;
	if (!strcmp(v, "parent-write")) {
		fl_phase_store("parent-write", p, o.size, 3);
		fl_phase("child-exit");
		if (write(p2c[1], "x", 1) != 1)
			fl_die("write");
		waitpid(c, &st, 0);
		fl_phase_done();
	} else {
		fl_phase("child-work");
		if (write(p2c[1], "x", 1) != 1)
			fl_die("write");
		waitpid(c, &st, 0);
		fl_phase_done();
		if (!strcmp(v, "child-write")) {
			fl_phase_madvise("lazyfree", p, o.size, MADV_FREE, "free");
			fl_phase_reclaim("pageout", p, o.size, &o);
		} else {
			fl_phase_store("parent-write", p, o.size, 3);
		}
	}
	fl_phase_munmap(p, o.size);
	fl_end();
	return 0;
}
