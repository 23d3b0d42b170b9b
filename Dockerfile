# One image, two roles, chosen by the command (the entry points are named once, in
# package.json's scripts):
#   api:    npm start          (the default CMD)
#   worker: npm run worker
# Both answer GET /healthz (api on PORT, worker on WORKER_HEALTH_PORT): one HEALTHCHECK.
# (No `# syntax=` line: the builder's own Dockerfile frontend is enough, and fetching
# another would need an image registry.)

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: dependencies and the native microfrontend addon -------------------------
FROM ${NODE_IMAGE} AS build
# libsoxr-dev + pkg-config: binding.gyp links libsoxr (MLTK's soxr_hq resampler) when
# `pkg-config soxr` finds it; without it, clips at other rates than sample_rate_hz are refused.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ pkg-config libsoxr-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp takes the Node headers from the image (/usr/local/include/node) instead of
# downloading them: the addon builds offline, against exactly the Node that runs it.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# Dependencies' install scripts are not needed (esbuild and msgpackr-extract ship
# prebuilt binaries as packages); the project's own addon is built explicitly below so
# that a compiler error fails the build instead of silently falling back to TypeScript.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY binding.gyp ./
COPY native ./native
RUN npm run build:native \
 && node -e "const a = require('./build/Release/audiofeed_frontend.node'); if (!a.soxrVersion) throw new Error('addon built without libsoxr')" \
 && find build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find build/Release -mindepth 1 -maxdepth 1 ! -name 'audiofeed_frontend.node' -exec rm -rf {} +
# Production dependencies only (tsx is one: the service runs TypeScript through it).
RUN npm prune --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
# The dashboard bundle (web/dist), so the read-only runtime does not build it at each start.
RUN node --import tsx web/build.ts

# ---- runtime ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# The addon's one shared library beyond libc/libstdc++ (pulls in libgomp1).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsoxr0 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    HOST=0.0.0.0 \
    PORT=8080 \
    WORKER_HEALTH_PORT=8081 \
    DATA_DIR=/data \
    REDIS_URL=redis://redis:6379 \
    REDIS_AUTOSTART=false
WORKDIR /app
# Code owned by root and read-only for the service user; only /data is writable.
COPY --from=build /app /app
RUN mkdir -p /data /datasets && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# /healthz of the api (PORT), or of a worker (WORKER_HEALTH_PORT) where no api listens.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const h=(p)=>fetch('http://127.0.0.1:'+p+'/healthz').then((r)=>r.ok);h(process.env.PORT||8080).catch(()=>h(process.env.WORKER_HEALTH_PORT||8081)).then((ok)=>process.exit(ok?0:1),()=>process.exit(1))"]
# npm runs the script (`node --import tsx …`) and passes SIGTERM/SIGINT on to it; the
# service drains (graceful shutdown, SHUTDOWN_GRACE_MS) and npm exits with its status.
# Under `init: true` (compose) tini is PID 1 and signals npm.
CMD ["npm", "start"]
