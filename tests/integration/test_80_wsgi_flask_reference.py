# SPDX-License-Identifier: MIT
"""A Flask app (Debian's python3-flask 2.2) on cppgunicorn and on gunicorn 20.1, the same
requests to both: the same statuses, headers and bodies, over the wire. Pages, JSON, a form
POST, chunked uploads (JSON, multipart), 404 (an error handler), 405, an app exception with
its handler, abort(418), Flask's own 500, redirects, a session set and read back with its
cookie, send_file (conditional GET, 304, Range, If-Range, 416), stream_with_context, 4 MiB
responses, HEAD, and requests in a row on one keep-alive connection. The session cookie's
timestamp and signature differ from one second to the next: they are compared structurally,
and each server reads the other's.

Where gunicorn 20.1 departs from the standard (send_file of a file positioned past its
start), cppgunicorn must follow it. The app is tests/wsgi_apps/flask_reference.py."""

import json
import os
import unittest
import urllib.parse

from reference_harness import T, ReferenceTestCase, connect, read_reply, request_bytes, stale
from wsgi_harness import WSGI_APPS

REPORT = os.path.join(WSGI_APPS, "files", "report.txt")
TAIL_FROM = 100
LARGE = bytes(range(256)) * (4 << 12)


def report():
    with open(REPORT, "rb") as f:
        return f.read()


