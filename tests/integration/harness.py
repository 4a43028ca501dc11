# SPDX-License-Identifier: MIT
"""Shared helpers for the cppgunicorn integration tests.

Everything here talks to the real binary over real sockets on 127.0.0.1. Nothing sleeps to
synchronise: every wait polls a condition against a deadline, and every socket has a timeout.

    Server          starts build/cppgunicorn on a free port, captures its stderr/stdout,
                    waits for it, reads its logs and /proc status, and stops it.
    HttpReader      a tiny HTTP/1.1 response reader for raw sockets (Content-Length,
                    chunked and close-delimited bodies, 1xx interim responses).
    raw helpers     connect(), exchange(), recv_until_closed(), wait_closed().
"""

import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(os.environ.get("CPPG_BUILD_DIR") or os.path.join(HERE, "..", "..", "build"))
BINARY = os.path.join(BUILD_DIR, "cppgunicorn")

# Set by ctest for builds with -DCPPG_SANITIZE=...: the server is slower and bigger there, so
# deadlines stretch and the memory ceilings of test_43 do not apply.
SANITIZER = os.environ.get("CPPG_SANITIZE", "").strip().lower() not in ("", "0", "off", "no", "false")
TIME_SCALE = 4.0 if SANITIZER else 1.0

# For a server whose app crashes on purpose: without it a sanitizer catches the SIGSEGV and
# reports it (and the worker exits 1 instead of dying by the signal).
DELIBERATE_CRASH_ENV = {"ASAN_OPTIONS": "handle_segv=0", "TSAN_OPTIONS": "handle_segv=0",
                        "UBSAN_OPTIONS": "handle_segv=0"}

# Default deadline for anything that should happen "promptly".
DEFAULT_TIMEOUT = 5.0 * TIME_SCALE

# Lines a sanitizer writes to stderr when it finds a problem.
SANITIZER_REPORT_RE = re.compile(r"^(==\d+==ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|"
                                 r"SUMMARY: \w+Sanitizer|.*runtime error: )", re.M)


def example_app(name):
    """Path of an example app (hello, echo)."""
    return os.path.join(BUILD_DIR, "examples", name + ".so")


def fixture_app(name):
    """Path of a test fixture app (testkit, noexport, badversion, initfails, missingdep)."""
    return os.path.join(BUILD_DIR, "tests", "apps", name + ".so")


def free_port():
    """A port that was free a moment ago: bind port 0 on a probe socket and release it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout, interval=0.01, what="condition"):
    """Polls predicate() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_text(path):
    """A file's text (log files may hold partial UTF-8 while being written)."""
    with open(path, errors="replace") as f:
        return f.read()


# The signals a worker reads from its own signalfd (Worker::handled_signals).
WORKER_SIGNALFD_MASK = sum(1 << (int(sig) - 1) for sig in (
    signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1))


def has_signalfd(pid, mask=WORKER_SIGNALFD_MASK):
    """True when the process has a signalfd for exactly `mask`: a worker's own, not the
    master's, which a newly forked worker holds for a moment before closing it."""
    try:
        fds = os.listdir("/proc/%d/fdinfo" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("sigmask:") and int(line.split()[1], 16) == mask:
                        return True
        except (OSError, ValueError):
            pass
    return False


def threads_sleeping_in_app(*pids):
    """How many app threads of these workers sleep in nanosleep: testkit's /sleep calls
    running. Read from the kernel's wait channel, whatever the architecture. App threads are
    the main thread and those named cppg-thread-N (a sanitizer's own threads also sleep)."""
    count = 0
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    app_thread = int(tid) == pid or f.read().startswith("cppg-thread-")
                with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                    count += app_thread and "nanosleep" in f.read()
            except OSError:
                pass
    return count


def sleeping_in_app(*pids):
    """True when a thread of one of these processes is in testkit's /sleep."""
    return threads_sleeping_in_app(*pids) > 0


class ServerCase(unittest.TestCase):
    """A test case whose tests each start their own server with self.start()."""

    def start(self, args, app=None, **kwargs):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(args, app or fixture_app("testkit"), **kwargs)
        return server


class BoundedLoad:
    """Clients sending GETs, each on a new connection, until stopped or `limit` requests
    each. Every failure is kept, so a test can assert that there were none."""

    def __init__(self, server, target="/environ", clients=4, limit=1000, timeout=10.0):
        self.server, self.target, self.limit, self.timeout = server, target, limit, timeout
        self.successes, self.failures = [], []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout * 2)

    def wait_for(self, more, timeout, what="requests"):
        """Waits until `more` requests beyond the current count have succeeded."""
        goal = len(self.successes) + more
        wait_until(lambda: len(self.successes) >= goal, timeout, what=what)

    def _run(self):
        request = simple_request("GET", self.target, [("Host", "x"), ("Connection", "close")])
        for _ in range(self.limit):
            if self._stop.is_set():
                return
            try:
                resp = self.server.request(request, timeout=self.timeout)
                (self.successes if resp.status == 200 else self.failures).append(resp.status)
            except Exception as e:  # counted, then asserted by the test
                self.failures.append(repr(e))


