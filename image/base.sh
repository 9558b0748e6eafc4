#!/usr/bin/env bash
# The local stand-in for `node:20-bookworm-slim`, for machines that reach no image registry (this kind: only the
# npm registry and Debian's package mirror). A Debian bookworm rootfs made by mmdebstrap from the machine's own
# Debian mirror (its /etc/apt/sources.list.d/debian.sources, read, not changed), plus this machine's Node 20
# (`node` on PATH, its npm and its headers) laid out as the official image lays them out: /usr/local/bin/node,
# /usr/local/lib/node_modules/npm, /usr/local/include/node. Imported into podman's store as
#   localhost/l2lb-base:bookworm-node<VERSION>
# and printed on stdout. Kept when it exists already (`--rebuild` makes it anew).
# Needs root and the Debian packages mmdebstrap and podman.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
podman=("$here/podman.sh")

rebuild=0
[ "${1:-}" = "--rebuild" ] && rebuild=1

node_bin=$(readlink -f "$(command -v node)") || { echo "base: no node on PATH (install Node 20)" >&2; exit 1; }
version=$("$node_bin" --version)            # v20.20.2
case "$version" in v20.*) ;; *) echo "base: $node_bin is Node $version; the image is built on Node 20" >&2; exit 1 ;; esac
prefix=$(dirname "$(dirname "$node_bin")")   # /usr for Debian/NodeSource packages, /usr/local for the tarball
npm_dir="$prefix/lib/node_modules/npm"
include_dir="$prefix/include/node"
for d in "$npm_dir" "$include_dir"; do
  [ -d "$d" ] || { echo "base: $d is missing (npm and Node's headers come with Node's own package or tarball)" >&2; exit 1; }
done
tag="localhost/l2lb-base:bookworm-node${version#v}"

if [ "$rebuild" = 0 ] && "${podman[@]}" image exists "$tag"; then echo "$tag"; exit 0; fi
command -v mmdebstrap >/dev/null || { echo "base: mmdebstrap is not installed: apt-get install mmdebstrap" >&2; exit 1; }

mirror=()
[ -f /etc/apt/sources.list.d/debian.sources ] && mirror=(/etc/apt/sources.list.d/debian.sources)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "base: mmdebstrap bookworm (minbase, ca-certificates, libstdc++6) + $node_bin ($version)" >&2
# minbase: essential packages and apt, as debian:bookworm-slim; libstdc++6 for node; ca-certificates so npm and
# apt can speak TLS. copy-in works in every mmdebstrap mode.
mmdebstrap --quiet --variant=minbase --include=ca-certificates,libstdc++6 \
  --customize-hook='mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules" "$1/usr/local/include"' \
  --customize-hook="copy-in $node_bin /usr/local/bin" \
  --customize-hook="copy-in $npm_dir /usr/local/lib/node_modules" \
  --customize-hook="copy-in $include_dir /usr/local/include" \
  --customize-hook='ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"; ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/usr/share/doc" "$1/usr/share/man" "$1/usr/share/locale"' \
  bookworm "$work/rootfs.tar" "${mirror[@]}" >&2
"${podman[@]}" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${version#v}" \
  --change 'CMD ["node"]' \
  --message "l2lb local base: Debian bookworm (mmdebstrap) + Node $version" \
  "$work/rootfs.tar" "$tag" >&2
echo "$tag"
