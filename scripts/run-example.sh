#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing, builds in Release and serves the hello example on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "serving build/examples/hello.so on http://127.0.0.1:8000/ (Ctrl-C stops)" >&2
exec build/cppgunicorn --bind 127.0.0.1:8000 build/examples/hello.so