class KeepAliveLoad(BoundedLoad):
    """Clients that each keep one connection to `port` open and send GETs back to back, as
    a connection pool or wrk does; a failed connection is replaced. `successes` holds the
    response bodies."""

    def __init__(self, port, target="/environ", clients=8, limit=20000, timeout=10.0):
        super().__init__(None, target, clients, limit, timeout)
        self.port = port
        self.refused = []  # new connections refused: not a lost request

    def _run(self):
        import http.client
        conn = None
        for _ in range(self.limit):
            if self._stop.is_set():
                break
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                conn.request("GET", self.target)
                resp = conn.getresponse()
                body = resp.read()
                (self.successes if resp.status == 200 else self.failures).append(
                    body if resp.status == 200 else resp.status)
            except ConnectionRefusedError as e:  # nothing listens any more (a stopped server)
                self.refused.append(repr(e))
                conn = None
                if self._stop.wait(0.01):
                    break
            except Exception as e:  # counted, then asserted by the test
                self.failures.append(repr(e))
                conn.close()
                conn = None
        if conn:
            conn.close()


def children(pid):
    """The child processes of `pid`, from /proc."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def proc_state(pid):
    """A process's state letter (R, S, Z...), or "gone" once it has been reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


class ServerExited(AssertionError):
    pass


