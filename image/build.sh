#!/usr/bin/env bash
# `npm run image [-- --base IMAGE]`: builds the Dockerfile with podman into localhost/l2lb:latest (and
# localhost/l2lb:<version>), then checks what the image promises: the bundled programs and no node_modules (so no
# tsx, TypeScript or any other package), no C compiler, the native addon present, USER nobody, no HEALTHCHECK.
# Base: --base IMAGE (e.g. node:20-bookworm-slim where a registry is reachable); without it, the local base
# image/base.sh makes from Debian packages and this machine's Node 20 (made once, then reused), because
# machines of this kind reach no image registry.
# Needs root and the Debian packages podman, runc, mmdebstrap (README, "The image").
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
root=$(dirname "$here")
podman=("$here/podman.sh")
cd "$root"

base=""
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=${2:?--base needs an image}; shift 2 ;;
    --base=*) base=${1#--base=}; shift ;;
    *) echo "usage: npm run image [-- --base IMAGE]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then echo "image: podman here runs as root (rootful storage, runc): try sudo npm run image" >&2; exit 1; fi
for tool in podman runc; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "image: $tool is not installed: apt-get install podman runc mmdebstrap" >&2; exit 1; }
done
[ -n "$base" ] || base=$("$here/base.sh")

version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The machine's extra CAs (NODE_EXTRA_CA_CERTS, e.g. a TLS proxy in front of the npm registry) for the build's
# npm ci: mounted read-only into the RUN steps only (a build volume is not committed to any layer).
ca=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  ca=(--volume "$(readlink -f "$NODE_EXTRA_CA_CERTS"):/run/l2lb-build/extra-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/l2lb-build/extra-ca.crt)
fi
t0=$(date +%s)
echo "image: podman build (base $base)"
# --network host: the build's RUN steps reach Debian's mirror and the npm registry the way the machine does.
# (podman build takes no `--ulimit host`; containers.conf's empty default_ulimits is enough for its RUN steps.)
"${podman[@]}" build --network host "${ca[@]}" \
  --build-arg "BASE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t localhost/l2lb:latest -t "localhost/l2lb:$version" -f Dockerfile .
t1=$(date +%s)

fail=0
check() { if [ "$1" = ok ]; then echo "image: ok: $2"; else echo "image: FAILED: $2" >&2; fail=1; fi; }
# The programs are bundles (build/bundle.ts): the image has no node_modules at all, so no dev dependency either.
present=$("${podman[@]}" run --rm --ulimit host --network none --entrypoint sh localhost/l2lb:latest \
  -c 'ls -d node_modules dist/native 2>/dev/null; for f in dist/controller/main.js dist/controller/status-main.js dist/speaker/main.js dist/speaker/config-parse-worker.js; do [ -f "$f" ] || echo "missing $f"; done; true')
[ -z "$present" ] && check ok "the bundles present, no node_modules (no tsx, no TypeScript, no package at all)" \
  || check no "unexpected in /app: $(tr '\n' ' ' <<<"$present")"
compilers=$("${podman[@]}" run --rm --ulimit host --network none --entrypoint sh localhost/l2lb:latest -c 'for c in cc gcc g++ make python3; do command -v $c; done; true')
[ -z "$compilers" ] && check ok "no compiler (cc, gcc, g++, make, python3 absent)" || check no "build tools in the final stage: $compilers"
"${podman[@]}" run --rm --ulimit host --network none --entrypoint test localhost/l2lb:latest -f native/build/Release/l2lb_packet.node \
  && check ok "native/build/Release/l2lb_packet.node present" || check no "the native addon is missing"
user=$("${podman[@]}" image inspect --format '{{.Config.User}}' localhost/l2lb:latest)
[ "$user" = 65534 ] && check ok "USER 65534" || check no "USER is '$user', want 65534"
health=$("${podman[@]}" image inspect --format '{{.Config.Healthcheck}}' localhost/l2lb:latest)
[ "$health" = "<nil>" ] && check ok "no HEALTHCHECK" || check no "HEALTHCHECK $health"
size=$("${podman[@]}" image inspect --format '{{.Size}}' localhost/l2lb:latest)
echo "image: localhost/l2lb:latest ($version, $revision), $((size / 1000000)) MB, built in $((t1 - t0)) s"
exit "$fail"
