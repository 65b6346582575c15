# tierguard admission webhook image. Build and push it where your nodes pull from (the Helm
# chart has no default image):
#   docker build -t registry.example.com/tierguard:0.1.0 . && docker push registry.example.com/tierguard:0.1.0
# Runs as `tierguard serve`; flags go in the container args (the Helm chart sets them).
#
# Node 22, a supported LTS (Node 20 reached end of life in April 2026). package.json's engines
# ("^20 || >=22") still admits Node 20 only so that development machines and CI still on it can
# npm ci, build and test; what ships runs on 22.

# --- build: compile TypeScript, then keep production dependencies only --------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm run build` bundles client-node's modules, then the command line, after tsc (see the scripts).
COPY scripts/bundle-client-node.mjs scripts/bundle-cli.mjs ./scripts/
COPY policies ./policies
RUN npm run build && npm prune --omit=dev

# --- runtime: Node.js without a shell or package manager, as a non-root user ------------------------
FROM gcr.io/distroless/nodejs22-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/policies ./policies
# 65532 is the image's "nonroot" user; numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js"]
CMD ["serve"]
