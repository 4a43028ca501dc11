# SPDX-License-Identifier: MIT
"""HTTP/1.1 protocol behaviour of the real server: framing, keep-alive, pipelining, chunked
bodies, 100-continue, HEAD, request targets, the environ view, app errors and streaming."""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import (DEFAULT_TIMEOUT, HttpReader, ServerTestCase, T, chunked, connect,
                     example_app, exchange, fixture_app, recv_until_closed, simple_request)

DATE_RE = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"


def parse_environ(body):
    """testkit /environ output ("KEY=value" lines) as a dict."""
    out = {}
    for line in body.decode().splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def split_raw_response(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no end of head in %r" % raw[:300]
    return head.decode("latin-1"), body


class HelloTest(ServerTestCase, unittest.TestCase):
    APP = example_app("hello")

    def test_hello_world(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=DEFAULT_TIMEOUT)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.reason, "OK")
        self.assertEqual(body, b"Hello, World!\n")
        self.assertEqual(resp.getheader("Content-Length"), "14")
        self.assertEqual(resp.getheader("Content-Type"), "text/plain")
        self.assertEqual(resp.getheader("Server"), "cppgunicorn")
        self.assertRegex(resp.getheader("Date"), DATE_RE)
        self.assertIsNone(resp.getheader("Transfer-Encoding"))
        self.assertEqual(len(resp.headers.get_all("Date")), 1)
        self.assertEqual(len(resp.headers.get_all("Server")), 1)

    def test_raw_head_layout(self):
        resp = self.server.request(simple_request("GET", "/", [("Host", "h"), ("Connection", "close")]))
        self.assertEqual(resp.version, "HTTP/1.1")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header_names(),
                         ["Server", "Date", "Content-Type", "Content-Length", "Connection"])
        self.assertEqual(resp.header("Connection"), "close")
        self.assertEqual(resp.body, b"Hello, World!\n")


