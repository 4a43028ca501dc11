# SPDX-License-Identifier: MIT
"""A Flask app (Debian's python3-flask) on the WSGI bridge, over the wire: routes, JSON, a
form POST, redirects, a session cookie, send_file, stream_with_context, Flask's own 500,
cppgunicorn.executor tasks using flask.request / g / current_app, and concurrent requests
that each see only their own request and g. The app is tests/wsgi_apps/flask_app.py."""

import http.client
import json
import threading
import unittest
import urllib.parse

from harness import DEFAULT_TIMEOUT
from wsgi_harness import WsgiServerTestCase


def have_flask():
    try:
        import flask  # noqa: F401  (Debian's, under /usr/bin/python3)
        return True
    except ImportError:
        return False


@unittest.skipUnless(have_flask(), "python3-flask is not installed (scripts/deps.sh test)")
class FlaskTest(WsgiServerTestCase, unittest.TestCase):
    WSGI_APP = "flask_app:app"
    ALIVE_PATH = "/"

    def call(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=DEFAULT_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def test_routes(self):
        self.assertEqual(self.call("GET", "/")[::2], (200, b"Hello from Flask"))
        self.assertEqual(self.call("GET", "/missing")[0], 404)
        self.assertEqual(self.call("POST", "/")[0], 405)

    def test_json(self):
        status, headers, body = self.call("GET", "/json?name=x")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(json.loads(body), {"a": 1, "items": [1, 2, 3], "name": "x"})
        payload = json.dumps({"k": ["v", 1]})
        status, _, body = self.call("POST", "/json", payload, {"Content-Type": "application/json"})
        self.assertEqual(json.loads(body), {"received": {"k": ["v", 1]}, "length": len(payload)})

    def test_form_post(self):
        self.assertIn(b"<form", self.call("GET", "/form")[2])
        form = urllib.parse.urlencode({"name": "Zoë", "extra": "a&b"})
        status, _, body = self.call("POST", "/form", form, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, body.decode()), (200, "Hello, Zoë (a&b)"))

    def test_redirect(self):
        status, headers, _ = self.call("GET", "/old")
        self.assertEqual(status, 302)
        self.assertIn(headers["Location"], ("/", "http://127.0.0.1:%d/" % self.server.port))

    def test_session_cookie(self):
        status, headers, _ = self.call("GET", "/session/set?v=remembered")
        cookie = headers["Set-Cookie"].split(";")[0]
        self.assertEqual(self.call("GET", "/session/get", headers={"Cookie": cookie})[2], b"remembered")
        self.assertEqual(self.call("GET", "/session/get")[2], b"nothing")

    def test_send_file(self):
        status, headers, body = self.call("GET", "/download")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"a file to download\n" * 100)
        self.assertEqual(headers["Content-Length"], str(len(body)))
        self.assertIn("attachment", headers["Content-Disposition"])
        self.assertIn("report.txt", headers["Content-Disposition"])
        etag = headers["ETag"]
        self.assertEqual(self.call("GET", "/download", headers={"If-None-Match": etag})[0], 304)

    def test_stream_with_context(self):
        status, headers, body = self.call("GET", "/stream?word=hi")
        self.assertEqual((status, body), (200, b"hi-0\nhi-1\nhi-2\n"))

    def test_flask_handles_its_own_errors(self):
        offset = self.server.log_offset()
        self.assertEqual(self.call("GET", "/boom", headers={"X-Request-Id": "flask-boom"})[0], 500)
        # Flask logs through app.logger to wsgi.errors: each line with the request id.
        self.server.wait_for_log(r"\[flask-boom\] .*Exception on /boom \[GET\]", start=offset)
        self.server.wait_for_log(r"\[flask-boom\] RuntimeError: flask handler failed", start=offset)

    def test_executor_tasks_use_the_request_context(self):
        status, _, body = self.call("GET", "/executor?q=query-1&user=ann")
        self.assertEqual(status, 200, body)
        results = json.loads(body)["results"]
        self.assertEqual([r["i"] for r in results], [0, 1, 2])
        for r in results:
            self.assertEqual((r["q"], r["user"], r["app"], r["path"], r["thread"]),
                             ("query-1", "ann", "flask_app", "/executor", "cppg-executor"))

    def test_concurrent_requests_see_only_their_own_request_and_g(self):
        errors = []

        def client(n):
            for i in range(20):
                token = "c%d-%d" % (n, i)
                status, _, body = self.call("GET", "/whoami?pause=0.001&token=" + token)
                got = json.loads(body)
                if status != 200 or got["token"] != token or got["g"] != token:
                    errors.append((token, status, got))
        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
