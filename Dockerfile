# Lockbox worker and API (production shape; see docker-compose.yml). One image, two commands:
#   API (default):  npx tsx src/main/run-api.ts
#   worker:         npx tsx src/main/run-worker.ts
# The embedded Temporal dev server is not used here: TEMPORAL_ADDRESS points at a real cluster.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first so source edits do not invalidate this layer. tsx runs the TypeScript directly.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src

# Data dir for the file audit sink and other local state; owned by the unprivileged user.
RUN mkdir -p /data && chown node:node /data
ENV NODE_ENV=production \
    LOCKBOX_DATA_DIR=/data \
    LOCKBOX_PORT=3000

USER node
EXPOSE 3000
CMD ["npx", "tsx", "src/main/run-api.ts"]
