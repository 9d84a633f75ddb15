#!/bin/sh
# check-junit.sh: validate evalrun's JUnit XML against the Ant JUnit schema
# (testdata/report/junit-ant.xsd, the strictest schema CI servers read).
#
#   scripts/check-junit.sh            run evalrun on the examples against the
#                                     simulated agent, validate its --junit file
#   scripts/check-junit.sh FILE...    validate existing JUnit files
#
# Installs xmllint (Debian/Ubuntu package libxml2-utils) when it is missing.
# Needs no network beyond that install: the run uses the in-process simulated
# agent on 127.0.0.1. Exit 0 when every file validates.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
xsd="$root/testdata/report/junit-ant.xsd"

if ! command -v xmllint >/dev/null 2>&1; then
	echo "check-junit: installing xmllint (libxml2-utils)" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq libxml2-utils >/dev/null
fi

if [ "$#" -eq 0 ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# Exit 1 (expectations failed) still writes the report; only 2 and 3 are errors.
	set +e
	(cd "$root" && go run ./cmd/evalrun run --quiet --junit "$tmp/junit.xml" --out "$tmp/result.json" examples) >/dev/null
	rc=$?
	set -e
	if [ "$rc" -ge 2 ]; then
		echo "check-junit: evalrun run failed with exit $rc" >&2
		exit "$rc"
	fi
	set -- "$tmp/junit.xml"
fi

for f in "$@"; do
	xmllint --noout --schema "$xsd" "$f"
done
