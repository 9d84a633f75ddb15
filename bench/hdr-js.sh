#!/bin/sh
# hdr-js.sh: check evalrun's percentiles against HdrHistogram's JavaScript
# library: report's TestPercentilesMatchHdrHistogramJS encodes random
# histograms, has hdr-histogram-js decode them (bench/hdrjs/check.js) and
# compares every percentile with what evalrun stores. Installs
# hdr-histogram-js with npm into a temporary directory (removed afterwards).
# Needs node and npm. Without this script the test is skipped.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund hdr-histogram-js@3 >/dev/null)
cd "$root"
EVALRUN_HDRJS_DIR="$tmp" go test ./report/ -run TestPercentilesMatchHdrHistogramJS -count=1 -v | grep -E '^(=== RUN|--- |\s+percentile_test|ok|FAIL|PASS)'
