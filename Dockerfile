# One image for both programs, each one bundled ES module on plain node (no tsx, no TypeScript, no node_modules at
# run time): config/default runs `args: [dist/controller/main.js]` or `[--max-semi-space-size=1,
# dist/speaker/main.js]`. `npm run image` builds it with podman (image/build.sh). The base defaults to the official
# Node image; machines that reach no image registry build with `--build-arg BASE=<a local image with the same
# layout>` (image/base.sh makes one from Debian packages and the machine's own Node 20: node in /usr/local/bin,
# npm, headers in /usr/local/include/node).
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
# node-gyp (the root `install` script builds native/) needs python3, make and a C compiler; only this stage has them.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make gcc g++ libc6-dev && rm -rf /var/lib/apt/lists/*
# Node's headers from the base (the official image has them there too), not a download: the build may reach the
# npm registry and Debian's mirror, nothing else.
ENV npm_config_nodedir=/usr/local npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Where the npm registry is reached through a TLS proxy with its own CA (machines of this kind), image/build.sh
# mounts the machine's CA bundle for the build's RUN steps and names it here; empty (the default), Node ignores it.
# A build argument, not ENV: it is not kept in any image.
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/ native/
# Everything, dev dependencies too: the build needs TypeScript (type check) and esbuild (bundle). The root install
# script builds native/build/Release/l2lb_packet.node.
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY internal/ internal/
COPY build/ build/
COPY controller/ controller/
COPY speaker/ speaker/
# tsc type-checks controller/, speaker/ and native/*.ts; build/bundle.ts bundles each program into one file under
# dist/ with the dependencies it reaches (build/bundle.ts says why: memory). The final stage copies those files
# and the addon, no node_modules.
RUN npm run build

FROM ${BASE}
ARG BASE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED
# OCI image annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
LABEL org.opencontainers.image.title="l2lb" \
      org.opencontainers.image.description="A bare-metal Kubernetes LoadBalancer: layer-2 (ARP/NDP) announcements of Service IPs. Controller: node dist/controller/main.js; speaker: node --max-semi-space-size=1 dist/speaker/main.js" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE}"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the user the programs run as. package.json says "type": "module" (the bundles
# are ES modules); nothing else of the build is needed: the bundles hold every dependency but the addon.
COPY --from=build /app/package.json ./
COPY --from=build /app/dist/controller/main.js /app/dist/controller/status-main.js dist/controller/
COPY --from=build /app/dist/speaker/main.js /app/dist/speaker/config-parse-worker.js dist/speaker/
# The bundles load the addon from native/build under the package root (native/index.ts, ADDON_PATH).
COPY --from=build /app/native/build/Release/l2lb_packet.node native/build/Release/
# nobody: the controller runs so; the speaker's DaemonSet overrides it with root holding CAP_NET_RAW alone
# (config/default/speaker.yaml says why). No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
USER 65534
ENTRYPOINT ["node"]
CMD ["dist/controller/main.js"]
