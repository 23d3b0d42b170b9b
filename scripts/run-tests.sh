#!/usr/bin/env bash
# Runs every test file under test/ with Node's own test runner (through tsx).
# Node 20's --test does not expand globs itself, so the list is built here.
#
# Backstops against a hang (every test also cleans up after itself, passed or failed):
#   --test-timeout=300000  5 minutes. Node 20 applies it to each test file as a whole (the
#                          file's process is killed when it runs over), Node 22+ to each
#                          test and hook. The slowest file takes well under a minute.
#   --test-force-exit      a file's process exits when its tests are done, even if a
#                          handle (a socket, a timer, a child's pipe) was left open.
# Reporter: spec on a terminal, TAP otherwise (CI reads its `# pass` / `# fail` lines).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | LC_ALL=C sort)
if [ -t 1 ]; then reporter=spec; else reporter=tap; fi
exec node --import tsx --test --test-concurrency=1 --test-timeout="${TEST_TIMEOUT_MS:-300000}" --test-force-exit \
  --test-reporter="$reporter" "${files[@]}"
