# allocation churn through malloc (jemalloc via LD_PRELOAD): bytearrays of 2 KiB .. 1 MiB,
# kept in a ring of 64 slots, written, replaced; jemalloc purges freed extents (MADV_FREE
# with dirty_decay_ms:1, muzzy never purged with MADV_DONTNEED)
import random
random.seed(15)
ring = [None] * 64
sizes = [2048, 8192, 24576, 65536, 131072, 262144, 524288, 1048576]
for i in range(6000):
    n = random.choice(sizes)
    b = bytearray(n)
    b[::4096] = b'\x01' * len(b[::4096])
    ring[i % 64] = b
    if i % 500 == 499:
        ring = [None] * 64
print("done", sum(len(x) for x in ring if x))