class Server:
    """One cppgunicorn process, started on a free port of 127.0.0.1."""

    def __init__(self):
        self.proc = None
        self.port = None
        self.args = []
        self._tmpdir = tempfile.TemporaryDirectory(prefix="cppg-it-")
        self.stderr_path = os.path.join(self._tmpdir.name, "stderr.log")
        self.stdout_path = os.path.join(self._tmpdir.name, "stdout.log")

    @property
    def tmpdir(self):
        return self._tmpdir.name

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def command(self, app, args=(), app_args=(), bind=True):
        cmd = [BINARY]
        if bind:
            cmd += ["--bind", "127.0.0.1:%d" % self.port]
        cmd += list(args) + ([app] if app else [])  # app "" leaves it out
        if app_args:
            cmd += ["--"] + list(app_args)
        return cmd

    def start(self, args=(), app=None, app_args=(), wait=True, bind=True, timeout=10.0 * TIME_SCALE,
              env=None):
        """Starts the server with extra CLI args and the app .so (example_app/fixture_app path).
        With wait, returns once the port accepts connections (retrying on a port race).
        `env` adds variables to the server's environment."""
        if app is None:
            app = example_app("hello")
        for attempt in range(3):
            self.port = free_port()
            self.args = self.command(app, args, app_args, bind)
            self._stderr = open(self.stderr_path, "ab")
            self._stdout = open(self.stdout_path, "ab")
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                         stderr=self._stderr, cwd=self.tmpdir,
                                         env=dict(os.environ, **(env or {})))
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except ServerExited:
                if "Address already in use" in self.log_text() and attempt < 2:
                    self._close_files()
                    continue
                raise
        return self

    def wait_ready(self, timeout=10.0 * TIME_SCALE):
        """Waits until a TCP connect to the server's port succeeds, the master handles SIGTERM
        and SIGINT, and a worker has its own handlers (its app is loaded). The socket listens
        before any worker exists, so a connect alone does not prove one is serving."""
        deadline = time.monotonic() + timeout
        connected = False
        while True:
            if self.proc.poll() is not None:
                raise ServerExited("server exited with %s before accepting connections; log:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            if not connected:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                        connected = True
                except OSError:
                    pass
            if connected and self.catches_signals(signal.SIGTERM, signal.SIGINT) and any(
                    self.catches_signals(signal.SIGTERM, pid=p) for p in self.worker_pids()):
                return
            if time.monotonic() >= deadline:
                raise AssertionError("server not accepting on port %d after %.1f s; log:\n%s"
                                     % (self.port, timeout, self.log_text()))
            time.sleep(0.01)

    def log_text(self):
        """Everything the server wrote to stderr so far (the error log)."""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, regex, timeout=DEFAULT_TIMEOUT, start=0):
        """Waits for a line of the error log (from offset `start`) matching regex; returns the match."""
        pattern = re.compile(regex, re.M)

        def find():
            return pattern.search(self.log_text(), start)

        try:
            return wait_until(find, timeout, what="log line /%s/" % regex)
        except AssertionError:
            raise AssertionError("no log line matching /%s/ within %.1f s; log:\n%s"
                                 % (regex, timeout, self.log_text())) from None

    def log_offset(self):
        return len(self.log_text())

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        """Waits for the process to exit; returns its exit code or raises on the deadline."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("server pid %d still running after %.1f s; log:\n%s"
                                 % (self.proc.pid, timeout, self.log_text())) from None

    def signal(self, signum):
        self.proc.send_signal(signum)

    def stop(self, timeout=10.0 * TIME_SCALE):
        """SIGTERM, wait with a deadline, then SIGKILL. Returns the exit code (-9 if killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._close_files()
        return self.proc.returncode

    def sanitizer_reports(self):
        """Sanitizer findings in the server's stderr ("" when none)."""
        text = self.log_text()
        m = SANITIZER_REPORT_RE.search(text)
        return text[m.start():m.start() + 4000] if m else ""

    def cleanup(self):
        """Stops the server and removes its files. Raises if a sanitizer reported anything."""
        self.stop()
        reports = self.sanitizer_reports()
        self._tmpdir.cleanup()
        if reports:
            raise AssertionError("sanitizer report from %s:\n%s" % (" ".join(self.args), reports))

    def _close_files(self):
        for f in (getattr(self, "_stderr", None), getattr(self, "_stdout", None)):
            if f and not f.closed:
                f.close()

    def proc_status(self, pid=None):
        """The /proc/PID/status fields (of the master unless pid is given) as a dict."""
        with open("/proc/%d/status" % (pid or self.proc.pid)) as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)

    def worker_pids(self):
        """The master's child processes (its workers), oldest first."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return sorted(int(p) for p in f.read().split())
        except OSError:
            return []

    def wait_workers(self, count, timeout=DEFAULT_TIMEOUT, exclude=()):
        """Waits until exactly `count` workers are serving (not in `exclude`); returns them."""
        def ready():
            pids = [p for p in self.worker_pids() if p not in exclude]
            serving = [p for p in pids if self.catches_signals(signal.SIGTERM, pid=p)]
            return pids if len(pids) == count and len(serving) == count else None
        return wait_until(ready, timeout, what="%d serving workers" % count)

    def catches_signals(self, *signums, pid=None):
        """True when the process handles all the signals: a handler (SigCgt), or blocked
        (SigBlk) and read from a signalfd. Master and workers both use a signalfd; a worker's
        is opened once its app is loaded, while the mask is inherited from the master."""
        try:
            status = self.proc_status(pid)
            mask = int(status["SigCgt"], 16)
            if pid is None or has_signalfd(pid):
                mask |= int(status["SigBlk"], 16)
        except (OSError, KeyError, ValueError):
            return False
        return all(mask & (1 << (int(s) - 1)) for s in signums)

    def rss_kib(self):
        """(VmRSS, VmHWM) in KiB of the first worker; VmHWM is the peak resident set size."""
        status = self.proc_status(self.worker_pids()[0])
        return (int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]))

    # ---- convenience ----

    def connect(self, timeout=DEFAULT_TIMEOUT):
        return connect(self.port, timeout)

    def request(self, data, timeout=DEFAULT_TIMEOUT, head=False):
        """Sends raw bytes on a new connection and parses one response. The socket is then
        reset rather than closed: load loops open tens of thousands of connections, and the
        TIME_WAIT sockets a normal close leaves would use up the loopback's ports (new
        connections then stall for seconds on a 4-tuple still in TIME_WAIT)."""
        with self.connect(timeout) as sock:
            sock.sendall(data)
            resp = HttpReader(sock).read_response(head=head)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return resp

    def get(self, path="/", timeout=DEFAULT_TIMEOUT):
        """One GET on a new connection (Connection: close); returns the parsed response."""
        return self.request(("GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" % path).encode(),
                            timeout)


# ---------------------------------------------------------------------------------------------
# raw sockets


def connect(port, timeout=DEFAULT_TIMEOUT):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_until_closed(sock, timeout=DEFAULT_TIMEOUT, initial=b""):
    """Reads until the peer closes (EOF or reset); returns all bytes. Raises on the deadline."""
    deadline = time.monotonic() + timeout
    chunks = [initial]
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection not closed by the server within %.1f s (got %r...)"
                                 % (timeout, b"".join(chunks)[:200]))
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 16)
        except ConnectionResetError:
            return b"".join(chunks)
        except socket.timeout:
            continue
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def exchange(port, data, timeout=DEFAULT_TIMEOUT):
    """Sends raw bytes on a new connection and returns everything until the server closes."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return recv_until_closed(sock, timeout)


