#!/usr/bin/env bash
# Builds a local stand-in for docker.io/library/node:24-trixie-slim when the real image cannot be pulled:
# a debootstrap minbase trixie rootfs + the official Node 24 binary and npm (from the npm registry, as
# scripts/node24/run.sh installs them) under /usr/local + the `node` user (uid/gid 1000), imported into
# podman storage under the official name.
#
# The stand-in also carries this machine's CA bundle and NODE_EXTRA_CA_CERTS, because the npm
# registry here may be reached through a TLS-intercepting proxy. That belongs to the stand-in only:
# the project's Dockerfile must never need it.
#
# Usage: scripts/container/standin.sh [image-name]    (root; debootstrap, podman, npm)
set -euo pipefail

IMAGE="${1:-docker.io/library/node:24-trixie-slim}"
SUITE=trixie
CA_BUNDLE="${CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}"
STANDIN_CA=/usr/local/share/ca-certificates/standin-host-ca.crt
DEBOOTSTRAP_TIMEOUT_S="${DEBOOTSTRAP_TIMEOUT_S:-900}"
# shellcheck source=scripts/node24/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node24/lib.sh"

log() { printf '# standin: %s\n' "$*" >&2; }
die() { printf 'FAIL standin: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"

MIRROR=$(node24_mirror)
WORK=$(mktemp -d /var/tmp/node-standin.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"

log "debootstrap --variant=minbase $SUITE from $MIRROR"
timeout "$DEBOOTSTRAP_TIMEOUT_S" debootstrap --variant=minbase --components=main "$SUITE" "$ROOT" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

log "node $NODE24_NODE and npm $NODE24_NPM from the npm registry"
node24_install "$ROOT"
chroot "$ROOT" /usr/local/bin/node --version >/dev/null || die "node does not run inside the rootfs"

# Stand-in only: trust the TLS proxy in front of the npm registry.
install -D -m 0644 "$CA_BUNDLE" "$ROOT$STANDIN_CA"
mkdir -p "$ROOT/usr/local/etc"
printf 'cafile=%s\n' "$STANDIN_CA" >"$ROOT/usr/local/etc/npmrc"

# Trim what the official slim image does not carry either.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* "$ROOT"/tmp/*

log "importing as $IMAGE"
tar --numeric-owner -C "$ROOT" -cf - . | podman import --quiet \
  --change "ENV NODE_VERSION=$NODE24_NODE" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_EXTRA_CA_CERTS=$STANDIN_CA" \
  --change "LABEL org.websocket-relay.standin=true" \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
log "done: $(podman image inspect --format '{{.Id}} {{.Size}}' "$IMAGE")"
