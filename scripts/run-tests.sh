#!/usr/bin/env bash
# Runs every test file under test/ with Node's own test runner (through tsx).
# Node 20's --test does not expand globs itself, so the list is built here.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | LC_ALL=C sort)
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
