#!/usr/bin/env bash
# Smoke test of the Docker deployment (not part of `npm test`: it takes minutes):
#   1. builds the image and starts docker-compose.yml (Redis, the API, 2 worker replicas)
#      with API tokens, corpus-mini's data root mounted read-only at /datasets;
#   2. registers corpus-mini and streams one training epoch with the read token;
#   3. starts a bare service from this checkout (`npm start`, private PORT, KEY_PREFIX and
#      DATA_DIR, the machine's Redis), registers the same way, streams the same epoch;
#   4. compares the two byte for byte and prints PASS or FAIL;
#   5. tears everything down on exit, whatever happened (compose down -v, the bare service
#      stopped, its Redis keys and temp files removed).
# Needs: docker with a running engine, docker-compose (or `docker compose`), the base images
# node:24-bookworm-slim and redis:7-alpine (without an image registry: stand-ins from
# ../shared/tools/docker-standin-images.sh, run here when they are missing), `npm ci` done.
# Usage: bash scripts/compose-smoke.sh            (SMOKE_FORMAT=arrow for an Arrow epoch)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TESTDATA=$(cd "$ROOT/../shared/testdata" 2>/dev/null && pwd) || { echo "FAIL: ../shared/testdata not found" >&2; exit 1; }
FORMAT=${SMOKE_FORMAT:-npy}
EPOCH=${SMOKE_EPOCH:-0}
PROJECT="afsmoke$$"
READ_TOKEN="smoke-read-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_TOKEN="smoke-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
BARE_PREFIX="afsmoke-bare-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/audiofeed-smoke-XXXXXX")
STREAM="/v1/datasets/corpus-mini/batches?subset=training&epoch=${EPOCH}&format=${FORMAT}&dtype=uint16"
REGISTRATION='{"name":"corpus-mini","source":{"type":"directory","path":"corpus-mini"},"classes":["yes","no","up","down","left","right","_unknown_","_silence_"],"validation_split":0.2,"batch_size":16}'
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
# docker-compose's default 60 s API timeout was too short for `down` on a loaded machine
# (vfs storage): it gave up and left the volumes.
export COMPOSE_HTTP_TIMEOUT=${COMPOSE_HTTP_TIMEOUT:-300}

step() { printf '\n=== %s (%ds)\n' "$*" "$SECONDS"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

if docker compose version >/dev/null 2>&1; then compose=(docker compose); elif command -v docker-compose >/dev/null; then compose=(docker-compose); else fail "neither docker-compose nor docker compose is installed"; fi
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start one, e.g. dockerd --storage-driver=vfs &)"
[ -d node_modules ] || fail "node_modules missing: run npm ci first (the bare service runs from this checkout)"

API_PORT=$(free_port)
BARE_PORT=$(free_port)
export COMPOSE_PROJECT_NAME=$PROJECT DATASETS_DIR=$TESTDATA AUDIOFEED_BIND=127.0.0.1 AUDIOFEED_PORT=$API_PORT \
  API_TOKENS="$READ_TOKEN:read,$ADMIN_TOKEN:admin" KEY_PREFIX=audiofeed LOG_LEVEL=info
BARE_PID=

