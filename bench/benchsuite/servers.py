# SPDX-License-Identifier: MIT
"""The servers under test: their command lines, and starting, checking and stopping them."""
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import procs

HELLO = b"Hello, World!\n"
STARTUP_TIMEOUT_S = 20
STOP_GRACE_S = 5
NGINX = "/usr/sbin/nginx"
# Debian's gunicorn runs on /usr/bin/python3, where Debian's flask is.
GUNICORN = "/usr/bin/gunicorn"

# Everything the suite started (servers, clients), so one cleanup can stop it all.
_running = set()


def stop_everything():
    for child in list(_running):
        child.stop()


class ServerError(Exception):
    """A server failed to start, answered wrongly, died or served nothing: the suite fails."""


@dataclass
class Paths:
    repo: Path
    tmp: Path

    @property
    def build(self):
        # CPPG_BUILD_DIR: another build tree (the test suite's smoke run uses its own).
        return Path(os.environ.get("CPPG_BUILD_DIR") or self.repo / "build").resolve()

    @property
    def cppgunicorn(self):
        return self.build / "cppgunicorn"

    @property
    def hello_so(self):
        return self.build / "examples" / "hello.so"

    @property
    def fanout_so(self):
        return self.build / "examples" / "fanout.so"

    @property
    def bench_so(self):
        return self.build / "bench" / "bench_app.so"

    @property
    def peers(self):
        return self.repo / "bench" / "peers"


@dataclass
class ServerSpec:
    name: str
    port: int
    argv: list
    workers: int  # worker processes expected under the master
    workdir: Path  # the cwd; holds the log and nginx's prefix
    check_path: str = "/"
    check_body: object = HELLO  # the expected bytes, or a function(body) -> error text or None
    config: tuple = ()  # (path, text) written before the start

    @property
    def command(self):
        return shlex.join(str(a) for a in self.argv)

    @property
    def log_path(self):
        return self.workdir / "server.log"


# --- command lines --------------------------------------------------------------------------


def _workdir(paths, name, port):
    path = paths.tmp / f"{name}-{port}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def nginx(paths, port, workers=2, name="nginx"):
    workdir = _workdir(paths, name, port)
    conf = workdir / "nginx.conf"
    argv = [
        NGINX,
        "-p",
        f"{workdir}/",
        "-c",
        conf,
        "-e",
        workdir / "error.log",
        "-g",
        "daemon off;",
    ]
    return ServerSpec(
        name, port, argv, workers, workdir, config=((conf, _nginx_conf(workdir, port, workers)),)
    )


def _nginx_conf(prefix, port, workers):
    # Every path is absolute and inside the temp dir: Debian's compiled-in temp paths point
    # at /var/lib/nginx, which the suite must not touch.
    return f"""worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    default_type text/plain;
    keepalive_timeout 120;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "Hello, World!\\n"; }}
    }}
}}
"""


def cppgunicorn(paths, name, port, app, workers, threads, *extra):
    argv = [
        paths.cppgunicorn,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "120",
        *extra,
        app,
    ]
    return ServerSpec(name, port, argv, workers, _workdir(paths, name, port))


def gunicorn(paths, name, port, module, workers, threads=2, worker_class="gthread", extra=()):
    argv = [GUNICORN, "--bind", f"127.0.0.1:{port}", "--worker-class", worker_class]
    argv += ["--workers", str(workers)]
    if worker_class == "gthread":
        argv += ["--threads", str(threads)]
    argv += ["--keep-alive", "120", "--chdir", paths.peers, *extra, module]
    return ServerSpec(name, port, argv, workers, _workdir(paths, name, port))


def uwsgi(paths, name, port, processes, threads, keep_alive=True):
    """--http11-socket keeps connections alive (with the app's Content-Length); plain
    --http-socket closes after every response (--http-keepalive only exists for uWSGI's separate
    http router). But --http11-socket ignores a client's Connection: close, so scenario (b) uses
    --http-socket, with a Connection: close header that tells wrk to reconnect."""
    socket_args = (
        ["--http11-socket", f"127.0.0.1:{port}"]
        if keep_alive
        else ["--http-socket", f"127.0.0.1:{port}", "--add-header", "Connection: close"]
    )
    argv = [
        "uwsgi",
        "--plugin",
        "python3",
        *socket_args,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--wsgi-file",
        paths.peers / "wsgi_app.py",
        "--master",
        "--disable-logging",
        "--need-app",
    ]
    return ServerSpec(name, port, argv, processes, _workdir(paths, name, port))


# --- running a server -----------------------------------------------------------------------