def split_cookie(header):
    """'name=value; A; B=c' -> (name, value, ['a', 'b=c']): the attributes in order."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    return name, value, [a.lower() for a in attributes]


class FlaskReferenceTest(ReferenceTestCase):
    APP = "flask_reference:app"
    REQUIRES = (("flask", "python3-flask"),)

    def test_pages_json_and_a_form_post(self):
        self.assertEqual(self.compare("GET", "/").body, b"Hello from Flask")
        got = json.loads(self.compare("GET", "/json?a=1&a=2&b=%C3%A9").body)
        self.assertEqual(got["args"], {"a": ["1", "2"], "b": ["é"]})
        payload = json.dumps({"k": ["v", 1], "n": None}).encode()
        got = json.loads(self.compare("POST", "/json", [("Content-Type", "application/json")], payload).body)
        self.assertEqual(got, {"received": {"k": ["v", 1], "n": None}, "length": len(payload)})
        self.assertIn(b"<form", self.compare("GET", "/form").body)
        form = urllib.parse.urlencode({"name": "Zoë", "extra": "a&b"}).encode()
        reply = self.compare("POST", "/form", [("Content-Type", "application/x-www-form-urlencoded")], form)
        self.assertEqual(reply.body.decode(), "Hello, Zoë (a&b)")

    def test_chunked_uploads(self):
        # werkzeug reads a chunked body to its end (wsgi.input_terminated, which both set).
        def chunked(body, size):
            return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                            for i in range(0, len(body), size)) + b"0\r\n\r\n"
        payload = json.dumps({"k": ["x" * 100] * 10000}).encode()  # 1 MiB in 7,000-byte chunks
        reply = self.compare("POST", "/json", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
                             chunked(payload, 7000))
        self.assertEqual(json.loads(reply.body)["received"], json.loads(payload))
        form = (b"--bb\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nZo\xc3\xab\r\n--bb\r\n"
                b"Content-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n" + b"y" * (2 << 20) + b"\r\n--bb--\r\n")
        reply = self.compare("POST", "/form", [("Content-Type", "multipart/form-data; boundary=bb"),
                                               ("Transfer-Encoding", "chunked")], chunked(form, 65536))
        self.assertEqual(reply.body.decode(), "Hello, Zoë (-)")

    def test_404_405_and_error_handlers(self):
        reply = self.compare("GET", "/missing")
        self.assertEqual((reply.status, json.loads(reply.body)), (404, {"error": "no such page", "path": "/missing"}))
        reply = self.compare("POST", "/")
        self.assertEqual(reply.status, 405)
        self.assertIn("GET", reply.header("Allow"))
        reply = self.compare("GET", "/refused")
        self.assertEqual((reply.status, json.loads(reply.body)), (422, {"error": "not today", "kind": "refused"}))
        self.assertEqual(self.compare("GET", "/teapot").status, 418)
        self.assertEqual(self.compare("GET", "/boom").status, 500)  # Flask's own 500 page

    def test_redirects(self):
        reply = self.compare("GET", "/old")
        self.assertEqual((reply.status, reply.header("Location")), (302, "/"))
        reply = self.compare("GET", "/moved")
        self.assertEqual((reply.status, reply.header("Location")), (301, "/json?x=1"))

    def test_a_session_set_then_read_back_with_its_cookie(self):
        ours, theirs = self.both("GET", "/session/set?v=remembered")
        self.assertSameResponse(ours, theirs, volatile={"set-cookie"}, what="session set")
        cookies = []
        for reply in (ours, theirs):
            name, value, attributes = split_cookie(reply.header("Set-Cookie"))
            # itsdangerous: payload.timestamp.signature; the payload is the session itself.
            payload, timestamp, signature = value.split(".")
            cookies.append((name, payload, attributes, "%s=%s" % (name, value)))
        (name_o, payload_o, attrs_o, cookie_o), (name_t, payload_t, attrs_t, cookie_t) = cookies
        self.assertEqual((name_o, payload_o, attrs_o), (name_t, payload_t, attrs_t))
        self.assertEqual((name_o, attrs_o), ("session", ["httponly", "path=/"]))
        # Each server reads its own cookie and the other's (the same secret key).
        for cookie in (cookie_o, cookie_t):
            reply = self.compare("GET", "/session/get", [("Cookie", cookie)])
            self.assertEqual(reply.body, b"remembered")
        self.assertEqual(self.compare("GET", "/session/get").body, b"nothing")

    def test_send_file_with_conditional_get_and_ranges(self):
        data = report()
        reply = self.compare("GET", "/download")
        self.assertEqual((reply.status, reply.body, reply.framing()), (200, data, "length"))
        self.assertEqual(reply.header("Content-Disposition"), "attachment; filename=report.txt")
        etag, modified = reply.header("ETag"), reply.header("Last-Modified")
        self.assertEqual(self.compare("GET", "/download", [("If-None-Match", etag)]).status, 304)
        self.assertEqual(self.compare("GET", "/download", [("If-Modified-Since", modified)]).status, 304)
        reply = self.compare("GET", "/download", [("Range", "bytes=10-19")])
        self.assertEqual((reply.status, reply.body, reply.header("Content-Range"), reply.header("Accept-Ranges")),
                         (206, data[10:20], "bytes 10-19/%d" % len(data), "bytes"))
        self.assertEqual(self.compare("GET", "/download", [("Range", "bytes=-10")]).body, data[-10:])
        reply = self.compare("GET", "/download", [("Range", "bytes=0-4"), ("If-Range", etag)])
        self.assertEqual((reply.status, reply.body), (206, data[:5]))
        reply = self.compare("GET", "/download", [("Range", "bytes=0-4"), ("If-Range", '"stale"')])
        self.assertEqual((reply.status, reply.body), (200, data))
        self.assertEqual(self.compare("GET", "/download", [("Range", "bytes=%d-" % (len(data) + 10))]).status, 416)
        reply = self.compare("HEAD", "/download")
        self.assertEqual((reply.status, reply.header("Content-Length"), reply.extra), (200, str(len(data)), b""))

    def test_send_file_of_a_file_positioned_past_its_start(self):
        # PEP 3333 (Optional Platform-Specific File Handling): the file wrapper's output must
        # be what iterating the file gives, from where it is. gunicorn 20.1's sendfile()
        # passes no offset to socket.sendfile(), which then starts at byte 0.
        ours, theirs = self.both("GET", "/tail")
        tail = report()[TAIL_FROM:]
        self.assertEqual((ours.status, ours.framing(), ours.body), (200, "chunked", tail))
        self.assertEqual((theirs.status, theirs.framing()), (200, "chunked"))
        self.assertEqual(theirs.body, report()[:len(tail)], stale("send_file of a positioned file"))
        self.assertSameResponse(ours, theirs, normalize=len, what="GET /tail, apart from which bytes")

    def test_stream_with_context(self):
        reply = self.compare("GET", "/stream?word=hi")
        self.assertEqual((reply.framing(), reply.body), ("chunked", b"".join(b"hi-%d\n" % i for i in range(5))))

    def test_large_responses(self):
        for target, framing in (("/large", "length"), ("/large-stream", "chunked")):
            ours, theirs = self.both("GET", target, timeout=T(30))
            self.assertSameResponse(ours, theirs, what="GET " + target)
            self.assertEqual((ours.framing(), len(ours.body), ours.body == LARGE), (framing, len(LARGE), True))

    def test_head(self):
        for target in ("/", "/json", "/large-stream", "/missing"):
            reply = self.compare("HEAD", target)
            self.assertNoBodyForHead(reply, "HEAD " + target)

    def test_requests_in_a_row_on_one_connection(self):
        # Keep-alive: each request is sent once the previous response is in.
        form = urllib.parse.urlencode({"name": "kept", "extra": "alive"}).encode()
        steps = [("GET", "/", (), b""), ("GET", "/stream?word=k", (), b""), ("HEAD", "/json", (), b""),
                 ("POST", "/form", [("Content-Type", "application/x-www-form-urlencoded")], form),
                 ("GET", "/missing", (), b""), ("GET", "/download", [("Range", "bytes=0-9")], b"")]
        replies = []
        for port in (self.ours.port, self.theirs.port):
            with connect(port) as sock:
                one = []
                for i, (method, target, headers, body) in enumerate(steps):
                    last = i == len(steps) - 1
                    sock.sendall(request_bytes(method, target, headers, body, close=last))
                    one.append(read_reply(sock, head=method == "HEAD", until_closed=last))
                replies.append(one)
        for (method, target, _, _), ours, theirs in zip(steps, *replies):
            self.assertSameResponse(ours, theirs, what="%s %s on a kept-alive connection" % (method, target))
        self.assertEqual(replies[0][3].body, b"Hello, kept (alive)")


if __name__ == "__main__":
    unittest.main()
