# syntax=docker/dockerfile:1
# websocket-relay production image.
#
#   docker build -t websocket-relay .
#   docker run --rm -p 8443:8443 -p 9090:9090 websocket-relay
#
# Node 24 LTS on Debian 13 (trixie): uWebSockets.js 20.57 ships prebuilt binaries for Node 20/22/24/25
# linked against glibc >= 2.38, for linux/amd64 and linux/arm64. On an older base (bookworm) only
# Node 20 runs, on uWS 20.30. Alpine/musl fails at startup (exit 3); see the README's support matrix.

# Fully qualified so podman/buildah resolve it without a short-name search list (same image for Docker).
ARG NODE_IMAGE=docker.io/library/node:24-trixie-slim

# --- build: full dependency tree, compile src/ -> dist/ ----------------------------------------
# Runs on the build machine's platform even in a multi-arch build: dist/ is plain JS, so tsc need
# not run under emulation.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: nothing here needs an install script. Both uWebSockets.js builds (and 20.30's optional
# bufferutil/utf-8-validate) load prebuilt binaries at runtime; esbuild (dev only: the build's bundle step,
# tsx, vitest) finds its platform binary without its own. The slim image has no compiler for a node-gyp
# fallback anyway.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
# tsc builds the library into dist/, then esbuild bundles the command and its thread and loader entries there
# (dist/cli.js; README "Memory").
RUN npm run build

# --- deps: production dependencies only, for the target platform (cached until package*.json change)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Two uWebSockets.js builds ship about 20 binaries each (every OS, arch and Node ABI; ~230 MB in all).
# Keep only the one binary the relay loads here, as src/relay/uws.ts picks it: 20.57 when it loads,
# else 20.30's (Node 20); the other package goes. Fails the build where neither loads (the relay
# would refuse to start there).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e ' \
      const fs = require("node:fs"); \
      const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`; \
      const keepOnly = (dir) => { for (const f of fs.readdirSync(dir)) if (f.endsWith(".node") && f !== file) fs.rmSync(`${dir}/${f}`); }; \
      let dir = "node_modules/uWebSockets.js", other = "node_modules/uWebSockets.js-20.30"; \
      try { require("uWebSockets.js"); } \
      catch { require(`uWebSockets.js-20.30/binaries/${file}`); [dir, other] = [`${other}/binaries`, dir]; \
              fs.rmSync("node_modules/uWebSockets.js-20.30/dist", { recursive: true }); } \
      keepOnly(dir); fs.rmSync(other, { recursive: true }); \
      console.log(`uWebSockets.js: kept ${dir}/${file}`);'

# --- runtime: node + production node_modules + compiled JS + default config ---------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY config/relay.yaml /etc/websocket-relay/relay.yaml

# 1000:1000 is the official image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it
# without a passwd lookup. Files stay root-owned: the relay only reads them.
USER 1000:1000

# 8443: WebSocket (server.port), 9090: /metrics /healthz /readyz (metrics.port).
EXPOSE 8443 9090

# Node runs as PID 1 and the relay installs its own SIGTERM/SIGINT handlers (drain, close code
# 1001, exit 0 within shutdown.timeout_s), so no init is needed to forward signals. It spawns no
# children; add `docker run --init` only if you want zombie reaping anyway.
STOPSIGNAL SIGTERM

# Liveness via node itself (the slim image has no curl/wget). Follows RELAY_METRICS__PORT; if you
# move the metrics port in a config file instead, set that variable too, or disable the check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.RELAY_METRICS__PORT || 9090) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# --max-semi-space-size=1 (MiB): V8's young generation stays small instead of growing to 16 MiB per
# semi-space in a connection burst, which V8 keeps; see README "Memory".
# --disable-sigusr1 (Node >= 22.14): SIGUSR1 never opens the inspector, not even before the relay's own handler is
# installed; see README "Signals".
ENTRYPOINT ["node", "--disable-sigusr1", "--max-semi-space-size=1", "/app/dist/cli.js"]
CMD ["--config-file", "/etc/websocket-relay/relay.yaml"]