def port_in_use(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def free_port():
    """A TCP port on 127.0.0.1 that nothing was bound to a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10.0):
    """True once something accepts on 127.0.0.1:port, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port):
            return True
        time.sleep(0.02)
    return False


def http_request(port, path="/", timeout=5.0):
    """GET path; returns (status, body). Reads up to the Content-Length rather than to EOF:
    uWSGI's --http11-socket keeps the connection open despite Connection: close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while not _complete(data) and (chunk := sock.recv(65536)):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _complete(data):
    head, found, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(found and length and len(body) >= int(length.group(1)))


def _dechunk(data):
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2 :]
    return body


def _server_env():
    # CPPGUNICORN_* variables would change cppgunicorn's settings behind the command line;
    # no bytecode keeps __pycache__ out of bench/peers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPPGUNICORN_")}
    return env | {"PYTHONDONTWRITEBYTECODE": "1"}


class Server:
    def __init__(self, spec):
        self.spec = spec
        self.proc = None
        self.startup_ms = None

    @property
    def name(self):
        return self.spec.name

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        """Spawns the server and waits for its first 200; returns the time that took in ms."""
        if port_in_use(self.spec.port):
            raise ServerError(f"{self.name}: 127.0.0.1:{self.spec.port} is already in use")
        for path, text in self.spec.config:
            Path(path).write_text(text)
        log = open(self.spec.log_path, "ab")
        started = time.monotonic()
        # Own session: a Ctrl-C on the terminal reaches the suite only, and the whole tree
        # can be signalled as one process group.
        self.proc = subprocess.Popen(
            [str(a) for a in self.spec.argv],
            cwd=self.spec.workdir,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _running.add(self)
        self._wait_first_200(started)
        self.startup_ms = (time.monotonic() - started) * 1000
        return self.startup_ms

    def _wait_first_200(self, started):
        # Polls every ~2 ms, so the startup time is accurate to a few ms.
        deadline = started + STARTUP_TIMEOUT_S
        while True:
            self.ensure_running("during startup")
            try:
                status, _ = http_request(
                    self.spec.port, "/", timeout=max(0.1, deadline - time.monotonic())
                )
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise self._error(
                    f"no 200 on 127.0.0.1:{self.spec.port} after {STARTUP_TIMEOUT_S} s"
                )
            time.sleep(0.002)

    def check_body(self):
        try:
            status, body = http_request(self.spec.port, self.spec.check_path)
        except OSError as e:
            raise self._error(f"GET {self.spec.check_path} failed: {e}") from e
        expected = self.spec.check_body
        problem = (
            expected(body)
            if callable(expected)
            else (None if body == expected else f"expected {expected!r}")
        )
        if status != 200 or problem:
            raise self._error(
                f"GET {self.spec.check_path} answered {status} {body[:200]!r}"
                f" ({problem or 'expected 200'})"
            )

    def wait_for_workers(self, timeout=10.0):
        """Waits until all workers exist and the tree's memory has settled after their boot."""
        deadline = time.monotonic() + timeout
        previous = None
        while time.monotonic() < deadline:
            rss = procs.tree_rss(self.pid)
            if len(rss["workers"]) >= self.spec.workers and rss == previous:
                return rss
            previous = rss
            time.sleep(0.1)
        return procs.tree_rss(self.pid)

    def ensure_running(self, when):
        if self.proc.poll() is not None or not procs.is_running(self.pid):
            raise self._error(f"exited {when} (status {self.proc.returncode})")

    def _error(self, message):
        try:
            tail = self.spec.log_path.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            tail = []
        details = "".join(f"\n    {line}" for line in tail)
        return ServerError(
            f"{self.name}: {message}" + (f"\n  last lines of its log:{details}" if tail else "")
        )

    def stop(self):
        """SIGINT (a quick stop for all four servers) to the master, which stops its workers;
        SIGKILL to the whole process group after a grace period. Not SIGINT to the group: a
        cppgunicorn worker that gets SIGINT and then the master's SIGQUIT aborts."""
        if self.proc is None:
            return
        group = self.proc.pid
        _signal_group(group, signal.SIGINT, master_only=True)
        deadline = time.monotonic() + STOP_GRACE_S
        while _group_exists(group) and time.monotonic() < deadline:
            self.proc.poll()
            time.sleep(0.02)
        if _group_exists(group):
            _signal_group(group, signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        _running.discard(self)


def _signal_group(group, signum, master_only=False):
    try:
        (os.kill if master_only else os.killpg)(group, signum)
    except ProcessLookupError:
        pass


def _group_exists(group):
    return bool(procs.group_members(group))


def track(child):
    _running.add(child)


def untrack(child):
    _running.discard(child)
