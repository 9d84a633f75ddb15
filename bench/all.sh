#!/usr/bin/env bash
# bench/all.sh — every load benchmark of evalrun in one go, then one
# summary table (docs/performance.md):
#   rate.sh    open-model rate accuracy and schedule lag (load engine and CLI)
#   co.sh      coordinated omission: reported vs true p99
#   memory.sh  RSS with 10,000 conversations in flight (open and closed; load
#              engine and CLI) and a soak
#   peers.sh   the evalrun CLI's calls/s, CPU per call and TCP connections
#              beside vegeta, hey, wrk and bombardier
#   load10k.sh loading and validating 10,000 scenario files (library and CLI)
#   soak.sh    the reliability soak (bench/soak), a quick RUNS=${SOAK_RUNS:-20}
# Logs go to $LOGDIR (default bench/out/<UTC time>). Each script keeps its
# own variables (RATE=…, ROUNDS=…); QUICK=1 shortens all of them.
#
#   bench/all.sh
#   QUICK=1 bench/all.sh
#   ONLY="rate peers" bench/all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${LOGDIR:-bench/out/$(date -u +%Y%m%dT%H%M%SZ)}
ONLY=${ONLY:-rate co memory peers load10k soak}
mkdir -p "$LOGDIR"
if [[ ${QUICK:-} == 1 ]]; then
	export DURATION=${DURATION:-5s} ROUNDS=${ROUNDS:-1} INFLIGHT_DURATION=${INFLIGHT_DURATION:-25s} SOAK_CALLS=${SOAK_CALLS:-100000} SOAK_RUNS=${SOAK_RUNS:-5}
fi
echo "bench/all.sh: $(date -u +%FT%TZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $LOGDIR"

declare -A rc
run() { # name command... (name-suffix runs with ONLY=name)
	local name=$1; shift
	[[ " $ONLY " == *" ${name%%-*} "* ]] || return 0
	echo "== $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	"$@" 2>&1 | tee "$LOGDIR/$name.log"
	rc[$name]=${PIPESTATUS[0]}
}
run rate bench/rate.sh
run co bench/co.sh
run memory bench/memory.sh
run memory-closed env INFLIGHT_MODEL=closed SOAK_CALLS=0 bench/memory.sh
run peers bench/peers.sh
run load10k bench/load10k.sh
if [[ -x bench/soak.sh && -d bench/soak ]]; then
	run soak env RUNS="${SOAK_RUNS:-20}" PAR=2 bench/soak.sh
fi

get() { # log pattern → first matching line, trimmed, without table bars
	[[ -f $LOGDIR/$1.log ]] && grep -m1 -E "$2" "$LOGDIR/$1.log" | sed 's/^ *//; s/|/·/g' || true
}
echo
echo "== summary ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| benchmark | goal | result |"
echo "|---|---|---|"
row() { printf '| %s | %s | %s |\n' "$1" "$2" "${3:-(not run)}"; }
row "rate accuracy (rate.sh)" "±0.5% of 2,000/s" "$(get rate 'achieved rate')"
row "schedule lag (rate.sh)" "p99 < 2 ms" "$(get rate 'schedule lag p50')"
row "rate, the CLI (rate.sh)" "every arrival started" "$(get rate 'conversations started .* new chats')"
row "schedule lag, the CLI (rate.sh)" "p99 < 2 ms" "$(get rate 'schedule lag p50 [0-9]+µs  p99 [0-9]+µs  max')"
row "coordinated omission, open (co.sh)" "reported p99 within 10% of true" "$(get co 'reported/true p99')"
row "memory, 10,000 in flight, open (memory.sh)" "peak RSS < 300 MB" "$(get memory 'peak RSS \(VmHWM\)')"
row "memory, 10,000 in flight, the CLI (memory.sh)" "peak RSS < 300 MB" "$(get memory 'peak RSS [0-9]')"
row "memory, 10,000 in flight, closed (memory.sh)" "peak RSS < 300 MB" "$(get memory-closed 'peak RSS')"
row "soak RSS (memory.sh)" "growth < 10% after the first minute" "$(get memory 'growth from the first minute|run shorter than')"
if [[ -f $LOGDIR/peers.log ]]; then
	# "   goal evalrun calls/s ≥ 1.0× vegeta's: 1.14× — met …" under "== server …"
	while IFS=$'\t' read -r cfg goal result; do
		row "peers (peers.sh), $cfg" "$goal" "$result"
	done < <(awk '/^== server/ { cfg = ($0 ~ /pinned/) ? "server and generator pinned" : "shared CPUs" }
		/goal evalrun/ { sub(/^ *goal /, ""); i = index($0, ": "); print cfg "\t" substr($0, 1, i - 1) "\t" substr($0, i + 2) }' "$LOGDIR/peers.log")
fi
row "loading 10,000 scenario files (load10k.sh)" "< 5 s" "$(get load10k '^10,000 files loaded')"
row "evalrun validate, 10,000 files (load10k.sh)" "< 5 s" "$(get load10k '^evalrun validate on')"
row "reliability soak (soak.sh)" "no promise broken" "$(get soak '^soak: seed')"
echo
for k in "${!rc[@]}"; do [[ ${rc[$k]} -ne 0 ]] && echo "warning: $k exited with ${rc[$k]} (see $LOGDIR/$k.log)"; done
exit 0
