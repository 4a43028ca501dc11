#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The packaged config file, as rendered from the settings table: as shipped it passes
# --check-config (its app loads); with every "#name: value" line uncommented each of those
# is a real setting that validates (--print-config), and none is missing.
# Usage: packaging/tests/conffile.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@CPPG_EXAMPLESDIR@|$build/examples|g" -e "s|@CPPG_CONFDIR@|$tmp|g" \
    "$build/packaging/generated/cppgunicorn.yaml.in" > "$tmp/shipped.yaml"
if grep -n '@[A-Z_]*@\|%%' "$tmp/shipped.yaml"; then echo "FAIL: unfilled placeholders" >&2; exit 1; fi

"$build/cppgunicorn" --config "$tmp/shipped.yaml" --check-config

# Only the commented reference (after the active lines), uncommented.
sed -n '/^## /,$p' "$tmp/shipped.yaml" | sed -e 's/^#\([a-z_]*: \)/\1/' > "$tmp/reference.yaml"
"$build/cppgunicorn" --config "$tmp/reference.yaml" --print-config > "$tmp/effective.txt"
# Every setting is in the reference, but the command-only ones (which no file may set).
grep -o '^[a-z_]*' "$tmp/reference.yaml" | sort > "$tmp/documented"
grep -o '^[a-z_]*' "$tmp/effective.txt" | grep -vx 'config\|print_config\|check_config\|probe' | sort > "$tmp/all"
if ! diff -u "$tmp/all" "$tmp/documented"; then
  echo "FAIL: the config file's reference and the settings table differ (above)" >&2
  exit 1
fi
# And the server took each value from the file (an empty list leaves nothing to take).
not_taken=$(grep -v '# config file \|: \[\] ' "$tmp/effective.txt" | grep -o '^[a-z_]*' | grep -vx 'config\|print_config\|check_config\|probe' || true)
if [[ -n "$not_taken" ]]; then
  echo "FAIL: not taken from the file: $not_taken" >&2
  exit 1
fi
echo "config file OK: $(wc -l < "$tmp/documented") settings documented, each one valid"
