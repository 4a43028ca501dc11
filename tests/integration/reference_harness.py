# SPDX-License-Identifier: MIT
"""Real apps from Debian on cppgunicorn, against gunicorn 20.1 serving the same app (test_80
to test_82).

A ReferenceTestCase starts the app twice, on two ports of 127.0.0.1, with the same
--workers and --threads: once on cppgunicorn (the WSGI bridge), once on Debian's
/usr/bin/gunicorn (gthread worker). `both()` sends the same request bytes to each, on a new
connection, and reads what comes back with the harness's raw HTTP reader, everything up to
the close included. `assertSameResponse` then requires the same status line, the same
header names in the same order, the same header values and the same body, leaving out what
legitimately differs: Date and Server (each server's own), and what a test names as
volatile (a signature, a random token), which the test then compares structurally.

Where gunicorn departs from PEP 3333 or RFC 9110, a test asserts the standard behaviour of
cppgunicorn and the departure of gunicorn, with a message saying which row of the table in
docs/python.md ("Differences from gunicorn 20.1 found by the tests") is at stake.

Both servers run with PYTHONHASHSEED=0, so that what an app builds from a set (Flask's
Allow header) comes out in the same order in both."""

import gzip
import importlib.util
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (DEFAULT_TIMEOUT, T, HttpReader, IncompleteResponse, Server, connect, free_port,
                     simple_request)
from wsgi_harness import WSGI_APPS, require_bridge

GUNICORN = "/usr/bin/gunicorn"
WORKERS, THREADS = 2, 2  # the same for both servers
HOST = "testhost"        # every request's Host: the apps echo it, so it must not hold a port
SAME_ENV = {"PYTHONHASHSEED": "0"}

# Each server's own, whatever the app does.
SERVER_HEADERS = {"date", "server"}


def require_debian_module(module, package):
    """Skips the test when Debian's package for `module` is not importable here (the tests
    run under /usr/bin/python3, which is the Python those packages install into)."""
    if importlib.util.find_spec(module) is None:
        raise unittest.SkipTest("Debian's %s is not installed (scripts/deps.sh test)" % package)


def require_gunicorn():
    if not os.access(GUNICORN, os.X_OK) or importlib.util.find_spec("gunicorn") is None:
        raise unittest.SkipTest("Debian's gunicorn (python3-gunicorn 20.1) is not installed: it is "
                                "the reference these tests compare with (scripts/deps.sh test)")


