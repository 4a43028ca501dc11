#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How evenly do requests spread over the workers? Runs cppgunicorn with 4 workers x 2
# threads, drives it with wrk, and counts the requests each worker served from the access
# log (%(p)s is the worker's pid).
#   bench/spread.sh [--duration 5] [--connections 64]
# Scenarios: hello over keep-alive connections, and a handler that blocks 10 ms.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/.." && pwd)
CPPG_BIN=${CPPG_BIN:-$repo_root/build/cppgunicorn}
APP=${CPPG_TESTKIT:-$repo_root/build/tests/apps/testkit.so}
duration=5
connections=64
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--connections N]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

port=18090
run_scenario() {  # name, path
  local name=$1 path=$2 log=$tmp/access-$1.log
  "$CPPG_BIN" --bind 127.0.0.1:$port --workers 4 --threads 2 --access-logfile "$log" \
    --access-logformat '%(p)s' "$APP" 2>"$tmp/error-$name.log" &
  server_pid=$!
  local deadline=$((SECONDS + 10))
  until curl -sf -o /dev/null "http://127.0.0.1:$port$path"; do
    (( SECONDS < deadline )) || { echo "server did not start" >&2; cat "$tmp/error-$name.log" >&2; exit 1; }
    sleep 0.05
  done
  wrk -t1 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port$path" > "$tmp/wrk-$name.txt"
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  local rps total
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk-$name.txt")
  total=$(wc -l < "$log")
  echo "| $name | $rps | $(sort "$log" | uniq -c | sort -rn | awk -v t="$total" '{printf "%s%.1f %%", (NR>1?", ":""), 100*$1/t}') |"
}

echo "# Spread of requests over 4 workers x 2 threads ($(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc))"
echo
echo "command: \`bench/spread.sh --duration $duration --connections $connections\`"
echo
echo "| scenario | req/s | share of requests per worker (largest first) |"
echo "|---|---:|---|"
run_scenario "hello keep-alive" "/environ"
run_scenario "blocking 10 ms" "/sleep?ms=10"
