#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Docker image, built and run with podman (no Docker engine on these machines) from a
# local debootstrap base image (no registry): it answers on a published loopback port, runs
# as non-root, is under 150 MB, its HEALTHCHECK passes, the master as PID 1 reaps what an app
# orphans, and `podman stop` ends it gracefully, in-flight request completed, long before
# the kill timeout. Also builds an app image on top (FROM the image, COPY an app .so), and
# the app template packaging/docker/app.Dockerfile with the notes example (SQLite): it
# serves as non-root, its data is in a volume, and a new container on that volume finds it.
# Usage: packaging/tests/docker.sh BUILD_DIR   (root; about 8 minutes the first time)
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
image=localhost/cppgunicorn:test
work=${CPPG_CONTAINER_WORK:-/var/tmp/cppgunicorn-containers}
step() { echo "--- $*"; }
# Without systemd as PID 1 podman cannot schedule health-check timers and says so on every
# run and rm; `podman healthcheck run` below runs the check itself.
podman() { command podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (podman, debootstrap)"

step "podman, buildah and debootstrap from Debian"
pkgs=(podman buildah debootstrap runc uidmap fuse-overlayfs slirp4netns)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if (( ${#missing[@]} )); then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
mkdir -p "$work"
# What podman needs here (see ../shared/notes): no CAP_SYS_RESOURCE, so ulimits below the
# host's; cgroups v1 hybrid, so runc and cgroupfs.
cat > "$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$work/containers.conf"

step "base image debian:bookworm-slim from debootstrap"
# Made the way the official image is (debuerreotype's "slimify"): minbase, then no docs, man
# pages, locales or apt lists, and dpkg told to leave them out later too. Unslimmed, the base
# alone would be 204 MB and the size check below would measure the wrong thing.
slimify() {
  local root=$1
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
  # apt keeps no package cache and no .bin caches in image layers, as in the official image.
  cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* "$root"/var/lib/apt/lists/* \
         "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
}
if ! podman image exists docker.io/library/debian:bookworm-slim; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || echo http://deb.debian.org/debian)
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >/dev/null
  slimify "$work/rootfs"
  tar -C "$work/rootfs" -c . | podman import - localhost/debian-bookworm:local >/dev/null
  podman tag localhost/debian-bookworm:local docker.io/library/debian:bookworm-slim
  rm -rf "$work/rootfs"
fi
echo "base image: $(( $(podman image inspect --format '{{.Size}}' docker.io/library/debian:bookworm-slim) / 1000000 )) MB"

step "podman build (the top-level Dockerfile)"
start=$(date +%s)
podman build --pull=never --format docker --network host -t "$image" "$src" > "$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log"; fail "image build"; }
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "built in $(( $(date +%s) - start )) s; image size $(( size / 1000000 )) MB"
(( size < 150000000 )) || fail "the image is $size bytes, over 150 MB"
[[ $(podman image inspect --format '{{.Config.User}}' "$image") == cppgunicorn ]] || fail "USER is not cppgunicorn"
podman image inspect --format '{{.Config.Healthcheck.Test}}' "$image" | grep -q -- '--probe' || fail "no HEALTHCHECK"

step "an app image on top: FROM the image, COPY testkit.so"
ctx="$work/app-image"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$build/tests/apps/testkit.so" "$ctx/"
printf 'FROM %s\nCOPY testkit.so /app/\nCMD ["/app/testkit.so"]\n' "$image" > "$ctx/Dockerfile"
podman build --pull=never --format docker -t localhost/cppgunicorn-testkit:test "$ctx" >/dev/null

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  for c in cg-hello cg-testkit cg-notes; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  podman volume rm -f cg-notes-data >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

step "run the image: hello on a published loopback port"
podman run -d --name cg-hello --network bridge -p "127.0.0.1:$port:8000" "$image" >/dev/null
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
body=$(curl -fsS "http://127.0.0.1:$port/") || { podman logs cg-hello; fail "no answer on 127.0.0.1:$port"; }
echo "GET / -> $body"
[[ "$body" == "Hello, World!" ]] || fail "unexpected body"
podman top cg-hello user pid args
[[ $(podman exec cg-hello id -u) == 10001 ]] || fail "not running as uid 10001"
podman top cg-hello user | tail -n +2 | grep -qv '^cppgunicorn' && fail "a process runs as another user"
podman healthcheck run cg-hello && echo "HEALTHCHECK (cppgunicorn --probe /readyz): healthy" || fail "the health check failed"
podman exec cg-hello cppgunicorn --probe /readyz

step "PID 1 reaps what the app orphans; podman stop is graceful"
podman rm -f cg-hello >/dev/null
podman run -d --name cg-testkit --network bridge -p "127.0.0.1:$port:8000" localhost/cppgunicorn-testkit:test >/dev/null
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/pid" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$port/orphan?ms=100" >/dev/null; done
zombies() { podman exec cg-testkit sh -c 'for s in /proc/[0-9]*/stat; do cut -d" " -f1,3 "$s" 2>/dev/null; done' | awk '$2=="Z"' | wc -l; }
for _ in $(seq 50); do [[ $(zombies) == 0 ]] && break; sleep 0.1; done
[[ $(zombies) == 0 ]] || fail "zombies left in the container"
echo "5 orphans adopted by PID 1 and reaped: no zombie left"
curl -sS -o "$work/slow.out" -w '%{http_code}' "http://127.0.0.1:$port/sleep?ms=2000" > "$work/slow.code" &
slow=$!
# The stop comes once the request runs in the app (a thread in nanosleep), not before.
# Seen from the host (root may read /proc/PID/syscall; the container's user may not).
ct_init=$(podman inspect --format '{{.State.Pid}}' cg-testkit)
in_app() {
  local w
  for w in $(cat "/proc/$ct_init/task/$ct_init/children"); do
    cat /proc/"$w"/task/*/syscall 2>/dev/null | grep -qE '^(35|230) ' && return 0
  done
  return 1
}
for _ in $(seq 100); do in_app && break; sleep 0.05; done
in_app || fail "the slow request never reached the app"
start=$EPOCHREALTIME
podman stop -t 30 cg-testkit >/dev/null
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
wait "$slow" || true
code=$(podman inspect --format '{{.State.ExitCode}}' cg-testkit)
echo "podman stop took ${elapsed} s (kill timeout 30 s); exit code $code; in-flight request: HTTP $(cat "$work/slow.code")"
[[ $code == 0 ]] || fail "exit code $code"
[[ $(cat "$work/slow.code") == 200 ]] || fail "the in-flight request was lost"
awk -v e="$elapsed" 'BEGIN { exit !(e < 10) }' || fail "the stop took $elapsed s"
podman logs cg-testkit 2>&1 | tail -n 6

step "the app template (packaging/docker/app.Dockerfile): examples/notes, its data in a volume"
notes_image=localhost/cppgunicorn-notes:test
ctx="$work/notes-image"
rm -rf "$ctx" && mkdir -p "$ctx"
rm -f "$build"/cppgunicorn_*.deb
(cd "$build" && cpack -G DEB >/dev/null 2>&1) || fail "cpack"
cp "$build"/cppgunicorn_*_"$(dpkg --print-architecture)".deb "$ctx/cppgunicorn.deb"
cp -r "$src/examples/notes" "$ctx/app"
start=$(date +%s)
podman build --pull=never --format docker --network host --build-arg SERVER_IMAGE="$image" \
    -f "$src/packaging/docker/app.Dockerfile" -t "$notes_image" "$ctx" > "$work/notes-build.log" 2>&1 ||
  { tail -n 40 "$work/notes-build.log"; fail "app image build"; }
echo "built in $(( $(date +%s) - start )) s (the app's unit tests ran in the build: $(grep -o '[0-9]*% tests passed.*' "$work/notes-build.log"));" \
     "image size $(( $(podman image inspect --format '{{.Size}}' "$notes_image") / 1000000 )) MB"
podman volume create cg-notes-data >/dev/null
run_notes() {
  podman run -d --name cg-notes --network bridge -p "127.0.0.1:$port:8000" -v cg-notes-data:/var/lib/app "$notes_image" >/dev/null
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/notes/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  podman logs cg-notes; fail "the notes image does not answer"
}
run_notes
created=$(curl -fsS -H 'Content-Type: application/json' -d '{"text":"kept in the volume"}' "http://127.0.0.1:$port/notes/") ||
  { podman logs cg-notes; fail "POST /notes/"; }
echo "POST /notes/ -> $created"
podman top cg-notes user pid args
podman top cg-notes user | tail -n +2 | grep -qv '^cppgunicorn' && fail "a process runs as another user"
[[ $(podman exec cg-notes id -u) == 10001 ]] || fail "not running as uid 10001"
podman exec cg-notes ls -ln /var/lib/app
podman exec cg-notes sh -c 'test "$(stat -c %u /var/lib/app/notes.db)" = 10001' || fail "the database does not belong to uid 10001"
podman healthcheck run cg-notes && echo "HEALTHCHECK: healthy" || fail "the health check failed"
podman stop -t 30 cg-notes >/dev/null
[[ $(podman inspect --format '{{.State.ExitCode}}' cg-notes) == 0 ]] || fail "the notes container did not stop cleanly"
podman rm cg-notes >/dev/null
echo "container stopped (exit 0) and removed; a new one on the same volume:"
run_notes
kept=$(curl -fsS "http://127.0.0.1:$port/notes/1") || { podman logs cg-notes; fail "GET /notes/1 after the restart"; }
echo "GET /notes/1 -> $kept"
[[ $kept == *'"text":"kept in the volume"'* ]] || fail "the note did not survive the restart"
podman logs cg-notes 2>&1 | grep -m 2 'database' || true
echo "docker.sh: all checks passed"
