#!/usr/bin/env bash
# Loading and validating 10,000 scenario files: the directory walk, reading,
# YAML decoding (go.yaml.in/yaml/v3) and every strict check. Goal: a few
# seconds per load on a 2-core machine (under 5 s). Two measures:
#   1. scenarios.BenchmarkLoad10k (go test -bench): the library's LoadWith,
#      wall and CPU time per load, bytes and allocations;
#   2. `evalrun validate` on the same 10,000 files: the whole command, from
#      process start to the printed plan (best of RUNS).
#
#   bench/load10k.sh              # 5 loads, the mean printed; 3 CLI runs
#   COUNT=3 BENCHTIME=10x RUNS=5 bench/load10k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-5x}
COUNT=${COUNT:-1}
RUNS=${RUNS:-3}
echo "bench/load10k.sh: BENCHTIME=$BENCHTIME COUNT=$COUNT RUNS=$RUNS ($(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
out=$(go test -run '^$' -bench '^BenchmarkLoad10k$' -benchtime "$BENCHTIME" -count "$COUNT" ./scenarios)
echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu)'
echo "$out" | awk '/^BenchmarkLoad10k/ { for (i = 1; i < NF; i++) if ($(i+1) == "ms/load") { ms = $i; printf "10,000 files loaded and validated in %s ms (goal < 5000 ms): %s\n", ms, (ms < 5000 ? "OK" : "TOO SLOW") } }'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/evalrun" ./cmd/evalrun
go test -count=1 -run '^TestWriteLoad10kSuite$' ./scenarios -args -load10k.write "$tmp/suite" >/dev/null
best=
for _ in $(seq "$RUNS"); do
	start=$(date +%s%N)
	"$tmp/evalrun" validate "$tmp/suite" >"$tmp/plan" 2>&1 || { cat "$tmp/plan"; exit 1; }
	ms=$((($(date +%s%N) - start) / 1000000))
	if [[ -z $best || $ms -lt $best ]]; then best=$ms; fi
done
echo "evalrun validate: $(head -c 120 "$tmp/plan")…"
echo "evalrun validate on 10,000 files: $best ms, best of $RUNS (goal < 5000 ms): $([[ $best -lt 5000 ]] && echo OK || echo TOO SLOW)"
