#!/usr/bin/env bash
# podman with this project's settings (image/containers.conf: the runc runtime, no default ulimits, cgroupfs):
# `image/podman.sh ARGS...` is `podman ARGS...`. The lab and `npm run image` call podman through this file, so
# nothing under /etc needs changing. Containers it starts must also be given `--ulimit host`.
here=$(dirname "$(readlink -f "$0")")
export CONTAINERS_CONF="$here/containers.conf"
exec podman "$@"