class Gunicorn:
    """Debian's gunicorn 20.1 on a free port of 127.0.0.1, gthread workers."""

    def __init__(self):
        self.proc = None
        self.port = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="cppg-gunicorn-")
        self.log_path = os.path.join(self._tmpdir.name, "gunicorn.log")
        self._log = None

    def start(self, app, pythonpath, alive_path, workers=WORKERS, threads=THREADS):
        self.port = free_port()
        self._log = open(self.log_path, "ab")
        cmd = [GUNICORN, "--bind", "127.0.0.1:%d" % self.port, "--workers", str(workers),
               "--threads", str(threads), "--worker-class", "gthread", "--pythonpath", pythonpath, app]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     cwd=self._tmpdir.name, env=dict(os.environ, **SAME_ENV))
        self._wait_serving(alive_path, T(20))
        return self

    def _wait_serving(self, path, timeout):
        # gunicorn's master listens before its workers have imported the app: wait for an answer.
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("gunicorn exited with %s; log:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with connect(self.port, timeout=2) as sock:
                    sock.sendall(simple_request("GET", path, [("Host", HOST), ("Connection", "close")]))
                    if HttpReader(sock, timeout=T(10)).read_response().status < 500:
                        return
            except (OSError, AssertionError):
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("gunicorn not serving %s after %.0f s; log:\n%s" % (path, timeout, self.log_text()))
            time.sleep(0.05)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=T(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
        self._tmpdir.cleanup()


class Reply:
    """One exchange on a connection: the interim (1xx) responses, the final response, and
    the bytes that came after it before the server closed ("extra": a body sent in answer
    to HEAD, or the start of a response to a pipelined request)."""

    def __init__(self, interim, response, extra, closed):
        self.interim = interim
        self.response = response
        self.extra = extra
        self.closed = closed  # the server closed the connection after the response

    @property
    def status(self):
        return self.response.status

    @property
    def body(self):
        return self.response.body

    def header(self, name, default=None):
        return self.response.header(name, default)

    def header_all(self, name):
        return self.response.header_all(name)

    def framing(self):
        """How the body is delimited: chunked, length or close; none for the statuses that
        have no body, whatever their headers say."""
        if self.status in (204, 304) or 100 <= self.status < 200:
            return "none"
        if (self.response.header("Transfer-Encoding") or "").lower() == "chunked":
            return "chunked"
        return "length" if self.response.header("Content-Length") is not None else "close"

    def __repr__(self):
        return "<Reply %r interim=%r extra=%r>" % (self.response, [r.status for r in self.interim], self.extra[:200])


def read_reply(sock, head=False, timeout=DEFAULT_TIMEOUT, until_closed=True):
    """Reads one response (after its 1xx) from sock and, with until_closed, what follows it
    up to the server's close."""
    reader = HttpReader(sock, timeout=timeout)
    interim = []
    while True:
        resp = reader.read_response(head=head, allow_interim=True)
        if not 100 <= resp.status < 200:
            break
        interim.append(resp)
        if resp.status == 101 or resp.header("Transfer-Encoding"):
            # Not an interim response, whatever its status says: its body is read as such.
            reader.read_body(resp)
            break
    extra, closed = b"", False
    if until_closed:
        deadline = time.monotonic() + timeout
        while not reader.eof and time.monotonic() < deadline:
            try:
                reader._fill(deadline)
            except socket.timeout:
                break
        extra, closed = bytes(reader.buf), reader.eof
    return Reply(interim, resp, extra, closed)


def request_bytes(method, target, headers=(), body=b"", version="HTTP/1.1", close=True):
    fields = [("Host", HOST)] + list(headers)
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in fields):
        fields.append(("Content-Length", str(len(body))))
    if close and version == "HTTP/1.1":
        fields.append(("Connection", "close"))
    return simple_request(method, target, fields, body, version)


def exchange(port, data, head=False, timeout=DEFAULT_TIMEOUT):
    """Sends request bytes on a new connection; the Reply, read up to the server's close."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_reply(sock, head=head, timeout=timeout)


def gunzip(body):
    return gzip.decompress(body)


class ReferenceTestCase(unittest.TestCase):
    """Both servers run APP (MODULE:CALLABLE) from PYTHONPATH for the whole class."""

    APP = None
    PYTHONPATH = WSGI_APPS
    ALIVE_PATH = "/"
    REQUIRES = ()  # (module, Debian package) pairs the app needs

    @classmethod
    def setUpClass(cls):
        require_bridge()
        require_gunicorn()
        for module, package in cls.REQUIRES:
            require_debian_module(module, package)
        cls.ours = Server()
        cls.addClassCleanup(cls.ours.cleanup)
        cls.ours.start(["--workers", str(WORKERS), "--threads", str(THREADS), "--pythonpath", cls.PYTHONPATH],
                       cls.APP, env=SAME_ENV)
        cls.ours.wait_workers(WORKERS, timeout=T(20))
        cls.theirs = Gunicorn()
        cls.addClassCleanup(cls.theirs.cleanup)
        cls.theirs.start(cls.APP, cls.PYTHONPATH, cls.ALIVE_PATH)

    # ---- requests ----

    def both(self, method, target, headers=(), body=b"", version="HTTP/1.1", timeout=None):
        """The same request to cppgunicorn and to gunicorn: (ours, theirs)."""
        data = request_bytes(method, target, headers, body, version)
        head = method == "HEAD"
        timeout = timeout or DEFAULT_TIMEOUT
        return (exchange(self.ours.port, data, head, timeout), exchange(self.theirs.port, data, head, timeout))

    def compare(self, method, target, headers=(), body=b"", version="HTTP/1.1", volatile=(), normalize=None):
        """Sends the request to both and requires the same response; returns ours."""
        ours, theirs = self.both(method, target, headers, body, version)
        self.assertSameResponse(ours, theirs, volatile, normalize, what="%s %s" % (method, target))
        return ours

    # ---- comparisons ----

    def assertSameResponse(self, ours, theirs, volatile=(), normalize=None, what="", ignore=()):
        """Same status line, header names (in order) and values, body and framing; the
        headers in `volatile` (lower case) are compared by name only, those in `ignore`
        not at all (the test checks them itself), and `normalize` (bytes -> comparable) is
        applied to both bodies first."""
        label = "%s: cppgunicorn %r\n    gunicorn 20.1 %r" % (what, ours, theirs)
        self.assertEqual([r.status for r in ours.interim], [r.status for r in theirs.interim], label)
        self.assertEqual((ours.response.version, ours.status, ours.response.reason),
                         (theirs.response.version, theirs.status, theirs.response.reason), label)
        self.assertEqual(self._fields(ours, volatile, ignore), self._fields(theirs, volatile, ignore), label)
        self.assertEqual(ours.framing(), theirs.framing(), label)
        normalize = normalize or (lambda body: body)
        self.assertEqual(normalize(ours.body), normalize(theirs.body), label)
        self.assertEqual((ours.extra, ours.closed), (theirs.extra, theirs.closed), label)

    @staticmethod
    def _fields(reply, volatile, ignore):
        out = []
        for name, value in reply.response.headers:
            low = name.lower()
            if low in SERVER_HEADERS or low in ignore:
                continue
            if low in ("connection", "transfer-encoding"):
                # Each server puts these where it likes (gunicorn: first); compared apart.
                continue
            out.append((low, None if low in volatile else value))
        connection = reply.header("Connection")
        if reply.response.version == "HTTP/1.1" and (connection or "").lower() == "keep-alive":
            connection = None  # gunicorn says it; HTTP/1.1 means it without (RFC 9112 9.3)
        out.append(("connection", connection))
        return out

    def assertNoBodyForHead(self, reply, what):
        """RFC 9110 9.3.2: the server MUST NOT send content in the response to HEAD."""
        self.assertEqual(reply.extra, b"", "%s: cppgunicorn sent a body in answer to HEAD" % what)


def stale(row):
    """The message of a test that finds gunicorn no longer departing from the standard."""
    return ("gunicorn 20.1 no longer does what docs/python.md says (%s): a newer gunicorn? "
            "update the table 'Differences from gunicorn 20.1 found by the tests'" % row)


__all__ = ["ReferenceTestCase", "Reply", "exchange", "read_reply", "request_bytes", "gunzip", "stale",
           "HOST", "GUNICORN", "IncompleteResponse", "connect", "T", "DEFAULT_TIMEOUT"]
