#!/usr/bin/env bash
# Rate accuracy of the open model: conversations of one turn start at RATE
# per second for DURATION against the zero-latency simulated agent (in the
# same process, on 127.0.0.1). Prints the achieved rate against the target
# (goal: within ±0.5%) and the schedule lag percentiles (goal: p99 < 2 ms).
#
#   bench/rate.sh                          # 2000/s for 10 s
#   RATE=500 DURATION=5s bench/rate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-2000}
DURATION=${DURATION:-10s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/loadbench" ./bench/loadbench
echo "bench/rate.sh: RATE=$RATE DURATION=$DURATION ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$tmp/loadbench" rate -rate "$RATE" -duration "$DURATION"
