#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hello-world throughput benchmark: cppgunicorn against nginx on the same machine.
#
# Both servers answer GET / with "Hello, World!\n" from a single worker thread, and wrk drives
# each in turn with the same load. See bench/README.md for how to read the output.
#
# Usage (from the repo root, after a build):
#   bench/hello.sh [--duration SECONDS] [--connections N] [--rounds N] [--smoke]
# Environment:
#   CPPG_BIN  server binary      (default: build/cppgunicorn)
#   CPPG_APP  application module (default: build/examples/hello.so)
#   BENCH_NGINX_PORT, BENCH_CPPG_PORT  ports on 127.0.0.1 (default: 18080, 18081)
set -euo pipefail
export LC_ALL=C  # decimal points in awk/printf output, whatever the caller's locale

readonly NGINX=/usr/sbin/nginx
readonly NGINX_PORT=${BENCH_NGINX_PORT:-18080}
readonly CPPG_PORT=${BENCH_CPPG_PORT:-18081}
readonly EXPECTED_BODY=$'Hello, World!\n'
readonly STARTUP_TIMEOUT_S=10
readonly SHUTDOWN_TIMEOUT_S=5

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CPPG_BIN=${CPPG_BIN:-$repo_root/build/cppgunicorn}
CPPG_APP=${CPPG_APP:-$repo_root/build/examples/hello.so}

duration=5
connections=64
rounds=3
smoke=0
command_line=$(printf '%q ' "$0" "$@")

tmp=""
declare -A server_pid=()  # server name -> pid of the process we started (master)
declare -A server_cmd=()  # server name -> its command line, shell-quoted, for the report
wrk_pid=""
clk_tck=""
results=()         # one line per wrk run: "round server requests rps p50_us p99_us non2xx
                   # socket_errors cpu_us_per_req rss_mib_per_process"
declare -A med=()  # "server.metric" -> median across rounds

# Milliseconds since the epoch; $SECONDS is too coarse for a deadline of a few seconds.
now_ms() {
    local us=${EPOCHREALTIME/./}
    echo $((us / 1000))
}

log() { printf '[hello.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
    cat <<'EOF'
Options:
  --duration S      seconds per wrk run (default 5)
  --connections N   concurrent keep-alive connections (default 64)
  --rounds N        rounds per server; the report shows medians (default 3)
  --smoke           quick check: 1 round, 1 s, 8 connections (overrides the options above)
EOF
}

parse_args() {
    while (($# > 0)); do
        case $1 in
            --duration) duration=${2:?--duration needs a value}; shift ;;
            --duration=*) duration=${1#*=} ;;
            --connections) connections=${2:?--connections needs a value}; shift ;;
            --connections=*) connections=${1#*=} ;;
            --rounds) rounds=${2:?--rounds needs a value}; shift ;;
            --rounds=*) rounds=${1#*=} ;;
            --smoke) smoke=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done
    if ((smoke)); then
        duration=1 rounds=1 connections=8
    fi
    local name
    for name in duration connections rounds; do
        [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "--$name must be a positive integer, got '${!name}'"
    done
}

# --- setup ----------------------------------------------------------------------------------

# Prints the Debian packages providing the tools this script runs that are not installed.
missing_packages() {
    [[ -x $NGINX ]] || echo nginx-light
    command -v wrk >/dev/null || echo wrk
    command -v curl >/dev/null || echo curl
    command -v pgrep >/dev/null || echo procps
}

ensure_peers() {
    local missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0

    local install=(apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}")
    if ((EUID != 0)); then
        log "missing: ${missing[*]}; install them as root with:"
        printf '  %s\n' "${install[*]}" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    # A fresh machine may have empty package lists, so retry once after an update.
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2; }
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) || die "still missing after apt-get: ${missing[*]}"
}

check_server_under_test() {
    [[ -x $CPPG_BIN ]] || die "server binary not found: $CPPG_BIN (build first, or set CPPG_BIN)"
    [[ -e $CPPG_APP ]] || die "application not found: $CPPG_APP (build first, or set CPPG_APP)"
}

