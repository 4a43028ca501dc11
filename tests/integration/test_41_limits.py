# SPDX-License-Identifier: MIT
"""Request limits and timeouts, with raw sockets: every rejection has its exact status, the
connection ends after it, and the server keeps serving."""

import time
import unittest

from harness import (HttpReader, RawAssertions, ServerTestCase, T, chunked, connect,
                     example_app, fixture_app, simple_request)


def request_line_of(length, path="/environ"):
    """A GET request line of exactly `length` bytes (CRLF excluded)."""
    fixed = len("GET %s? HTTP/1.1" % path)
    line = "GET %s?%s HTTP/1.1" % (path, "a" * (length - fixed))
    assert len(line) == length
    return line


def header_line_of(length, name="X-Big"):
    """A header line of exactly `length` bytes, CRLF included, as gunicorn counts it."""
    line = "%s: %s" % (name, "v" * (length - len(name) - 4))
    assert len(line) + 2 == length
    return line


class DefaultLimitsTest(RawAssertions, ServerTestCase, unittest.TestCase):
    APP = fixture_app("testkit")
    ALIVE_PATH = "/environ"

    def test_request_line_default_limit(self):
        ok = request_line_of(4094) + "\r\nHost: x\r\nConnection: close\r\n\r\n"
        self.assertAccepted(ok.encode())
        too_long = request_line_of(4095) + "\r\nHost: x\r\n\r\n"
        resp = self.assertRejected(too_long.encode(), 414, "URI Too Long")
        self.assertIn(b"limit_request_line (4094 bytes)", resp.body)
        self.assertRejected((request_line_of(20000) + "\r\nHost: x\r\n\r\n").encode(), 414)
        self.assertServerAlive()

    def test_request_line_limit_before_line_ends(self):
        # The limit applies while the target is still arriving, not after the whole line.
        with connect(self.server.port) as sock:
            sock.sendall(b"GET /" + b"a" * 5000)
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.status, 414)
            reader.expect_closed()
        self.assertServerAlive()

    def test_header_field_count(self):
        def with_fields(n):  # Host plus n-1 others
            headers = [("Host", "x")] + [("X-F%d" % i, "v") for i in range(n - 2)] + [("Connection", "close")]
            assert len(headers) == n
            return simple_request("GET", "/environ", headers)

        self.assertAccepted(with_fields(100))
        resp = self.assertRejected(with_fields(101), 431, "Request Header Fields Too Large")
        self.assertIn(b"limit_request_fields (100)", resp.body)
        self.assertServerAlive()

    def test_header_field_size(self):
        ok = "GET /environ HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n" % header_line_of(8190)
        self.assertAccepted(ok.encode())
        # 8191 bytes with the CRLF, and 8191 bytes without it: both over the 8190 limit.
        for length in (8191, 8193, 20000):
            with self.subTest(length=length):
                bad = "GET /environ HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % header_line_of(length)
                resp = self.assertRejected(bad.encode(), 431, "Request Header Fields Too Large")
                self.assertIn(b"limit_request_field_size (8190 bytes)", resp.body)
        self.assertServerAlive()

