#!/usr/bin/env bash
# Coordinated omission: the simulated agent freezes for STALL every EVERY
# (the first freeze EVERY/2 after it starts; a call arriving in a freeze is
# answered when it ends). The open model sends RATE new-chat calls per second
# (one conversation each) for DURATION; the closed model runs CONCURRENCY
# conversations in flight for DURATION. For each, the benchmark prints the
# reported p99 of the new-chat latency and the true p99 computed from the
# intended send times (open: the arrival schedule; closed: a schedule at its
# mean rate), and the warnings the result carries. Then the same closed run
# goes through the CLI, to show its summary with the warning.
#
#   bench/co.sh
#   DURATION=20s bench/co.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100}
DURATION=${DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-10}
EVERY=${EVERY:-10s}
STALL=${STALL:-1s}
tmp=$(mktemp -d)
srv=
cleanup() {
	if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/loadbench" ./bench/loadbench
go build -o "$tmp/evalrun" ./cmd/evalrun
echo "bench/co.sh: RATE=$RATE DURATION=$DURATION CONCURRENCY=$CONCURRENCY EVERY=$EVERY STALL=$STALL ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
"$tmp/loadbench" co -rate "$RATE" -duration "$DURATION" -concurrency "$CONCURRENCY" -stall-every "$EVERY" -stall-for "$STALL"

echo "== the closed model through the CLI: evalrun run --concurrency $CONCURRENCY --duration $DURATION --limit none"
export LOADBENCH_KEY="loadbench-$RANDOM$RANDOM"
"$tmp/loadbench" serve -stall-every "$EVERY" -stall-for "$STALL" -stall-first "$(( ${EVERY%s} / 2 ))s" >"$tmp/url" &
srv=$!
for _ in $(seq 50); do [[ -s $tmp/url ]] && break; sleep 0.1; done
url=$(head -n1 "$tmp/url")
[[ $url == http://127.0.0.1:* ]] || { echo "simulated agent did not start" >&2; exit 1; }
rc=0
"$tmp/evalrun" run --target "$url" --api-key-env LOADBENCH_KEY --limit none --max-attempts 1 \
	--concurrency "$CONCURRENCY" --duration "$DURATION" --quiet bench/testdata/one-turn.yaml || rc=$?
echo "(evalrun exit code $rc)"
