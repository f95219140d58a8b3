#!/bin/sh
# The real programs of the corpus, recorded with `foliolab record` (root, tracefs):
#   traces/workloads/prog/record.sh [OUTDIR]
# OUTDIR defaults to traces/$(uname -r). Each capture is OUTDIR/prog-NAME.rec/trace.txt.gz with
# record's files beside it. Needs xz, sort, python3.11 and libjemalloc2.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/traces/$(uname -r)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/churn.py" "$work/"
cd "$work"
# 20 MB of text whose lines sort into another order: "(i * 427799) mod 1000003 line i".
awk 'BEGIN { for (i = 1; i <= 1100000; i++) printf "%d line %d\n", (i * 427799) % 1000003, i }' | head -c 20000000 > input20m.txt
rec() {
  name=$1; shift
  rm -rf "$out/prog-$name.rec"
  node "$root/bin/run.js" record --out "$out/prog-$name.rec/trace.txt" --events default,sched -- "$@"
  gzip -f "$out/prog-$name.rec/trace.txt"
  rm -rf "$out/prog-$name.rec/formats"
}
rec xz9 /usr/bin/xz -9 -k -f -T1 input20m.txt
rec sort /usr/bin/sort -S 64M -o "$work/sorted.txt" input20m.txt
rec xz-T2 /usr/bin/xz -6 -k -f -T2 --block-size=4MiB input20m.txt
rec jemalloc-python /usr/bin/env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:1,muzzy_decay_ms:-1 /usr/bin/python3.11 churn.py
