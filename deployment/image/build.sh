#!/usr/bin/env bash
# Builds deployment/Dockerfile with buildah (no Docker engine needed), prints the image size and
# fails if it is over the budget: `npm run image:build` (default image, budget 400 MB) or
# `npm run image:build -- finbert` (the -finbert variant, no budget unless MAX_MB is set).
# Environment:
#   NODE_IMAGE  base image (default: the Dockerfile's node:20-bookworm-slim). Offline, build the
#               local stand-in first (bash deployment/image/base-standin.sh) and pass
#               NODE_IMAGE=localhost/node-standin:20-bookworm-slim.
#   TAG         image name (default bitpredict:local, bitpredict:local-finbert for the variant).
#   MAX_MB      size budget in MB (1 MB = 1,000,000 bytes, as `buildah images` prints).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

variant=${1:-default}
case "$variant" in
  default) finbert=0; tag=${TAG:-localhost/bitpredict:local}; max_mb=${MAX_MB:-400} ;;
  finbert) finbert=1; tag=${TAG:-localhost/bitpredict:local-finbert}; max_mb=${MAX_MB:-0} ;;
  *) echo "usage: npm run image:build -- [default|finbert]" >&2; exit 2 ;;
esac
command -v buildah >/dev/null || { echo "image:build: buildah is missing (apt-get install -y buildah)" >&2; exit 1; }

args=(--layers --network host -f deployment/Dockerfile --build-arg "FINBERT=$finbert" -t "$tag")
[ -z "${NODE_IMAGE:-}" ] || args+=(--build-arg "NODE_IMAGE=$NODE_IMAGE")
echo "==> buildah bud ${args[*]} ."
start=$(date +%s)
buildah bud "${args[@]}" .
echo "==> built $tag in $(($(date +%s) - start)) s"

# Size as `buildah images` reports it: the sum of the image's uncompressed layers, base included.
# buildah 1.28 prints it rounded in decimal units ("352 MB", "1.02 GB").
size=$(buildah images --format '{{.Size}}' "$tag" | head -n 1)
mb=$(node -e 'const m=/^([\d.]+)\s*(kB|MB|GB)$/.exec(process.argv[1]);if(!m){console.error("image:build: unreadable size "+process.argv[1]);process.exit(1)}process.stdout.write(String(Math.round(Number(m[1])*{kB:0.001,MB:1,GB:1000}[m[2]])))' "$size")
buildah images "$tag"
echo "==> $tag: $mb MB"
if [ "$max_mb" -gt 0 ] && [ "$mb" -gt "$max_mb" ]; then
  echo "image:build: $tag is $mb MB, over the budget of $max_mb MB (MAX_MB)" >&2
  exit 1
fi
