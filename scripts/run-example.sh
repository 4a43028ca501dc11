#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The first run: installs what is missing, builds the server and the hello example (nothing
# else: no tests, no benchmarks) in Release in build-example/, and serves hello on
# 127.0.0.1:8000 with the admin endpoints on 127.0.0.1:9000, saying what it does at each
# step and what to try once it serves. Ctrl-C stops it.
# CPPG_EXAMPLE_PORT and CPPG_EXAMPLE_ADMIN_PORT choose other ports.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${CPPG_EXAMPLE_PORT:-8000}
admin=${CPPG_EXAMPLE_ADMIN_PORT:-9000}
build=build-example  # not build/: scripts/test.sh builds everything there, tests included
step() { printf '\n--- [%s/4] %s\n' "$1" "$2" >&2; }

step 1 "Debian packages for the build (scripts/deps.sh build)"
scripts/deps.sh build
echo "installed: cmake, g++, libuv, llhttp's sources, spdlog, yaml-cpp, nlohmann-json, libsystemd..." >&2

step 2 "configuring a Release build in $build/ (cmake; tests off)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCPPG_TESTS=OFF >&2

step 3 "building the server and the hello example (cmake --build $build --target cppgunicorn hello)"
cmake --build "$build" -j"$(nproc)" --target cppgunicorn hello >&2

step 4 "serving $build/examples/hello.so on http://127.0.0.1:$port/"
"$build/cppgunicorn" --bind "127.0.0.1:$port" --admin-bind "127.0.0.1:$admin" "$build/examples/hello.so" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" || true; exit 0' INT TERM
for _ in $(seq 100); do
  "$build/cppgunicorn" --probe /readyz --admin-bind "127.0.0.1:$admin" >/dev/null 2>&1 && break
  if ! kill -0 "$server" 2>/dev/null; then
    rc=0 && wait "$server" || rc=$?
    echo "the server exited ($rc) before it served: its log is above" >&2
    exit 1
  fi
  sleep 0.1
done
try() { printf '  %-40s # %s\n' "$1" "$2" >&2; }
printf '\nIt serves. Try, from another terminal:\n' >&2
try "curl http://127.0.0.1:$port/" "Hello, World!"
try "curl http://127.0.0.1:$admin/readyz" "the master's readiness: workers serving"
try "curl http://127.0.0.1:$admin/livez" "the master's loop runs"
try "curl http://127.0.0.1:$admin/metrics" "Prometheus metrics"
try "curl http://127.0.0.1:$admin/status" "workers, threads, requests (?json for JSON)"
cat >&2 <<EOF

Then: docs/quickstart.md (more examples, the flags you know from gunicorn),
docs/plugin-guide.md (your own app, its tests), docs/deployment.md (systemd, Docker, nginx).
scripts/test.sh builds everything in build/ and runs every test. Ctrl-C stops the server.
EOF
wait "$server"
