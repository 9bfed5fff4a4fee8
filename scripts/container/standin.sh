#!/usr/bin/env bash
# Builds a local stand-in for docker.io/library/node:20-bookworm-slim when the real image cannot be
# pulled: a debootstrap minbase bookworm rootfs + this machine's node/npm under /usr/local + the
# `node` user (uid/gid 1000), imported into podman storage under the official name.
#
# The stand-in also carries this machine's CA bundle and NODE_EXTRA_CA_CERTS, because the npm
# registry here is reached through a TLS-intercepting proxy. That belongs to the stand-in only:
# the project's Dockerfile must never need it.
#
# Usage: scripts/container/standin.sh [image-name]    (root; debootstrap, podman)
set -euo pipefail

IMAGE="${1:-docker.io/library/node:20-bookworm-slim}"
SUITE=bookworm
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
STANDIN_CA=/usr/local/share/ca-certificates/standin-host-ca.crt
DEBOOTSTRAP_TIMEOUT_S="${DEBOOTSTRAP_TIMEOUT_S:-900}"

log() { printf '# standin: %s\n' "$*" >&2; }
die() { printf 'FAIL standin: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"

# The Debian mirror this machine is configured with: deb822 *.sources first, then one-line lists.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # A stanza whose Suites include the bare suite name (not -security / -updates).
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && uris != "") { print uris; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $(i+1) == suite) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

NODE_BIN=$(readlink -f "$(command -v node)") || die "node not found"
NPM_DIR="$(npm root -g)/npm"
[ -f "$NPM_DIR/bin/npm-cli.js" ] || die "npm not found under $NPM_DIR"
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node')
case "$NODE_VERSION" in 20.*) ;; *) die "host node is $NODE_VERSION; the image contract is Node 20" ;; esac

MIRROR=$(debian_mirror)
WORK=$(mktemp -d /var/tmp/node-standin.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"

log "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
timeout "$DEBOOTSTRAP_TIMEOUT_S" debootstrap --variant=minbase --components=main "$SUITE" "$ROOT" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

log "node $NODE_VERSION from $NODE_BIN, npm from $NPM_DIR"
install -D -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
chroot "$ROOT" /usr/local/bin/node --version >/dev/null || die "node does not run inside the rootfs"

# Same user as the official image (its Dockerfile: groupadd --gid 1000 node && useradd --uid 1000 ...).
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# Stand-in only: trust the TLS proxy in front of the npm registry.
install -D -m 0644 "$CA_BUNDLE" "$ROOT$STANDIN_CA"
mkdir -p "$ROOT/usr/local/etc"
printf 'cafile=%s\n' "$STANDIN_CA" >"$ROOT/usr/local/etc/npmrc"

# Trim what the official slim image does not carry either.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* "$ROOT"/tmp/*

log "importing as $IMAGE"
tar --numeric-owner -C "$ROOT" -cf - . | podman import --quiet \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_EXTRA_CA_CERTS=$STANDIN_CA" \
  --change "LABEL org.websocket-relay.standin=true" \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
log "done: $(podman image inspect --format '{{.Id}} {{.Size}}' "$IMAGE")"
