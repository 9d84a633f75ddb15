#!/usr/bin/env bash
# bench/fuzz.sh — run every native fuzz target of evalrun, one after the
# other, for FUZZTIME each (default 5m), on one worker (-parallel=1).
#
#   bench/fuzz.sh                 # every target, 5 minutes each
#   FUZZTIME=10s bench/fuzz.sh    # a quick pass
#   bench/fuzz.sh FuzzParseShard  # only the targets named
#
# Prints one line per target: package, target, seconds fuzzed, executions,
# result (PASS, or FAIL with the crasher file the fuzzer saved under the
# package's testdata/fuzz/). Logs go to $LOGDIR (default /tmp/evalrun-fuzz).
set -u
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5m}
LOGDIR=${LOGDIR:-/tmp/evalrun-fuzz}
mkdir -p "$LOGDIR"

# Every Fuzz* function in the module's test files, as "pkg name".
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort | while read -r file; do
    dir=$(dirname "$file")
    grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //' | while read -r name; do echo "$dir $name"; done
  done)

if [ $# -gt 0 ]; then
  want=" $* "
  targets=$(echo "$targets" | while read -r d n; do case "$want" in *" $n "*) echo "$d $n";; esac; done)
fi

printf '%-14s %-26s %8s %12s  %s\n' package target seconds execs result
fails=0
while read -r dir name; do
  [ -z "$dir" ] && continue
  log="$LOGDIR/$(echo "$dir" | tr / _)-$name.log"
  # The tree may be mid-edit by someone else: retry a build failure a few times.
  for try in 1 2 3 4 5 6; do
    start=$(date +%s)
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -parallel=1 "$dir/" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    if grep -q '\[build failed\]\|setup failed' "$log"; then sleep 60; continue; fi
    break
  done
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  if [ $rc -eq 0 ]; then res=PASS; else res="FAIL ($(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1))"; fails=$((fails+1)); fi
  printf '%-14s %-26s %8d %12s  %s\n' "${dir#./}" "$name" $((end-start)) "${execs:-?}" "$res"
done <<<"$targets"
echo "targets failed: $fails (logs in $LOGDIR)"
[ $fails -eq 0 ]
