#!/usr/bin/env bash
# evalrun against the load generators people use: wrk, hey and vegeta drive
# POST /external/agent/v2 of the zero-latency simulated agent on loopback
# with the same body, at the same concurrency, for the same time; evalrun
# runs a one-turn scenario (expectations checked, quota budget charged,
# intended-time histograms, no rate limit) on chats opened before the run.
# The tools take turns (wrk hey vegeta evalrun wrk hey …) for ROUNDS rounds,
# first with server and generator sharing both CPUs, then with the server
# pinned to CPU 0 and the generator to CPU 1 (taskset). The table has the
# median calls/s, p50, p99 and CPU seconds per 1,000 calls of each load
# generator, its peak RSS, and evalrun's ratio to each (bench/peers).
#
# Missing tools are installed into bench/.tools/bin (GOBIN) — vegeta
# v12.13.0 and hey v0.1.5 with `go install` — and wrk from the Debian
# package (apt-get, as root) when it is not on PATH.
#
#   bench/peers.sh
#   ROUNDS=5 DURATION=5s CONCURRENCY=100 bench/peers.sh
#   PIN=on TOOLS=hey,evalrun bench/peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-50}
TOOLS=${TOOLS:-wrk,hey,vegeta,evalrun}
PIN=${PIN:-off,on}
tools=$PWD/bench/.tools/bin
mkdir -p "$tools"

if [[ ! -x $tools/vegeta ]]; then
	echo "installing vegeta v12.13.0 into $tools"
	GOBIN=$tools go install github.com/tsenart/vegeta/v12@v12.13.0
fi
if [[ ! -x $tools/hey ]]; then
	echo "installing hey v0.1.5 into $tools"
	GOBIN=$tools go install github.com/rakyll/hey@v0.1.5
fi
if ! command -v wrk >/dev/null; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "wrk is missing: install the Debian package (sudo apt-get install wrk) and run again" >&2
		exit 1
	fi
	echo "installing wrk (Debian package)"
	apt-get update -qq
	apt-get install -y -qq wrk >/dev/null
fi
for t in taskset; do command -v $t >/dev/null || { echo "$t is missing (util-linux)" >&2; exit 1; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/loadbench" ./bench/loadbench
go build -o "$tmp/peers" ./bench/peers
echo "go: $(go version); wrk: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); hey v0.1.5; vegeta v12.13.0"
"$tmp/peers" -loadbench "$tmp/loadbench" -bin "$tools" -rounds "$ROUNDS" -duration "$DURATION" \
	-concurrency "$CONCURRENCY" -tools "$TOOLS" -pin "$PIN"
