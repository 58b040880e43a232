#!/bin/bash
# Where the CPU of agent_bench's 30-pod burst goes, per process name (comm): a system-wide
# `perf record -k CLOCK_MONOTONIC` around agent_bench, cut to the burst window(s) it prints.
# Other users of the machine show up under their own names (compilers, ...), so the table
# also says how much of the machine the burst had. Root; usage:
#   bench/agent_bench_profile.sh BUILD_DIR [agent_bench args, e.g. --cni kelp]
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [agent_bench args]}
shift
out=$(mktemp -d /tmp/agent_bench_profile.XXXXXX)
trap 'rm -rf "$out"' EXIT
freq=999
perf record -q -a -F $freq -k CLOCK_MONOTONIC -o "$out/perf.data" -- \
  "$build/bench/agent_bench" "$@" | tee "$out/bench.txt"
perf script -i "$out/perf.data" -F comm,pid,time 2>/dev/null > "$out/samples.txt"
grep 'burst window' "$out/bench.txt" | while read -r line; do
  label=${line%%]*}; label=${label#*[}
  read -r start end <<<"$(sed 's/.*: //' <<<"$line")"
  echo "== [$label] samples per process name in the burst window ($start .. $end s), $freq Hz:"
  awk -v s="$start" -v e="$end" -v hz=$freq -v pods=30 '
    { t = $NF + 0; if (t < s || t > e) next; pid = $(NF-1); $NF = ""; $(NF-1) = "";
      c = $0; sub(/ +$/, "", c); n[c]++; if (!((c, pid) in seen)) { seen[c, pid] = 1; p[c]++ } total++ }
    END { for (c in n) printf "%8.1f ms/pod %5.1f%% %5d procs  %s\n", 1000 * n[c] / hz / pods,
                                100 * n[c] / total, p[c], c }' "$out/samples.txt" | sort -rn | head -25
done
