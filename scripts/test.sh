#!/usr/bin/env bash
# The whole suite: unit, HTTP (on SQLite and PostgreSQL) and interop tests against real SIP peers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-peers.sh
[ -d node_modules ] || npm install --no-audit --no-fund
# Types and import cycles first: a cycle or a type error fails the suite before any test runs.
npm run --silent check
# Node 20's test runner takes file paths, not globs: expand them here.
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 "${files[@]}"
