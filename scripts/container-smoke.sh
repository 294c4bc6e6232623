#!/usr/bin/env bash
# Container smoke check (opt-in; not part of `pytest`): builds the image and runs it the way a deployment does,
# asserting on every step, then prints a table of step times and the image size.
#
#   scripts/container-smoke.sh              # podman + podman-compose, or docker + docker compose; images pulled
#   scripts/container-smoke.sh --stand-ins  # no registry: builds local stand-ins first (root, debootstrap, an apt
#                                           # mirror): python:3.11-slim from Debian bookworm, and
#                                           # chromadb/chroma:<pinned> from the chromadb wheel of that release
#
# Steps: build (image size under MAX_IMAGE_MB) · --help · health in a fresh container · ingest + ask in one
# container · the image's HEALTHCHECK beside a running process · compose up (chroma + a bot that cannot reach
# Telegram: it must wait, one line per try, not crash-loop) · the `ingest` service · `ask` through compose.
# Environment: ENGINE (podman|docker), COMPOSE (command), MAX_IMAGE_MB (1000), MIRROR (Debian mirror, --stand-ins),
# PIP_CONF (a pip.conf for the build, podman only; its find-links folder is mounted too). The image stays tagged
# articlebot:latest (the name compose uses); containers, volumes and the compose project are removed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STANDINS=0; [ "${1:-}" = "--stand-ins" ] && STANDINS=1
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
if [ -z "${COMPOSE:-}" ]; then
  if [ "$ENGINE" = podman ]; then COMPOSE=podman-compose; else COMPOSE="docker compose"; fi
fi
MAX_IMAGE_MB=${MAX_IMAGE_MB:-1000}
IMAGE=articlebot:latest                 # the name docker-compose.yml gives the bot and ingest services
PROJECT=articlebot-smoke
Q="How much did the Lantern Bridge repair cost?"
WANT="86 million crowns"                # what examples/articles/lantern-bridge-reopens.md says
CHROMA_VERSION=$(sed -n 's/^ *"chromadb==\([0-9.]*\)".*/\1/p' "$ROOT/pyproject.toml")
COMPOSE_TAG=$(sed -n 's/^ *image: chromadb\/chroma:\([^ ]*\).*/\1/p' "$ROOT/docker-compose.yml")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/articlebot-smoke.XXXXXX")
VOLUME=articlebot-smoke-data
RESULTS=()
START=$SECONDS

