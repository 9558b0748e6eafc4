# One image for both programs, compiled JavaScript on plain node (no tsx, no TypeScript at run time):
# config/default runs `args: [dist/controller/main.js]` or `[--max-semi-space-size=1, dist/speaker/main.js]`.
# Not built by CI here: machines of this kind have no Docker engine.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/ native/
# The root install script builds native/ with node-gyp (native/build/Release/l2lb_packet.node); allowScripts in
# package.json lets raw-socket and esbuild run theirs. Dev dependencies too: the build needs TypeScript.
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY controller/ controller/
COPY speaker/ speaker/
# tsc -b tsconfig.build.json: controller/, speaker/ and native/*.ts to dist/. Then drop the dev dependencies.
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
# dist/native/index.js loads the addon from native/build under the package root (native/index.ts, ADDON_PATH).
COPY --from=build /app/native/build/Release/l2lb_packet.node native/build/Release/
USER 65534
ENTRYPOINT ["node"]
CMD ["dist/controller/main.js"]
