#!/usr/bin/env bash
# Runs every test file under test/ with Node's own test runner (through tsx).
# Node 20's --test does not expand globs itself, so the list is built here.
#
# Backstops against a hang (every test also cleans up after itself, passed or failed):
#   --test-timeout=300000   5 minutes. Node 20 applies it to each test file as a whole (the
#                           file's process is killed when it runs over), Node 22+ to each
#                           test and hook. The slowest file takes well under a minute.
#   test/helpers/exit-watchdog.mjs, loaded into every file's process: a file still running
#                           60 s after its last test names what it left open and is killed,
#                           so the file fails instead of hanging. (Not --test-force-exit: it
#                           can drop results not yet reported, with a green summary.)
#   test/helpers/assert-messages.mjs: a failed assert.ok without a message gets one at once
#                           (Node's own search for the call's source text ran for minutes on a
#                           TypeScript file and looked like a hang).
# Reporter: spec on a terminal, TAP otherwise (CI reads its `# pass` / `# fail` lines).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | LC_ALL=C sort)
if [ -t 1 ]; then reporter=spec; else reporter=tap; fi
exec node --import tsx --import ./test/helpers/exit-watchdog.mjs --import ./test/helpers/assert-messages.mjs --test --test-concurrency=1 --test-timeout=300000 \
  --test-reporter="$reporter" "${files[@]}"
