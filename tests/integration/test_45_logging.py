# SPDX-License-Identifier: MIT
"""Access log (gunicorn's format and atoms), error log format and levels, and stopping on
signals."""

import datetime
import json
import os
import re
import signal
import socket
import time
import unittest

from harness import (HttpReader, IncompleteResponse, Server, T, connect, example_app, free_port,
                     fixture_app, simple_request, wait_until)

ERROR_LINE_RE = (r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-]\d\d:\d\d)\] \[(\d+)\] "
                 r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (.+)$")


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def wait_for_lines(path, count, timeout=T(5)):
    """The access log is written by a background thread: wait for `count` lines."""
    return wait_until(lambda: len(read_lines(path)) >= count and read_lines(path), timeout,
                      what="%d line(s) in %s" % (count, path))


class LoggingCase(unittest.TestCase):
    def start(self, args=(), app=None):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(args, app)
        return server


class AccessLogTest(LoggingCase):
    def test_default_format(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "access.log")
        server.start(["--access-logfile", path], example_app("hello"))
        before = datetime.datetime.now().astimezone().replace(microsecond=0)
        resp = server.request(simple_request("GET", "/path?q=1", [
            ("Host", "x"), ("Referer", "http://ref.example/page"), ("User-Agent", "test-agent/1.0"),
            ("Connection", "close")]))
        self.assertEqual(resp.status, 200)
        lines = wait_for_lines(path, 1)
        self.assertEqual(len(lines), 1, lines)
        m = re.fullmatch(r'127\.0\.0\.1 - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
                         r'"GET /path\?q=1 HTTP/1\.1" 200 14 "http://ref\.example/page" "test-agent/1\.0"',
                         lines[0])
        self.assertIsNotNone(m, lines[0])
        stamp = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z")
        self.assertLessEqual(abs((stamp - before).total_seconds()), 5)

        # Missing Referer / User-Agent are "-"; a second request is a second line.
        server.request(b"GET / HTTP/1.0\r\n\r\n")
        lines = wait_for_lines(path, 2)
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[1], r'^127\.0\.0\.1 - - \[[^\]]+\] "GET / HTTP/1\.0" 200 14 "-" "-"$')

    def test_custom_format_atoms(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "access.log")
        fmt = ("%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(T)s|%(D)s|%(L)s|%(p)s|"
               "%({x-test}i)s|%({content-type}o)s|%(r)s")
        server.start(["--access-logfile", path, "--access-logformat", fmt], fixture_app("testkit"))
        server.request(simple_request("GET", "/environ?a=b", [("Host", "x"), ("X-Test", "hello there"),
                                                              ("Connection", "close")]))
        server.request(simple_request("POST", "/sleep?ms=120", [("Host", "x"), ("Content-Length", "0"),
                                                                ("Connection", "close")]))
        server.request(simple_request("HEAD", "/environ", [("Host", "x"), ("Connection", "close")]), head=True)
        lines = wait_for_lines(path, 3)
        self.assertEqual(len(lines), 3, lines)
        pid = "<%d>" % server.worker_pids()[0]  # access lines come from the worker

        f = lines[0].split("|")
        self.assertEqual(f[:5], ["GET", "/environ", "a=b", "HTTP/1.1", "200"])
        self.assertGreater(int(f[5]), 100)          # %(B)s body bytes
        self.assertEqual(f[6], f[5])                # %(b)s the same when not 0
        self.assertEqual(f[7], "0")                 # %(T)s whole seconds
        self.assertRegex(f[8], r"^\d+$")            # %(D)s microseconds
        self.assertRegex(f[9], r"^0\.\d{6}$")       # %(L)s decimal seconds
        self.assertEqual(f[10:], [pid, "hello there", "text/plain", "GET /environ?a=b HTTP/1.1"])

        f = lines[1].split("|")
        self.assertEqual(f[:7], ["POST", "/sleep", "ms=120", "HTTP/1.1", "200", "6", "6"])
        self.assertGreaterEqual(int(f[8]), 120000)
        self.assertLess(int(f[8]), 5000000)
        self.assertAlmostEqual(float(f[9]), int(f[8]) / 1e6, delta=1e-6)
        self.assertEqual(f[10:], [pid, "-", "-", "POST /sleep?ms=120 HTTP/1.1"])

        f = lines[2].split("|")
        self.assertEqual(f[:7], ["HEAD", "/environ", "-", "HTTP/1.1", "200", "0", "-"])

    def test_access_log_to_stdout(self):
        server = self.start(["--access-logfile", "-"], example_app("hello"))
        server.get("/stdout")
        line = wait_until(lambda: server.stdout_text(), T(5), what="access log line on stdout")
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /stdout HTTP/1\.1" 200 14 "-" "-"\n$')

    def test_access_log_escapes_quotes(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "access.log")
        server.start(["--access-logfile", path], example_app("hello"))
        server.request(simple_request("GET", "/", [("Host", "x"), ("User-Agent", 'evil" "agent\\'),
                                                   ("Connection", "close")]))
        line = wait_for_lines(path, 1)[0]
        self.assertTrue(line.endswith('"-" "evil\\x22 \\x22agent\\x5c"'), line)

    def test_access_log_off_by_default(self):
        server = self.start([], example_app("hello"))
        for _ in range(3):
            self.assertEqual(server.get("/").status, 200)
        # Prove the requests were handled and any log write had its chance: stop the server.
        self.assertEqual(server.stop(), 0)
        self.assertEqual(sorted(os.listdir(server.tmpdir)), ["stderr.log", "stdout.log"])
        self.assertEqual(server.stdout_text(), "")
        self.assertNotIn("GET /", server.log_text())


