# SPDX-License-Identifier: MIT
"""SDK apps under the real server: the to-do example's JSON API, request ids from the client
through the app's logs to the access log, and files sent with sendfile (ranges, validators,
a client that reads slowly). Python: any python3 (standard library only)."""
import hashlib
import http.client
import json
import os
import socket
import time
import unittest

from harness import TIME_SCALE, ServerCase, example_app, fixture_app, wait_until

T = 10 * TIME_SCALE


def wait_for_lines(path, count):
    """The access log is written by a background thread: waits for `count` lines."""
    def lines():
        try:
            with open(path) as f:
                got = f.read().splitlines()
        except FileNotFoundError:
            return None
        return got if len(got) >= count else None
    return wait_until(lines, T, what="%d line(s) in %s" % (count, path))


def call(port, method, target, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=T)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class TodoApiTest(ServerCase):
    def test_json_api_end_to_end(self):
        access = os.path.join(self.tmp(), "access.log")
        server = self.start(["--workers", "1", "--threads", "4", "--access-logfile", access,
                             "--access-logformat", "%(I)s %(r)s %(s)s"], example_app("todo"))
        status, headers, body = call(server.port, "POST", "/todos/", json.dumps({"title": "milk"}),
                                     {"Content-Type": "application/json", "X-Request-Id": "req-1"})
        self.assertEqual(status, 201)
        self.assertEqual(json.loads(body), {"id": 1, "title": "milk", "done": False})
        self.assertEqual(headers["Location"], "/todos/1")
        self.assertEqual(headers["X-Request-Id"], "req-1")
        # The same id in the app's log line and in the access log.
        server.wait_for_log(r'\[req-1\] "POST /todos/" created to-do 1')
        line = wait_for_lines(access, 1)[0]
        self.assertEqual(line, "req-1 POST /todos/ HTTP/1.1 201")

        status, headers, body = call(server.port, "POST", "/todos/", '{"title":', {"Content-Type": "application/json"})
        self.assertEqual((status, json.loads(body)["status"]), (400, 400))
        self.assertEqual(headers["Content-Type"], "application/json")
        generated = headers["X-Request-Id"]
        self.assertRegex(generated, r"^[0-9a-f]{16}$")
        self.assertEqual(wait_for_lines(access, 2)[1], generated + " POST /todos/ HTTP/1.1 400")
        self.assertEqual(call(server.port, "POST", "/todos/", "title=x",
                              {"Content-Type": "application/x-www-form-urlencoded"})[0], 415)
        status, _, body = call(server.port, "GET", "/todos/42")
        self.assertEqual((status, json.loads(body)["error"]), (404, "no to-do 42"))
        status, headers, _ = call(server.port, "PUT", "/todos/1", "{}", {"Content-Type": "application/json"})
        self.assertEqual((status, headers.get("Allow")), (405, "GET, HEAD, PATCH, DELETE, OPTIONS"))
        self.assertEqual(call(server.port, "DELETE", "/todos/1")[0:2][0], 204)
        self.assertNotIn("ERROR", server.log_text())

    def test_body_errors_reach_the_apps_error_handlers(self):
        """A chunked body past --limit-request-body fails the app's read: the SDK answers the
        server's 413 through the app's own (JSON) error handler, not a logged 500."""
        server = self.start(["--workers", "1", "--limit-request-body", "1000"], example_app("todo"))
        with socket.create_connection(("127.0.0.1", server.port), timeout=T) as sock:
            chunk = b'{"title":"' + b"x" * 3000 + b'"}'
            sock.sendall(b"POST /todos/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         b"X-Request-Id: big-1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
            sock.settimeout(T)
            data = b""
            while b"\r\n\r\n" not in data:
                got = sock.recv(65536)
                if not got:
                    break
                data += got
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
            while len(rest) < length:
                got = sock.recv(65536)
                if not got:
                    break
                rest += got
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertIn(b"X-Request-Id: big-1", head)
        self.assertEqual(json.loads(rest[:length]), {"error": "request body too large", "status": 413})
        self.assertNotIn("ERROR", server.log_text())

    def tmp(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="cppg-sdk-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d


class RequestIdTest(ServerCase):
    def test_environ_request_id(self):
        server = self.start(["--workers", "1"], fixture_app("testkit"))

        def request_id(headers=None):
            body = call(server.port, "GET", "/environ", headers=headers)[2].decode()
            return dict(line.split("=", 1) for line in body.splitlines())["REQUEST_ID"]

        self.assertEqual(request_id({"X-Request-Id": "abc:1.2_3-4"}), "abc:1.2_3-4")
        for bad in ("has space", "x" * 201, "semi;colon"):
            self.assertRegex(request_id({"X-Request-Id": bad}), r"^[0-9a-f]{16}$")
        first, second = request_id(), request_id()
        self.assertRegex(first, r"^[0-9a-f]{16}$")
        self.assertNotEqual(first, second)


class FileResponseTest(ServerCase):
    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="cppg-static-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.dir, ignore_errors=True))
        self.data = os.urandom(8 << 20)
        with open(os.path.join(self.dir, "blob.bin"), "wb") as f:
            f.write(self.data)
        with open(os.path.join(self.dir, "page.html"), "w") as f:
            f.write("<p>hi</p>")

    def serve(self, threads):
        return self.start(["--workers", "1", "--threads", str(threads)], example_app("routes"), app_args=[self.dir])

    def test_whole_file_ranges_and_validators(self):
        for threads in (1, 2):
            with self.subTest(threads=threads):
                server = self.serve(threads)
                status, headers, body = call(server.port, "GET", "/static/blob.bin")
                self.assertEqual(status, 200)
                self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.data).digest())
                self.assertEqual(headers["Content-Type"], "application/octet-stream")
                self.assertEqual(call(server.port, "GET", "/static/page.html")[1]["Content-Type"],
                                 "text/html; charset=utf-8")
                status, headers, body = call(server.port, "GET", "/static/blob.bin", headers={"Range": "bytes=1000-1999"})
                self.assertEqual((status, headers["Content-Range"]), (206, "bytes 1000-1999/%d" % len(self.data)))
                self.assertEqual(body, self.data[1000:2000])
                self.assertEqual(call(server.port, "GET", "/static/blob.bin",
                                      headers={"If-None-Match": headers["ETag"]})[0], 304)
                status, headers, body = call(server.port, "HEAD", "/static/blob.bin")
                self.assertEqual((status, headers["Content-Length"], body), (200, str(len(self.data)), b""))
                self.assertEqual(call(server.port, "GET", "/static/../../etc/passwd")[0], 404)

    def test_a_slow_reader_gets_every_byte_and_others_are_served_meanwhile(self):
        server = self.serve(2)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # before connect: a small window from the start
        sock.settimeout(T)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /static/blob.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = bytearray()
        head = b""
        deadline = time.monotonic() + 60 * TIME_SCALE
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        got += rest
        reads = 0
        while len(got) < len(self.data) and time.monotonic() < deadline:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            got += chunk
            reads += 1
            if reads == 20:  # in the middle of the slow download, another client is served at once
                t0 = time.monotonic()
                self.assertEqual(call(server.port, "GET", "/")[0], 200)
                self.assertLess(time.monotonic() - t0, 2 * TIME_SCALE)
            if reads < 40:
                time.sleep(0.005)
        self.assertIn(b"200 OK", head)
        self.assertEqual(len(got), len(self.data))
        self.assertEqual(hashlib.sha256(bytes(got)).digest(), hashlib.sha256(self.data).digest())


if __name__ == "__main__":
    unittest.main()
