#!/usr/bin/env bash
# Renders the Kubernetes manifests with a given image, for the release and deploy workflows
# (.github/workflows/release.yaml, deploy.yaml) and for anyone who wants the same output by hand.
# Needs kubectl (its built-in kustomize) and nothing else.
#
#   deployment/render-manifests.sh wrap <target> <image> <dir> [<component>...]
#       Writes <dir>/kustomization.yaml: the target (deployment/kubernetes or one of its
#       overlays) plus the components, with every `bitpredict` image replaced by <image>.
#       `kubectl apply -k <dir>` deploys it; `kubectl kustomize <dir>` prints it.
#   deployment/render-manifests.sh all <image> <out-dir>
#       Renders every target the repository defines into <out-dir>/<name>.yaml: the base, each
#       overlay, and each overlay with the X source component meant for it.
#
# <image> is a full reference: registry/name:tag or registry/name@sha256:<64 hex>. Every rendered
# container must end up on it: a workload still on the base's `bitpredict:<version>` fails the run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
k8s="$root/deployment/kubernetes"

die() {
  echo "render-manifests: $*" >&2
  exit 2
}

usage() {
  die "usage: $0 wrap <target> <image> <dir> [<component>...] | all <image> <out-dir>"
}

# Splits an image reference into kustomize's newName plus newTag or digest.
image_fields() {
  local ref=$1
  if [[ $ref =~ ^([a-z0-9][a-z0-9._/:-]*[a-z0-9])@(sha256:[0-9a-f]{64})$ ]]; then
    printf '    newName: "%s"\n    digest: "%s"\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  elif [[ $ref =~ ^([a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$ ]]; then
    # The optional :port/ part is a registry port, not the tag.
    printf '    newName: "%s"\n    newTag: "%s"\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}"
  else
    die "image \"$ref\" is not <registry>/<name>:<tag> or <registry>/<name>@sha256:<digest> (lower-case name)"
  fi
}

# A kustomization folder inside deployment/kubernetes, as an absolute path.
kustomization_dir() {
  local what=$1 path=$2 abs
  abs=$(cd "$path" 2>/dev/null && pwd) || die "$what \"$path\" is not a folder"
  case "$abs/" in "$k8s"/*) ;; *) die "$what \"$path\" is not inside deployment/kubernetes" ;; esac
  [ -f "$abs/kustomization.yaml" ] || die "$what \"$path\" has no kustomization.yaml"
  printf '%s\n' "$abs"
}

wrap() {
  [ $# -ge 3 ] || usage
  local target=$1 image=$2 dir=$3
  shift 3
  local fields target_abs
  fields=$(image_fields "$image")
  target_abs=$(kustomization_dir target "$target")
  grep -q '^kind: Component' "$target_abs/kustomization.yaml" && die "target \"$target\" is a Component: name it after the overlay"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # kustomize refuses absolute paths to bases and components: name them relative to the folder.
  {
    echo "# Written by deployment/render-manifests.sh: $(realpath --relative-to="$root" "$target_abs") with image $image."
    echo 'apiVersion: kustomize.config.k8s.io/v1beta1'
    echo 'kind: Kustomization'
    echo 'resources:'
    echo "  - $(realpath --relative-to="$dir" "$target_abs")"
    if [ $# -gt 0 ]; then
      echo 'components:'
      local c c_abs
      for c in "$@"; do
        c_abs=$(kustomization_dir component "$c")
        grep -q '^kind: Component' "$c_abs/kustomization.yaml" || die "component \"$c\" is not a kustomize Component"
        echo "  - $(realpath --relative-to="$dir" "$c_abs")"
      done
    fi
    echo 'images:'
    echo '  - name: bitpredict'
    echo "$fields"
  } >"$dir/kustomization.yaml"
}

# Renders one folder and checks that every container runs the image asked for.
render() {
  local dir=$1 image=$2 out=$3 stray
  kubectl kustomize "$dir" >"$out"
  stray=$(grep -E '^\s*image:' "$out" | grep -E 'image: "?bitpredict[:@"]' || true)
  [ -z "$stray" ] || die "$out still uses the base image: $stray"
  grep -Fq "image: $image" "$out" || die "$out has no container on $image"
}

all() {
  [ $# -eq 2 ] || usage
  local image=$1 out=$2 name overlay component
  image_fields "$image" >/dev/null
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  work=$(mktemp -d) # global: the EXIT trap runs after this function has returned
  trap 'rm -rf "$work"' EXIT
  wrap "$k8s" "$image" "$work/base"
  render "$work/base" "$image" "$out/base.yaml"
  echo "$out/base.yaml"
  if [ -d "$k8s/components/x-source" ]; then
    wrap "$k8s" "$image" "$work/base-x" "$k8s/components/x-source"
    render "$work/base-x" "$image" "$out/base-x-source.yaml"
    echo "$out/base-x-source.yaml"
  fi
  for overlay in "$k8s"/overlays/*/; do
    name=$(basename "$overlay")
    wrap "$overlay" "$image" "$work/$name"
    render "$work/$name" "$image" "$out/$name.yaml"
    echo "$out/$name.yaml"
    # A component named x-source-<overlay> is the X source for that overlay (docs/deploy.md).
    component="$k8s/components/x-source-$name"
    if [ -d "$component" ]; then
      wrap "$overlay" "$image" "$work/$name-x" "$component"
      render "$work/$name-x" "$image" "$out/$name-x-source.yaml"
      echo "$out/$name-x-source.yaml"
    fi
  done
}

command -v kubectl >/dev/null 2>&1 || die "kubectl is not on PATH (its built-in kustomize renders the manifests)"
[ $# -ge 1 ] || usage
mode=$1
shift
case "$mode" in
  wrap) wrap "$@" ;;
  all) all "$@" ;;
  *) usage ;;
esac