class EchoTest(ServerTestCase, unittest.TestCase):
    APP = example_app("echo")
    ARGS = ("--threads", "2")

    def test_json_contract_exact(self):
        req = (b"GET /p?q=1 HTTP/1.1\r\n"
               b"Host: x\r\n"
               b"X-Case: Mixed\r\n"
               b"x-lower: v\r\n"
               b"X-Rep: 1\r\n"
               b"X-Rep: 2\r\n"
               b"X-Pad:   padded value \t \r\n"
               b"Connection: close\r\n\r\n")
        resp = self.server.request(req)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        self.assertEqual(resp.header("Content-Length"), str(len(resp.body)))
        expected = ('{"method":"GET","target":"/p?q=1","path":"/p","query":"q=1","version":"HTTP/1.1",'
                    '"headers":[["Host","x"],["X-Case","Mixed"],["x-lower","v"],["X-Rep","1"],'
                    '["X-Rep","2"],["X-Pad","padded value"],["Connection","close"]],'
                    '"body_b64":"","remote_addr":"127.0.0.1"}')
        self.assertEqual(resp.body.decode(), expected)
        doc = json.loads(resp.body, object_pairs_hook=list)
        self.assertEqual([k for k, _ in doc],
                         ["method", "target", "path", "query", "version", "headers", "body_b64",
                          "remote_addr"])

    def test_post_body_round_trips(self):
        body = bytes(range(256)) * 5 + b"\r\n\r\nGET / HTTP/1.1\r\n"
        req = simple_request("POST", "/submit", [("Host", "x"), ("Content-Type", "application/octet-stream"),
                                                 ("Content-Length", str(len(body))),
                                                 ("Connection", "close")], body)
        resp = self.server.request(req)
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual(doc["method"], "POST")
        self.assertEqual(doc["path"], "/submit")
        self.assertEqual(doc["query"], "")
        self.assertEqual(doc["headers"], [["Host", "x"], ["Content-Type", "application/octet-stream"],
                                          ["Content-Length", str(len(body))], ["Connection", "close"]])
        self.assertEqual(base64.b64decode(doc["body_b64"]), body)

    def test_http_client_post(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=DEFAULT_TIMEOUT)
        try:
            conn.request("POST", "/form?a=b", body=b"x=1&y=2",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            doc = json.loads(resp.read())
        finally:
            conn.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(doc["target"], "/form?a=b")
        self.assertEqual(base64.b64decode(doc["body_b64"]), b"x=1&y=2")

    def test_chunked_request_body_with_extensions_and_trailers(self):
        head = (b"POST /chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n")
        body = (b"5;name=value\r\nhello\r\n"
                b"1;flag;other=\"q\"\r\n \r\n"
                b"A\r\n0123456789\r\n"
                b"6\r\nworld!\r\n"
                b"0\r\nX-Trailer: t1\r\nX-Other: t2\r\n\r\n")
        with connect(self.server.port) as sock:
            sock.sendall(head)
            # The body in several writes, cut in the middle of chunk headers and data.
            for piece in (body[:3], body[3:17], body[17:40], body[40:]):
                sock.sendall(piece)
            reader = HttpReader(sock)
            resp = reader.read_response()
            reader.expect_closed()
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual(base64.b64decode(doc["body_b64"]), b"hello 0123456789world!")
        self.assertEqual(doc["headers"], [["Host", "x"], ["Transfer-Encoding", "chunked"],
                                          ["Connection", "close"]])

    def test_pipelined_mixed_framing(self):
        reqs = (simple_request("GET", "/one", [("Host", "x")]) +
                simple_request("POST", "/two", [("Host", "x"), ("Content-Length", "3")], b"abc") +
                simple_request("POST", "/three", [("Host", "x"), ("Transfer-Encoding", "chunked")],
                               chunked(b"defgh", 2)) +
                simple_request("GET", "/four", [("Host", "x"), ("Connection", "close")]))
        with connect(self.server.port) as sock:
            sock.sendall(reqs)
            reader = HttpReader(sock)
            docs = [reader.read_response().json() for _ in range(4)]
            reader.expect_closed()
        self.assertEqual([d["path"] for d in docs], ["/one", "/two", "/three", "/four"])
        self.assertEqual([base64.b64decode(d["body_b64"]) for d in docs], [b"", b"abc", b"defgh", b""])

    def test_expect_100_continue_raw(self):
        body = b"the body after the interim response"
        head = simple_request("POST", "/expect", [("Host", "x"), ("Expect", "100-continue"),
                                                  ("Content-Length", str(len(body)))])
        with connect(self.server.port) as sock:
            sock.sendall(head)
            reader = HttpReader(sock)
            interim = reader.read_head(timeout=T(5))
            self.assertEqual(interim.raw_head, b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(body)
            resp = reader.read_response()
            self.assertEqual(resp.status, 200, resp)
            doc = resp.json()
            self.assertEqual(base64.b64decode(doc["body_b64"]), body)
            self.assertIn(["Expect", "100-continue"], doc["headers"])
            # The connection stays usable, and a request without Expect gets no 100.
            sock.sendall(simple_request("POST", "/again", [("Host", "x"), ("Content-Length", "2"),
                                                           ("Connection", "close")], b"ok"))
            again = reader.read_response(allow_interim=True)
            self.assertEqual(again.status, 200)
            self.assertEqual(base64.b64decode(again.json()["body_b64"]), b"ok")
            reader.expect_closed()

    def test_expect_100_continue_http10_gets_no_interim(self):
        # RFC 9110 10.1.1: a server must not send 100 to an HTTP/1.0 client.
        req = simple_request("POST", "/old", [("Host", "x"), ("Expect", "100-continue"),
                                              ("Content-Length", "4")], b"body", version="HTTP/1.0")
        with connect(self.server.port) as sock:
            sock.sendall(req)
            reader = HttpReader(sock)
            resp = reader.read_response(allow_interim=True)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.version, "HTTP/1.0")
            self.assertEqual(base64.b64decode(resp.json()["body_b64"]), b"body")

    def test_curl_large_body_uses_expect(self):
        data = bytes((i * 7 + 3) % 251 for i in range(1 << 16)) * 32  # 2 MiB
        path = os.path.join(self.server.tmpdir, "curl-body.bin")
        with open(path, "wb") as f:
            f.write(data)
        proc = subprocess.run(["curl", "-sS", "-v", "--max-time", "30", "--expect100-timeout", "10",
                               "-H", "Content-Type: application/octet-stream",
                               "--data-binary", "@" + path,
                               "http://127.0.0.1:%d/curl" % self.server.port],
                              capture_output=True, timeout=T(60))
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-2000:])
        trace = proc.stderr.decode(errors="replace")
        self.assertRegex(trace, r"(?m)^> Expect: 100-continue")
        self.assertRegex(trace, r"(?m)^< HTTP/1.1 100 Continue")
        self.assertRegex(trace, r"(?m)^< HTTP/1.1 200 OK")
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["method"], "POST")
        self.assertIn(["Expect", "100-continue"], doc["headers"])
        received = base64.b64decode(doc["body_b64"])
        self.assertEqual(len(received), len(data))
        self.assertEqual(hashlib.sha256(received).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_absolute_form_target(self):
        resp = self.server.request(simple_request("GET", "http://example.com:8080/a/b?x=1",
                                                  [("Host", "x"), ("Connection", "close")]))
        self.assertEqual(resp.status, 200, resp)
        doc = resp.json()
        self.assertEqual(doc["target"], "http://example.com:8080/a/b?x=1")
        self.assertEqual(doc["path"], "/a/b")
        self.assertEqual(doc["query"], "x=1")

    def test_percent_decoded_path(self):
        resp = self.server.request(simple_request("GET", "/a%20b/%C3%A9?q=%20",
                                                  [("Host", "x"), ("Connection", "close")]))
        doc = resp.json()
        # As WSGI gives PATH_INFO: the decoded bytes as latin-1 code points (C3 A9 is "Ã©").
        self.assertEqual(doc["path"], "/a b/\u00c3\u00a9")
        self.assertEqual(doc["query"], "q=%20")
        self.assertEqual(doc["target"], "/a%20b/%C3%A9?q=%20")

    def test_obs_text_in_a_header_reaches_the_app_unchanged(self):
        raw = (b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9 \x80\xff\r\n"
               b"Connection: close\r\n\r\n")
        doc = self.server.request(raw).json()
        values = dict(doc["headers"])
        # Every byte is one code point: 0xE9, 0x80 and 0xFF are not lost to U+FFFD.
        self.assertEqual(values["X-Name"], "caf\u00e9 \u0080\u00ff")


class TestkitTest(ServerTestCase, unittest.TestCase):
    APP = fixture_app("testkit")
    ARGS = ("--threads", "2", "--keep-alive", "5")
    ALIVE_PATH = "/environ"

    # ---- keep-alive ----

    def test_http_client_reuses_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=DEFAULT_TIMEOUT)
        try:
            ports, socks = [], []
            for i in range(4):
                conn.request("GET", "/environ?i=%d" % i)
                resp = conn.getresponse()
                env = parse_environ(resp.read())
                self.assertEqual(resp.status, 200)
                self.assertIsNone(resp.getheader("Connection"))
                self.assertEqual(env["QUERY_STRING"], "i=%d" % i)
                ports.append(env["REMOTE_PORT"])
                socks.append(conn.sock)
            local_port = str(conn.sock.getsockname()[1])
        finally:
            conn.close()
        self.assertEqual(ports, [local_port] * 4)
        self.assertTrue(all(s is socks[0] for s in socks))

    def test_http10_without_keepalive_closes(self):
        with connect(self.server.port) as sock:
            sock.sendall(b"GET /environ HTTP/1.0\r\n\r\n")
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.version, "HTTP/1.0")
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Connection"), "close")
            self.assertEqual(parse_environ(resp.body)["SERVER_PROTOCOL"], "HTTP/1.0")
            reader.expect_closed()

    def test_http10_with_keepalive_stays_open(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            for i in range(3):
                sock.sendall(b"GET /environ?n=%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
                resp = reader.read_response()
                self.assertEqual(resp.version, "HTTP/1.0")
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.header("Connection"), "keep-alive")
                self.assertEqual(parse_environ(resp.body)["QUERY_STRING"], "n=%d" % i)
            # Without the header, HTTP/1.0 ends the connection.
            sock.sendall(b"GET /environ HTTP/1.0\r\n\r\n")
            resp = reader.read_response()
            self.assertEqual(resp.header("Connection"), "close")
            reader.expect_closed()

    def test_http11_connection_close(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/environ", [("Host", "x")]))
            first = reader.read_response()
            self.assertIsNone(first.header("Connection"))
            sock.sendall(simple_request("GET", "/environ", [("Host", "x"), ("Connection", "close")]))
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Connection"), "close")
            reader.expect_closed()

    def test_http10_keepalive_with_unknown_length_closes(self):
        # No Content-Length and no chunking in 1.0: the body ends with the connection.
        with connect(self.server.port) as sock:
            sock.sendall(b"GET /chunked?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            resp = HttpReader(sock).read_response()
        self.assertEqual(resp.header("Connection"), "close")
        self.assertEqual(resp.body, b"chunk0\nchunk1\n")
        self.assertTrue(resp.closed_after)

    # ---- pipelining ----

    def test_pipelined_requests_answered_in_order(self):
        reqs = (simple_request("GET", "/sleep?ms=200", [("Host", "x")]) +
                simple_request("GET", "/environ?second=1", [("Host", "x")]) +
                simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", "11")], b"hello world"))
        with connect(self.server.port) as sock:
            sock.sendall(reqs)
            reader = HttpReader(sock)
            first = reader.read_response()
            second = reader.read_response()
            third = reader.read_response()
            self.assertEqual((first.status, first.body), (200, b"slept\n"))
            self.assertEqual(second.status, 200)
            self.assertEqual(parse_environ(second.body)["QUERY_STRING"], "second=1")
            self.assertEqual(third.status, 200)
            self.assertEqual(third.json(), {"bytes": 11, "sum": sum(b"hello world")})
            # Still open afterwards.
            sock.sendall(simple_request("GET", "/sleep?ms=1", [("Host", "x"), ("Connection", "close")]))
            self.assertEqual(reader.read_response().body, b"slept\n")
            reader.expect_closed()

    def test_pipelined_requests_then_half_close_are_all_answered(self):
        # As `printf '...' | nc` does: send everything, then shut the write side.
        reqs = (simple_request("GET", "/sleep?ms=100", [("Host", "x")]) +
                simple_request("GET", "/environ?second=1", [("Host", "x")]))
        with connect(self.server.port) as sock:
            sock.sendall(reqs)
            sock.shutdown(socket.SHUT_WR)
            reader = HttpReader(sock)
            self.assertEqual(reader.read_response().body, b"slept\n")
            second = reader.read_response()
            self.assertEqual(parse_environ(second.body)["QUERY_STRING"], "second=1")
            reader.expect_closed()

    def test_half_close_in_the_middle_of_a_body_closes_the_connection(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("POST", "/reject-body", [("Host", "x"), ("Content-Length", "100")], b"abc"))
            sock.shutdown(socket.SHUT_WR)
            reader = HttpReader(sock)
            self.assertEqual(reader.read_response().status, 403)
            reader.expect_closed()

    # ---- chunked responses ----

    def test_chunked_response_http11(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/chunked?n=5", [("Host", "x")]))
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
            self.assertIsNone(resp.header("Content-Length"))
            self.assertEqual(resp.header("Content-Type"), "text/plain")
            expected = b"".join(b"chunk%d\n" % i for i in range(5))
            self.assertEqual(resp.body, expected)
            self.assertEqual(resp.raw_body,
                             b"".join(b"7\r\nchunk%d\n\r\n" % i for i in range(5)) + b"0\r\n\r\n")
            # Framing is exact: the connection carries on.
            sock.sendall(simple_request("GET", "/chunked?n=1", [("Host", "x"), ("Connection", "close")]))
            self.assertEqual(reader.read_response().body, b"chunk0\n")
            reader.expect_closed()

    def test_chunked_app_response_to_http10_is_close_delimited(self):
        with connect(self.server.port) as sock:
            sock.sendall(b"GET /chunked?n=5 HTTP/1.0\r\nHost: x\r\n\r\n")
            raw = recv_until_closed(sock)
        head, body = split_raw_response(raw)
        self.assertTrue(head.startswith("HTTP/1.0 200 OK\r\n"), head)
        self.assertNotIn("Transfer-Encoding", head)
        self.assertNotIn("Content-Length", head)
        self.assertIn("\r\nConnection: close", head)
        self.assertEqual(body, b"".join(b"chunk%d\n" % i for i in range(5)))

    # ---- 100-continue ----

    def test_expect_rejected_without_continue(self):
        head = simple_request("POST", "/reject-body", [("Host", "x"), ("Expect", "100-continue"),
                                                       ("Content-Length", "100")])
        with connect(self.server.port) as sock:
            sock.sendall(head)
            reader = HttpReader(sock)
            resp = reader.read_response(allow_interim=True)
            self.assertEqual(resp.status, 403, resp)
            self.assertEqual(resp.body, b"no thanks\n")
            self.assertNotIn(b"100 Continue", resp.raw)
            # The client never got its 100 and never sent the body: the server ends the
            # connection, and says so (RFC 9110 10.1.1).
            self.assertEqual(resp.header("Connection"), "close")
            reader.expect_closed()

    def test_reject_body_without_expect_discards_body(self):
        # The app answers without reading; the server skips the unread body and carries on.
        body = b"z" * 300000
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("POST", "/reject-body", [("Host", "x"),
                                                                 ("Content-Length", str(len(body)))]))
            sender = threading.Thread(target=sock.sendall, args=(body,), daemon=True)
            sender.start()
            resp = reader.read_response()
            self.assertEqual((resp.status, resp.body), (403, b"no thanks\n"))
            sender.join(DEFAULT_TIMEOUT)
            self.assertFalse(sender.is_alive())
            sock.sendall(simple_request("GET", "/environ?after=1", [("Host", "x"), ("Connection", "close")]))
            nxt = reader.read_response()
            self.assertEqual(nxt.status, 200)
            self.assertEqual(parse_environ(nxt.body)["QUERY_STRING"], "after=1")

    # ---- HEAD and bodiless statuses ----

    def test_head_has_length_but_no_body(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("HEAD", "/big?bytes=1000", [("Host", "x")]))
            head = reader.read_response(head=True)
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header("Content-Length"), "1000")
            sock.sendall(simple_request("GET", "/big?bytes=1000", [("Host", "x"), ("Connection", "close")]))
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, b"x" * 1000)
            reader.expect_closed()

    def test_204_has_no_body_and_no_length(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/status?code=204", [("Host", "x")]))
            resp = reader.read_response()
            self.assertEqual(resp.status, 204)
            self.assertEqual(resp.reason, "Custom")
            self.assertIsNone(resp.header("Content-Length"))
            self.assertIsNone(resp.header("Transfer-Encoding"))
            sock.sendall(simple_request("GET", "/status?code=418", [("Host", "x"), ("Connection", "close")]))
            resp = reader.read_response()
            self.assertEqual((resp.status, resp.reason, resp.header("Content-Length")), (418, "Custom", "0"))
            reader.expect_closed()

    def test_unknown_path_404(self):
        resp = self.server.get("/nope")
        self.assertEqual((resp.status, resp.body), (404, b"unknown testkit path\n"))

    # ---- environ ----

    def test_environ(self):
        with connect(self.server.port) as sock:
            local_port = sock.getsockname()[1]
            sock.sendall(b"GET /env%69ron?a=1&b=%20 HTTP/1.1\r\n"
                         b"Host: myhost:1234\r\n"
                         b"X-Multi: a\r\n"
                         b"X_Under: hidden\r\n"
                         b"X-Multi: b\r\n"
                         b"Connection: close\r\n\r\n")
            resp = HttpReader(sock).read_response()
        self.assertEqual(resp.status, 200, resp)
        environ = parse_environ(resp.body)
        self.assertRegex(environ.pop("REQUEST_ID", ""), r"^[0-9a-f]{16}$")
        self.assertEqual(environ, {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/environ",
            "QUERY_STRING": "a=1&b=%20",
            "RAW_URI": "/env%69ron?a=1&b=%20",
            "SERVER_NAME": "myhost",
            "SERVER_PORT": "1234",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": str(local_port),
            "URL_SCHEME": "http",
            "CONTENT_TYPE": "<absent>",
            "CONTENT_LENGTH": "<absent>",
            "HTTP_HOST": "myhost:1234",
            "HTTP_X_MULTI": "a, b",
            "HTTP_X_UNDER": "<absent>",
        })

    def test_environ_post_content_headers(self):
        resp = self.server.request(simple_request(
            "POST", "/environ", [("Host", "plain"), ("Content-Type", "text/x-test"),
                                 ("Content-Length", "5"), ("Connection", "close")], b"12345"))
        env = parse_environ(resp.body)
        self.assertEqual(env["REQUEST_METHOD"], "POST")
        self.assertEqual(env["CONTENT_TYPE"], "text/x-test")
        self.assertEqual(env["CONTENT_LENGTH"], "5")
        self.assertEqual(env["SERVER_NAME"], "plain")
        self.assertEqual(env["SERVER_PORT"], "80")

    def test_environ_absolute_form(self):
        resp = self.server.request(simple_request("GET", "http://example.com:8080/environ?x=1",
                                                  [("Host", "ignored"), ("Connection", "close")]))
        env = parse_environ(resp.body)
        self.assertEqual(env["SERVER_NAME"], "example.com")
        self.assertEqual(env["SERVER_PORT"], "8080")
        self.assertEqual(env["HTTP_HOST"], "example.com:8080")  # RFC 9112 3.2.2: Host is ignored
        self.assertEqual(env["PATH_INFO"], "/environ")
        self.assertEqual(env["QUERY_STRING"], "x=1")
        self.assertEqual(env["RAW_URI"], "http://example.com:8080/environ?x=1")

    # ---- app errors ----

    APP_ERRORS = {
        "/crlf-header": r'\[ERROR\] app error on "GET /crlf-header": invalid response header',
        "/nul-header": r'\[ERROR\] app error on "GET /nul-header": invalid response header',
        "/bad-header-name": r'\[ERROR\] app error on "GET /bad-header-name": invalid response header',
        "/bad-status": r'\[ERROR\] app error on "GET /bad-status": invalid status line',
        "/throw": r"\[ERROR\] \[[0-9a-f]{16}\] \"GET /throw\" unhandled exception in handler: std::runtime_error: boom from testkit",
        "/no-response": r'\[ERROR\] app error on "GET /no-response": returned 0 without starting a response',
    }

    def test_app_errors_answer_500(self):
        for path, log_re in self.APP_ERRORS.items():
            with self.subTest(path=path):
                offset = self.server.log_offset()
                raw = exchange(self.server.port, simple_request("GET", path, [("Host", "x")]))
                head, body = split_raw_response(raw)
                self.assertTrue(head.startswith("HTTP/1.1 500 Internal Server Error\r\n"), raw)
                self.assertIn("\r\nContent-Length: %d\r\n" % len(body), head + "\r\n")
                self.assertEqual(body, b"Internal Server Error\n")
                self.assertNotIn(b"Injected", raw)
                self.assertNotIn(b"X-Bad", raw)
                self.assertNotIn(b"Bad Name", raw)
                self.server.wait_for_log(log_re, start=offset)
                self.assertServerAlive()

    def test_head_app_error_has_no_body(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("HEAD", "/throw", [("Host", "x")]))
            reader = HttpReader(sock)
            resp = reader.read_response(head=True)
            self.assertEqual(resp.status, 500)
            reader.expect_closed()

    def test_short_content_length_closes(self):
        offset = self.server.log_offset()
        raw = exchange(self.server.port, simple_request("GET", "/short-length", [("Host", "x")]))
        head, body = split_raw_response(raw)
        self.assertTrue(head.startswith("HTTP/1.1 200 OK\r\n"), head)
        self.assertIn("\r\nContent-Length: 10", head)
        self.assertEqual(body, b"abc")  # and then the server closed the connection
        self.server.wait_for_log(r'app error on "GET /short-length": wrote 3 bytes, fewer than its '
                                 r'Content-Length', start=offset)
        self.assertServerAlive()

    def test_long_content_length_truncated(self):
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/long-length", [("Host", "x")]))
            reader = HttpReader(sock)
            resp = reader.read_response()
            self.assertEqual(resp.header("Content-Length"), "3")
            self.assertEqual(resp.body, b"abc")
            reader.expect_closed()  # no stray "def" after the declared length
        self.server.wait_for_log(r'app error on "GET /long-length": wrote more than its Content-Length',
                                 start=offset)
        self.assertServerAlive()

    # ---- streaming ----

    def test_stream_echo_16mib(self):
        size = 16 << 20
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
        expected = hashlib.sha256()
        for _ in range(size // len(block)):
            expected.update(block)
        errors = []
        with connect(self.server.port, timeout=T(30)) as sock:
            sock.sendall(simple_request("POST", "/stream-echo", [("Host", "x"),
                                                                 ("Content-Length", str(size)),
                                                                 ("Connection", "close")]))

            def send_body():
                try:
                    for _ in range(size // len(block)):
                        sock.sendall(block)
                except OSError as e:
                    errors.append(e)

            sender = threading.Thread(target=send_body, daemon=True)
            started = time.monotonic()
            sender.start()
            resp = HttpReader(sock, timeout=T(30)).read_response(timeout=T(60))
            sender.join(30)
            elapsed = time.monotonic() - started
        self.assertFalse(sender.is_alive())
        self.assertEqual(errors, [])
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
        self.assertEqual(len(resp.body), size)
        self.assertEqual(hashlib.sha256(resp.body).hexdigest(), expected.hexdigest())
        print("\n  stream-echo 16 MiB round trip: %.2f s" % elapsed)


class IdleKeepAliveTest(ServerTestCase, unittest.TestCase):
    APP = fixture_app("testkit")
    ARGS = ("--keep-alive", "1")

    def test_idle_connection_closed_after_keepalive(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/environ", [("Host", "x")]))
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertIsNone(resp.header("Connection"))
            waited = reader.expect_closed(timeout=T(5))
        self.assertGreaterEqual(waited, 0.8, "closed too early")
        self.assertLess(waited, T(5))

    def test_keepalive_timer_restarts_per_request(self):
        # Two requests 0.6 s apart (total > 1 s) on one connection: each idle gap is < 1 s.
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            for i in range(3):
                sock.sendall(simple_request("GET", "/sleep?ms=1", [("Host", "x")]))
                self.assertEqual(reader.read_response().body, b"slept\n")
                if i < 2:
                    self.assertTrue(reader.is_open_quietly(0.6))


class KeepAliveDisabledTest(ServerTestCase, unittest.TestCase):
    APP = fixture_app("testkit")
    ARGS = ("--keep-alive", "0")

    def test_keepalive_zero_closes_every_connection(self):
        with connect(self.server.port) as sock:
            reader = HttpReader(sock)
            sock.sendall(simple_request("GET", "/environ", [("Host", "x")]))
            resp = reader.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Connection"), "close")
            reader.expect_closed()


if __name__ == "__main__":
    unittest.main()