def wait_closed(sock, timeout=DEFAULT_TIMEOUT):
    """Waits for the server to close the connection. Returns (seconds waited, bytes received).
    Raises AssertionError when the connection is still open at the deadline."""
    start = time.monotonic()
    data = recv_until_closed(sock, timeout)
    return time.monotonic() - start, data


class IncompleteResponse(AssertionError):
    def __init__(self, message, partial):
        super().__init__(message)
        self.partial = partial


class Response:
    def __init__(self, version, status, reason, headers, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers      # [(name, value)] as received
        self.raw_head = raw_head    # bytes up to and including the blank line
        self.body = b""
        self.raw_body = b""         # the body bytes as framed on the wire
        self.trailers = []
        self.closed_after = None    # set by HttpReader when the body was close-delimited

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header_names(self):
        return [k for k, _ in self.headers]

    @property
    def raw(self):
        return self.raw_head + self.raw_body

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %s %d %r headers=%r body=%r>" % (self.version, self.status, self.reason,
                                                            self.headers, self.body[:200])


class HttpReader:
    """Reads HTTP/1.x responses from a raw socket, keeping unread bytes for the next response."""

    def __init__(self, sock, timeout=DEFAULT_TIMEOUT):
        self.sock = sock
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(min(left, self.timeout))
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, marker, deadline, limit=1 << 21):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            if not self._fill(deadline):
                raise IncompleteResponse("connection closed before %r; have %r"
                                         % (marker, bytes(self.buf[:300])), bytes(self.buf))

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise IncompleteResponse("connection closed after %d of %d body bytes"
                                         % (len(self.buf), n), bytes(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self, timeout=None):
        """Reads one status line + headers (which may be a 1xx interim response)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self._read_until(b"\r\n\r\n", deadline)
        lines = raw[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise AssertionError("bad header line %r" % line)
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        return Response(m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1"),
                        headers, raw)

    def read_response(self, head=False, timeout=None, allow_interim=False):
        """Reads one full response. head=True for a HEAD request (no body). 1xx interim
        responses are skipped unless allow_interim, in which case one is returned as is."""
        timeout = timeout or self.timeout
        while True:
            resp = self.read_head(timeout)
            if 100 <= resp.status < 200 and not allow_interim:
                continue
            break
        return self.read_body(resp, head=head, timeout=timeout)

    def read_body(self, resp, head=False, timeout=None):
        """Reads the body of a response whose head was read with read_head(); returns resp."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if head or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te is not None and te.lower() == "chunked":
            body, raw_parts = [], []
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                raw_parts.append(size_line)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                data = self._read_exact(size + 2, deadline)
                if data[-2:] != b"\r\n":
                    raise AssertionError("chunk of %d bytes not followed by CRLF" % size)
                raw_parts.append(data)
                body.append(data[:-2])
            while True:  # trailers, up to the blank line
                line = self._read_until(b"\r\n", deadline)
                raw_parts.append(line)
                if line == b"\r\n":
                    break
                name, _, value = line[:-2].partition(b":")
                resp.trailers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
            resp.body = b"".join(body)
            resp.raw_body = b"".join(raw_parts)
        elif cl is not None:
            resp.body = self._read_exact(int(cl), deadline)
            resp.raw_body = resp.body
        else:  # close-delimited
            while self._fill(deadline):
                pass
            resp.body = bytes(self.buf)
            resp.raw_body = resp.body
            self.buf.clear()
            resp.closed_after = True
        return resp

    def expect_closed(self, timeout=DEFAULT_TIMEOUT):
        """Asserts the server closes the connection with no further bytes; returns seconds waited."""
        start = time.monotonic()
        deadline = start + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                raise AssertionError("connection still open %.1f s after the response" % timeout)
        if self.buf:
            raise AssertionError("unexpected bytes before close: %r" % bytes(self.buf[:300]))
        return time.monotonic() - start

    def is_open_quietly(self, wait=0.3):
        """True when nothing arrives and the connection stays open for `wait` seconds.
        Used only to show that a connection is still usable; correctness is then checked by
        sending another request on it."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return False


def simple_request(method="GET", target="/", headers=(("Host", "test"),), body=b"", version="HTTP/1.1"):
    """Builds raw request bytes; headers are sent exactly as given, in order."""
    out = ["%s %s %s\r\n" % (method, target, version)]
    for name, value in headers:
        out.append("%s: %s\r\n" % (name, value))
    out.append("\r\n")
    return "".join(out).encode("latin-1") + body


def chunked(data, size=None, ext=""):
    """Encodes bytes with chunked transfer coding (one chunk, or chunks of `size`)."""
    parts = []
    size = size or max(len(data), 1)
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        parts.append(b"%x%s\r\n%s\r\n" % (len(piece), ext.encode(), piece))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class ServerTestCase:
    """Mixin: a class-wide server. Subclasses set APP and ARGS (and optionally APP_ARGS)."""

    APP = None
    ARGS = ()
    APP_ARGS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server()
        try:
            cls.server.start(cls.ARGS, cls.APP, cls.APP_ARGS)
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        already_exited = cls.server.returncode is not None
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.cleanup()
        super().tearDownClass()
        if already_exited:
            raise AssertionError("server exited with %s during the tests; log:\n%s" % (code, log[-4000:]))
        if code != 0:
            raise AssertionError("server exited with %s on SIGTERM (0 expected); log:\n%s" % (code, log[-4000:]))

    def assertServerAlive(self):
        """A normal request on a fresh connection still gets 200."""
        self.assertIsNone(self.server.returncode, "server exited; log:\n" + self.server.log_text())
        resp = self.server.get(self.ALIVE_PATH)
        self.assertEqual(resp.status, 200, resp)
        return resp

    ALIVE_PATH = "/"


class RawAssertions:
    """Mixin for ServerTestCase classes: one raw request, one exact response."""

    def assertRejected(self, data, status, reason=None):
        """Sends raw bytes; asserts exactly one error response with `status`, then a close."""
        with connect(self.server.port) as sock:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before it read everything
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.status, status, resp)
            if reason:
                self.assertEqual(resp.reason, reason)
            self.assertEqual(resp.header("Connection"), "close")
            self.assertEqual(resp.header("Content-Length"), str(len(resp.body)))
            reader.expect_closed()
        return resp

    def assertAccepted(self, data):
        with connect(self.server.port) as sock:
            sock.sendall(data)
            resp = HttpReader(sock).read_response()
        self.assertEqual(resp.status, 200, resp)
        return resp


def T(seconds):
    """A deadline in seconds, stretched for sanitizer builds."""
    return seconds * TIME_SCALE
