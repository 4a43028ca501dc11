#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing, builds, and runs every test:
#   1. Release build (-Werror): unit tests, integration tests, the benchmark smoke test;
#   2. the Debian package from that build (as root): lintian, install, an app built against
#      it, purge (packaging/tests/deb.sh); the Kubernetes manifests against the API schemas;
#   3. AddressSanitizer + UBSan build: unit and integration tests;
#   4. ThreadSanitizer build: unit and integration tests;
#   5. short libFuzzer runs over the HTTP request parser and the configuration loader.
# Set CPPG_QUICK=1 to run only steps 1 and 2. CPPG_FULL=1 adds the container tests
# (packaging/tests/docker.sh, packaging/tests/systemd-e2e.sh), which need podman and minutes,
# and a real Prometheus scraping the server (packaging/tests/prometheus.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)

run_suite() {  # name, build dir, extra cmake args...
  local name=$1 dir=$2; shift 2
  echo "=== $name ===" >&2
  # CPPG_TESTS=ON: a build directory configured without tests by hand still gets them.
  cmake -S . -B "$dir" -DCPPG_WERROR=ON -DCPPG_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${CPPG_CTEST_ARGS:-})
}

run_suite "release" build -DCMAKE_BUILD_TYPE=Release
echo "=== package ===" >&2
packaging/tests/deb.sh build
echo "=== kubernetes manifests ===" >&2
packaging/tests/kubernetes.sh build
if [[ "${CPPG_FULL:-0}" == 1 ]]; then
  echo "=== container image (podman) ===" >&2
  packaging/tests/docker.sh build
  echo "=== systemd as PID 1 (podman) ===" >&2
  packaging/tests/systemd-e2e.sh build
  echo "=== a real Prometheus scraping /metrics ===" >&2
  packaging/tests/prometheus.sh build
fi
if [[ "${CPPG_QUICK:-0}" != 1 ]]; then
  run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCPPG_SANITIZE=address,undefined
  run_suite "tsan" build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCPPG_SANITIZE=thread
  echo "=== fuzz ===" >&2
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCPPG_FUZZ=ON -DCPPG_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_request_parser fuzz_config >/dev/null
  # Each target starts from its committed seeds; a crash fails the run and leaves the input
  # as build-fuzz/crash-*, to be added to the seeds once fixed (every build replays them).
  for target in fuzz_request_parser:corpus fuzz_config:config_corpus; do
    name=${target%%:*} seeds=${target##*:}
    mkdir -p "build-fuzz/$name.corpus"
    (cd build-fuzz && "./$name" -max_total_time="${CPPG_FUZZ_SECONDS:-45}" -print_final_stats=1 \
      "$name.corpus" "../tests/fuzz/$seeds" 2>&1 | tail -n 5)
  done
fi
echo "all test suites passed" >&2
