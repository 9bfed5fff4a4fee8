#!/usr/bin/env bash
# Container smoke test: builds the project's Dockerfile unchanged with podman, runs the image's own
# entrypoint + command on free loopback ports, and checks it from the host with real WebSocket
# clients: fan-out, metrics, probes, the image's HEALTHCHECK, SIGTERM drain (1001, /readyz 503,
# exit 0 in time), non-root, no dev dependencies or TypeScript sources; then `npm pack` ->
# `npm install -g` -> a working `websocket-relay` command.
#
# Needs root (podman/buildah with --isolation=chroot, debootstrap). When node:24-trixie-slim is
# not in local storage (and SMOKE_PULL=1 is not set, or the pull fails), scripts/container/standin.sh
# builds a stand-in.
# Prints one `ok N - ...` line per step, stops at the first `FAIL N - ...` and exits 1.
#
# Environment: SMOKE_IMAGE (default localhost/websocket-relay:smoke), SMOKE_BUILD_TIMEOUT_S (1200),
# SMOKE_NO_CACHE=1 to build without the layer cache (a cold build time), SMOKE_PULL=1 to try pulling the
# official base image before building a stand-in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BASE_IMAGE=docker.io/library/node:24-trixie-slim
IMAGE="${SMOKE_IMAGE:-localhost/websocket-relay:smoke}"
BUILD_TIMEOUT_S="${SMOKE_BUILD_TIMEOUT_S:-1200}"
START_TIMEOUT_S=30        # relay up and logging "relay listening"
PROBE_TIMEOUT_MS=10000    # each client/HTTP wait in probe.ts
DRAIN_TIMEOUT_S=5         # shutdown.timeout_s given to the relay under test
DRAIN_DELAY_S=1           # shutdown.drain_delay_s: /readyz is 503 this long before clients are closed
CONTAINER_CONFIG=/etc/websocket-relay/relay.yaml

STEP=0
ok()   { STEP=$((STEP + 1)); printf 'ok %d - %s\n' "$STEP" "$*"; }
fail() { STEP=$((STEP + 1)); printf 'FAIL %d - %s\n' "$STEP" "$*"; exit 1; }
note() { printf '# %s\n' "$*"; }
# Print a file's last lines as comments (what went wrong), then fail.
fail_with_log() { local file="$1"; shift; tail -n 25 "$file" 2>/dev/null | sed 's/^/#   /'; fail "$@"; }

TMP=$(mktemp -d /tmp/container-smoke.XXXXXX)
CONTAINERS=()
RUNNERS=()   # PIDs of background processes this script started (buildah run, host relay)

