#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package under real systemd (PID 1 in a privileged podman container): the
# socket activates the service, a request is served, `systemctl reload`, a USR2 binary
# upgrade that systemd follows (MAINPID), the watchdog, a template instance on its unix
# socket, an instance that keeps data (examples/notes, SQLite) with the data drop-in: it
# cannot write without it, writes with it and finds its data after a restart; and
# `systemctl stop`. Prints what it sees; docs/deployment.md records a run.
# Usage: packaging/tests/systemd-e2e.sh BUILD_DIR   (root; uses the base image docker.sh makes)
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${CPPG_CONTAINER_WORK:-/var/tmp/cppgunicorn-containers}
export CONTAINERS_CONF="$work/containers.conf"
step() { echo; echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; podman exec cg-sd journalctl --no-pager -n 60 2>/dev/null || true; exit 1; }
[[ -f "$CONTAINERS_CONF" ]] && podman image exists docker.io/library/debian:bookworm-slim ||
  fail "run packaging/tests/docker.sh first: it sets up podman and the base image"
in_ct() { podman exec cg-sd "$@"; }
show() { in_ct systemctl show -p "$2" --value "$1"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out after ${seconds} s waiting for: $what"
}

step "package and image"
rm -f "$build"/cppgunicorn_*.deb
(cd "$build" && cpack -G DEB >/dev/null 2>&1)
ctx="$work/systemd-image"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$build"/cppgunicorn_*.deb "$ctx/cppgunicorn.deb"
cp "$build/examples/notes.so" "$ctx/"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends systemd systemd-sysv curl procps \
      libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/*
COPY notes.so /srv/notes/notes.so
COPY cppgunicorn.deb /tmp/
RUN apt-get update && apt-get install -y --no-install-recommends /tmp/cppgunicorn.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/cppgunicorn.deb
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
DOCKERFILE
podman build --pull=never --format docker --network host -t localhost/cppgunicorn-systemd:test "$ctx" > "$work/systemd-build.log" 2>&1 ||
  { tail -n 30 "$work/systemd-build.log"; fail "image build"; }
podman rm -f cg-sd >/dev/null 2>&1 || true
trap 'podman rm -f cg-sd >/dev/null 2>&1 || true' EXIT
podman run -d --name cg-sd --privileged --systemd=always --network bridge localhost/cppgunicorn-systemd:test >/dev/null
wait_for 60 "systemd up" sh -c "podman exec cg-sd systemctl is-system-running | grep -qE 'running|degraded'"
echo "systemd: $(in_ct systemctl is-system-running || true); $(in_ct systemctl --version | head -n 1)"

step "the package enabled the socket; the service waits for the first connection"
echo "cppgunicorn.socket: $(show cppgunicorn.socket ActiveState) ($(show cppgunicorn.socket SubState)), enabled: $(in_ct systemctl is-enabled cppgunicorn.socket)"
echo "cppgunicorn.service: $(show cppgunicorn.service ActiveState)"
[[ $(show cppgunicorn.socket SubState) == listening ]] || fail "the socket is not listening"
[[ $(show cppgunicorn.service ActiveState) == inactive ]] || fail "the service started before any connection"

step "first request: socket activation starts the service (Type=notify)"
body=$(in_ct curl -fsS --max-time 10 http://127.0.0.1:8000/) || fail "no answer on 127.0.0.1:8000"
echo "GET / -> $body"
[[ $body == "Hello, World!" ]] || fail "unexpected body"
wait_for 10 "service active" sh -c "[ \"\$(podman exec cg-sd systemctl show -p ActiveState --value cppgunicorn.service)\" = active ]"
master=$(show cppgunicorn.service MainPID)
echo "MainPID=$master StatusText=$(show cppgunicorn.service StatusText)"
in_ct journalctl -u cppgunicorn.service --no-pager -o cat | grep -E "Listening at|Using worker" || fail "no startup lines in the journal"
in_ct systemctl status --no-pager cppgunicorn.service | head -n 12
for w in $(in_ct cat /proc/$master/task/$master/children); do
  [[ $(in_ct stat -c %U /proc/$w) == www-data ]] || fail "worker $w does not run as www-data"
done
echo "workers run as www-data; the master as $(in_ct stat -c %U /proc/$master)"
[[ $(show cppgunicorn.service WatchdogTimestampMonotonic) != 0 ]] || fail "no watchdog ping recorded"
echo "watchdog: last ping at monotonic $(show cppgunicorn.service WatchdogTimestampMonotonic) us (WatchdogSec=30)"

step "systemctl reload: RELOADING=1, new workers, READY=1"
old_workers=$(in_ct cat /proc/$master/task/$master/children)
in_ct systemctl reload cppgunicorn.service
wait_for 10 "the reload announced" sh -c "podman exec cg-sd systemctl show -p StatusText --value cppgunicorn.service | grep -q 'last reload'"
wait_for 10 "ready after reload" sh -c "[ \"\$(podman exec cg-sd systemctl show -p SubState --value cppgunicorn.service)\" = running ]"
new_workers=$(in_ct cat /proc/$master/task/$master/children)
echo "workers before: $old_workers; after: $new_workers"
[[ "$old_workers" != "$new_workers" ]] || fail "the workers were not replaced"
echo "StatusText=$(show cppgunicorn.service StatusText)"
[[ $(in_ct curl -fsS http://127.0.0.1:8000/) == "Hello, World!" ]] || fail "no answer after the reload"

step "binary upgrade (USR2): the new master claims MAINPID, the old one leaves"
in_ct systemctl kill -s USR2 --kill-who=main cppgunicorn.service
wait_for 15 "MainPID moved" sh -c "[ \"\$(podman exec cg-sd systemctl show -p MainPID --value cppgunicorn.service)\" != $master ]"
new_master=$(show cppgunicorn.service MainPID)
echo "MainPID: $master -> $new_master (parent $(in_ct ps -o ppid= -p "$new_master" | tr -d ' '))"
old=$(in_ct cat /run/cppgunicorn/cppgunicorn.pid.oldbin)
echo "pidfile: $(in_ct cat /run/cppgunicorn/cppgunicorn.pid), pidfile.oldbin: $old"
[[ $old == "$master" ]] || fail "the .oldbin pidfile does not name the old master"
in_ct kill -WINCH "$old"
in_ct kill -TERM "$old"
wait_for 40 "the old master gone" sh -c "! podman exec cg-sd kill -0 $master"
echo "old master $master exited; service: $(show cppgunicorn.service ActiveState)/$(show cppgunicorn.service SubState), MainPID=$(show cppgunicorn.service MainPID)"
[[ $(show cppgunicorn.service ActiveState) == active ]] || fail "the service did not survive the old master's exit"
[[ $(show cppgunicorn.service MainPID) == "$new_master" ]] || fail "MainPID is not the new master"
# Adopted by systemd before it claimed MAINPID: systemd supervises it as its own child.
in_ct journalctl -u cppgunicorn.service -o cat | grep -q "not our child" && fail "systemd supervises the new master as an alien"
echo "systemd supervises the new master as its own child (no 'not our child' warning)"
[[ $(in_ct curl -fsS http://127.0.0.1:8000/) == "Hello, World!" ]] || fail "no answer after the upgrade"
in_ct systemctl reload cppgunicorn.service
wait_for 10 "the new master reloads" sh -c "podman exec cg-sd journalctl -u cppgunicorn.service -o cat | grep -c 'Hang up' | grep -q 2"
echo "systemctl reload reaches the new master: $(in_ct journalctl -u cppgunicorn.service -o cat | grep -c 'Hang up') HUPs handled in all"

step "a rolled-back upgrade: USR2, then TERM to the new master; the old one is the service again"
in_ct systemctl kill -s USR2 --kill-who=main cppgunicorn.service
wait_for 15 "MainPID moved" sh -c "[ \"\$(podman exec cg-sd systemctl show -p MainPID --value cppgunicorn.service)\" != $new_master ]"
third=$(show cppgunicorn.service MainPID)
echo "MainPID: $new_master -> $third; now TERM to $third"
in_ct kill -TERM "$third"
wait_for 15 "the rolled-back master gone" sh -c "! podman exec cg-sd kill -0 $third"
wait_for 10 "MainPID back" sh -c "[ \"\$(podman exec cg-sd systemctl show -p MainPID --value cppgunicorn.service)\" = $new_master ]"
echo "MainPID back to $(show cppgunicorn.service MainPID); service: $(show cppgunicorn.service ActiveState)/$(show cppgunicorn.service SubState)"
[[ $(show cppgunicorn.service ActiveState) == active ]] || fail "the rollback stopped the service"
in_ct kill -0 "$new_master" || fail "the old master was killed"
[[ $(in_ct curl -fsS http://127.0.0.1:8000/) == "Hello, World!" ]] || fail "no answer after the rollback"

step "a template instance: cppgunicorn@demo on /run/cppgunicorn-demo.sock"
in_ct sh -c 'sed "s|hello.so|echo.so|" /etc/cppgunicorn/cppgunicorn.yaml > /etc/cppgunicorn/demo.yaml'
in_ct systemctl start cppgunicorn@demo.socket
out=$(in_ct curl -fsS --unix-socket /run/cppgunicorn-demo.sock -d 'hi' http://demo/x) || fail "no answer from cppgunicorn@demo"
echo "POST /x on the unix socket -> ${out:0:120}"
echo "cppgunicorn@demo.service: $(show cppgunicorn@demo.service ActiveState), StatusText=$(show cppgunicorn@demo.service StatusText)"
in_ct systemctl stop cppgunicorn@demo.socket cppgunicorn@demo.service

step "an instance with data: cppgunicorn@notes (examples/notes, SQLite in /var/lib/cppgunicorn/notes)"
in_ct sh -c 'sed "s|^app: .*|app: \"/srv/notes/notes.so\"|" /etc/cppgunicorn/cppgunicorn.yaml > /etc/cppgunicorn/notes.yaml &&
             echo "app_args: [/var/lib/cppgunicorn/notes/notes.db]" >> /etc/cppgunicorn/notes.yaml'
# Without the drop-in, even a directory that belongs to www-data is read-only under
# ProtectSystem=strict: the workers cannot create the database and the boot fails.
in_ct install -d -o www-data -g www-data -m 0750 /var/lib/cppgunicorn/notes
in_ct systemctl start cppgunicorn@notes.socket
notes() { in_ct curl -fsS --max-time 10 --unix-socket /run/cppgunicorn-notes.sock "$@"; }
notes http://notes/notes/ >/dev/null 2>&1 && fail "cppgunicorn@notes served without the drop-in"
wait_for 10 "the failed boot in the journal" sh -c "podman exec cg-sd journalctl -u cppgunicorn@notes.service -o cat | grep -q 'cannot open /var/lib/cppgunicorn/notes/notes.db'"
echo "without the drop-in: $(in_ct journalctl -u cppgunicorn@notes.service -o cat | grep -m 1 -o 'worker_start failed: cannot open.*')"
in_ct systemctl stop cppgunicorn@notes.socket cppgunicorn@notes.service
in_ct systemctl reset-failed cppgunicorn@notes.socket cppgunicorn@notes.service 2>/dev/null || true
in_ct rm -rf /var/lib/cppgunicorn/notes
# The shipped drop-in, installed as the guide says.
in_ct install -D -m 0644 "/usr/share/cppgunicorn/systemd/cppgunicorn@.service.d/data.conf" \
    /etc/systemd/system/cppgunicorn@notes.service.d/data.conf
in_ct systemctl daemon-reload
in_ct systemctl start cppgunicorn@notes.socket
created=$(notes -H 'Content-Type: application/json' -d '{"text":"kept by systemd"}' http://notes/notes/) ||
  fail "no answer from cppgunicorn@notes"
echo "with the drop-in: POST /notes/ -> $created"
in_ct ls -ln /var/lib/cppgunicorn/notes
for f in /var/lib/cppgunicorn/notes /var/lib/cppgunicorn/notes/notes.db; do
  [[ $(in_ct stat -c %U "$f") == www-data ]] || fail "$f does not belong to www-data"
done
first=$(show cppgunicorn@notes.service MainPID)
in_ct systemctl restart cppgunicorn@notes.service
wait_for 10 "cppgunicorn@notes active again" sh -c "[ \"\$(podman exec cg-sd systemctl show -p SubState --value cppgunicorn@notes.service)\" = running ]"
kept=$(notes http://notes/notes/1) || fail "no answer after the restart"
echo "after systemctl restart (MainPID $first -> $(show cppgunicorn@notes.service MainPID)): GET /notes/1 -> $kept"
[[ $kept == *'"text":"kept by systemd"'* ]] || fail "the note did not survive the restart"
[[ $(in_ct stat -c %U /var/lib/cppgunicorn/notes/notes.db) == www-data ]] || fail "the restart changed the database's owner"
echo "the database still belongs to www-data"
in_ct systemctl stop cppgunicorn@notes.socket cppgunicorn@notes.service

step "systemctl stop: STOPPING=1, graceful, exit 0"
start=$EPOCHREALTIME
in_ct systemctl stop cppgunicorn.service
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
echo "stopped in $elapsed s; Result=$(show cppgunicorn.service Result) ExecMainStatus=$(show cppgunicorn.service ExecMainStatus)"
[[ $(show cppgunicorn.service Result) == success ]] || fail "the stop was not clean"
in_ct journalctl -u cppgunicorn.service --no-pager -o short-precise | tail -n 8
echo
echo "systemd-e2e.sh: all checks passed"
