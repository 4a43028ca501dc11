#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package, end to end on this machine (needs root; changes the system and puts
# it back): build it with cpack in a Release build directory, lintian with no error and no
# warning, install it, check every relative link of the installed docs, build each installed
# example project (share/doc/cppgunicorn/examples) against the installed kit and run its unit
# tests, build an app with pkg-config, serve them and the packaged config with the installed
# binary, verify the installed units, then purge and check that nothing is left in /usr,
# /etc or the unit dirs.
# Usage: packaging/tests/deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "deb.sh: skipped, it installs a package and needs root" >&2
  exit 0
fi
if dpkg-query -W -f='${Status}' cppgunicorn 2>/dev/null | grep -q installed; then
  echo "deb.sh: a cppgunicorn package is already installed; refusing to replace it" >&2
  exit 1
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  dpkg -P cppgunicorn >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "cpack -G DEB"
rm -f "$build"/cppgunicorn_*.deb
(cd "$build" && cpack -G DEB >/dev/null 2>&1) || (cd "$build" && cpack -G DEB)
deb=$(ls "$build"/cppgunicorn_*_"$(dpkg --print-architecture)".deb)
echo "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

step "lintian"
findings=$(lintian --pedantic "$deb" 2>&1 | grep -v '^running with root privileges' || true)
echo "${findings:-(nothing to report)}"
if grep -q '^[EW]: ' <<<"$findings"; then fail "lintian reports errors or warnings"; fi

snapshot() {
  find /usr/bin /usr/include /usr/lib /usr/share/cppgunicorn /usr/share/doc /usr/share/man/man1 \
       /usr/share/pkgconfig /etc /lib/systemd /var/lib/systemd/deb-systemd-helper-enabled \
       /var/lib/systemd/deb-systemd-helper-masked /var/log/cppgunicorn 2>/dev/null | sort || true
}
snapshot > "$tmp/before"

step "dpkg -i"
dpkg -i "$deb" >/dev/null
cppgunicorn --version
[[ $(dpkg-query -W -f='${Conffiles}' cppgunicorn) == *"/etc/cppgunicorn/cppgunicorn.yaml"* ]] || fail "the config is not a conffile"
for f in /usr/bin/cppgunicorn /lib/systemd/system/cppgunicorn.service /lib/systemd/system/cppgunicorn.socket \
         /lib/systemd/system/cppgunicorn@.service /lib/systemd/system/cppgunicorn@.socket \
         /usr/share/man/man1/cppgunicorn.1.gz /usr/share/pkgconfig/cppgunicorn.pc \
         /usr/share/cppgunicorn/cmake/cppgunicornConfig.cmake /usr/lib/cppgunicorn/examples/hello.so \
         /usr/share/cppgunicorn/systemd/cppgunicorn@.service.d/data.conf; do
  [[ -e "$f" ]] || fail "$f is not installed"
done
[[ -L /etc/systemd/system/sockets.target.wants/cppgunicorn.socket ]] || fail "postinst did not enable cppgunicorn.socket"
man -w cppgunicorn >/dev/null 2>&1 || zcat /usr/share/man/man1/cppgunicorn.1.gz | grep -q '^\.SH SETTINGS' || fail "no man page"

step "systemd-analyze verify of the installed units"
out=$(cd "$tmp" && cp /lib/systemd/system/cppgunicorn@.service cppgunicorn@demo.service &&
      systemd-analyze verify /lib/systemd/system/cppgunicorn.service /lib/systemd/system/cppgunicorn.socket ./cppgunicorn@demo.service 2>&1) ||
  { echo "$out"; fail "systemd-analyze verify"; }
[[ -z "$out" ]] || { echo "$out"; fail "systemd-analyze verify printed something"; }

docs=/usr/share/doc/cppgunicorn
step "the installed docs: every relative link resolves inside $docs"
/usr/bin/python3 "$src/packaging/tests/doc-links.py" "$docs"

