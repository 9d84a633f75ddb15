#!/bin/sh
# check-schema.sh: check evalrun's JSON Schemas (evalrun schema, evalrun
# schema config) with ajv, the validator most editors and CI linters use:
# draft 2020-12, ajv-formats, strict mode on. Every example file, the valid
# test files and the docs' YAML examples must pass; the invalid test files
# must fail (scripts/check-schema.mjs says exactly what is checked).
#
#   scripts/check-schema.sh
#
# Installs ajv, ajv-formats and yaml with npm into a temporary directory
# (removed afterwards; nothing is added to the repository). Needs node and
# npm, and the npm registry. Exit 0 when every check holds.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in node npm go; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check-schema: $tool is needed" >&2
		exit 2
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund ajv@8 ajv-formats@3 yaml@2 >/dev/null)
(cd "$root" && go run ./cmd/evalrun schema >"$tmp/scenario.schema.json" && go run ./cmd/evalrun schema config >"$tmp/evalrun.schema.json")
node "$root/scripts/check-schema.mjs" "$tmp" "$root" "$tmp/scenario.schema.json" "$tmp/evalrun.schema.json"
