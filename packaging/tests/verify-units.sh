#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd-analyze verify of every shipped unit, ExecStart pointed at the built binary:
# it must exit 0 and print nothing (unknown keys and bad values are only printed). The
# template instance is verified with the data drop-in (cppgunicorn@.service.d/data.conf)
# applied, as an admin installs it.
# Usage: packaging/tests/verify-units.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (package systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc/cppgunicorn"
for unit in cppgunicorn.service cppgunicorn.socket cppgunicorn@.service cppgunicorn@.socket; do
  sed -e "s|@CPPG_BINDIR@|$build|g" -e "s|@CPPG_CONFDIR@|$tmp/etc/cppgunicorn|g" \
      "$src/packaging/systemd/$unit.in" > "$tmp/$unit"
done
# Templates are verified through an instance, as systemd would load them.
cp "$tmp/cppgunicorn@.service" "$tmp/cppgunicorn@demo.service"
cp "$tmp/cppgunicorn@.socket" "$tmp/cppgunicorn@demo.socket"
rm "$tmp/cppgunicorn@.service" "$tmp/cppgunicorn@.socket"
# systemd-analyze reads drop-ins from beside the units it is given (an unknown key in one is
# reported, a missing ExecStartPre binary fails it).
mkdir "$tmp/cppgunicorn@.service.d"
cp "$src/packaging/systemd/cppgunicorn@.service.d/data.conf" "$tmp/cppgunicorn@.service.d/"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./cppgunicorn.service ./cppgunicorn.socket \
        ./cppgunicorn@demo.service ./cppgunicorn@demo.socket 2>&1) || { echo "$out"; echo "FAIL: systemd-analyze verify exited non-zero" >&2; exit 1; }
if [[ -n "$out" ]]; then
  echo "$out"
  echo "FAIL: systemd-analyze verify printed something" >&2
  exit 1
fi
# The exposure score, for the record (lower is better; 10 = no sandboxing at all).
(cd "$tmp" && systemd-analyze security --offline=yes ./cppgunicorn.service 2>/dev/null | tail -n 1) || true
echo "units verified: cppgunicorn.service cppgunicorn.socket cppgunicorn@.service (with cppgunicorn@.service.d/data.conf) cppgunicorn@.socket"