step "the installed example projects, built against the installed kit, with their unit tests"
# As an app author starts: a copy of the example (the doc dir stays as the package left it).
for example in standalone todo notes; do
  [[ -f "$docs/examples/$example/CMakeLists.txt" ]] || fail "examples/$example is not installed"
  cp -r "$docs/examples/$example" "$tmp/$example"
  log="$tmp/$example.build.log"
  { cmake -S "$tmp/$example" -B "$tmp/$example/build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$tmp/$example/build" -j"$(nproc)"; } > "$log" 2>&1 || { cat "$log"; fail "examples/$example does not build"; }
  if [[ $example == standalone ]]; then
    echo "$example: $(cd "$tmp/$example/build" && ls ./*.so)"
  else
    (cd "$tmp/$example/build" && ctest --output-on-failure > "$log" 2>&1) || { cat "$log"; fail "examples/$example: its tests fail"; }
    echo "$example: $(cd "$tmp/$example/build" && ls ./*.so); $(grep -o '[0-9]*% tests passed.*' "$log")"
  fi
done
[[ -f "$tmp/standalone/build/greeter.so" ]] || fail "cppgunicorn_add_app did not make greeter.so"

step "an app outside the tree: pkg-config"
g++ -shared -fPIC -fvisibility=hidden $(pkg-config --cflags cppgunicorn) \
    "$docs/examples/standalone/greeter.cpp" -o "$tmp/greeter-pc.so"
[[ $(pkg-config --variable=abi_version cppgunicorn) == 1 ]] || fail "pkg-config abi_version"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# serve NAME EXPECTED_BODY ARGS...: the installed binary, until /readyz says ready; then one GET.
serve() {
  local name=$1 path=$2 expected=$3; shift 3
  local port admin
  port=$(free_port); admin=$(free_port)
  cppgunicorn --bind "127.0.0.1:$port" --admin-bind "127.0.0.1:$admin" "$@" > "$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local ready=no
  for _ in $(seq 100); do
    cppgunicorn --probe /readyz --admin-bind "127.0.0.1:$admin" >/dev/null 2>&1 && { ready=yes; break; }
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log"; fail "$name: the server exited"; }
    sleep 0.1
  done
  [[ $ready == yes ]] || { cat "$tmp/$name.log"; fail "$name: /readyz never said ready"; }
  local body
  body=$(curl -fsS "http://127.0.0.1:$port$path") || { cat "$tmp/$name.log"; fail "$name: no answer"; }
  [[ "$body" == "$expected" ]] || fail "$name: got '$body', expected '$expected'"
  echo "$name: GET $path -> $body"
  SERVED_PID=$pid SERVED_PORT=$port
}
stop() {
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [[ $rc == 0 ]] || fail "the server exited with $rc after TERM"
}

step "serve them with the installed binary"
serve cmake-app /hello/deb "Hello, deb!" --workers 2 "$tmp/standalone/build/greeter.so"
stop "$SERVED_PID"
# The SQLite example, its database in a directory of the test's own.
mkdir -p "$tmp/notes-data"
serve notes-app /notes/ '{"items":[]}' --workers 2 --threads 2 "$tmp/notes/build/notes.so" -- "$tmp/notes-data/notes.db"
created=$(curl -fsS -H 'Content-Type: application/json' -d '{"text":"from the package"}' "http://127.0.0.1:$SERVED_PORT/notes/")
echo "notes-app: POST /notes/ -> $created"
[[ $created == *'"text":"from the package"'* ]] || fail "notes-app: unexpected answer"
stop "$SERVED_PID"
serve pkgconfig-app /hello/pc/json '{"greeting":"Howdy","name":"pc"}' "$tmp/greeter-pc.so" -- Howdy
stop "$SERVED_PID"

step "serve the packaged config (workers drop to www-data)"
serve packaged-config / "Hello, World!" --config /etc/cppgunicorn/cppgunicorn.yaml
master=$SERVED_PID
for worker in $(cat "/proc/$master/task/$master/children"); do
  uid=$(awk '/^Uid:/{print $2}' "/proc/$worker/status")
  [[ $uid == $(id -u www-data) ]] || fail "worker $worker runs as uid $uid, not www-data"
done
[[ $(awk '/^Uid:/{print $2}' "/proc/$master/status") == 0 ]] || fail "the master should keep root"
echo "packaged-config: workers run as www-data, the master as root"
stop "$master"

step "dpkg -P"
dpkg -P cppgunicorn >/dev/null
snapshot > "$tmp/after"
if ! diff -u "$tmp/before" "$tmp/after"; then fail "the purge left something behind (above)"; fi
echo "purged: nothing left in /usr, /etc, /lib/systemd or deb-systemd-helper's state"
echo "deb.sh: all checks passed"