class CustomLimitsTest(RawAssertions, ServerTestCase, unittest.TestCase):
    APP = example_app("echo")
    ARGS = ("--limit-request-line", "100", "--limit-request-fields", "10",
            "--limit-request-field-size", "200", "--limit-request-body", "1000")
    ALIVE_PATH = "/alive"

    def test_request_line_custom_limit(self):
        self.assertAccepted((request_line_of(100) + "\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
        for length in (101, 102, 150):
            with self.subTest(length=length):
                resp = self.assertRejected((request_line_of(length) + "\r\nHost: x\r\n\r\n").encode(), 414)
                self.assertIn(b"limit_request_line (100 bytes)", resp.body)
        self.assertServerAlive()

    def test_field_count_custom_limit(self):
        headers = [("Host", "x")] + [("X-%d" % i, "v") for i in range(8)] + [("Connection", "close")]
        self.assertAccepted(simple_request("GET", "/", headers))
        self.assertRejected(simple_request("GET", "/", headers + [("X-Eleventh", "v")]), 431)
        self.assertServerAlive()

    def test_field_size_custom_limit(self):
        self.assertAccepted(("GET / HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n"
                             % header_line_of(200)).encode())
        resp = self.assertRejected(("GET / HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n" % header_line_of(201)).encode(), 431)
        self.assertIn(b"limit_request_field_size (200 bytes)", resp.body)
        self.assertServerAlive()

    def test_trailer_fields_are_limited_too(self):
        trailers = "".join("T-%d: v\r\n" % i for i in range(20))
        body = b"5\r\nhello\r\n0\r\n" + trailers.encode() + b"\r\n"
        req = simple_request("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")], body)
        with connect(self.server.port) as sock:
            sock.sendall(req)
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.status, 431, resp)
            reader.expect_closed()
        self.assertServerAlive()

    def test_content_length_over_limit(self):
        ok = self.assertAccepted(simple_request("POST", "/", [("Host", "x"), ("Content-Length", "1000"),
                                                              ("Connection", "close")], b"a" * 1000))
        self.assertEqual(len(ok.json()["body_b64"]), 1336)
        resp = self.assertRejected(simple_request("POST", "/", [("Host", "x"), ("Content-Length", "1001")],
                                                  b"a" * 1001), 413, "Content Too Large")
        self.assertIn(b"limit_request_body (1000 bytes)", resp.body)
        self.assertServerAlive()

    def test_chunked_body_over_limit(self):
        ok = self.assertAccepted(simple_request("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked"),
                                                              ("Connection", "close")], chunked(b"b" * 1000, 300)))
        self.assertEqual(len(ok.json()["body_b64"]), 1336)
        # The head is fine, so the app runs; its read fails and the server answers 413.
        offset = self.server.log_offset()
        self.assertRejected(simple_request("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")],
                                           chunked(b"b" * 1001, 300)), 413, "Content Too Large")
        self.server.wait_for_log(r"bad request from 127\.0\.0\.1:\d+: 413 \(request body is larger than "
                                 r"limit_request_body", start=offset)
        self.assertServerAlive()

    def test_chunked_body_far_over_limit_streamed(self):
        # A client that keeps streaming after the limit is cut off; it never gets a 200.
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("POST", "/", [("Host", "x"), ("Transfer-Encoding", "chunked")]))
            reader = HttpReader(sock)
            try:
                for _ in range(50):
                    sock.sendall(b"400\r\n" + b"c" * 1024 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = reader.read_response()
            self.assertEqual(resp.status, 413)
            self.assertEqual(resp.header("Connection"), "close")
        self.assertServerAlive()


class UnlimitedTest(RawAssertions, ServerTestCase, unittest.TestCase):
    """Limits set to 0 (unlimited) still leave a hard 1 MiB cap on a request head."""
    APP = fixture_app("testkit")
    ALIVE_PATH = "/environ"
    ARGS = ("--limit-request-line", "0", "--limit-request-fields", "0",
            "--limit-request-field_size", "0")

    def test_long_line_and_many_fields_accepted(self):
        headers = "".join("X-H%d: %s\r\n" % (i, "v" * 100) for i in range(500))
        req = "%s\r\nHost: x\r\n%sX-Huge: %s\r\nConnection: close\r\n\r\n" % (
            request_line_of(20000), headers, "w" * 50000)
        self.assertAccepted(req.encode())

    def test_head_capped_at_1mib(self):
        headers = "".join("X-H%d: %s\r\n" % (i, "v" * 10000) for i in range(120))
        resp = self.assertRejected(("GET / HTTP/1.1\r\nHost: x\r\n%s\r\n" % headers).encode(), 431)
        self.assertIn(b"larger than 1 MiB", resp.body)
        resp = self.assertRejected(("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % ("a" * (1 << 21))).encode(), 414)
        self.assertIn(b"request line is too long", resp.body)
        self.assertServerAlive()


class TimeoutsTest(RawAssertions, ServerTestCase, unittest.TestCase):
    APP = fixture_app("testkit")
    ALIVE_PATH = "/environ"
    ARGS = ("--header-timeout", "1", "--body-timeout", "1", "--send-timeout", "1", "--keep-alive", "5")

    def test_slow_header_gets_408(self):
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            reader = HttpReader(sock, timeout=T(5))
            resp = reader.read_response(timeout=T(5))
            waited = time.monotonic() - started
            self.assertEqual(resp.status, 408, resp)
            self.assertEqual(resp.reason, "Request Timeout")
            self.assertEqual(resp.header("Connection"), "close")
            reader.expect_closed(timeout=T(3))
        self.assertGreaterEqual(waited, 0.8)
        self.assertLess(waited, T(3.0))
        self.server.wait_for_log(r"request head from 127\.0\.0\.1:\d+ not complete within header_timeout "
                                 r"\(1 s\); answering 408", start=offset)
        self.assertServerAlive()

    def test_trickling_header_still_times_out(self):
        # The deadline counts from the first byte: sending a byte now and then does not help.
        with connect(self.server.port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            started = time.monotonic()
            reader = HttpReader(sock, timeout=0.3)
            resp = None
            for i in range(20):
                try:
                    sock.sendall(b"X-T%d: v\r\n" % i)
                except (BrokenPipeError, ConnectionResetError):
                    break
                if not reader.is_open_quietly(0.2):
                    break
            reader.timeout = 5
            resp = reader.read_response(timeout=T(5))
            self.assertEqual(resp.status, 408)
            self.assertLess(time.monotonic() - started, T(3.0))

    def test_silent_connection_closed_without_response(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            waited = reader.expect_closed(timeout=T(3))  # asserts no bytes arrived
        self.assertGreaterEqual(waited, 0.8)
        self.assertServerAlive()

    def test_stalled_body_times_out(self):
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", "100")], b"0123456789"))
            reader = HttpReader(sock)
            resp = reader.read_response(timeout=T(5))
            self.assertEqual(resp.status, 408, resp)
            reader.expect_closed(timeout=T(3))
        self.server.wait_for_log(r"sent no body bytes for body_timeout \(1 s\)", start=offset)
        self.assertServerAlive()

    def test_client_not_reading_is_dropped(self):
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/big?bytes=%d" % (256 << 20), [("Host", "x")]))
            self.server.wait_for_log(r"client 127\.0\.0\.1:\d+ read nothing for send_timeout \(1 s\); closing",
                                     timeout=T(6), start=offset)
            # Whatever was buffered can be drained, then the connection ends well short of 256 MiB.
            total = 0
            sock.settimeout(5)
            try:
                while True:
                    data = sock.recv(1 << 20)
                    if not data:
                        break
                    total += len(data)
            except ConnectionResetError:
                pass
            self.assertLess(total, 256 << 20)
        self.assertServerAlive()

    def test_keepalive_then_partial_head_gets_408(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/environ", [("Host", "x")]))
            self.assertEqual(reader.read_response().status, 200)
            sock.sendall(b"GET /environ HTTP/1.1\r\n")
            started = time.monotonic()
            resp = reader.read_response(timeout=T(5))
            self.assertEqual(resp.status, 408)
            self.assertLess(time.monotonic() - started, T(3.0))
            reader.expect_closed()


if __name__ == "__main__":
    unittest.main()
