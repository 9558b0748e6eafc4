# One image for both programs: `args: [controller/main.ts]` or `[speaker/main.ts]` (config/default).
# Not built by CI here: machines of this kind have no Docker engine.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/ native/
# The root install script builds native/ with node-gyp; allowScripts in package.json lets raw-socket build.
RUN npm ci --omit=dev
COPY tsconfig.json ./
COPY controller/ controller/
COPY speaker/ speaker/

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
USER 65534
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["controller/main.ts"]
