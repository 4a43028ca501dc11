#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark suite in one command: installs the peers (nginx, gunicorn + Flask, uWSGI, wrk),
# builds cppgunicorn in Release if needed, then runs bench/suite.py with the given options.
#   bench/run.sh [--smoke] [--rounds N] [--duration S] [--scenarios a,b,...] [--json FILE] ...
# See bench/README.md. Not root and something missing: prints the apt-get line and exits 1.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# In a subshell, so that relative paths given to suite.py (--json) stay the caller's.
(
  cd "$repo_root"
  scripts/deps.sh bench
  # Configure when there is no build yet, or one from before bench/ was added to the tree.
  if [[ ! -f build/CMakeCache.txt || ! -d build/bench ]]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >&2
  fi
  if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' build/CMakeCache.txt; then
    echo "[run.sh] warning: build/ is not a Release build; its numbers are not comparable" >&2
  fi
  cmake --build build -j"$(nproc)" --target cppgunicorn hello fanout bench_app >&2
)

exec python3 "$repo_root/bench/suite.py" "$@"
