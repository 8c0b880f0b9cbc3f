# Lockbox worker and API (production shape; see docker-compose.yml). One image, two commands:
#   API (default):  node --import tsx src/main/run-api.ts
#   worker:         node --import tsx src/main/run-worker.ts
# node itself is PID 1's child of nothing else (no npx in between), so SIGTERM reaches Lockbox and it drains.
# The embedded Temporal dev server is not used here: TEMPORAL_ADDRESS points at a real cluster.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first so source edits do not invalidate this layer. tsx runs the TypeScript directly.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts

# The workflow bundle is built once here, not by every worker at start-up: dist/workflow-bundle.js and its key
# (scripts/bundle-workflows.ts); a worker uses it while the key matches the code in the image, which it always does.
RUN node --import tsx scripts/bundle-workflows.ts

# Data dir for the file audit sink and other local state; owned by the unprivileged user.
RUN mkdir -p /data && chown node:node /data
ENV NODE_ENV=production \
    LOCKBOX_DATA_DIR=/data \
    LOCKBOX_PORT=3000

USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/main/run-api.ts"]