# Succeeds if something already accepts connections on the port. Checking this up front
# matters: otherwise a stale server would answer our readiness probe and get benchmarked.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_nginx_conf() {
    local conf=$1 prefix=$2
    # Every path is absolute and inside $tmp: the Debian build's compiled-in temp paths point
    # at /var/lib/nginx, which we must not touch.
    cat >"$conf" <<EOF
worker_processes 1;
master_process on;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections $((connections + 1024)); }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 100000;
    client_body_temp_path $prefix/client_body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "Hello, World!\n"; }
    }
}
EOF
}

start_nginx() {
    local prefix=$tmp/nginx
    mkdir -p "$prefix"
    write_nginx_conf "$tmp/nginx.conf" "$prefix"
    # -e keeps even pre-config startup errors out of the compiled-in default log location.
    local cmd=("$NGINX" -p "$prefix/" -c "$tmp/nginx.conf" -e "$prefix/error.log" -g 'daemon off;')
    "${cmd[@]}" >"$prefix/stdout.log" 2>&1 &
    server_pid[nginx]=$!
    server_cmd[nginx]=$(printf '%q ' "${cmd[@]}")
}

start_cppgunicorn() {
    local cmd=("$CPPG_BIN" --bind "127.0.0.1:$CPPG_PORT" --threads 1 "$CPPG_APP")
    "${cmd[@]}" >"$tmp/cppgunicorn-stdout.log" 2>"$tmp/cppgunicorn-error.log" &
    server_pid[cppgunicorn]=$!
    server_cmd[cppgunicorn]=$(printf '%q ' "${cmd[@]}")
}

server_log() {
    case $1 in
        nginx) echo "$tmp/nginx/error.log" ;;
        cppgunicorn) echo "$tmp/cppgunicorn-error.log" ;;
    esac
}

server_port() {
    case $1 in
        nginx) echo "$NGINX_PORT" ;;
        cppgunicorn) echo "$CPPG_PORT" ;;
    esac
}

die_with_log() {
    local name=$1
    shift
    log "last lines of $name's log:"
    tail -n 20 "$(server_log "$name")" >&2 || true
    die "$name: $*"
}

# Polls until the server answers with a 2xx, failing fast if it exits instead.
wait_ready() {
    local name=$1 url deadline=$(($(now_ms) + STARTUP_TIMEOUT_S * 1000))
    url=http://127.0.0.1:$(server_port "$name")/
    until curl -sf -o /dev/null --max-time 1 "$url"; do
        alive "${server_pid[$name]}" || die_with_log "$name" "exited during startup"
        (($(now_ms) < deadline)) || die_with_log "$name" "no answer on $url after ${STARTUP_TIMEOUT_S}s"
        sleep 0.05
    done
}

check_body() {
    local name=$1 url body
    url=http://127.0.0.1:$(server_port "$name")/
    # The trailing "x" survives command substitution, which would otherwise strip the newline.
    body=$(curl -sf --max-time 2 "$url" && printf x) || die_with_log "$name" "GET $url failed"
    [[ $body == "${EXPECTED_BODY}x" ]] ||
        die "$name: unexpected body from $url: $(printf %q "${body%x}")"
}

# --- process accounting ---------------------------------------------------------------------

# kill -0 also succeeds for a zombie, which is what an exited server is until we reap it, so
# the process state is checked as well.
alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

any_alive() {
    local pid
    for pid in "$@"; do
        alive "$pid" && return 0
    done
    return 1
}

# Prints the pid and all its descendants (nginx workers, or cppgunicorn worker processes).
process_tree() {
    local child
    echo "$1"
    for child in $(pgrep -P "$1" || true); do
        process_tree "$child"
    done
}

# CPU clock ticks used by one process: utime+stime (stat fields 14, 15, which already cover all
# its threads) plus cutime+cstime (16, 17), so a worker that exits and is reaped mid-run still
# counts. The comm field may contain spaces, so fields are counted after its closing ')'.
process_ticks() {
    local stat f
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
    read -ra f <<<"${stat##*) }"
    echo $((f[11] + f[12] + f[13] + f[14]))
}

tree_ticks() {
    local pid total=0
    for pid in $(process_tree "$1"); do
        total=$((total + $(process_ticks "$pid")))
    done
    echo "$total"
}

