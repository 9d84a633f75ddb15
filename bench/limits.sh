#!/usr/bin/env bash
# Limits as the agent sees them: for a few limit stacks, `evalrun run` sends
# a suite as fast as the limits allow to bench/limitsrv, a plain net/http
# server that logs the arrival time of every call. For each stack it prints
# the most calls the server saw in any window of each limit (any alignment:
# a window starts at every arrival; closed windows) against the limit, and
# the time from the first call to the last divided by the least time the
# limits allow (from `evalrun run --dry-run`: the exact limits, without
# evalrun's safety margin). Goals: never above a limit; ratio <= 1.05.
#
#   bench/limits.sh               # four stacks, about 1.5 min (one of them lasts 62 s)
#   QUICK=1 bench/limits.sh       # without the 300/min stack (about 25 s)
#   ONLY=300/min WHERE=1 bench/limits.sh   # the stacks whose label has 300/min; where the busiest window starts
#   MARGIN=100ms bench/limits.sh  # --limit-margin 100ms instead of the default (a busy machine)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
srv=
cleanup() {
	if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/evalrun" ./cmd/evalrun
go build -o "$tmp/limitsrv" ./bench/limitsrv
export LIMITS_KEY="limits-$RANDOM$RANDOM" XDG_STATE_HOME="$tmp/state"
echo "bench/limits.sh: MARGIN=${MARGIN:-auto} ($(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '| %-52s | %5s | %-44s | %-9s | %-9s | %-6s | %-11s |\n' "stack (suite, concurrency)" "calls" "most in any window / limit" "first→last" "minimum" "ratio" "server late"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "-------" "$(printf -- '-%.0s' {1..46})" "-----------" "-----------" "--------" "-------------"

# stack LABEL WINDOWS CHAT_WINDOWS REPEAT CONCURRENCY SUITE FLAGS...
stack() {
	local label=$1 windows=$2 chat_windows=$3 repeat=$4 conc=$5 suite=$6
	shift 6
	[[ -z ${ONLY:-} || $label == *"$ONLY"* ]] || return 0
	if [[ -n ${MARGIN:-} ]]; then set -- "$@" --limit-margin "$MARGIN"; fi
	local min
	min=$("$tmp/evalrun" run --dry-run --target http://127.0.0.1:1 --api-key-env LIMITS_KEY --repeat "$repeat" "$@" "$suite" |
		sed -n 's/^min duration: *at least \([^ ]*\) .*the limits alone allow \([^)]*\)).*/\2/p; s/^min duration: *at least \([^ ]*\) (.*under the limits)$/\1/p')
	[[ -n $min ]] || { echo "no minimum duration from --dry-run" >&2; exit 1; }
	"$tmp/limitsrv" ${WHERE:+-where} -windows "$windows" -chat-windows "$chat_windows" -min "$min" >"$tmp/out" &
	srv=$!
	for _ in $(seq 50); do [[ -s $tmp/out ]] && break; sleep 0.1; done
	local url
	url=$(head -n1 "$tmp/out")
	[[ $url == http://127.0.0.1:* ]] || { echo "limitsrv did not start" >&2; exit 1; }
	local rc=0
	"$tmp/evalrun" run --target "$url" --api-key-env LIMITS_KEY --max-attempts 1 --quiet \
		--repeat "$repeat" --concurrency "$conc" "$@" "$suite" >"$tmp/run" 2>&1 || rc=$?
	kill "$srv"
	wait "$srv" || true
	srv=
	[[ $rc -eq 0 ]] || { echo "evalrun exited $rc:" >&2; cat "$tmp/run" >&2; exit 1; }
	local res
	res=$(tail -n1 "$tmp/out")
	local calls span ratio late most=""
	calls=$(sed 's/.*calls=\([0-9]*\).*/\1/' <<<"$res")
	late=$(sed 's/.*server_late_max=\([^ ]*\).*/\1/' <<<"$res")
	span=$(sed 's/.*span=\([^ ]*\).*/\1/' <<<"$res")
	ratio=$(sed 's/.*ratio=\([^ ]*\).*/\1/' <<<"$res")
	for kv in $res; do
		case $kv in
		max_*|chat_max_*) most+="${kv} " ;;
		esac
	done
	printf '| %-52s | %5s | %-44s | %-9s | %-9s | %-6s | %-11s |\n' "$label" "$calls" "$most" "$span" "$min" "$ratio" "$late"
}

stack "--limit 20/s --new-chat-limit 6/s (40×6 calls, 25)" 1s=20 1s=6 40 25 bench/testdata/five-turn.yaml \
	--limit 20/s --new-chat-limit 6/s
stack "--limit 100/s --new-chat-limit 20/s (100×6, 50)" 1s=100 1s=20 100 50 bench/testdata/five-turn.yaml \
	--limit 100/s --new-chat-limit 20/s
stack "--limit 20/s --limit 12.5/s [25 per 2s] (60×1, 4)" 1s=20,2s=25 "" 60 4 bench/testdata/one-turn.yaml \
	--limit 20/s --limit 12.5/s --new-chat-limit none
if [[ -z ${QUICK:-} ]]; then
	stack "--limit 20/s --limit 300/min (55×6 calls, 25)" 1s=20,1m=300 "" 55 25 bench/testdata/five-turn.yaml \
		--limit 20/s --limit 300/min
fi
echo "(most in any window: limitsrv's arrival times, closed windows at every alignment; first→last at the server; minimum: the exact limits, from evalrun run --dry-run;"
echo " server late: the most limitsrv itself ran late — requests queued meanwhile are stamped together)"
