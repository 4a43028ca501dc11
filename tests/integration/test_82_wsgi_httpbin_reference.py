# SPDX-License-Identifier: MIT
"""httpbin (Debian's python3-httpbin 0.7, a Flask app) on cppgunicorn and on gunicorn 20.1,
the same requests to both: the same statuses, headers and bodies, over the wire. /get,
/post (JSON, a form, a multipart upload), /anything, /headers, /status/NNN, /gzip and
/deflate, /stream/5, /bytes and /stream-bytes with a seed, /redirect/2, /cookies/set,
/response-headers, /drip, /range with Range headers, /base64, /etag, /cache, HEAD and
OPTIONS, HTTP/1.0, keep-alive, and Expect: 100-continue.

Where gunicorn 20.1 departs from PEP 3333 or RFC 9110/9112, cppgunicorn must follow the
standard: a 1xx status given by the app as its final answer (/status/100), two
Content-Length fields (/response-headers?Content-Length=5), header names and values the app
gets wrong, 100 Continue sent to an HTTP/1.0 client, pipelined requests, and requests the
RFCs say to refuse (no Host, two Hosts, Content-Length: +5, NUL in a value, an unknown
transfer coding, HTTP/2.0, a request line over the limit). Each is a row of the table in
docs/python.md ("Differences from gunicorn 20.1 found by the tests")."""

import json
import re
import time
import unittest

from harness import HttpReader, exchange as raw_exchange, simple_request
from reference_harness import (DEFAULT_TIMEOUT, HOST, ReferenceTestCase, connect, exchange, gunzip, read_reply,
                               request_bytes, stale)

FORM = [("Content-Type", "application/x-www-form-urlencoded")]
JSON = [("Content-Type", "application/json")]


