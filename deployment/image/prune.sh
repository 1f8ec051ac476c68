#!/bin/sh
# Prunes a production node_modules (after `npm ci --omit=dev`) down to what Node loads on one
# platform. Run by deployment/Dockerfile in its deps stage; kept as a script so the list is in
# one reviewed place:
#   sh deployment/image/prune.sh <node_modules> <os> <arch>     # e.g. node_modules linux x64
# What goes (none of it is read at run time on <os>/<arch>):
#   - source maps (*.map): about 200 MB, most of them @tensorflow's browser bundles;
#   - @tensorflow/*/dist except the Node bundles (*.node.js, the `main` of every tfjs package,
#     which require only each other) and the backend-wasm binaries (*.wasm): the ES-module
#     trees, browser and minified bundles and the WeChat "miniprogram" copies are for bundlers;
#   - native binaries for other platforms: onnxruntime-node's bin/napi-v*/<os>/<arch>
#     folders (darwin, win32, linux/arm64 on an x64 image: about 245 MB of its 288 MB); npm already skips other platforms'
#     optional packages (@img/sharp-*, @node-rs/crc32-*) by their os/cpu fields;
#   - onnxruntime-web/dist (about 136 MB of browser bundles and wasm): transformers.js's Node
#     build (dist/transformers.node.mjs) carries its own copy of the web runtime and loads
#     models on CPU through onnxruntime-node, so it never imports onnxruntime-web; the package
#     stays (npm's tree is unchanged), only its files go.
# A missing folder is not an error (the default image has no onnxruntime at all).
set -eu
nm=${1:?usage: prune.sh <node_modules> <os> <arch>}
os=${2:?usage: prune.sh <node_modules> <os> <arch>}
arch=${3:?usage: prune.sh <node_modules> <os> <arch>}
[ -d "$nm" ] || { echo "prune.sh: $nm is not a folder" >&2; exit 1; }

find "$nm" -type f -name '*.map' -delete

for pkg in "$nm"/@tensorflow/*/; do
  [ -d "${pkg}dist" ] || continue
  find "${pkg}dist" -type f ! -name '*.node.js' ! -name '*.wasm' -delete
  find "${pkg}dist" -depth -type d -empty -delete
done

# bin/napi-v<N>/<os>/<arch>/ (napi-v3 up to onnxruntime-node 1.2x, napi-v6 in 1.30).
for ort in "$nm"/onnxruntime-node/bin/napi-v*; do
  [ -d "$ort" ] || continue
  [ -d "$ort/$os/$arch" ] || { echo "prune.sh: onnxruntime-node has no binary for $os/$arch in $ort" >&2; exit 1; }
  for d in "$ort"/*/; do [ "$d" = "$ort/$os/" ] || rm -rf "$d"; done
  for d in "$ort/$os"/*/; do [ "$d" = "$ort/$os/$arch/" ] || rm -rf "$d"; done
done

# Only if transformers.js is there and still does not import it (checked, not assumed).
ortweb="$nm/onnxruntime-web/dist"
tjs="$nm/@huggingface/transformers/dist/transformers.node.mjs"
if [ -d "$ortweb" ] && [ -f "$tjs" ]; then
  if grep -Eq "(from|import\(|require[A-Za-z]*\() *[\"']onnxruntime-web" "$tjs"; then
    echo "prune.sh: $tjs imports onnxruntime-web; keeping it" >&2
  else
    rm -rf "$ortweb"
  fi
fi