# Everything this script started, and only that: its own background PIDs and their node children,
# its own buildah working containers. Images stay (they are the cache).
cleanup() {
  local pid child deadline
  for pid in "${RUNNERS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    for child in $(descendants "$pid"); do kill -TERM "$child" 2>/dev/null || true; done
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    for child in $(descendants "$pid"); do kill -KILL "$child" 2>/dev/null || true; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  for c in "${CONTAINERS[@]}"; do
    buildah umount "$c" >/dev/null 2>&1 || true
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'printf "FAIL %d - interrupted\n" $((STEP + 1)); exit 130' INT TERM

descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# The node process running dist/cli.js under a runner PID (buildah run -> chroot helper -> node).
relay_pid_under() {
  local pid
  for pid in $(descendants "$1") "$1"; do
    # By argv, not comm: Node 24 names its main thread "MainThread".
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq '^(/[^ ]*/)?node .*cli\.js' && { echo "$pid"; return 0; }
  done
  return 1
}

# Wait until LOG has the "relay listening" line; print it. Fails if RUNNER dies first.
wait_listening() {
  local log="$1" runner="$2" deadline=$((SECONDS + START_TIMEOUT_S)) line
  while [ "$SECONDS" -lt "$deadline" ]; do
    line=$(grep -m1 '"msg":"relay listening"' "$log" 2>/dev/null || true)
    [ -n "$line" ] && { echo "$line"; return 0; }
    kill -0 "$runner" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# Wait for PID (a child of this shell) to exit within SECS; sets EXIT_CODE, returns 1 on timeout.
wait_exit() {
  local pid="$1" secs="$2" deadline
  deadline=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && return 1
  EXIT_CODE=0
  wait "$pid" || EXIT_CODE=$?
}

json_field() { node -e 'const o = JSON.parse(process.argv[1]); const v = o[process.argv[2]]; process.stdout.write(String(v ?? ""))' "$1" "$2"; }

probe() { timeout 60 node_modules/.bin/tsx scripts/container/probe.ts "$@" --timeout-ms "$PROBE_TIMEOUT_MS"; }

write_config() {   # FILE WS_PORT METRICS_PORT
  cat >"$1" <<EOF
# container-smoke: loopback only, free ports, short drain.
server:
  host: 127.0.0.1
  port: $2
metrics:
  enabled: true
  host: 127.0.0.1
  port: $3
shutdown:
  timeout_s: $DRAIN_TIMEOUT_S
  drain_delay_s: $DRAIN_DELAY_S
log:
  level: info
EOF
  chmod 0644 "$1"
}

# --- 1. prerequisites ----------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "prerequisites: run as root (podman/buildah --isolation=chroot, debootstrap)"
missing=()
for tool in podman buildah debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  note "installing ${missing[*]} with apt"
  # With recommends (fuse-overlayfs, slirp4netns, uidmap, catatonit): the set this script is tested with. Waits for a
  # dpkg lock a fresh machine's first unattended upgrade may hold, and retries a dropped download.
  apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  { timeout 600 apt-get "${apt_opts[@]}" update && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get "${apt_opts[@]}" install -y "${missing[@]}"; } \
    >"$TMP/apt.log" 2>&1 || fail_with_log "$TMP/apt.log" "prerequisites: apt-get install ${missing[*]}"
fi
command -v node >/dev/null || fail "prerequisites: node is needed on the host (probes, stand-in image, npm pack)"
if [ ! -x node_modules/.bin/tsx ] || [ ! -d node_modules/ws ]; then
  note "npm ci (host dev dependencies for the probes)"
  timeout 600 npm ci --no-audit --no-fund >"$TMP/npm-ci.log" 2>&1 || fail_with_log "$TMP/npm-ci.log" "prerequisites: npm ci"
fi
ok "prerequisites: $(podman --version), $(buildah --version | cut -d' ' -f1-3), node $(node --version)"

# --- 2. base image -------------------------------------------------------------------------------
if podman image exists "$BASE_IMAGE"; then
  kind=official
  [ "$(podman image inspect --format '{{index .Labels "org.websocket-relay.standin"}}' "$BASE_IMAGE")" = true ] && kind="local stand-in"
  ok "base image $BASE_IMAGE present ($kind)"
elif [ "${SMOKE_PULL:-0}" = 1 ] && timeout 300 podman pull -q "$BASE_IMAGE" >"$TMP/pull.log" 2>&1; then
  ok "base image $BASE_IMAGE pulled (official)"
else
  # Pulling is opt-in (SMOKE_PULL=1): machines without a registry mirror cannot reach one.
  note "$BASE_IMAGE is not in local storage"
  note "building a stand-in: debootstrap minbase trixie + the official Node 24 and npm from the npm registry"
  started=$SECONDS
  timeout 1200 bash scripts/container/standin.sh "$BASE_IMAGE" >"$TMP/standin.log" 2>&1 ||
    fail_with_log "$TMP/standin.log" "base image: stand-in for $BASE_IMAGE"
  ok "base image $BASE_IMAGE: stand-in built in $((SECONDS - started))s"
fi

# --- 3. build ------------------------------------------------------------------------------------
# --format docker: the OCI image format has no HEALTHCHECK field; podman would drop it.
build_args=(--isolation=chroot --network=host --format docker -t "$IMAGE")
[ "${SMOKE_NO_CACHE:-0}" = 1 ] && build_args+=(--no-cache)
started=$SECONDS
timeout "$BUILD_TIMEOUT_S" podman build "${build_args[@]}" . >"$TMP/build.log" 2>&1 ||
  fail_with_log "$TMP/build.log" "podman build ${build_args[*]} ."
BUILD_S=$((SECONDS - started))
SIZE_BYTES=$(podman image inspect --format '{{.Size}}' "$IMAGE")
SIZE_MB=$(( (SIZE_BYTES + 500000) / 1000000 ))
cached=$(grep -c -- '--> Using cache' "$TMP/build.log" || true)
ok "podman build: $IMAGE in ${BUILD_S}s ($cached cached steps), ${SIZE_MB} MB ($SIZE_BYTES bytes)"

# --- 4. image config -----------------------------------------------------------------------------
inspect() { podman image inspect --format "$1" "$IMAGE"; }
USER_=$(inspect '{{.Config.User}}')
ENTRYPOINT_JSON=$(inspect '{{json .Config.Entrypoint}}')
CMD_JSON=$(inspect '{{json .Config.Cmd}}')
HEALTH_JSON=$(inspect '{{json .HealthCheck}}')
STOPSIGNAL=$(inspect '{{.Config.StopSignal}}')
# shellcheck disable=SC2016  # a Go template, not shell
PORTS=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
problems=()
case "$USER_" in "" | root | 0 | 0:*) problems+=("USER is '${USER_:-unset}'") ;; esac
[ "$ENTRYPOINT_JSON" = '["node","--disable-sigusr1","--max-semi-space-size=1","/app/dist/cli.js"]' ] || problems+=("entrypoint $ENTRYPOINT_JSON")
[ "$CMD_JSON" = "[\"--config-file\",\"$CONTAINER_CONFIG\"]" ] || problems+=("cmd $CMD_JSON")
[ "$STOPSIGNAL" = SIGTERM ] || problems+=("stop signal '$STOPSIGNAL'")
for p in 8443/tcp 9090/tcp; do [[ " $PORTS" == *" $p "* ]] || problems+=("port $p not exposed"); done
[[ "$HEALTH_JSON" == *'"Test":["CMD"'* ]] || problems+=("no exec-form HEALTHCHECK ($HEALTH_JSON)")
[ "${#problems[@]}" -eq 0 ] || fail "image config: ${problems[*]}"
ok "image config: USER $USER_, ENTRYPOINT $ENTRYPOINT_JSON, CMD $CMD_JSON, EXPOSE ${PORTS% }, STOPSIGNAL $STOPSIGNAL, HEALTHCHECK set"

# --- 5. image contents ---------------------------------------------------------------------------
CTR=$(buildah from --pull=never "$IMAGE")
CONTAINERS+=("$CTR")
ROOTFS=$(buildah mount "$CTR")
# Every package the lockfile marks dev-only must be absent from /app/node_modules.
dev_present=$(node -e '
  const fs = require("node:fs");
  const { packages } = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  const found = Object.entries(packages)
    .filter(([path, meta]) => path && meta.dev && fs.existsSync(process.argv[1] + "/app/" + path))
    .map(([path]) => path.replace(/^.*node_modules\//, ""));
  console.log(found.join(" "));' "$ROOTFS")
dev_count=$(node -p 'Object.entries(require("./package-lock.json").packages).filter(([p, m]) => p && m.dev).length')
ts_sources=$(cd "$ROOTFS/app" && find . -path ./node_modules -prune -o \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name 'tsconfig*.json' \) ! -name '*.d.ts' -print | head -5)
problems=()
[ -z "$dev_present" ] || problems+=("dev dependencies present: $dev_present")
[ -z "$ts_sources" ] || problems+=("TypeScript sources: $ts_sources")
for d in src test bench scripts; do [ ! -e "$ROOTFS/app/$d" ] || problems+=("/app/$d exists"); done
[ -f "$ROOTFS/app/dist/cli.js" ] || problems+=("/app/dist/cli.js missing")
# The command is the bundle (scripts/bundle.mjs), with its thread entry beside it.
{ [ -f "$ROOTFS/app/dist/bundle.json" ] && [ -f "$ROOTFS/app/dist/thread.js" ]; } || problems+=("/app/dist/cli.js is not the bundled command (no dist/bundle.json or dist/thread.js)")
# Exactly one uWebSockets.js binary: the one the relay loads on this image's Node and glibc.
uws_binaries=$(cd "$ROOTFS/app/node_modules" && find . -path './uWebSockets.js*' -name '*.node' | sort | tr '\n' ' ')
[ "$(wc -w <<<"$uws_binaries")" = 1 ] || problems+=("expected exactly one uWebSockets.js binary, found: ${uws_binaries:-none}")
cmp -s "$ROOTFS$CONTAINER_CONFIG" config/relay.yaml || problems+=("$CONTAINER_CONFIG differs from config/relay.yaml")
[ "${#problems[@]}" -eq 0 ] || fail "image contents: ${problems[*]}"
app_mb=$(du -sm "$ROOTFS/app" | cut -f1)
prod_pkgs=$(node -p 'Object.keys(require(process.argv[1]).packages).length' "$ROOTFS/app/node_modules/.package-lock.json")
buildah umount "$CTR" >/dev/null
ok "image contents: /app ${app_mb} MB, dist/cli.js (bundled), one uWS binary (${uws_binaries% }), none of the $dev_count dev-only lockfile packages, no .ts sources, default config at $CONTAINER_CONFIG"

# --- 6. configuration errors surface in the container -------------------------------------------
# The image's entrypoint with its CMD replaced: the default config validates, and a bad env override
# exits 2 with a message naming the variable.
check_config() { timeout 30 buildah run --isolation=chroot --network=host "$@" -- node /app/dist/cli.js --config-file "$CONTAINER_CONFIG" --check-config; }
check_config "$CTR" >"$TMP/check.log" 2>&1 || fail_with_log "$TMP/check.log" "--check-config on the image's default config"
code=0
check_config -e RELAY_SERVER__PORT=not-a-port "$CTR" >"$TMP/check-bad.log" 2>&1 || code=$?
if [ "$code" != 2 ] || ! grep -q RELAY_SERVER__PORT "$TMP/check-bad.log"; then
  fail_with_log "$TMP/check-bad.log" "RELAY_SERVER__PORT=not-a-port: exit $code, expected 2 with a message naming the variable"
fi
ok "config in the container: default config valid; RELAY_SERVER__PORT=not-a-port exits 2: $(grep -m1 RELAY_SERVER__PORT "$TMP/check-bad.log")"

# --- 7. run the image's own entrypoint + command -------------------------------------------------
read -r WS_PORT METRICS_PORT < <(probe free-ports 2)
write_config "$TMP/relay.yaml" 0 "$METRICS_PORT"   # ws port comes from the environment below
mapfile -t RUN_ARGV < <(node -e 'for (const a of [...JSON.parse(process.argv[1]), ...JSON.parse(process.argv[2])]) console.log(a)' "$ENTRYPOINT_JSON" "$CMD_JSON")
# podman run cannot set rlimits in this sandbox (crun: setrlimit RLIMIT_NOFILE: Operation not
# permitted), so the image runs under `buildah run` with the image's entrypoint, cmd, user and env.
# The config is mounted over the image's default path: the command line stays the image's own.
# RELAY_SERVER__PORT must win over the file's port 0 (env > file); RELAY_METRICS__PORT repeats the
# file's value because the HEALTHCHECK reads it to find the metrics port.
buildah run --isolation=chroot --network=host \
  -v "$TMP/relay.yaml:$CONTAINER_CONFIG:ro" \
  -e "RELAY_SERVER__PORT=$WS_PORT" -e "RELAY_METRICS__PORT=$METRICS_PORT" \
  "$CTR" -- "${RUN_ARGV[@]}" >"$TMP/relay.log" 2>&1 &
RUNNER=$!
RUNNERS+=("$RUNNER")
listening=$(wait_listening "$TMP/relay.log" "$RUNNER") || fail_with_log "$TMP/relay.log" "relay did not log \"relay listening\" within ${START_TIMEOUT_S}s"
RELAY_PID=$(relay_pid_under "$RUNNER") || fail "relay started but no node process found under buildah run ($RUNNER)"
if [ "$(json_field "$listening" ws_port)" != "$WS_PORT" ] || [ "$(json_field "$listening" metrics_port)" != "$METRICS_PORT" ]; then
  fail "relay listening on unexpected ports: $listening (expected ws $WS_PORT, metrics $METRICS_PORT)"
fi
# The image's contract: Node 24 LTS on uWS 20.57.
uws_version=$(json_field "$listening" uws_version)
node_version=$(json_field "$listening" node_version)
if [ "$uws_version" != 20.57.0 ] || [[ "$node_version" != v24.* ]]; then
  fail_with_log "$TMP/relay.log" "relay in the image runs uWS '$uws_version' on Node '$node_version', expected uWS 20.57.0 on Node 24"
fi
ok "relay runs from the image on Node $node_version, uWS $uws_version: ${RUN_ARGV[*]} (config mounted, RELAY_SERVER__PORT over the file), ws 127.0.0.1:$WS_PORT, metrics 127.0.0.1:$METRICS_PORT"

uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$RELAY_PID/status")
[ "$uids" = "1000 1000 1000 1000" ] || fail "relay process $RELAY_PID runs with uids '$uids', expected 1000 (node)"
ok "relay process runs as uid 1000 (node), not root"

# --- 8. clients, metrics, probes -----------------------------------------------------------------
out=$(probe fanout --ws "ws://127.0.0.1:$WS_PORT/" --clients 3) || fail "fan-out: $out"
ok "fan-out: a message from one of 3 WebSocket clients reached the other 2"

out=$(probe http --url "http://127.0.0.1:$METRICS_PORT/metrics" --contains relay_connections_total,relay_messages_total) ||
  fail "/metrics: $out"
samples=$(node -e 'console.log(JSON.parse(process.argv[1]).samples.join("; "))' "$out")
ok "/metrics: $samples"
out=$(probe http --url "http://127.0.0.1:$METRICS_PORT/healthz") || fail "/healthz: $out"
out=$(probe http --url "http://127.0.0.1:$METRICS_PORT/readyz") || fail "/readyz: $out"
ok "/healthz 200, /readyz 200"

# --- 9. the image's HEALTHCHECK, run inside the container ---------------------------------------
mapfile -t HC_ARGV < <(node -e '
  const t = JSON.parse(process.argv[1]).Test;
  const argv = t[0] === "CMD" ? t.slice(1) : t[0] === "CMD-SHELL" ? ["/bin/sh", "-c", t[1]] : [];
  for (const a of argv) console.log(a);' "$HEALTH_JSON")
[ "${#HC_ARGV[@]}" -gt 0 ] || fail "healthcheck: cannot read a command from $HEALTH_JSON"
hc() { timeout 30 buildah run --isolation=chroot --network=host -e "RELAY_METRICS__PORT=$1" "$CTR" -- "${HC_ARGV[@]}" >"$TMP/hc.log" 2>&1; }
hc "$METRICS_PORT" || fail_with_log "$TMP/hc.log" "healthcheck: the image's HEALTHCHECK command failed against the running relay"
# The same command against a port nobody listens on must fail, or the check proves nothing.
read -r CLOSED_PORT < <(probe free-ports 1)
if hc "$CLOSED_PORT"; then fail "healthcheck: the HEALTHCHECK command also succeeds with nothing listening"; fi
ok "HEALTHCHECK command succeeds inside the container (and fails with nothing listening)"

# --- 9b. SIGUSR1, SIGUSR2, SIGHUP: the relay keeps serving and opens no inspector ----------------
# Listening TCP sockets (state 0A) owned by a PID: their socket inodes matched against /proc/net/tcp{,6}.
listening_sockets() {
  local inodes
  inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | sed 's/socket:\[\(.*\)\]/\1/' | sort -u)
  [ -n "$inodes" ] || return 0
  awk 'NR > 1 && $4 == "0A" { print $10, $2 }' "/proc/$1/net/tcp" "/proc/$1/net/tcp6" | while read -r inode addr; do
    # an if, not &&: the loop's status is its last command's, and a last socket that is not ours must not fail it
    if grep -qx "$inode" <<<"$inodes"; then echo "$addr"; fi
  done | sort
}
before=$(listening_sockets "$RELAY_PID")
for sig in USR1 USR2 HUP; do kill -"$sig" "$RELAY_PID"; done
out=$(probe fanout --ws "ws://127.0.0.1:$WS_PORT/" --clients 2) || fail_with_log "$TMP/relay.log" "after SIGUSR1/SIGUSR2/SIGHUP: $out"
kill -0 "$RELAY_PID" 2>/dev/null || fail_with_log "$TMP/relay.log" "SIGUSR1/SIGUSR2/SIGHUP ended the relay"
after=$(listening_sockets "$RELAY_PID")
[ "$before" = "$after" ] || fail "SIGUSR1: the relay listens on new sockets ($(tr '\n' ' ' <<<"$after"), before: $(tr '\n' ' ' <<<"$before"))"
ok "SIGUSR1, SIGUSR2 and SIGHUP: still serving, no new listening socket (no inspector)"

# --- 10. SIGTERM: drain, 1001, /readyz 503, exit 0 in time ----------------------------------------
signalled=$SECONDS
out=$(probe shutdown --ws "ws://127.0.0.1:$WS_PORT/" --readyz "http://127.0.0.1:$METRICS_PORT/readyz" --pid "$RELAY_PID" --clients 3) ||
  fail_with_log "$TMP/relay.log" "SIGTERM drain: $out"
wait_exit "$RUNNER" $((DRAIN_TIMEOUT_S + 5)) || fail_with_log "$TMP/relay.log" "SIGTERM: still running $((DRAIN_TIMEOUT_S + 5))s after the signal (shutdown.timeout_s=$DRAIN_TIMEOUT_S)"
elapsed=$((SECONDS - signalled))
[ "$EXIT_CODE" = 0 ] || fail_with_log "$TMP/relay.log" "SIGTERM: exit code $EXIT_CODE, expected 0"
[ "$elapsed" -le "$DRAIN_TIMEOUT_S" ] || fail "SIGTERM: exited after ${elapsed}s, over shutdown.timeout_s=$DRAIN_TIMEOUT_S"
# shellcheck disable=SC2016  # JavaScript template literals
drain=$(node -e 'const o = JSON.parse(process.argv[1]); console.log(`close codes ${o.closeCodes.join(",")} after ${o.closedAfterMs} ms, /readyz after the signal: ${o.readyzAfterSignal.join(" -> ")}`)' "$out")
ok "SIGTERM: $drain; exit 0 within ${elapsed}s (timeout ${DRAIN_TIMEOUT_S}s)"

# --- 11. npm pack -> npm install -g -> websocket-relay command ---------------------------------
# Packed from a copy of the working tree (tracked and untracked, minus ignored files), built there,
# so the developer's dist/ is never rewritten under a running test.
tree_files() {   # NUL-separated; without git, everything but node_modules and dist
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done
  else
    find . \( -path ./node_modules -o -path ./dist \) -prune -o -type f -print0
  fi
}
mkdir -p "$TMP/pkg"
{ tree_files | tar --null -T - -cf - | tar -C "$TMP/pkg" -xf -; } 2>"$TMP/copy.log" || fail_with_log "$TMP/copy.log" "copying the working tree for npm pack"
ln -s "$PWD/node_modules" "$TMP/pkg/node_modules"
(cd "$TMP/pkg" && timeout 300 npm run build) >"$TMP/npm-build.log" 2>&1 || fail_with_log "$TMP/npm-build.log" "npm run build (for npm pack)"
tarball=$(cd "$TMP/pkg" && timeout 120 npm pack --silent --pack-destination "$TMP" 2>"$TMP/npm-pack.log" | tail -n 1) || fail_with_log "$TMP/npm-pack.log" "npm pack"
timeout 600 npm install -g --prefix "$TMP/prefix" --no-audit --no-fund "$TMP/$tarball" >"$TMP/npm-install.log" 2>&1 ||
  fail_with_log "$TMP/npm-install.log" "npm install -g $tarball"
BIN="$TMP/prefix/bin/websocket-relay"
[ -x "$BIN" ] || fail "npm install -g: no executable $BIN"
read -r WS_PORT2 METRICS_PORT2 < <(probe free-ports 2)
write_config "$TMP/relay-npm.yaml" "$WS_PORT2" "$METRICS_PORT2"
(cd "$TMP" && exec "$BIN" --config-file "$TMP/relay-npm.yaml") >"$TMP/relay-npm.log" 2>&1 &
NPM_RUNNER=$!
RUNNERS+=("$NPM_RUNNER")
wait_listening "$TMP/relay-npm.log" "$NPM_RUNNER" >/dev/null || fail_with_log "$TMP/relay-npm.log" "installed websocket-relay did not start"
out=$(probe fanout --ws "ws://127.0.0.1:$WS_PORT2/" --clients 2) || fail "installed websocket-relay: fan-out: $out"
out=$(probe http --url "http://127.0.0.1:$METRICS_PORT2/healthz") || fail "installed websocket-relay: /healthz: $out"
kill -TERM "$NPM_RUNNER"
wait_exit "$NPM_RUNNER" $((DRAIN_TIMEOUT_S + 5)) || fail "installed websocket-relay: still running after SIGTERM"
[ "$EXIT_CODE" = 0 ] || fail_with_log "$TMP/relay-npm.log" "installed websocket-relay: exit code $EXIT_CODE after SIGTERM"
ok "npm pack ($tarball, $(du -k "$TMP/$tarball" | cut -f1) kB) -> npm install -g: websocket-relay serves, fans out, exits 0 on SIGTERM"

note "image $IMAGE: $SIZE_MB MB, built in ${BUILD_S}s; $prod_pkgs production packages"
printf '1..%d\n' "$STEP"