teardown() {
  local rc=$?
  set +e
  step "teardown"
  if [ -n "$BARE_PID" ] && kill -0 "$BARE_PID" 2>/dev/null; then
    kill -TERM "$BARE_PID"
    for _ in $(seq 1 100); do kill -0 "$BARE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$BARE_PID" 2>/dev/null && kill -KILL "$BARE_PID"
    echo "bare service stopped"
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/bare.log" ]; then echo "--- bare service log (tail)"; tail -20 "$WORK/bare.log"; fi
  if [ "$rc" -ne 0 ]; then echo "--- compose logs (tail)"; "${compose[@]}" logs --no-color --tail=30 2>&1 | tail -60; fi
  # The bare service's keys in the machine's Redis (its private prefix only; never a flush).
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} node -e "
    const { Redis } = require('ioredis');
    const r = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    (async () => { await r.connect(); let c = '0', n = 0; do { const [next, keys] = await r.scan(c, 'MATCH', '$BARE_PREFIX:*', 'COUNT', 1000); c = next; if (keys.length) n += await r.del(...keys); } while (c !== '0'); console.log('removed ' + n + ' Redis keys of $BARE_PREFIX'); r.disconnect(); })().catch((e) => { console.log('Redis keys not removed: ' + e.message); r.disconnect(); });
  " 2>/dev/null
  "${compose[@]}" down -v --remove-orphans 2>&1 | tail -20
  # Whatever a failed `down` left of this project: containers, then volumes and network.
  local label="label=com.docker.compose.project=$PROJECT"
  docker ps -aq --filter "$label" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "$label" | xargs -r docker volume rm >/dev/null
  docker network ls -q --filter "$label" | xargs -r docker network rm >/dev/null
  rm -rf "$WORK"
  echo
  if [ "$rc" -eq 0 ]; then echo "compose-smoke: PASS"; else echo "compose-smoke: FAIL (exit $rc)"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# wait_for URL WHAT SECONDS: until URL answers 200.
wait_for() {
  local deadline=$((SECONDS + $3))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$2 not ready after $3 s ($1)"
    sleep 1
  done
}

# register BASE [TOKEN]: POST the registration; prints the dataset's training class counts.
register() {
  local auth=() status
  [ -n "${2:-}" ] && auth=(-H "authorization: Bearer $2")
  status=$(curl -s -o "$WORK/register.json" -w '%{http_code}' "${auth[@]}" -H 'content-type: application/json' -d "$REGISTRATION" "$1/v1/datasets")
  [ "$status" = 201 ] || fail "registration at $1 answered $status: $(cat "$WORK/register.json")"
  node -e "const d=require('$WORK/register.json'); console.log('registered', d.id ?? d.name, 'training', JSON.stringify(d.class_counts.training))"
}

# stream BASE OUT [TOKEN]: the epoch into OUT; prints status, batches and bytes. A 503
# `no-workers` is retried for up to 60 s: /readyz can answer before the workers are
# connected (issue #11, item 7), and a client would retry a 503 too.
stream() {
  local auth=() status deadline=$((SECONDS + 60))
  [ -n "${3:-}" ] && auth=(-H "authorization: Bearer $3")
  for (( ; ; )); do
    status=$(curl -s -D "$2.headers" -o "$2" -w '%{http_code}' --max-time 600 "${auth[@]}" "$1$STREAM")
    [ "$status" = 503 ] && grep -q 'problems/no-workers' "$2" && [ "$SECONDS" -lt "$deadline" ] || break
    echo "503 no-workers (no worker connected yet); retrying"
    sleep 1
  done
  [ "$status" = 200 ] || fail "stream from $1 answered $status: $(head -c 500 "$2")"
  local batches
  batches=$(tr -d '\r' < "$2.headers" | awk -F': ' 'tolower($1)=="x-audiofeed-batches"{print $2}')
  echo "streamed $(wc -c < "$2") bytes, X-Audiofeed-Batches: $batches, sha256 $(sha256sum "$2" | cut -c1-16)…"
}

step "images: node:24-bookworm-slim and redis:7-alpine"
if ! docker image inspect node:24-bookworm-slim >/dev/null 2>&1 || ! docker image inspect redis:7-alpine >/dev/null 2>&1; then
  if [ -f "$ROOT/../shared/tools/docker-standin-images.sh" ]; then
    NODE_MAJOR=24 bash "$ROOT/../shared/tools/docker-standin-images.sh"
  else
    fail "base images missing and no registry stand-in script at ../shared/tools/docker-standin-images.sh"
  fi
fi
docker run --rm node:24-bookworm-slim node --version

