#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the package puts in share/doc/cppgunicorn, checked without root or a package: the
# build is installed into a staging directory (DESTDIR), every relative link of every
# installed Markdown file must resolve inside the installed docs (doc-links.py), and each
# installed example project must configure against the staged kit as an app author's
# project would (packaging/tests/deb.sh also builds and tests them against the real package).
# Usage: packaging/tests/installed-docs.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr >/dev/null
docs="$tmp/stage/usr/share/doc/cppgunicorn"
/usr/bin/python3 "$here/doc-links.py" "$docs"
for example in standalone todo notes; do
  [[ -f "$docs/examples/$example/CMakeLists.txt" ]] || { echo "FAIL: examples/$example is not installed" >&2; exit 1; }
  # The tests' dependency (doctest) is only needed to build them; configuring finds it or not.
  if ! cmake -S "$docs/examples/$example" -B "$tmp/build-$example" -DCMAKE_PREFIX_PATH="$tmp/stage/usr" \
       > "$tmp/$example.log" 2>&1; then
    cat "$tmp/$example.log"
    echo "FAIL: the installed examples/$example does not configure against the installed kit" >&2
    exit 1
  fi
done
echo "installed examples configure against the installed kit: standalone todo notes"
