#!/usr/bin/env bash
# bench/soak.sh — the reliability soak (docs/reliability.md).
#
# Builds evalrun from this tree, then runs RUNS (default 1000) randomized
# runs of the real binary against a simulated agent on loopback with faults
# (429 + Retry-After, 500/503, dropped connections, malformed and slow
# bodies past the timeout), concurrency 1–256, budgets from tiny to ample,
# --partial sometimes, the server's quota running out sometimes, and SIGINT
# at a random moment (a second SIGINT in some runs). After every run it
# checks: agent-counted calls <= budget; ledger delta == agent count;
# every conversation in the result with one outcome; the result file loads
# back; the exit code is the documented one. It prints the counts and
# exits 1 if any promise was broken.
#
#   bench/soak.sh                  # 1000 runs, seed 1, 4 at a time
#   RUNS=200 SEED=7 PAR=2 bench/soak.sh
#   bench/soak.sh -only 123 -keep -v   # reproduce one case, keep its files
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000}
SEED=${SEED:-1}
PAR=${PAR:-4}
bin=$(mktemp -d)/evalrun
go build -o "$bin" ./cmd/evalrun
go run ./bench/soak/run -bin "$bin" -runs "$RUNS" -seed "$SEED" -par "$PAR" "$@"