step "build the image (docker-compose build, DOCKER_BUILDKIT=0)"
"${compose[@]}" build 2>&1 | tail -5
docker run --rm --entrypoint node audiofeed:latest -e "require('/app/build/Release/audiofeed_frontend.node'); console.log('image: node', process.version, '+ native addon')"

step "compose up: redis, api, 2 workers; tokens; $TESTDATA read-only at /datasets"
"${compose[@]}" up -d --scale worker=2 2>&1 | tail -10
wait_for "http://127.0.0.1:$API_PORT/readyz" "the API" 180
deadline=$((SECONDS + 180))
until [ "$("${compose[@]}" logs --no-color worker 2>/dev/null | grep -c 'worker started')" -ge 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "2 workers did not start within 180 s"
  sleep 1
done
"${compose[@]}" ps
ro=$("${compose[@]}" exec -T api sh -c 'touch /datasets/corpus-mini/.smoke-write-test 2>&1 || true' | head -1)
case "$ro" in *Read-only*) echo "/datasets is read-only in the containers: $ro" ;; *) fail "/datasets is writable in the api container" ;; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/v1/datasets")" = 401 ] || fail "the API answered without a token"
echo "no token: 401"

step "register corpus-mini and stream training epoch $EPOCH ($FORMAT) from compose"
register "http://127.0.0.1:$API_PORT" "$ADMIN_TOKEN"
stream "http://127.0.0.1:$API_PORT" "$WORK/compose.$FORMAT" "$READ_TOKEN"
echo "shards made by: $("${compose[@]}" logs --no-color worker 2>/dev/null | grep -c 'featurize-shards job .* completed') jobs in $("${compose[@]}" logs --no-color worker 2>/dev/null | grep 'featurize-shards job .* completed' | awk '{print $1}' | sort -u | tr '\n' ' ')"

step "bare service from the checkout: npm start on :$BARE_PORT, KEY_PREFIX=$BARE_PREFIX"
mkdir -p "$WORK/bare-data"
env -u API_TOKENS -u KEY_PREFIX -u COMPOSE_PROJECT_NAME \
  PORT="$BARE_PORT" HOST=127.0.0.1 KEY_PREFIX="$BARE_PREFIX" DATA_DIR="$WORK/bare-data" DATA_ROOTS="$TESTDATA" \
  API_TOKENS="$READ_TOKEN:read,$ADMIN_TOKEN:admin" LOG_LEVEL=warn \
  npm start > "$WORK/bare.log" 2>&1 &
BARE_PID=$!
wait_for "http://127.0.0.1:$BARE_PORT/readyz" "the bare service" 120
register "http://127.0.0.1:$BARE_PORT" "$ADMIN_TOKEN"
stream "http://127.0.0.1:$BARE_PORT" "$WORK/bare.$FORMAT" "$READ_TOKEN"

step "compare"
a=$(sha256sum < "$WORK/compose.$FORMAT" | cut -d' ' -f1)
b=$(sha256sum < "$WORK/bare.$FORMAT" | cut -d' ' -f1)
echo "compose: $(wc -c < "$WORK/compose.$FORMAT") bytes sha256 $a"
echo "bare:    $(wc -c < "$WORK/bare.$FORMAT") bytes sha256 $b"
cmp "$WORK/compose.$FORMAT" "$WORK/bare.$FORMAT" || fail "the epochs differ"
[ "$(wc -c < "$WORK/compose.$FORMAT")" -gt 0 ] || fail "empty epochs"
echo "identical: training epoch $EPOCH ($FORMAT, uint16) from docker-compose (2 workers, Node 24 image) and from npm start ($(node --version))"

step "docker-compose stop: SIGTERM reaches the service through npm; every container exits 0"
"${compose[@]}" stop 2>&1 | tail -5
codes=$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}')
echo "$codes"
echo "$codes" | grep -v 'Exited (0)' && fail "a container did not exit 0"
"${compose[@]}" logs --no-color api worker 2>/dev/null | grep -E 'shut down cleanly|SIGTERM' | sed 's/"time":[0-9]*,//' | cut -c1-160
