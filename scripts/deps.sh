#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages a task needs, or says exactly how to.
# Usage: scripts/deps.sh build|test|bench   (test and bench include build)
set -euo pipefail

# libsqlite3-dev: for examples/notes only (the server does not link it).
build_pkgs=(cmake make g++ pkg-config node-llhttp libuv1-dev libspdlog-dev libyaml-cpp-dev
            doctest-dev nlohmann-json3-dev libsystemd-dev libsqlite3-dev)
# python3-dev and libpython3.11-dev: the WSGI bridge (plugins/wsgi) is built only when Debian's
# Python 3.11 headers are there; flask, django and httpbin are the real apps its tests serve,
# and gunicorn (20.1) the reference they are compared with (test_80 to test_82).
test_pkgs=(python3 curl clang libclang-rt-14-dev nginx-light wrk systemd lintian gunicorn python3-prometheus-client yamllint
           python3-dev libpython3.11-dev python3-flask python3-django python3-httpbin)
bench_pkgs=(nginx-light wrk gunicorn python3-flask uwsgi uwsgi-plugin-python3 curl python3)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "cppgunicorn needs these Debian packages; install them as root with:" >&2
  echo "  sudo apt-get update && sudo $line" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q >&2
# nginx-light's postinst starts nginx on port 80 where systemd/invoke-rc.d can; the bench
# runs its own instance, so keep the packaged one from starting.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$line >&2
