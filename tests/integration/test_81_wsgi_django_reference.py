# SPDX-License-Identifier: MIT
"""A Django 3.2 project (Debian's python3-django) on cppgunicorn and on gunicorn 20.1, the
same requests to both: the same statuses, headers and bodies, over the wire. The project,
tests/wsgi_apps/djsite (made by `django-admin startproject`, cut down: no database), passes
`manage.py check` under /usr/bin/python3; its views: a CSRF-protected form (GET, then POST
with the cookie and the token; without them 403), FileResponse, StreamingHttpResponse,
JsonResponse, a multipart upload of 3 MiB, ETag and 304 (ConditionalGetMiddleware), 204,
404 (no such URL, Http404), 405 (require_POST), redirects (a view's, and CommonMiddleware's
APPEND_SLASH), a 2 MiB page. The CSRF cookie and token are random: they are compared
structurally, and each server's pair is accepted by that server.

Where gunicorn 20.1 departs from the standard, cppgunicorn must follow it: no body in answer
to HEAD (Django produces one; RFC 9110 9.3.2), so that the connection stays usable; no
Content-Length in a 204, nor a false one in a 304 (RFC 9110 8.6); FileResponse of a file
positioned past its start (PEP 3333)."""

import email.utils
import hashlib
import json
import os
import re
import subprocess
import time
import unittest

from harness import HttpReader
from reference_harness import (DEFAULT_TIMEOUT, ReferenceTestCase, connect, read_reply, request_bytes,
                               stale)
from wsgi_harness import WSGI_APPS

DJSITE = os.path.join(WSGI_APPS, "djsite")
REPORT = os.path.join(WSGI_APPS, "files", "report.txt")
TAIL_FROM = 100
TOKEN_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def report():
    with open(REPORT, "rb") as f:
        return f.read()


def mask_token(body):
    return TOKEN_RE.sub(b'name="csrfmiddlewaretoken" value="TOKEN"', body)


