#!/usr/bin/env bash
# Loading and validating 10,000 scenario files (generated into a temp dir by
# scenarios.BenchmarkLoad10k): the directory walk, reading, YAML decoding and
# every strict check. Goal: under 1 s per load on a 2-core machine.
#
#   bench/load10k.sh              # 5 loads, the mean printed
#   COUNT=3 BENCHTIME=10x bench/load10k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-5x}
COUNT=${COUNT:-1}
echo "bench/load10k.sh: BENCHTIME=$BENCHTIME COUNT=$COUNT ($(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
out=$(go test -run '^$' -bench '^BenchmarkLoad10k$' -benchtime "$BENCHTIME" -count "$COUNT" ./scenarios)
echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu)'
echo "$out" | awk '/^BenchmarkLoad10k/ { for (i = 1; i < NF; i++) if ($(i+1) == "ms/load") { ms = $i; printf "10,000 files loaded and validated in %s ms (goal < 1000 ms): %s\n", ms, (ms < 1000 ? "OK" : "TOO SLOW") } }'