fail() { echo "FAIL [$STEP]: $*" >&2; exit 1; }
expect() {   # expect TEXT PATTERN WHAT: TEXT must contain PATTERN (grep -E)
  grep -Eq -- "$2" <<<"$1" || { printf '%s\n' "$1" | tail -20 >&2; fail "$3: no /$2/ in the output above"; }
}
refuse() {   # refuse TEXT PATTERN WHAT: TEXT must not contain PATTERN
  ! grep -Eq -- "$2" <<<"$1" || { printf '%s\n' "$1" | tail -20 >&2; fail "$3: /$2/ in the output above"; }
}
step() {     # step NAME FUNCTION: run, time and record one step
  STEP=$1; local t=$SECONDS; echo "=== $1"; "$2"; RESULTS+=("$(printf '%-34s %5d s  ok' "$1" $((SECONDS - t)))")
}
compose() { (cd "$WORK/project" && timeout 600 $COMPOSE -p "$PROJECT" "$@"); }
container_of() {   # the container of a compose service (both composes label them this way)
  $ENGINE ps -a -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | head -1
}
cleanup() {
  set +e
  [ -d "$WORK/project" ] && compose --profile ingest down -v >/dev/null 2>&1
  $ENGINE rm -f articlebot-smoke-hc >/dev/null 2>&1
  $ENGINE volume rm -f "$VOLUME" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "FAIL [${STEP:-setup}]: a command failed (line $LINENO)" >&2' ERR

BUILD_ARGS=()
if [ "$ENGINE" = podman ]; then
  BUILD_ARGS+=(--format docker)   # keeps HEALTHCHECK in the image
  if [ -n "${PIP_CONF:-}" ]; then
    BUILD_ARGS+=(-v "$PIP_CONF:/etc/pip.conf:ro")
    LINKS=$(sed -n 's/^ *find-links *= *//p' "$PIP_CONF" | head -1)
    [ -n "$LINKS" ] && [ -d "$LINKS" ] && BUILD_ARGS+=(-v "$LINKS:$LINKS:ro")
  fi
  CA=$(python3 -c "import ssl; print(ssl.get_default_verify_paths().cafile or '')" 2>/dev/null || true)
  [ -n "$CA" ] && [ -f "$CA" ] && BUILD_ARGS+=(-v "$CA:/etc/ssl/certs/ca-certificates.crt:ro")
fi

stand_ins() {   # what a registry would give: python:3.11-slim and chromadb/chroma:<pinned>
  [ "$(id -u)" = 0 ] || fail "--stand-ins needs root (debootstrap)"
  command -v debootstrap >/dev/null || fail "--stand-ins needs debootstrap"
  local mirror=${MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | grep -v '^ *#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)}
  [ -n "$mirror" ] || fail "no Debian mirror found; set MIRROR"
  if ! $ENGINE image inspect docker.io/library/python:3.11-slim >/dev/null 2>&1; then
    local r=$WORK/rootfs
    timeout 900 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,netbase,tzdata \
      bookworm "$r" "$mirror" > "$WORK/debootstrap.log" || fail "debootstrap (see $WORK/debootstrap.log)"
    chroot "$r" python3 -m venv /usr/local
    [ -n "${CA:-}" ] && cp "$CA" "$r/tmp/ca.pem"; cp /etc/resolv.conf "$r/etc/"
    env -i PATH=/usr/bin:/bin /usr/sbin/chroot "$r" /usr/local/bin/pip install -q ${CA:+--cert /tmp/ca.pem} -U pip
    rm -rf "$r/tmp/ca.pem" "$r/var/lib/apt/lists/"* "$r/root/.cache"; : > "$r/etc/resolv.conf"
    tar --numeric-owner -C "$r" -c . | $ENGINE import -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - docker.io/library/python:3.11-slim >/dev/null
    rm -rf "$r"
  fi
  mkdir -p "$WORK/chroma"
  printf '%s\n' 'FROM docker.io/library/python:3.11-slim' "RUN pip install --no-cache-dir chromadb==$CHROMA_VERSION" \
    'CMD ["chroma", "run", "--host", "0.0.0.0", "--port", "8000", "--path", "/data"]' > "$WORK/chroma/Containerfile"
  timeout 900 $ENGINE build -q --network host "${BUILD_ARGS[@]}" -t "docker.io/chromadb/chroma:$CHROMA_VERSION" \
    -f "$WORK/chroma/Containerfile" "$WORK/chroma" >/dev/null || fail "building the chroma stand-in"
}

build() {
  [ "$CHROMA_VERSION" = "$COMPOSE_TAG" ] || fail "pyproject pins chromadb==$CHROMA_VERSION, compose runs $COMPOSE_TAG"
  timeout 1800 $ENGINE build --network host "${BUILD_ARGS[@]}" -t "$IMAGE" "$ROOT" > "$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; fail "image build"; }
  SIZE=$($ENGINE image inspect "$IMAGE" --format '{{.Size}}')
  SIZE_MB=$((SIZE / 1000000))
  echo "image size: $SIZE_MB MB ($SIZE bytes)"
  [ "$SIZE_MB" -le "$MAX_IMAGE_MB" ] || fail "image is $SIZE_MB MB, over MAX_IMAGE_MB=$MAX_IMAGE_MB"
  local out; out=$($ENGINE run --rm "$IMAGE" python -c \
    "import importlib.util as u; print(*[m for m in ('torch', 'sentence_transformers') if u.find_spec(m)] or ['lean'])")
  expect "$out" "^lean$" "the runtime image must not carry torch or sentence-transformers"
}

help_runs() {
  local out; out=$($ENGINE run --rm "$IMAGE" articlebot --help)
  expect "$out" "^usage: articlebot" "articlebot --help"
}

health_fresh() {
  local out; out=$($ENGINE run --rm "$IMAGE" articlebot health --allow-empty --quick) || fail "health exited non-zero: $out"
  expect "$out" "^ok: .*\.onnx verified \\(sha256\\)" "health --allow-empty --quick (the converted model against its digest)"
}

ingest_and_ask() {
  local out
  out=$($ENGINE run --rm -v "$VOLUME:/data" "$IMAGE" sh -c \
    "articlebot ingest /app/examples/articles --collection examples && articlebot ask '$Q' --collection examples" 2>&1) \
    || { echo "$out" >&2; fail "ingest + ask"; }
  expect "$out" "[1-9][0-9]* ingested" "ingest report"
  expect "$out" "$WANT.*\[1\]" "the answer and its citation"
  refuse "$out" "Traceback" "ingest + ask"
}

healthcheck_beside_bot() {
  $ENGINE run -d -i --name articlebot-smoke-hc -v "$VOLUME:/data" "$IMAGE" articlebot chat >/dev/null
  sleep 10
  local out
  if [ "$ENGINE" = podman ]; then
    out=$(podman healthcheck run articlebot-smoke-hc 2>&1 && echo healthy) || fail "HEALTHCHECK failed: $out"
    out=$(podman inspect articlebot-smoke-hc --format '{{(index .State.Health.Log 0).Output}}')
  else
    local test; test=$(docker inspect articlebot-smoke-hc --format '{{range slice .Config.Healthcheck.Test 1}}{{.}} {{end}}')
    out=$(docker exec articlebot-smoke-hc $test) || fail "HEALTHCHECK ($test) failed: $out"
  fi
  # health names the store's location since the data dir moved per user ("the store in /data is open ...")
  expect "$out" "^ok: the store (in [^ ]+ )?is open in a running articlebot process" "HEALTHCHECK beside the running process"
  $ENGINE kill articlebot-smoke-hc >/dev/null; $ENGINE rm -f articlebot-smoke-hc >/dev/null
}

compose_up() {
  mkdir -p "$WORK/project"
  (cd "$ROOT" && git ls-files -co --exclude-standard -z | tar -c --null --ignore-failed-read -T -) | tar -x -C "$WORK/project"
  cd "$WORK/project"
  cp .env.example .env
  # a well-formed token; Telegram is not reachable from the check (or is, and refuses it): either way, no crash loop
  sed -i 's/^TELEGRAM_BOT_TOKEN=.*/TELEGRAM_BOT_TOKEN=123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/' .env
  mkdir -p articles && cp examples/articles/* articles/
  cd - >/dev/null
  compose up -d > "$WORK/up.log" 2>&1 \
    || { tail -20 "$WORK/up.log" >&2; fail "compose up"; }
  sleep 25
  local bot; bot=$(container_of bot); [ -n "$bot" ] || fail "no bot container"
  local logs; logs=$($ENGINE logs "$bot" 2>&1)
  refuse "$logs" "Traceback" "bot logs"
  expect "$logs" "Telegram Bot API at .* not reachable|Telegram rejected the bot token" "bot logs"
  local restarts; restarts=$($ENGINE inspect "$bot" --format '{{.RestartCount}}')
  echo "bot: $(grep -c 'not reachable' <<<"$logs") tries logged, $restarts restarts in 25 s; last line:"
  grep -E "not reachable|rejected" <<<"$logs" | tail -1
  if grep -q "not reachable" <<<"$logs"; then
    [ "$restarts" = 0 ] || fail "the bot restarted $restarts times instead of waiting for Telegram"
    [ "$($ENGINE inspect "$bot" --format '{{.State.Running}}')" = true ] || fail "the bot is not running"
  fi
}

compose_ingest() {
  local out; out=$(compose --profile ingest run --rm ingest 2>&1) || { echo "$out" >&2; fail "ingest service"; }
  expect "$out" "[1-9][0-9]* ingested" "ingest service report"
  refuse "$out" "Traceback" "ingest service"
}

compose_ask() {
  local out; out=$(compose run --rm bot articlebot ask "$Q" 2>&1) || { echo "$out" >&2; fail "ask"; }
  expect "$out" "$WANT.*\[1\]" "ask through compose (Chroma server)"
}

[ "$STANDINS" = 1 ] && step "stand-in base images" stand_ins
step "build" build
step "--help" help_runs
step "health (fresh container)" health_fresh
step "ingest + ask (one container)" ingest_and_ask
step "HEALTHCHECK beside a running bot" healthcheck_beside_bot
step "compose up (chroma + bot)" compose_up
step "compose: ingest service" compose_ingest
step "compose: ask" compose_ask
echo
printf '%s\n' "${RESULTS[@]}"
printf '%-34s %5d s\n' "total" $((SECONDS - START))
echo "image $IMAGE: $SIZE_MB MB; all steps passed"