def csrf_cookie(header):
    """'csrftoken=V; expires=D; Max-Age=N; Path=/; SameSite=Lax' -> (value, {attr: value})."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    attrs = {}
    for a in attributes:
        key, _, val = a.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


class DjangoProjectTest(unittest.TestCase):
    def test_the_project_imports_and_passes_manage_py_check(self):
        try:
            import django  # noqa: F401
        except ImportError:
            self.skipTest("Debian's python3-django is not installed (scripts/deps.sh test)")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("DJANGO_SETTINGS_MODULE", None)
        check = subprocess.run(["/usr/bin/python3", "manage.py", "check"], cwd=DJSITE, env=env,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn("System check identified no issues", check.stdout)
        imported = subprocess.run(["/usr/bin/python3", "-c", "import djsite.wsgi; print(djsite.wsgi.application)"],
                                  cwd=DJSITE, env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.assertIn("WSGIHandler", imported.stdout)


class DjangoReferenceTest(ReferenceTestCase):
    APP = "djsite.wsgi:application"
    PYTHONPATH = DJSITE
    REQUIRES = (("django", "python3-django"),)

    def test_pages_json_404_405_and_redirects(self):
        self.assertEqual(self.compare("GET", "/").body, b"Hello from Django")
        self.assertEqual(self.compare("GET", "/json/?q=%C3%A9").body,
                         b'{"path": "/json/", "q": "\\u00e9", "method": "GET"}')
        self.assertEqual(self.compare("GET", "/no/such/page/").status, 404)
        self.assertEqual(self.compare("GET", "/item/11/").status, 404)  # Http404 from a view
        self.assertEqual(self.compare("GET", "/item/7/").body, b'{"item": 7}')
        reply = self.compare("GET", "/post-only/")
        self.assertEqual((reply.status, reply.header("Allow")), (405, "POST"))
        reply = self.compare("GET", "/old/")
        self.assertEqual((reply.status, reply.header("Location")), (302, "/form/"))
        reply = self.compare("GET", "/json?q=1")  # CommonMiddleware's APPEND_SLASH
        self.assertEqual((reply.status, reply.header("Location")), (301, "/json/?q=1"))

    def test_a_csrf_protected_form_get_then_post(self):
        ours, theirs = self.both("GET", "/form/")
        # The page holds the token, so its ETag (ConditionalGetMiddleware's) differs too.
        self.assertSameResponse(ours, theirs, volatile={"set-cookie", "etag"}, normalize=mask_token, what="GET /form/")
        pairs = []
        for reply in (ours, theirs):
            name, value, attrs = csrf_cookie(reply.header("Set-Cookie"))
            self.assertEqual(name, "csrftoken")
            self.assertRegex(value, "^[A-Za-z0-9]{64}$")
            pairs.append((value, attrs, TOKEN_RE.search(reply.body).group(1).decode()))
        (cookie_o, attrs_o, token_o), (cookie_t, attrs_t, token_t) = pairs
        # Same attributes; the expiry one year from each response (a second may pass between).
        expires_o, expires_t = (email.utils.parsedate_to_datetime(a.pop("expires")) for a in (attrs_o, attrs_t))
        self.assertLessEqual(abs((expires_o - expires_t).total_seconds()), 5)
        self.assertEqual(attrs_o, attrs_t)
        self.assertEqual(attrs_o, {"max-age": "31449600", "path": "/", "samesite": "Lax"})
        # Each server takes the POST with its own cookie and token...
        for port, cookie, token in ((self.ours.port, cookie_o, token_o), (self.theirs.port, cookie_t, token_t)):
            body = ("csrfmiddlewaretoken=%s&name=Zo%%C3%%AB" % token).encode()
            data = request_bytes("POST", "/form/", FORM + [("Cookie", "csrftoken=" + cookie)], body)
            with connect(port) as sock:
                sock.sendall(data)
                reply = read_reply(sock)
            self.assertEqual((reply.status, reply.body.decode()), (200, "Hello, Zoë"), reply)
        # ... and both refuse it without them, or with a token that does not match the cookie.
        self.assertEqual(self.compare("POST", "/form/", FORM, b"name=x").status, 403)
        reply = self.compare("POST", "/form/", FORM + [("Cookie", "csrftoken=" + cookie_o)],
                             ("csrfmiddlewaretoken=%s&name=x" % ("a" * 64)).encode())
        self.assertEqual(reply.status, 403)

    def test_conditional_get(self):
        # RFC 9110 8.6: a 304 may carry a Content-Length only if it is that of the 200.
        # Django 3.2 puts "Content-Length: 0" in its 304 (CommonMiddleware measures the empty
        # content); cppgunicorn drops it, as it drops Content-Length from every 1xx, 204 and
        # 304 of an app; gunicorn 20.1 sends it.
        get = self.compare("GET", "/")
        etag = get.header("ETag")  # ConditionalGetMiddleware's
        self.assertTrue(etag)
        ours, theirs = self.both("GET", "/", [("If-None-Match", etag)])
        self.assertSameResponse(ours, theirs, ignore={"content-length"}, what="GET / If-None-Match")
        self.assertEqual((ours.status, ours.body, ours.header("ETag"), ours.header_all("Content-Length")),
                         (304, b"", etag, []))
        self.assertEqual(theirs.header_all("Content-Length"), ["0"], stale("Content-Length: 0 in a 304"))
        self.assertNotEqual(get.header("Content-Length"), "0")

    def test_no_content(self):
        # RFC 9110 8.6: "A server MUST NOT send a Content-Length header field in any response
        # with a status code of 1xx (Informational) or 204 (No Content)." Django 3.2's
        # CommonMiddleware gives its 204 "Content-Length: 0"; cppgunicorn drops it, gunicorn
        # 20.1 sends it.
        ours, theirs = self.both("DELETE", "/item/3/")
        self.assertSameResponse(ours, theirs, ignore={"content-length"}, what="DELETE /item/3/")
        self.assertEqual((ours.status, ours.header_all("Content-Length"), ours.extra), (204, [], b""))
        self.assertEqual(theirs.header_all("Content-Length"), ["0"], stale("Content-Length in a 204"))

    def test_file_response(self):
        reply = self.compare("GET", "/download/")
        self.assertEqual((reply.status, reply.framing(), reply.body), (200, "length", report()))
        self.assertEqual(reply.header("Content-Disposition"), 'attachment; filename="report.txt"')

    def test_file_response_of_a_file_positioned_past_its_start(self):
        # PEP 3333: what wsgi.file_wrapper sends is what iterating the file would give, from
        # its position. gunicorn 20.1 sends from byte 0 (socket.sendfile() with no offset).
        ours, theirs = self.both("GET", "/tail/")
        tail = report()[TAIL_FROM:]
        self.assertEqual((ours.status, ours.framing(), ours.body), (200, "length", tail))
        self.assertEqual(theirs.body, report()[:len(tail)], stale("FileResponse of a positioned file"))
        self.assertSameResponse(ours, theirs, normalize=len, what="GET /tail/, apart from which bytes")

    def test_streaming_http_response(self):
        reply = self.compare("GET", "/stream/?word=s")
        self.assertEqual((reply.framing(), reply.body), ("chunked", b"".join(b"s-%d\n" % i for i in range(5))))
        reply = self.compare("GET", "/stream/?word=s", version="HTTP/1.0")
        self.assertEqual((reply.framing(), reply.closed), ("close", True))

    def test_a_multipart_upload(self):
        boundary = "djsite-boundary"
        small, large = b"small file\n", bytes(range(251)) * (3 << 12)  # 3 MiB: to a temporary file
        body = b"".join([
            b"--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nZo\xc3\xab\r\n" % boundary.encode(),
            b"--%s\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n%s\r\n" % (boundary.encode(), small),
            b"--%s\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n%s\r\n" % (boundary.encode(), large),
            b"--%s--\r\n" % boundary.encode()])
        reply = self.compare("POST", "/upload/", [("Content-Type", "multipart/form-data; boundary=" + boundary)], body)
        self.assertEqual(json.loads(reply.body), {
            "fields": {"title": "Zoë"},
            "files": {"a": [len(small), hashlib.sha256(small).hexdigest(), "a.txt"],
                      "b": [len(large), hashlib.sha256(large).hexdigest(), "b.bin"]}})

    def test_a_large_page(self):
        self.assertEqual(len(self.compare("GET", "/large/").body), 2 << 20)

    def head_then_get(self, port, target):
        """HEAD target, then (once its head is in) GET / on the same connection: the HEAD's
        response head, and every byte after it up to the close, which should be exactly the
        GET's response."""
        with connect(port) as sock:
            sock.sendall(request_bytes("HEAD", target, close=False))
            reader = HttpReader(sock)
            head = reader.read_head()
            sock.sendall(request_bytes("GET", "/"))
            deadline = time.monotonic() + DEFAULT_TIMEOUT
            while reader._fill(deadline):
                pass
            return head, bytes(reader.buf)

    def test_head_sends_no_body_and_the_connection_stays_usable(self):
        # RFC 9110 9.3.2: the server "MUST NOT send content in the response" to HEAD.
        # Django's views do not strip it (its runserver does), so the server must. gunicorn
        # 20.1 sends it, and on a kept-alive connection the client reads it as the start of
        # the next response.
        for target in ("/", "/stream/", "/download/"):
            get = self.compare("GET", target)
            ours_head, ours_rest = self.head_then_get(self.ours.port, target)
            theirs_head, theirs_rest = self.head_then_get(self.theirs.port, target)
            self.assertEqual((ours_head.status, theirs_head.status), (200, 200))
            for name in ("Content-Type", "X-Frame-Options", "Content-Length"):
                self.assertEqual(ours_head.header(name), theirs_head.header(name), name)
            self.assertEqual(ours_head.header("Content-Length"), get.header("Content-Length"))
            self.assertRegex(ours_rest, rb"\AHTTP/1\.1 200 OK\r\n(.+\r\n)+\r\nHello from Django\Z",
                             "cppgunicorn: after HEAD %s, the next response and nothing else" % target)
            self.assertTrue(theirs_rest.startswith(get.body + b"HTTP/1.1 200 OK\r\n"), stale("HEAD of " + target))


if __name__ == "__main__":
    unittest.main()
