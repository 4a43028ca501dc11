#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real Prometheus (Debian's) scraping a real server's admin listener: promtool checks the
# alert rules, Prometheus loads them and scrapes /metrics every second, and every metric
# family of docs/operations.md must then be queryable. Run with CPPG_FULL=1 scripts/test.sh
# or by hand (root installs the prometheus package if missing).
# Usage: packaging/tests/prometheus.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v prometheus >/dev/null; then
  [[ $(id -u) -eq 0 ]] || fail "prometheus is not installed (package prometheus)"
  # Its postinst would start the packaged service; this script runs its own instance.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

echo "--- promtool check rules"
promtool check rules "$src/packaging/prometheus/alerts.yml"

port=$(free_port); admin=$(free_port); prom=$(free_port)
"$build/cppgunicorn" --bind "127.0.0.1:$port" --admin-bind "127.0.0.1:$admin" --workers 2 --threads 2 \
  "$build/tests/apps/testkit.so" > "$tmp/server.log" 2>&1 &
pids+=($!)
cat > "$tmp/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$src/packaging/prometheus/alerts.yml"]
scrape_configs:
  - job_name: cppgunicorn
    static_configs: [{targets: ["127.0.0.1:$admin"]}]
CONF
promtool check config "$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom" > "$tmp/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$prom/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/pid"; curl -s -o /dev/null "http://127.0.0.1:$port/nope"; done

echo "--- the target is up and every family is queryable"
query() { curl -fsS "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 100); do
  query 'up{job="cppgunicorn"}' | grep -q '"value":\[[0-9.]*,"1"\]' && break; sleep 0.2
done
families=$(grep -o '`cppgunicorn_[a-z_]*`\|`process_[a-z_]*`' "$src/docs/operations.md" | tr -d '`' | sort -u)
for f in $families; do
  name=$f
  case $f in cppgunicorn_*_seconds) name=${f}_count ;; esac  # the histograms
  for _ in $(seq 50); do query "$name" | grep -q '"result":\[{' && break; sleep 0.2; done
  query "$name" | grep -q '"result":\[{' || fail "$name is not in Prometheus"
  printf '%-48s %s\n' "$name" "$(query "sum($name)" | grep -o '"value":\[[^]]*\]')"
done
rules=$(curl -fsS "http://127.0.0.1:$prom/api/v1/rules" | grep -o '"name":"Cppgunicorn[A-Za-z]*"' | wc -l)
[[ $rules -ge 6 ]] || fail "Prometheus loaded $rules alert rules"
echo "Prometheus $(prometheus --version 2>&1 | head -n 1 | cut -d' ' -f3) scraped every metric; $rules alert rules loaded"
