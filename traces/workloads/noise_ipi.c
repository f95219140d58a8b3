/* noise_ipi: background load that sends TLB-flush IPIs to both CPUs: two threads of one mm, one per CPU;
 * the CPU 0 thread maps, touches and unmaps in a loop, so each munmap's flush reaches CPU 1
 * while the CPU 1 thread sleeps between touches (its CPU stays in the mm's cpumask). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>
static volatile int stop;
static char *shared;
static void pin(int c) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s); sched_setaffinity(0, sizeof s, &s); }
static void *other(void *a) { (void)a; pin(1); while (!stop) { shared[0]++; usleep(200); } return 0; }
int main(int argc, char **argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 10;
  shared = mmap(0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  pthread_t t; pthread_create(&t, 0, other, 0);
  pin(0);
  time_t end = time(0) + secs;
  while (time(0) < end) {
    char *p = mmap(0, 4 * 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    memset(p, 1, 4 * 4096);
    munmap(p, 4 * 4096);
  }
  stop = 1; pthread_join(t, 0); return 0;
}
