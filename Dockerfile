# element-events: worker + API in one container (`npm start`).
# Temporal itself runs elsewhere (see docker-compose.yml); TEMPORAL_ADDRESS must be set, otherwise
# the app would try to start an embedded development server.
FROM node:20-bookworm-slim

# MALLOC_MMAP_THRESHOLD_: as package.json's scripts set it (src/process-env.ts says why).
ENV NODE_ENV=production \
    PORT=3000 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /app
RUN mkdir -p /app/data && chown -R node:node /app
# The node image's own unprivileged user (uid 1000).
# hadolint ignore=DL3066
USER node

# Dependencies first, so source changes reuse this layer. tsx (the runtime) is a dependency,
# and the Temporal worker's native bridge ships prebuilt for linux in its npm package.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY --chown=node:node tsconfig.json ./
COPY --chown=node:node src ./src
# The web console, built once into the image (so the start below skips npm start's prestart build).
COPY --chown=node:node console ./console
RUN npm run console:build

EXPOSE 3000

# No curl in the slim image: ask node. /healthz is 200 once API, worker and Temporal are all up.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://localhost:' + (process.env.PORT || 3000) + '/elements/api-v2/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["npm", "start", "--ignore-scripts"]
