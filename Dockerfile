# One image for the webhook and the sidecar: `token-broker webhook` / `token-broker sidecar`.
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ... The build stage runs on the
# builder's own platform: what it makes (JavaScript, production node_modules with no native addon; the
# runtime-image e2e test checks it) is the same for every architecture, so no emulation is needed.
FROM --platform=$BUILDPLATFORM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli cli
COPY common common
COPY contract contract
COPY webhook/src webhook/src
COPY sidecar/src sidecar/src
COPY scripts/bundle-sidecar.ts scripts/sidecar-bundle.ts scripts/
# dist/ holds the CLI (ENTRYPOINT) and dist/sidecar.cjs, the one-file sidecar the injected container runs
# (webhook/src/injection/sidecar-container.ts): bundled while the dev dependencies (esbuild, tsx) are still here.
RUN npx tsc -p tsconfig.build.json && npm run build:bundle && npm ci --omit=dev --no-audit --no-fund

# Distroless: no shell, no package manager; runs as the unprivileged user 65532 unless the pod says otherwise.
FROM gcr.io/distroless/nodejs22-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["--help"]
