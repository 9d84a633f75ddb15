#!/usr/bin/env bash
# Rate accuracy of the open model: conversations of one turn start at RATE
# per second for DURATION.
#  1. The load engine (bench/loadbench rate) against the zero-latency
#     simulated agent in the same process, on 127.0.0.1: the achieved rate
#     from the conversations' actual starts against the target (goal: within
#     ±0.5%) and the schedule lag percentiles (goal: p99 < 2 ms).
#  2. The evalrun CLI (CLI=on, the default): `evalrun run --arrival-rate
#     RATE/s --duration DURATION --limit none bench/testdata/one-turn.yaml`
#     against bench/optimlyserver in another process: conversations started
#     and the schedule lag from its JSON result (jq), new chats counted by
#     the server.
#
#   bench/rate.sh                          # 2000/s for 10 s
#   RATE=500 DURATION=5s CLI=off bench/rate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-2000}
DURATION=${DURATION:-10s}
CLI=${CLI:-on}
tmp=$(mktemp -d)
srv=
trap '[[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/loadbench" ./bench/loadbench
echo "bench/rate.sh: RATE=$RATE DURATION=$DURATION ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$tmp/loadbench" rate -rate "$RATE" -duration "$DURATION"

[[ $CLI == on ]] || exit 0
command -v jq >/dev/null || { echo "CLI part skipped: jq is missing (apt-get install jq)" >&2; exit 0; }
go build -o "$tmp/evalrun" ./cmd/evalrun
go build -o "$tmp/optimlyserver" ./bench/optimlyserver
export RATE_KEY="rate-$RANDOM$RANDOM"
"$tmp/optimlyserver" -key-env RATE_KEY >"$tmp/url" &
srv=$!
for _ in $(seq 50); do [[ -s $tmp/url ]] && break; sleep 0.1; done
read -r url stats <"$tmp/url"
echo "== the evalrun CLI: --arrival-rate $RATE/s --duration $DURATION against bench/optimlyserver (load average $(cut -d' ' -f1-3 /proc/loadavg))"
rc=0
OPTIMLY_API_KEY=$RATE_KEY "$tmp/evalrun" run --target "$url" --arrival-rate "$RATE/s" --duration "$DURATION" --limit none --quiet \
	--out "$tmp/rate.json" --ledger "$tmp/ledger.json" bench/testdata/one-turn.yaml >"$tmp/out" 2>&1 || rc=$?
new=$(curl -s "$stats/stats" | jq '.by_path["POST /external/message/new-chat"] // 0')
secs=$(awk -v d="$DURATION" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; printf "%g", n }')
jq -r --arg rc "$rc" --arg new "$new" --argjson target "$(awk -v r="$RATE" -v s="$secs" 'BEGIN { printf "%d", r * s }')" '
	(.histograms[] | select(.kind == "schedule_lag")) as $lag |
	"   exit code \($rc); conversations started \(.totals.conversations) (target \($target)), passed \(.totals.passed); new chats the server answered \($new)",
	"   schedule lag p50 \($lag.p50_us)µs  p99 \($lag.p99_us)µs  max \($lag.max_us)µs",
	(.warnings // [] | .[] | "   warning: \(.)")' "$tmp/rate.json"