class ErrorLogTest(LoggingCase):
    def test_error_log_format(self):
        server = self.start([], fixture_app("testkit"))
        server.get("/throw")
        server.wait_for_log(r"\[ERROR\] \[[0-9a-f]{16}\] \"GET /throw\" unhandled exception in handler: std::runtime_error: boom from testkit")
        lines = server.log_text().splitlines()
        self.assertGreaterEqual(len(lines), 4)
        now = datetime.datetime.now().astimezone()
        for line in lines:
            m = re.match(ERROR_LINE_RE, line)
            self.assertIsNotNone(m, line)
            self.assertIn(int(m.group(3)), [server.pid] + server.worker_pids())
            stamp = datetime.datetime.strptime(m.group(1) + " " + m.group(2).replace(":", ""),
                                               "%Y-%m-%d %H:%M:%S %z")
            self.assertLess(abs((now - stamp).total_seconds()), 30)
        self.assertRegex(lines[0], r"\[INFO\] Starting cppgunicorn \S+$")
        self.assertRegex(lines[1], r"\[INFO\] Listening at: http://127\.0\.0\.1:%d \(%d\)$" % (server.port, server.pid))
        self.assertRegex(lines[2], r"\[%d\] \[INFO\] Using worker: sync \(1 worker\(s\) x 1 thread\(s\)\)$" % server.pid)
        worker = server.worker_pids()[0]
        self.assertIn("[%d] [INFO] Booting worker with pid: %d" % (worker, worker), server.log_text())

    def test_error_logfile_and_level(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "error.log")
        server.start(["--error-logfile", path, "--log-level", "warning"], fixture_app("testkit"))
        self.assertEqual(server.request(b"GET / HTTP/1.1\r\n\r\n").status, 400)  # logged at INFO
        server.get("/no-response")                                              # logged at ERROR
        wait_until(lambda: any("[ERROR]" in l for l in read_lines(path)), T(5), what="error line in " + path)
        lines = read_lines(path)
        self.assertTrue(all(re.match(ERROR_LINE_RE, l) for l in lines), lines)
        self.assertFalse([l for l in lines if "[INFO]" in l], lines)
        self.assertTrue(any('app error on "GET /no-response"' in l for l in lines), lines)
        self.assertEqual(server.log_text(), "")  # nothing on stderr