# Resident memory of each process in the tree, in MiB, joined with '+' (master first).
tree_rss_mib() {
    local pid kb parts=()
    for pid in $(process_tree "$1"); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        [[ -z $kb ]] || parts+=("$(awk -v kb="$kb" 'BEGIN {printf "%.1f", kb / 1024}')")
    done
    local IFS=+
    echo "${parts[*]}"
}

# --- measurement ----------------------------------------------------------------------------

# Prints "requests req_per_s p50_us p99_us non2xx socket_errors" from wrk's --latency output.
parse_wrk() {
    awk '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1e3
            if (v ~ /s$/)  return v * 1e6
            if (v ~ /m$/)  return v * 60e6
            return v + 0
        }
        $1 == "50%"                { p50 = us($2) }
        $1 == "99%"                { p99 = us($2) }
        / requests in /            { requests = $1 }
        /^Requests\/sec:/          { rps = $2 }
        /Socket errors:/           { gsub(/,/, ""); socket = $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses/ { non2xx = $NF }
        END { printf "%d %.2f %.1f %.1f %d %d\n", requests, rps, p50, p99, non2xx, socket }
    ' "$1"
}

# One wrk run against one server, with the server's CPU time sampled just before and after.
measure() {
    local round=$1 name=$2 pid out ticks_before ticks_after
    local requests rps p50 p99 non2xx socket cpu_us rss
    pid=${server_pid[$name]}
    out=$tmp/wrk-$round-$name.txt
    log "round $round/$rounds: $name"
    alive "$pid" || die_with_log "$name" "is no longer running"

    ticks_before=$(tree_ticks "$pid")
    # wrk runs in the background so a SIGINT/SIGTERM to this script is handled at once.
    wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$(server_port "$name")/" \
        >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed against $name"; }
    wrk_pid=""
    ticks_after=$(tree_ticks "$pid")
    rss=$(tree_rss_mib "$pid")

    alive "$pid" || die_with_log "$name" "exited during the benchmark"
    read -r requests rps p50 p99 non2xx socket < <(parse_wrk "$out")
    ((requests > 0)) || { cat "$out" >&2; die "wrk completed zero requests against $name"; }
    cpu_us=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clk_tck" -v n="$requests" \
        'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    results+=("$round $name $requests $rps $p50 $p99 $non2xx $socket $cpu_us $rss")
}

# --- report ---------------------------------------------------------------------------------

