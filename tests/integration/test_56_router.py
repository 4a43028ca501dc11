# SPDX-License-Identifier: MIT
"""The SDK's router, end to end: examples/routes.so behind the real server."""
import json
import unittest

from harness import ServerCase, example_app, simple_request


class RouterTest(ServerCase):
    def setUp(self):
        self.server = self.start([], example_app("routes"))

    def call(self, method, target, headers=(), body=b""):
        headers = [("Host", "x"), ("Connection", "close")] + list(headers)
        if body:
            headers.append(("Content-Length", str(len(body))))
        return self.server.request(simple_request(method, target, headers, body), head=method == "HEAD")

    def test_typed_parameters_and_json(self):
        resp = self.call("GET", "/users/42")
        self.assertEqual((resp.status, json.loads(resp.body)), (200, {"id": 42, "name": "user42"}))
        self.assertEqual(self.call("GET", "/users/abc").status, 404)
        self.assertEqual(self.call("GET", "/files/a/b/c.txt").body, b"a/b/c.txt\n")

    def test_methods_and_405_with_allow(self):
        """The app's 405 error handler builds its own JSON answer; Allow is still on it."""
        resp = self.call("DELETE", "/users/1")
        self.assertEqual(resp.status, 405)
        self.assertEqual(resp.header("Allow"), "GET, HEAD, OPTIONS")
        self.assertEqual(json.loads(resp.body), {"error": "Method Not Allowed"})
        self.assertEqual(self.call("HEAD", "/").status, 200)

    def test_query_form_cookies_and_json_body(self):
        resp = self.call("GET", "/search?q=hi+there&page=1&page=2")
        self.assertEqual(json.loads(resp.body), {"q": "hi there", "pages": 2})
        resp = self.call("POST", "/login", [("Content-Type", "application/x-www-form-urlencoded")], b"user=ada")
        self.assertEqual(resp.header("Set-Cookie"), "session=ada; Path=/; HttpOnly; SameSite=Lax")
        self.assertEqual(self.call("GET", "/whoami", [("Cookie", "session=ada")]).body, b"ada\n")
        self.assertEqual(self.call("POST", "/login", [("Content-Type", "application/x-www-form-urlencoded")],
                                   b"nobody=1").status, 400)
        resp = self.call("POST", "/echo-json", [("Content-Type", "application/json")], b'{"a":[1,2]}')
        self.assertEqual((resp.status, json.loads(resp.body)), (201, {"a": [1, 2]}))

    def test_streaming_is_chunked(self):
        resp = self.call("GET", "/stream")
        self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
        self.assertEqual(resp.body, b"part 0\npart 1\npart 2\n")

    def test_hooks_and_error_handlers(self):
        self.assertEqual(self.call("GET", "/").header("X-Served-By"), "routes")  # after_request
        resp = self.call("GET", "/", [("X-Block", "1")])                          # before_request
        self.assertEqual((resp.status, resp.body), (403, b"blocked\n"))
        resp = self.call("GET", "/boom")                                          # error_handler
        self.assertEqual((resp.status, json.loads(resp.body)), (422, {"error": "bad input"}))
        resp = self.call("GET", "/crash")                                         # anything else
        self.assertEqual(resp.status, 500)
        self.server.wait_for_log(r'\[ERROR\] \[[0-9a-f]{16}\] "GET /crash" unhandled exception in route: std::runtime_error: unexpected')
        self.assertEqual(self.call("GET", "/").status, 200)

    def test_the_ten_line_hello(self):
        server = self.start([], example_app("hello_sdk"))
        self.assertEqual(server.get("/").body, b"Hello, World!\n")


if __name__ == "__main__":
    unittest.main()
