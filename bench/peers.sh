#!/usr/bin/env bash
# The evalrun CLI beside the load generators people use — vegeta, hey, wrk
# and bombardier — against one plain Go net/http server answering the
# Optimly API shape with encoding/json (bench/optimlyserver), on loopback.
#
# evalrun runs what users run: `evalrun run --target URL --concurrency N
# --duration D --limit none` on bench/testdata/ten-turn.yaml (a new chat and
# ten messages, expectations on the last), no think time. The peers POST one
# message to /external/agent/v2 with N connections/workers. The tools take
# turns (evalrun vegeta hey wrk bombardier evalrun …) for ROUNDS rounds.
# The server counts the calls and the TCP connections of each run; CPU per
# call is the tool's user + system time (wait4's rusage) over the server's
# count; the load average is printed with every run (bench/peers).
#
# Missing tools are installed into bench/.tools/bin (GOBIN) — vegeta
# v12.13.0, hey v0.1.5 and bombardier v1.2.6 with `go install` — and wrk
# from the Debian package (apt-get, as root) when it is not on PATH.
#
#   bench/peers.sh                                    # ROUNDS=3 DURATION=5s CONCURRENCY=50 PIN=off
#   PIN=off,on TOOLS=evalrun,vegeta bench/peers.sh
#   EVALRUN_CPUPROFILE=/tmp/cpu.prof TOOLS=evalrun ROUNDS=1 bench/peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-50}
TOOLS=${TOOLS:-evalrun,vegeta,hey,wrk,bombardier}
PIN=${PIN:-off}
tools=$PWD/bench/.tools/bin
mkdir -p "$tools"

install_go() { # name module@version
	if [[ ! -x $tools/$1 ]]; then
		echo "installing $2 into $tools"
		GOBIN=$tools go install "$2"
	fi
}
install_go vegeta github.com/tsenart/vegeta/v12@v12.13.0
install_go hey github.com/rakyll/hey@v0.1.5
install_go bombardier github.com/codesenberg/bombardier@v1.2.6
if [[ ,$TOOLS, == *,wrk,* ]] && ! command -v wrk >/dev/null; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "wrk is missing: install the Debian package (sudo apt-get install wrk) and run again" >&2
		exit 1
	fi
	echo "installing wrk (Debian package)"
	apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
if [[ $PIN == *on* ]]; then
	command -v taskset >/dev/null || { echo "taskset is missing (util-linux)" >&2; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/evalrun" ./cmd/evalrun
go build -o "$tmp/optimlyserver" ./bench/optimlyserver
go build -o "$tmp/peers" ./bench/peers
wrkv=absent
if command -v wrk >/dev/null; then wrkv=$( (wrk -v 2>&1 || true) | head -n1 | cut -d' ' -f1-2); fi
echo "go: $(go version); $wrkv; vegeta v12.13.0; hey v0.1.5; bombardier v1.2.6"
"$tmp/peers" -server "$tmp/optimlyserver" -evalrun "$tmp/evalrun" -bin "$tools" -rounds "$ROUNDS" -duration "$DURATION" \
	-concurrency "$CONCURRENCY" -tools "$TOOLS" -pin "$PIN"
