# SPDX-License-Identifier: MIT
"""wsgiref.validate.validator around test apps (tests/wsgi_apps/validated.py), served over
the wire by the WSGI bridge: every assertion the validator makes about the server (environ,
wsgi.input, wsgi.errors, start_response, write, close()) must hold. An assertion while the
app runs is a 500 with "AssertionError" in the log; one in a leaked iterator's __del__ is
printed to the log too. So each test checks the status and that the log has no
AssertionError; the canary (/wrong) shows the check can fail."""

import unittest

from harness import HttpReader, chunked, connect, simple_request
from wsgi_harness import WsgiServerTestCase


class ValidatedAppTest(WsgiServerTestCase, unittest.TestCase):
    WSGI_APP = "validated:application"
    ALIVE_PATH = "/hello"

    def setUp(self):
        self.offset = self.server.log_offset()

    def assertNoAssertion(self):
        # The validator's iterator checks close() in __del__: collected by the next request.
        self.server.get("/hello")
        log = self.server.log_text()[self.offset:]
        self.assertNotIn("AssertionError", log)
        self.assertNotIn("Traceback", log)

    def call(self, method, target, headers=(), body=b"", head=False):
        data = simple_request(method, target, [("Host", "test"), ("Connection", "close"), *headers], body)
        return self.server.request(data, head=head)

    def test_plain_get(self):
        resp = self.call("GET", "/hello?x=1")
        self.assertEqual((resp.status, resp.body), (200, b"GET /hello"))
        self.assertNoAssertion()

    def test_input_methods(self):
        body = b"line one\nline two\nthree"
        for path in ("/read", "/readline", "/readlines", "/iter"):
            with self.subTest(path=path):
                resp = self.call("POST", path, [("Content-Length", str(len(body)))], body)
                self.assertEqual((resp.status, resp.body), (200, body))
        resp = self.call("POST", "/readline", [("Transfer-Encoding", "chunked")], chunked(body, 5))
        self.assertEqual((resp.status, resp.body), (200, body))
        self.assertNoAssertion()

    def test_errors_stream(self):
        self.assertEqual(self.call("GET", "/errors").status, 200)
        self.server.wait_for_log(r"validated errors line", start=self.offset)
        self.assertNoAssertion()

    def test_write_generator_file_wrapper_exc_info(self):
        self.assertEqual(self.call("GET", "/write").body, b"written and returned")
        self.assertEqual(self.call("GET", "/generator").body, b"".join(b"chunk %d\n" % i for i in range(5)))
        self.assertEqual(self.call("GET", "/file").body, b"from a file")
        resp = self.call("GET", "/exc_info")
        self.assertEqual((resp.status, resp.body), (500, b"error page"))
        self.assertNoAssertion()

    def test_head_and_304(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("HEAD", "/head", [("Host", "t")]) +
                         simple_request("GET", "/not_modified", [("Host", "t")]) +
                         simple_request("GET", "/hello", [("Host", "t")]))
            reader = HttpReader(sock)
            self.assertEqual(reader.read_response(head=True).header("Content-Length"), "4")
            self.assertEqual(reader.read_response().status, 304)
            self.assertEqual(reader.read_response().body, b"GET /hello")
        self.assertNoAssertion()

    def test_the_validator_catches_a_broken_app(self):
        # The canary: without it, a validator that never ran would pass every test above.
        self.assertEqual(self.call("GET", "/wrong").status, 500)
        self.server.wait_for_log(r"AssertionError: Iterator yielded non-bytestring", start=self.offset)


if __name__ == "__main__":
    unittest.main()
