# syntax=docker/dockerfile:1
# Dockerfile — the production image of Drawbridge (SPEC §7): built in one stage (npm ci + tsc → dist/), run in
# another with production dependencies only, as a non-root user, configuration at /etc/drawbridge/drawbridge.yaml.
# docs/deploy.md shows how to run it (docker run, Kubernetes); proxy/test/production.test.ts replays the final stage.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, TypeScript → dist/ --------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proxy/src ./proxy/src
RUN npm run build

# ---- run: production dependencies, the compiled code and the launcher -----------------------------------------
FROM ${NODE_IMAGE}
# NODE_OPTIONS and MALLOC_TRIM_THRESHOLD_: Drawbridge's node flags and malloc settings (proxy/src/server/node-flags.ts:
# V8's young generation capped at 2 × 8 MB, glibc's trim threshold fixed at 128 KiB; docs/deploy.md "Memory");
# `docker run -e NODE_OPTIONS=...` replaces them.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=8 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    DRAWBRIDGE_CONFIG=/etc/drawbridge/drawbridge.yaml \
    DRAWBRIDGE_HEALTH_URL=http://127.0.0.1:9090/healthz
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN mkdir -p /etc/drawbridge
# The official Node image's unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
# The proxy listener: 8443 when Drawbridge serves TLS itself (listen ":8443" with tls, as in docs/getting-started.md),
# 8080 behind a TLS-terminating proxy or ingress (listen ":8080", as in docs/deploy.md's Kubernetes example).
# 9090: the admin listener (/metrics /healthz /readyz) — publish it to no one. proxy/test/docs-pages.test.ts keeps these in step.
EXPOSE 8443 8080 9090
# Asks the admin listener; set DRAWBRIDGE_HEALTH_URL when admin.listen is not 127.0.0.1:9090 / :9090.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.DRAWBRIDGE_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/drawbridge.js"]
CMD ["serve", "--config", "/etc/drawbridge/drawbridge.yaml"]