# Median of the numbers on stdin, one per line.
median() {
    sort -g | awk '
        { v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Prints one field (1-based, as in the results line) of every run against one server.
field_values() {
    local name=$1 col=$2 line f
    for line in "${results[@]}"; do
        read -ra f <<<"$line"
        if [[ ${f[1]} == "$name" ]]; then
            echo "${f[col - 1]}"
        fi
    done
}

# Total RSS of the tree, summing the '+'-joined per-process values.
rss_totals() {
    field_values "$1" 10 | awk -F+ '{s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f\n", s}'
}

compute_medians() {
    local name
    for name in nginx cppgunicorn; do
        med[$name.rps]=$(field_values "$name" 4 | median)
        med[$name.p50]=$(field_values "$name" 5 | median)
        med[$name.p99]=$(field_values "$name" 6 | median)
        med[$name.errors]=$(paste -d' ' <(field_values "$name" 7) <(field_values "$name" 8) |
            awk '{print $1 + $2}' | median)
        med[$name.cpu]=$(field_values "$name" 9 | median)
        med[$name.rss]=$(rss_totals "$name" | median)
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.2f" : "n/a"), a / (b > 0 ? b : 1)}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.3f", us / 1000}'; }

# CPPGUNICORN_* variables change the server's settings, so the report must show them.
cppg_env() {
    local vars
    vars=$(env | grep '^CPPGUNICORN_' | sort | tr '\n' ' ') || true
    vars=${vars% }
    echo "${vars:-none}"
}

nginx_version() { "$NGINX" -v 2>&1 | sed 's/^nginx version: //'; }
wrk_version() { wrk -v 2>&1 | head -n1 | sed 's/^wrk //; s/ Copyright.*//'; }
repo_version() { git -C "$repo_root" describe --always --dirty 2>/dev/null || echo 'no commits'; }
# The timeout guards against a stand-in binary that ignores --version and starts serving.
cppg_version() {
    local v
    v=$(timeout 2 "$CPPG_BIN" --version </dev/null 2>/dev/null | head -n1) || true
    echo "${v:-cppgunicorn (version unknown)}"
}

print_report() {
    compute_medians
    cat <<EOF
# Hello-world benchmark: cppgunicorn vs nginx

- command: \`${command_line% }\`
- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- host: nproc $(nproc), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), \
kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)
- nginx $(nginx_version): \`${server_cmd[nginx]% }\` (worker_processes 1)
- $(cppg_version) (git $(repo_version)): \`${server_cmd[cppgunicorn]% }\`, \
CPPGUNICORN_* environment: $(cppg_env)
- wrk $(wrk_version): \`wrk -t1 -c$connections -d${duration}s --latency http://127.0.0.1:PORT/\`, \
$rounds round(s), nginx then cppgunicorn in each round

Medians across rounds. errors = non-2xx responses + socket errors. CPU = user+system time of
the server's whole process tree per completed request. RSS = sum over the tree after the run.

| server | req/s | p50 (ms) | p99 (ms) | errors | CPU µs/req | RSS (MiB) |
|---|---:|---:|---:|---:|---:|---:|
EOF
    local name
    for name in nginx cppgunicorn; do
        printf '| %s | %.0f | %s | %s | %s | %.2f | %.1f |\n' "$name" "${med[$name.rps]}" \
            "$(ms "${med[$name.p50]}")" "$(ms "${med[$name.p99]}")" "${med[$name.errors]}" \
            "${med[$name.cpu]}" "${med[$name.rss]}"
    done
    printf '| **cppgunicorn / nginx** | **%s** | | | | **%s** | |\n' \
        "$(ratio "${med[cppgunicorn.rps]}" "${med[nginx.rps]}")" \
        "$(ratio "${med[cppgunicorn.cpu]}" "${med[nginx.cpu]}")"

    cat <<'EOF'

Per round (RSS per process, master first):

| round | server | requests | req/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | CPU µs/req | RSS (MiB) |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---|
EOF
    local line f
    for line in "${results[@]}"; do
        read -ra f <<<"$line"
        printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "${f[0]}" "${f[1]}" \
            "${f[2]}" "${f[3]}" "$(ms "${f[4]}")" "$(ms "${f[5]}")" "${f[6]}" "${f[7]}" \
            "${f[8]}" "${f[9]}"
    done
}

# --- teardown -------------------------------------------------------------------------------

# SIGTERM to the top process, then SIGKILL for anything in its tree still alive after a grace
# period, so a hung server cannot leave workers behind.
stop_tree() {
    local name=$1 pid=$2 pids deadline=$(($(now_ms) + SHUTDOWN_TIMEOUT_S * 1000))
    mapfile -t pids < <(process_tree "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    while any_alive "${pids[@]}" && (($(now_ms) < deadline)); do
        sleep 0.05
    done
    if any_alive "${pids[@]}"; then
        log "warning: $name did not exit within ${SHUTDOWN_TIMEOUT_S}s of SIGTERM; killing it"
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? name
    trap - EXIT INT TERM HUP
    if [[ -n $wrk_pid ]]; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
    fi
    for name in "${!server_pid[@]}"; do
        stop_tree "$name" "${server_pid[$name]}"
    done
    if [[ -n $tmp ]]; then
        rm -rf "$tmp"
    fi
    exit "$rc"
}

main() {
    parse_args "$@"
    ensure_peers
    check_server_under_test
    clk_tck=$(getconf CLK_TCK)
    # Raise the soft fd limit to the hard one so large --connections values don't hit EMFILE.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

    local name
    for name in nginx cppgunicorn; do
        ! port_in_use "$(server_port "$name")" ||
            die "127.0.0.1:$(server_port "$name") is already in use; stop whatever listens there"
    done

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cppg-bench.XXXXXX")

    start_nginx
    start_cppgunicorn
    for name in nginx cppgunicorn; do
        wait_ready "$name"
        check_body "$name"
    done

    local round
    for ((round = 1; round <= rounds; round++)); do
        measure "$round" nginx
        measure "$round" cppgunicorn
    done
    print_report
}

main "$@"
