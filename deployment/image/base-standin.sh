#!/usr/bin/env bash
# LOCAL STAND-IN ONLY. Builds an image that stands in for node:20-bookworm-slim (the real base of
# deployment/Dockerfile) on a machine that cannot pull from Docker Hub, so the Dockerfile can be
# built and its size measured with buildah, offline except for Debian's apt mirror:
#   a Debian bookworm minbase rootfs (debootstrap), trimmed like the -slim images (no docs, man
#   pages, locales or apt lists), plus this machine's node binary, npm and corepack under
#   /usr/local as in the official image, and the `node` user (uid/gid 1000).
# Never push it or use it in production: releases build on the real node image (the Dockerfile's
# NODE_IMAGE build argument defaults to it).
#
# Usage (as root, with buildah and debootstrap installed: apt-get install -y buildah debootstrap):
#   bash deployment/image/base-standin.sh [image name]   # default localhost/node-standin:20-bookworm-slim
# Environment: NODE_BIN (default: the node on PATH), NPM_DIR (default: <node prefix>/lib/node_modules/npm),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), EXTRA_CA (default: $NODE_EXTRA_CA_CERTS):
# a CA bundle copied into the stand-in and named by NODE_EXTRA_CA_CERTS there, for a machine whose
# way to the npm registry passes a TLS proxy with its own CA (the real image has no such file).
set -euo pipefail

name=${1:-localhost/node-standin:20-bookworm-slim}
node_bin=$(readlink -f "${NODE_BIN:-$(command -v node)}")
prefix=$(dirname "$(dirname "$node_bin")")
npm_dir=${NPM_DIR:-$prefix/lib/node_modules/npm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "base-standin: $tool is missing (apt-get install -y $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "base-standin: debootstrap needs root" >&2; exit 1; }
[ -x "$node_bin" ] || { echo "base-standin: NODE_BIN=$node_bin is not an executable" >&2; exit 1; }
[ -f "$npm_dir/bin/npm-cli.js" ] || { echo "base-standin: no npm at $npm_dir (set NPM_DIR)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "==> debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

echo "==> trim like the -slim images"
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*

echo "==> node $("$node_bin" --version) from $node_bin, npm from $npm_dir"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
if [ -d "$prefix/lib/node_modules/corepack" ]; then
  cp -a "$prefix/lib/node_modules/corepack" "$rootfs/usr/local/lib/node_modules/corepack"
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"
fi
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$rootfs" /usr/local/bin/node --version >/dev/null \
  || { echo "base-standin: node does not start inside the rootfs (missing shared libraries?)" >&2; exit 1; }

extra_ca=${EXTRA_CA-${NODE_EXTRA_CA_CERTS:-}}
ca_env=()
if [ -n "$extra_ca" ]; then
  [ -f "$extra_ca" ] || { echo "base-standin: EXTRA_CA=$extra_ca is not a file" >&2; exit 1; }
  install -D -m 0644 "$extra_ca" "$rootfs/usr/local/share/standin-extra-ca.crt"
  ca_env=(--env NODE_EXTRA_CA_CERTS=/usr/local/share/standin-extra-ca.crt)
  echo "==> extra CA bundle from $extra_ca (NODE_EXTRA_CA_CERTS in the stand-in)"
fi

echo "==> buildah commit $name"
ctr=$(buildah from scratch)
buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$("$node_bin" --version | sed 's/^v//')" ${ca_env[@]+"${ca_env[@]}"} --cmd node "$ctr"
buildah commit --quiet --rm "$ctr" "$name" >/dev/null
buildah images "$name"
