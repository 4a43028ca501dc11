#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Kubernetes manifests (packaging/kubernetes) and the alert rules, checked offline:
# yamllint, and each object validated against the Kubernetes API schemas (npm package
# kubernetes-models, installed into WORK_DIR from the npm registry on first use).
# Usage: packaging/tests/kubernetes.sh WORK_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mkdir -p "$1" && cd "$1" && pwd)/k8s-validate
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  [[ $(id -u) -eq 0 ]] || { echo "node and npm are needed (Debian: nodejs npm)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends nodejs npm >/dev/null
fi
yamllint -d "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}" \
  "$src/packaging/kubernetes" "$src/packaging/prometheus/alerts.yml"
echo "yamllint: the manifests and the alert rules are clean"
mkdir -p "$work"
if [[ ! -d "$work/node_modules/kubernetes-models" ]]; then
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error kubernetes-models@5.1.0 js-yaml@4.1.0 >/dev/null)
fi
cp "$src/packaging/tests/k8s/validate.mjs" "$work/validate.mjs"
(cd "$work" && node validate.mjs "$src"/packaging/kubernetes/*.yaml)