class SignalTest(LoggingCase):
    def test_sigterm_exits_zero(self):
        server = self.start([], example_app("hello"))
        self.assertEqual(server.get("/").status, 200)
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(T(5)), 0)
        log = server.log_text()
        self.assertIn("[INFO] graceful stop:", log)
        self.assertIn("[INFO] Shutting down: master", log)

    def test_sigterm_closes_idle_keepalive_connections(self):
        # Idle keep-alive connections must not hold the stop up until graceful_timeout (30 s).
        server = self.start(["--keep-alive", "60"], example_app("hello"))
        with connect(server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/", [("Host", "x")]))
            self.assertEqual(reader.read_response().status, 200)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            reader.expect_closed(timeout=T(5))
            self.assertEqual(server.wait_exit(T(5)), 0)
            self.assertLess(time.monotonic() - started, T(5))

    def test_sigint_exits_zero(self):
        server = self.start([], example_app("hello"))
        server.signal(signal.SIGINT)
        self.assertEqual(server.wait_exit(T(5)), 0)
        self.assertIn("quick stop", server.log_text())

    def test_ctrl_c_on_the_whole_process_group_stops_cleanly(self):
        # A terminal's Ctrl-C signals every process of the group: each worker gets SIGINT
        # from the terminal and then SIGQUIT from the master, i.e. two quick stops.
        server = self.start(["--workers", "2"], example_app("hello"))
        workers = server.wait_workers(2)
        for pid in workers:  # stopped, so that both signals are pending when it reads them
            os.kill(pid, signal.SIGSTOP)
            os.kill(pid, signal.SIGINT)
            os.kill(pid, signal.SIGQUIT)
        server.signal(signal.SIGINT)
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(server.wait_exit(T(5)), 0)
        log = server.log_text()
        self.assertNotIn("Assertion", log)
        self.assertNotIn("SIGABRT", log)
        self.assertNotIn("exited with", log)

    def test_sigterm_lets_request_in_flight_finish(self):
        server = self.start(["--graceful-timeout", "10"], fixture_app("testkit"))
        total = 256 << 10
        with connect(server.port, timeout=T(10)) as sock:
            sock.sendall(simple_request("POST", "/stream-echo", [("Host", "x"), ("Content-Length", str(total))]))
            sock.sendall(b"a" * (total // 2))
            reader = HttpReader(sock, timeout=T(10))
            head = reader.read_head()  # the app has started answering: the request is in flight
            self.assertEqual(head.status, 200)
            offset = server.log_offset()
            server.signal(signal.SIGTERM)
            # 1, or 2 with wait_ready's probe connection (see the graceful_timeout test).
            server.wait_for_log(r"graceful stop: [12] connection\(s\) open", start=offset)
            # New connections are refused once the listener is closed.
            wait_until(lambda: not can_connect(server.port), T(5), what="listener closed")
            sock.sendall(b"b" * (total // 2))
            body = reader.read_body(head).body
            self.assertEqual(body, b"a" * (total // 2) + b"b" * (total // 2))
            reader.expect_closed()
        self.assertEqual(server.wait_exit(T(5)), 0)

    def test_graceful_timeout_cuts_off_stuck_request(self):
        server = self.start(["--graceful-timeout", "1", "--body-timeout", "60"], fixture_app("testkit"))
        with connect(server.port, timeout=T(10)) as sock:
            sock.sendall(simple_request("POST", "/stream-echo", [("Host", "x"), ("Content-Length", str(1 << 20))]))
            sock.sendall(b"a" * (128 << 10))
            reader = HttpReader(sock, timeout=T(10))
            head = reader.read_head()
            self.assertEqual(head.status, 200)  # in flight; then the client stalls
            offset = server.log_offset()
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            # 1, or 2 when wait_ready's probe connection was accepted but its close not yet
            # read: with --threads 1 the loop is inside the app, stalled on this upload.
            server.wait_for_log(r"graceful stop: [12] connection\(s\) open", start=offset)
            server.wait_for_log(r"\[WARNING\] graceful_timeout \(1 s\) expired with [12] connection\(s\) busy; "
                                r"closing them; requests cut off: \[0\] POST /stream-echo \(\d+ ms, waiting for the client\)",
                                start=offset, timeout=T(5))
            code = server.wait_exit(T(5))
            self.assertGreaterEqual(time.monotonic() - started, 0.8)
            self.assertLess(time.monotonic() - started, T(5))
            with self.assertRaises(IncompleteResponse):  # cut off: the chunked body never ends
                reader.read_body(head, timeout=T(5))
        self.assertEqual(code, 0)

    def test_a_stop_that_has_to_kill_names_the_deadline_and_every_request_it_cuts(self):
        # One thread, stuck in the app: the worker cannot act on its own graceful_timeout,
        # so the master's SIGKILL ends it, and says what it cut off.
        admin = free_port()
        server = self.start(["--graceful-timeout", "1", "--workers", "2", "--timeout", "0",
                             "--admin-bind", "127.0.0.1:%d" % admin], fixture_app("testkit"))
        for busy in (1, 2):  # one at a time, so that each worker takes one
            sock = connect(server.port, timeout=T(10))
            self.addCleanup(sock.close)
            sock.sendall(simple_request("GET", "/sleep?ms=%d" % T(30000), [("Host", "x")]))
            wait_until(lambda: busy_threads(admin) == busy, T(10), what="%d worker(s) in the app" % busy)
        offset = server.log_offset()
        server.signal(signal.SIGTERM)
        line = (r"\[ERROR\] Worker \(pid:\d+\) still running after graceful_timeout \(1 s\) expired; "
                r"sending SIGKILL; requests cut off: \[0\] GET /sleep\?ms=\d+ \(\d+ ms\)")
        wait_until(lambda: len(re.findall(line, server.log_text()[offset:])) == 2, T(10),
                   what="both kills logged with their requests")
        self.assertEqual(server.wait_exit(T(5)), 0)


def busy_threads(admin_port):
    """App threads in a call, as the master's /status?json sees them."""
    with socket.create_connection(("127.0.0.1", admin_port), timeout=T(5)) as sock:
        sock.sendall(simple_request("GET", "/status?json", [("Host", "x")]))
        status = json.loads(HttpReader(sock, timeout=T(5)).read_response().body)
    return sum(len(w["busy_threads"]) for w in status["workers"])


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
