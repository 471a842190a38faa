# The gateway image: production dependencies only, a non-root user, tini as PID 1, a health check on /health.
# Build: docker build -t dbapi:$(git rev-parse --short HEAD) .

# Stage 1: production dependencies (npm install, not npm ci: see the README).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The postinstall script applies patches/ (the postgres.js fix): it must be there before the install.
COPY patches ./patches
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force \
 && grep -q "dbapi patch" node_modules/postgres/cjs/src/connection.js

# Stage 2: the runtime. tsx runs the TypeScript sources directly (it is a production dependency).
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json tsconfig.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root lib ./lib
COPY --chown=root:root modules ./modules
COPY --chown=root:root env ./env
# Only logs/ is writable, by the unprivileged `node` user of the base image (uid 1000).
RUN mkdir -p logs && chown node:node logs
USER node
EXPOSE 8000
# tini forwards SIGTERM to node (PID 1 would otherwise ignore it) and reaps zombies; node runs main.ts directly,
# without the tsx wrapper process, so the signal reaches the gateway itself and it drains.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/main.ts"]
# On the management port when METRICS_PORT is set (its own listener answers at once under overload), else on PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
