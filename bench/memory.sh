#!/usr/bin/env bash
# Memory of the load generator, with the agent in another process on
# 127.0.0.1 (so only evalrun's own memory is measured): bench/optimlyserver,
# a plain Go net/http server answering the Optimly API shape:
#  1. INFLIGHT conversations in flight against an agent that takes 1 s per
#     turn, each of 3 turns with 5 s of think time, for INFLIGHT_DURATION:
#     peak RSS (goal < 300 MB). INFLIGHT_MODEL=open (default) starts them at
#     the rate that keeps INFLIGHT in flight (about 2,000 calls in flight);
#     INFLIGHT_MODEL=closed starts all at once (INFLIGHT calls in flight, one
#     HTTP connection each).
#  2. The same with the evalrun CLI itself (CLI=on, the default; open model
#     only): `evalrun run --arrival-rate R/s --duration INFLIGHT_DURATION
#     --max-in-flight …` on bench/testdata/in-flight.yaml, peak RSS from
#     /usr/bin/time, calls and TCP connections from the server.
#  3. A soak of SOAK_CALLS calls (one-turn conversations, open model at
#     SOAK_RATE calls/s) against a zero-latency agent: RSS growth after the
#     first minute (goal < 10%). The default is a quick 400,000 calls; the
#     goal is stated for SOAK_CALLS=1000000. SOAK_POOL is the idle HTTP
#     connection pool (default 1024): the RSS follows its high-water mark.
#
#   bench/memory.sh
#   SOAK_CALLS=1000000 bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
INFLIGHT=${INFLIGHT:-10000}
INFLIGHT_MODEL=${INFLIGHT_MODEL:-open}
INFLIGHT_DURATION=${INFLIGHT_DURATION:-40s}
CLI=${CLI:-on}
SOAK_CALLS=${SOAK_CALLS:-400000}
SOAK_RATE=${SOAK_RATE:-4000}
SOAK_POOL=${SOAK_POOL:-1024}
tmp=$(mktemp -d)
srv=
stop_server() {
	if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=; fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
go build -o "$tmp/loadbench" ./bench/loadbench
go build -o "$tmp/optimlyserver" ./bench/optimlyserver
go build -o "$tmp/evalrun" ./cmd/evalrun
export LOADBENCH_KEY="loadbench-$RANDOM$RANDOM"
echo "bench/memory.sh: INFLIGHT=$INFLIGHT INFLIGHT_MODEL=$INFLIGHT_MODEL INFLIGHT_DURATION=$INFLIGHT_DURATION SOAK_CALLS=$SOAK_CALLS SOAK_RATE=$SOAK_RATE SOAK_POOL=$SOAK_POOL ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $(ulimit -n))"

start_server() {
	"$tmp/optimlyserver" -key-env LOADBENCH_KEY "$@" >"$tmp/url" &
	srv=$!
	for _ in $(seq 50); do [[ -s $tmp/url ]] && break; sleep 0.1; done
	url=$(head -n1 "$tmp/url" | cut -d' ' -f1)
	stats=$(head -n1 "$tmp/url" | cut -d' ' -f2)
	[[ $url == http://127.0.0.1:* ]] || { echo "optimlyserver did not start" >&2; exit 1; }
}

start_server -latency 1s
"$tmp/loadbench" inflight -url "$url" -model "$INFLIGHT_MODEL" -conversations "$INFLIGHT" -turns 3 -think 5s -latency 1s -duration "$INFLIGHT_DURATION"
stop_server
: >"$tmp/url"

if [[ $CLI == on && $INFLIGHT_MODEL == open ]]; then
	# A conversation lives 3 × (5 s think + 1 s answer) = 18 s.
	rate=$(awk -v n="$INFLIGHT" 'BEGIN { printf "%.1f", n / 18 }')
	echo "== the evalrun CLI: $INFLIGHT in flight, --arrival-rate $rate/s for $INFLIGHT_DURATION (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	start_server -latency 1s
	rc=0
	OPTIMLY_API_KEY=$LOADBENCH_KEY /usr/bin/time -f "%M" -o "$tmp/time" "$tmp/evalrun" run --target "$url" --arrival-rate "$rate/s" \
		--duration "$INFLIGHT_DURATION" --max-in-flight $((INFLIGHT + INFLIGHT / 10)) --limit none --quiet \
		--out "$tmp/cli.json" --ledger "$tmp/ledger.json" bench/testdata/in-flight.yaml >"$tmp/cli.out" 2>&1 || rc=$?
	echo "   exit code $rc; $(grep -m1 -A1 '^conversations' "$tmp/cli.out" | tr -s ' \n' ' ')"
	echo "   server: $(curl -s "$stats/stats")"
	echo "   peak RSS $(tail -n1 "$tmp/time" | awk '{ printf "%.1f MB", $1 / 1024 }') (goal < 300 MB)"
	stop_server
	: >"$tmp/url"
fi

if [[ $SOAK_CALLS -gt 0 ]]; then # SOAK_CALLS=0: the in-flight part only
	start_server
	"$tmp/loadbench" soak -url "$url" -calls "$SOAK_CALLS" -call-rate "$SOAK_RATE" -pool "$SOAK_POOL"
	stop_server
fi