class HttpbinReferenceTest(ReferenceTestCase):
    APP = "httpbin:app"
    ALIVE_PATH = "/get"
    REQUIRES = (("httpbin", "python3-httpbin"),)

    def test_get_headers_and_anything(self):
        got = json.loads(self.compare("GET", "/get?a=1&a=2&b=%20x", [("User-Agent", "ref/1")]).body)
        self.assertEqual((got["args"], got["url"]), ({"a": ["1", "2"], "b": " x"}, "http://%s/get?a=1&a=2&b=%%20x" % HOST))
        got = json.loads(self.compare("GET", "/headers", [("X-Multi", "a"), ("X-Multi", "b"), ("Accept", "*/*")]).body)
        self.assertEqual(got["headers"]["X-Multi"], "a,b")
        got = json.loads(self.compare("DELETE", "/anything/x/%C3%A9?q=1").body)
        self.assertEqual((got["method"], got["url"]), ("DELETE", "http://%s/anything/x/\u00e9?q=1" % HOST))
        for target in ("/user-agent", "/ip", "/html", "/xml", "/encoding/utf8", "/image/png",
                       "/robots.txt", "/links/3/1"):
            self.compare("GET", target)

    def test_post_json_form_and_multipart(self):
        payload = json.dumps({"a": [1, 2], "s": "é"}).encode()
        got = json.loads(self.compare("POST", "/post", JSON, payload).body)
        self.assertEqual(got["json"], {"a": [1, 2], "s": "é"})
        got = json.loads(self.compare("POST", "/post", FORM, b"name=Zo%C3%AB&x=1&x=2").body)
        self.assertEqual(got["form"], {"name": "Zoë", "x": ["1", "2"]})
        boundary = "ref-boundary"
        body = ("--{b}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\nfile content\n\r\n--{b}--\r\n").format(b=boundary).encode()
        got = json.loads(self.compare("PUT", "/anything", [("Content-Type", "multipart/form-data; boundary=" + boundary)],
                                      body).body)
        self.assertEqual((got["form"], got["files"]), ({"field": "value"}, {"file": "file content\n"}))

    def test_statuses(self):
        for code in (200, 201, 204, 304, 400, 404, 418, 500, 503):
            self.assertEqual(self.compare("GET", "/status/%d" % code).status, code)
        self.assertEqual(self.compare("POST", "/status/201").status, 201)

    def test_encoded_and_streamed_bodies(self):
        self.assertEqual(json.loads(gunzip(self.compare("GET", "/gzip", normalize=gunzip).body))["gzipped"], True)
        self.compare("GET", "/deflate")
        reply = self.compare("GET", "/stream/5")
        self.assertEqual((reply.framing(), len(reply.body.splitlines())), ("chunked", 5))
        self.assertEqual(len(self.compare("GET", "/bytes/1024?seed=1").body), 1024)
        reply = self.compare("GET", "/stream-bytes/4096?seed=2&chunk_size=256")
        self.assertEqual((reply.framing(), len(reply.body)), ("chunked", 4096))
        self.assertEqual(self.compare("GET", "/base64/SFRUUEJJTiBpcyBhd2Vzb21l").body, b"HTTPBIN is awesome")
        start = time.monotonic()
        reply = self.compare("GET", "/drip?duration=0.3&numbytes=6&code=200&delay=0")
        self.assertEqual(reply.body, b"*" * 6)
        self.assertGreater(time.monotonic() - start, 0.5)  # two drips of 0.3 s, each paced

    def test_redirects_and_cookies(self):
        reply = self.compare("GET", "/redirect/2")
        self.assertEqual((reply.status, reply.header("Location")), (302, "/relative-redirect/1"))
        reply = self.compare("GET", "/absolute-redirect/1")
        self.assertEqual(reply.header("Location"), "http://%s/get" % HOST)
        reply = self.compare("GET", "/redirect-to?url=/get&status_code=307")
        self.assertEqual((reply.status, reply.header("Location")), (307, "/get"))
        reply = self.compare("GET", "/cookies/set?k1=v1&k2=v2")
        self.assertEqual(reply.header_all("Set-Cookie"), ["k1=v1; Path=/", "k2=v2; Path=/"])
        got = json.loads(self.compare("GET", "/cookies", [("Cookie", "k1=v1; k2=v2")]).body)
        self.assertEqual(got, {"cookies": {"k1": "v1", "k2": "v2"}})
        self.compare("GET", "/cookies/delete?k1", [("Cookie", "k1=v1")])

    def test_response_headers(self):
        reply = self.compare("GET", "/response-headers?X-A=1&X-A=2&freeform=a%20b")
        self.assertEqual((reply.header_all("X-A"), reply.header("freeform")), (["1", "2"], "a b"))

    def test_ranges_and_conditional_requests(self):
        for spec, status, length in (("bytes=0-99", 206, 100), ("bytes=1000-", 206, 24), ("bytes=-24", 206, 24),
                                     ("bytes=2000-", 416, None)):
            reply = self.compare("GET", "/range/1024", [("Range", spec)])
            self.assertEqual(reply.status, status, spec)
            if length is not None:
                self.assertEqual(len(reply.body), length, spec)
        self.assertEqual(len(self.compare("GET", "/range/1024").body), 1024)
        self.assertEqual(self.compare("GET", "/etag/abc", [("If-None-Match", '"abc"')]).status, 304)
        self.assertEqual(self.compare("GET", "/cache", [("If-Modified-Since", "Mon, 07 Dec 2026 22:00:00 GMT")]).status, 304)

    def test_head_and_options(self):
        get = self.compare("GET", "/get")
        head = self.compare("HEAD", "/get")
        self.assertEqual((head.status, head.header("Content-Length"), head.extra), (200, get.header("Content-Length"), b""))
        self.assertNoBodyForHead(self.compare("HEAD", "/stream/3"), "HEAD /stream/3")
        self.assertEqual(self.compare("OPTIONS", "/get").status, 200)

    def test_http_1_0_and_keep_alive(self):
        reply = self.compare("GET", "/get", version="HTTP/1.0")
        self.assertEqual((reply.response.version, reply.closed), ("HTTP/1.0", True))
        reply = self.compare("GET", "/stream/2", version="HTTP/1.0")
        self.assertEqual((reply.framing(), reply.closed), ("close", True))
        # HTTP/1.0 keep-alive, then HTTP/1.1 requests in a row on one connection.
        steps = [("HTTP/1.0", [("Connection", "keep-alive")], "/get"), ("HTTP/1.1", [], "/bytes/64?seed=3"),
                 ("HTTP/1.1", [], "/stream/2"), ("HTTP/1.1", [("Connection", "close")], "/ip")]
        replies = []
        for port in (self.ours.port, self.theirs.port):
            with connect(port) as sock:
                one = []
                for i, (version, headers, target) in enumerate(steps):
                    sock.sendall(simple_request("GET", target, [("Host", HOST)] + headers, version=version))
                    one.append(read_reply(sock, until_closed=i == len(steps) - 1))
                replies.append(one)
        for (_, _, target), ours, theirs in zip(steps, *replies):
            self.assertSameResponse(ours, theirs, what="GET %s on a kept-alive connection" % target)
        self.assertTrue(replies[0][-1].closed)

    def expect_continue(self, port, version="HTTP/1.1", wait=DEFAULT_TIMEOUT):
        """POST /post with Expect: 100-continue, the body sent only after a 100 or `wait`
        seconds: (the interim response or None, the final Reply)."""
        body = b'{"waited": true}'
        with connect(port) as sock:
            sock.sendall(simple_request("POST", "/post", [("Host", HOST), ("Content-Type", "application/json"),
                                                          ("Content-Length", str(len(body))),
                                                          ("Expect", "100-continue"), ("Connection", "close")],
                                        version=version))
            reader = HttpReader(sock)
            interim = None
            try:
                interim = reader.read_head(timeout=wait)
            except (OSError, AssertionError):
                pass  # no interim response: the client sends the body anyway (RFC 9110 10.1.1)
            sock.sendall(body)
            if interim is not None and interim.status != 100:
                return interim, reader.read_body(interim)
            return interim, read_reply(sock, timeout=DEFAULT_TIMEOUT)

    def test_expect_100_continue(self):
        (ours_interim, ours), (theirs_interim, theirs) = self.expect_continue(self.ours.port), self.expect_continue(self.theirs.port)
        self.assertEqual((ours_interim.status, ours_interim.version), (100, "HTTP/1.1"))
        self.assertEqual((theirs_interim.status, theirs_interim.version), (100, "HTTP/1.1"))
        self.assertSameResponse(ours, theirs, what="POST /post after 100 Continue")
        self.assertEqual(json.loads(ours.body)["json"], {"waited": True})

    def test_no_100_continue_to_an_http_1_0_client(self):
        # RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
        # request MUST ignore that expectation"; 15.2: "A server MUST NOT send a 1xx response
        # to an HTTP/1.0 client." gunicorn 20.1 sends "HTTP/1.1 100 Continue".
        (ours_interim, ours), (theirs_interim, theirs) = (self.expect_continue(self.ours.port, "HTTP/1.0", wait=1.0),
                                                          self.expect_continue(self.theirs.port, "HTTP/1.0"))
        self.assertIsNone(ours_interim, "cppgunicorn sent an interim response to an HTTP/1.0 client")
        self.assertEqual(ours.interim, [], "cppgunicorn sent an interim response to an HTTP/1.0 client (late)")
        self.assertEqual((ours.status, ours.response.version), (200, "HTTP/1.0"))
        self.assertIsNotNone(theirs_interim, stale("100 Continue to HTTP/1.0"))
        self.assertEqual(theirs_interim.status, 100, stale("100 Continue to HTTP/1.0"))
        self.assertSameResponse(ours, theirs, what="POST /post HTTP/1.0 with Expect: 100-continue")

    def test_an_app_status_of_1xx_is_not_sent_as_the_final_response(self):
        # RFC 9110 15.2: 1xx responses are interim, the final response follows; a server
        # "MUST NOT send a Transfer-Encoding header field in any response with a status code
        # of 1xx" (RFC 9112 6.1). An app that returns 1xx has no final answer to give:
        # cppgunicorn answers 500; gunicorn 20.1 sends the 1xx, chunked, and a client then
        # waits for a final response that never comes.
        for code in (100, 101, 103):
            ours, theirs = self.both("GET", "/status/%d" % code)
            self.assertEqual((ours.interim, ours.status), ([], 500), "GET /status/%d" % code)
            self.assertEqual([r.status for r in theirs.interim], [code], stale("1xx as the final status"))
            self.assertEqual(theirs.interim[0].header("Transfer-Encoding"), "chunked", stale("1xx as the final status"))

    def test_two_content_lengths_from_the_app(self):
        # /response-headers?Content-Length=5 adds the client's Content-Length to httpbin's
        # own. RFC 9110 8.6 / RFC 9112 6.3: differing Content-Length values are an invalid
        # framing no recipient can trust. cppgunicorn answers 500 (start_response raises
        # ValueError in the app); gunicorn 20.1 sends both fields, and the body cut at 5.
        data = request_bytes("GET", "/response-headers?Content-Length=5")
        ours = exchange(self.ours.port, data)
        self.assertEqual((ours.status, ours.header_all("Content-Length")), (500, [str(len(ours.body))]))
        theirs = raw_exchange(self.theirs.port, data)  # no parser can take it: the bytes
        head = theirs.partition(b"\r\n\r\n")[0]
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), theirs)
        lengths = re.findall(rb"(?im)^content-length: *(\d+)\r?$", head)
        self.assertEqual(len(set(lengths)), 2, stale("two Content-Length fields") + ": %r" % head)

    def test_headers_the_app_gets_wrong(self):
        # /response-headers puts the client's query in the response headers. A value that is
        # not latin-1 breaks PEP 3333 ("Unicode Issues": native strings representable in
        # ISO-8859-1), a name with a space is no token (RFC 9110 5.1): the app's error, a
        # 500 (RFC 9110 15.6.1). gunicorn 20.1 closes without any response for the first, and
        # blames the client with a 400 for the second.
        data = request_bytes("GET", "/response-headers?X-E=%E2%82%AC")
        ours = exchange(self.ours.port, data)
        self.assertEqual((ours.status, ours.closed), (500, True))
        self.assertEqual(raw_exchange(self.theirs.port, data), b"", stale("a header value that is not latin-1"))
        ours, theirs = self.both("GET", "/response-headers?X%20E=1")
        self.assertEqual(ours.status, 500)
        self.assertEqual(theirs.status, 400, stale("an invalid header name from the app"))

    def test_pipelined_requests(self):
        # RFC 9112 9.3.2: a server MAY process pipelined requests in parallel but MUST send
        # the responses in the order of the requests. gunicorn 20.1's gthread worker answers
        # the first, leaves the second in its parser's buffer, and closes the connection
        # when its keep-alive timeout (2 s) expires.
        data = (request_bytes("GET", "/ip", close=False) + request_bytes("GET", "/bytes/16?seed=1", close=False)
                + request_bytes("GET", "/get"))
        answers = []
        for port in (self.ours.port, self.theirs.port):
            with connect(port) as sock:
                sock.sendall(data)
                reader = HttpReader(sock)
                got = []
                try:
                    for _ in range(3):
                        got.append(reader.read_response(timeout=DEFAULT_TIMEOUT).status)
                except (OSError, AssertionError):
                    pass
                answers.append(got)
        self.assertEqual(answers[0], [200, 200, 200])
        self.assertEqual(answers[1], [200], stale("pipelined requests"))

    # Requests RFC 9110/9112 tell a server to refuse, and what each server answers:
    # (name, request bytes, cppgunicorn's status, gunicorn 20.1's version and status, the rule).
    REFUSED = [
        ("no Host in HTTP/1.1", b"GET /get HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "HTTP/1.1 200",
         "RFC 9112 3.2: a request without Host MUST get 400"),
        ("two Host fields", b"GET /get HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", 400, "HTTP/1.1 200",
         "RFC 9112 3.2: more than one Host MUST get 400"),
        ("Content-Length: +5", b"POST /post HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: +5\r\n\r\nhello",
         400, "HTTP/1.1 200", "RFC 9110 8.6 (1*DIGIT), RFC 9112 6.3: an invalid Content-Length MUST get 400"),
        ("NUL in a field value", b"GET /get HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-A: a\x00b\r\n\r\n", 400, "HTTP/1.1 200",
         "RFC 9110 5.5: CR, LF or NUL in a value: reject, or replace with SP"),
        ("Transfer-Encoding: gzip", b"POST /post HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: gzip\r\n\r\n",
         501, "HTTP/1.1 500", "RFC 9112 6.1: an unknown transfer coding SHOULD get 501"),
        ("HTTP/2.0 request line", b"GET /get HTTP/2.0\r\nHost: h\r\nConnection: close\r\n\r\n", 505, "HTTP/2.0 200",
         "RFC 9110 15.6.6, 2.5: a major version not supported gets 505, not an HTTP/2.0 status line"),
        ("request line over 4094 bytes", b"GET /get?" + b"a=1&" * 1100 + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
         414, "HTTP/1.1 400", "RFC 9112 3: a request-target longer than the server parses MUST get 414"),
    ]

    def test_requests_the_rfcs_say_to_refuse(self):
        for name, data, ours_status, theirs_status, rule in self.REFUSED:
            with self.subTest(name):
                ours, theirs = exchange(self.ours.port, data), exchange(self.theirs.port, data)
                self.assertEqual((ours.status, ours.closed), (ours_status, True), "%s: %s" % (name, rule))
                self.assertEqual("%s %d" % (theirs.response.version, theirs.status), theirs_status, stale(name))

    def test_header_names_with_underscores_are_dropped(self):
        # Not in an RFC, but the CGI environ cannot tell X_User from X-User: behind a proxy
        # that filters X-User, a client could set HTTP_X_USER with X_User (nginx and Apache
        # drop such headers too). gunicorn 20.1 merges them.
        ours, theirs = self.both("GET", "/headers", [("X_User", "evil"), ("X-User", "good")])
        self.assertEqual(json.loads(ours.body)["headers"]["X-User"], "good")
        self.assertEqual(json.loads(theirs.body)["headers"]["X-User"], "evil,good", stale("X_User"))

    def test_chunked_uploads_are_refused_by_httpbin_itself(self):
        # httpbin takes chunked request bodies only from a server whose SERVER_SOFTWARE starts
        # with "gunicorn/" (its before_request); the bridge de-chunks them for any app
        # (wsgi.input_terminated), but this app refuses them: not a server difference.
        body = b"7\r\n{\"a\":1}\r\n0\r\n\r\n"
        ours, theirs = self.both("POST", "/post", JSON + [("Transfer-Encoding", "chunked")], body)
        self.assertEqual(ours.status, 501)
        self.assertIn(b"Chunked requests are not supported for server cppgunicorn/", ours.body)
        self.assertEqual((theirs.status, json.loads(theirs.body)["json"]), (200, {"a": 1}))


if __name__ == "__main__":
    unittest.main()
