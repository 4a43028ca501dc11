# SPDX-License-Identifier: MIT
"""The WSGI bridge against PEP 3333, over the wire: the environ as gunicorn builds it,
wsgi.input, start_response and write(), lazy headers and exc_info, close() on every path,
wsgi.file_wrapper with sendfile, Content-Length, HEAD/204/304, wsgi.errors, errors and
tracebacks, app loading. The app is tests/wsgi_apps/pep3333.py."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (DEFAULT_TIMEOUT, SANITIZER, HttpReader, Server, T, chunked, connect, recv_until_closed,
                     simple_request, wait_until)
from wsgi_harness import (WSGI_APPS, WSGI_PLUGIN, WsgiCase, WsgiServerTestCase, bridge_args, require_bridge,
                          server_args)

FILE_SIZE = (1 << 20) + 7
FILE_DATA = bytes(i % 251 for i in range(FILE_SIZE))


def request(server, method, target, headers=(), body=b"", head=False):
    data = simple_request(method, target, [("Host", "test"), ("Connection", "close"), *headers], body)
    return server.request(data, head=head)


def get(server, target, headers=()):
    return request(server, "GET", target, headers)


class Pep3333Test(WsgiServerTestCase, unittest.TestCase):
    WSGI_APP = "pep3333:app"
    ALIVE_PATH = "/counts"

    def counts(self):
        return get(self.server, "/counts").json()

    def wait_count(self, name, at_least):
        return wait_until(lambda: self.counts().get(name, 0) >= at_least, DEFAULT_TIMEOUT,
                          what="%s close() count >= %d" % (name, at_least))

    # ---- streaming ----

    def test_each_chunk_of_a_generator_reaches_the_client_before_the_next_is_asked_for(self):
        # PEP 3333: "transmit the yielded bytestrings ... before requesting another one". The
        # generator waits for /drip_release after its first event: the client must have that
        # event while it waits (a server that gathers output would hold it back).
        sock = connect(self.server.port, timeout=T(10))
        self.addCleanup(sock.close)
        sock.sendall(simple_request("GET", "/drip", [("Host", "t")]))
        reader = HttpReader(sock, timeout=T(10))
        head = reader.read_head()
        self.assertEqual((head.status, head.header("Transfer-Encoding")), (200, "chunked"))
        size = int(reader._read_until(b"\r\n", time.monotonic() + T(5)), 16)
        self.assertEqual(reader._read_exact(size + 2, time.monotonic() + T(5)), b"data: first\n\n\r\n")
        self.assertEqual(get(self.server, "/drip_release").status, 200)
        head.trailers = []
        rest = reader.read_body(head)
        self.assertEqual(rest.body, b"data: second (released=1)\n\n")

    # ---- the environ ----

    def test_environ_is_built_as_gunicorn_builds_it(self):
        resp = get(self.server, "/environ?a=1&b=%20x", [("X-Multi", "one"), ("X-Multi", "two"),
                                                        ("X_Under", "dropped"), ("X-Request-Id", "env-1")])
        self.assertEqual(resp.status, 200, resp)
        env = resp.json()
        expected = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ",
                    "QUERY_STRING": "a=1&b=%20x", "RAW_URI": "/environ?a=1&b=%20x",
                    "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "test",
                    "HTTP_X_MULTI": "one,two", "REQUEST_ID": "env-1", "wsgi.url_scheme": "http",
                    "wsgi.version": [1, 0], "wsgi.multithread": True, "wsgi.multiprocess": False,
                    "wsgi.run_once": False, "wsgi.input_terminated": True, "environ_type": "dict",
                    "file_wrapper": "FileWrapper", "input_type": "InputStream",
                    "errors_type": "ErrorsStream"}
        for key, value in expected.items():
            self.assertEqual(env.get(key), value, key)
        self.assertNotIn("HTTP_X_UNDER", env)
        self.assertRegex(env["REMOTE_PORT"], r"^\d+$")
        self.assertEqual(env["SERVER_NAME"], "test")
        self.assertEqual(env["SERVER_PORT"], "80")
        self.assertTrue(env["SERVER_SOFTWARE"].startswith("cppgunicorn"))
        self.assertNotIn("CONTENT_TYPE", env)
        self.assertNotIn("CONTENT_LENGTH", env)

    def test_content_type_and_length_have_cgi_names(self):
        resp = request(self.server, "POST", "/environ", [("Content-Type", "text/plain"), ("Content-Length", "3")], b"abc")
        env = resp.json()
        self.assertEqual((env["CONTENT_TYPE"], env["CONTENT_LENGTH"]), ("text/plain", "3"))
        self.assertNotIn("HTTP_CONTENT_TYPE", env)
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)

    def test_path_info_is_percent_decoded_as_latin1(self):
        resp = get(self.server, "/caf%C3%A9/a%2Fb%20c?x=%C3%A9")
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.json()["path"], b"/caf\xc3\xa9/a/b c".decode("latin-1"))
        env = get(self.server, "/environ?x=%C3%A9").json()
        self.assertEqual(env["QUERY_STRING"], "x=%C3%A9", "the query string stays raw")

    def test_a_request_id_is_generated_and_seen_by_the_module(self):
        ids = get(self.server, "/request_id").json()
        self.assertRegex(ids["environ"], r"^[0-9a-f]{16}$")
        self.assertEqual(ids["module"], ids["environ"])
        ids = get(self.server, "/request_id", [("X-Request-Id", "given-42")]).json()
        self.assertEqual(ids, {"environ": "given-42", "module": "given-42"})

    def test_c_extension_modules_load(self):
        resp = get(self.server, "/cext")
        self.assertEqual(resp.status, 200, self.server.log_text()[-2000:])
        self.assertEqual(sorted(resp.json()), ["_ctypes", "_decimal", "_json", "_sqlite3"])

    # ---- wsgi.input ----

    def echo(self, query, body, headers=None):
        headers = headers if headers is not None else [("Content-Length", str(len(body)))]
        resp = request(self.server, "POST", "/echo?" + query, headers, body)
        self.assertEqual(resp.status, 200, resp)
        return [c.encode("latin-1") for c in resp.json()]

    def test_read_all(self):
        body = bytes(range(256)) * 1000
        self.assertEqual(self.echo("mode=read", body), [body])
        self.assertEqual(self.echo("mode=read_none", body), [body])
        self.assertEqual(self.echo("mode=read&n=-1", body), [body])

    def test_read_n_never_returns_more_than_asked(self):
        body = b"0123456789" * 10
        self.assertEqual(self.echo("mode=read&n=7", body), [b"0123456"])
        chunks = self.echo("mode=chunks&n=30", body)
        self.assertEqual(chunks, [body[0:30], body[30:60], body[60:90], body[90:], b""])

    def test_eof_at_content_length(self):
        # Bytes after the body are the next request's, never the body's.
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("POST", "/echo?mode=read&n=1000",
                                        [("Host", "t"), ("Content-Length", "5")], b"hello")
                         + simple_request("GET", "/counts", [("Host", "t"), ("Connection", "close")]))
            reader = HttpReader(sock)
            first = reader.read_response()
            self.assertEqual(first.json(), ["hello"])
            self.assertEqual(reader.read_response().status, 200)

    def test_readline_keeps_the_newline(self):
        body = b"first\nsecond line\n\nlast"
        self.assertEqual(self.echo("mode=readline", body), [b"first\n", b"second line\n", b"\n", b"last", b""])
        self.assertEqual(self.echo("mode=readline&n=4", body),
                         [b"firs", b"t\n", b"seco", b"nd l", b"ine\n", b"\n", b"last", b""])

    def test_readlines_and_iteration(self):
        body = b"a\nbb\nccc\n"
        self.assertEqual(self.echo("mode=readlines", body), [b"a\n", b"bb\n", b"ccc\n"])
        self.assertEqual(self.echo("mode=readlines&n=3", body), [b"a\n", b"bb\n"])
        self.assertEqual(self.echo("mode=iter", body), [b"a\n", b"bb\n", b"ccc\n"])

    def test_chunked_upload_read_with_readline_n(self):
        body = b"".join(b"line %d of the upload\n" % i for i in range(300))
        lines = self.echo("mode=readline&n=10", chunked(body, 7), [("Transfer-Encoding", "chunked")])
        self.assertEqual(b"".join(lines), body)
        self.assertTrue(all(0 < len(line) <= 10 for line in lines[:-1]), lines[:5])
        self.assertEqual(lines[-1], b"")
        self.assertTrue(all(line.endswith(b"\n") or len(line) == 10 for line in lines[:-1]))
        self.assertEqual(self.echo("mode=read", chunked(body, 100), [("Transfer-Encoding", "chunked")]), [body])

    def test_a_large_upload_arrives_whole(self):
        body = os.urandom(6 << 20)
        self.assertEqual(self.echo("mode=read", body), [body])
        self.assertEqual(b"".join(self.echo("mode=chunks&n=100000", body)), body)

    def test_a_content_length_alone_reserves_no_memory(self):
        # read() of a 500 MB body of which 70 KB came (the server calls the app after 64 KiB):
        # the worker must not allocate for the rest before it arrives.
        pid = self.server.worker_pids()[0]
        size_before = int(self.server.proc_status(pid)["VmSize"].split()[0])
        started = self.counts().get("read_body_started", 0)
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("POST", "/read_body", [("Host", "t"), ("Content-Length", "500000000")]) + b"x" * 70000)
            self.wait_count("read_body_started", started + 1)
            grown_kib = int(self.server.proc_status(pid)["VmSize"].split()[0]) - size_before
        self.assertLess(grown_kib, 100 << 10, "the worker's address space grew by %d KiB" % grown_kib)

    # ---- start_response, write, lazy headers, exc_info ----

    def test_headers_wait_for_the_first_non_empty_chunk(self):
        # Empty chunks first, then start_response with exc_info: the headers are replaced.
        resp = get(self.server, "/lazy")
        self.assertEqual(resp.status, 503, resp)
        self.assertEqual(resp.header("X-Replaced"), "1")
        self.assertIsNone(resp.header("X-First"))
        self.assertEqual(resp.body, b"replaced\n")

    def test_exc_info_after_the_headers_reraises_and_closes(self):
        before = self.counts().get("exc_after", 0)
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/exc_after", [("Host", "t"), ("X-Request-Id", "exc-after")]))
            data = recv_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertIn(b"partial\n", data)
        self.assertNotIn(b"never", data)
        self.assertFalse(data.endswith(b"0\r\n\r\n"), "the chunked body must not look complete")
        self.server.wait_for_log(r"(?s)\[exc-after\] \"GET /exc_after\": [^\n]*\nTraceback.*?\nKeyError: 'after headers'",
                                 start=offset)
        self.wait_count("exc_after", before + 1)

    def test_start_response_twice_without_exc_info_is_an_error(self):
        resp = get(self.server, "/twice")
        self.assertEqual(resp.status, 200)
        self.assertIn("AssertionError", resp.json()["second_call"])

    def test_write_callable_then_iterable(self):
        resp = get(self.server, "/write")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"one,two,three")

    # ---- close() on every path, errors ----

    def test_close_is_called_once_after_a_normal_response(self):
        before = self.counts().get("gen", 0)
        resp = get(self.server, "/gen?n=3&size=5")
        self.assertEqual(resp.body, b"AAAAABBBBBCCCCC")
        self.assertEqual(self.counts().get("gen", 0), before + 1)

    def test_an_exception_before_the_headers_is_a_500_with_a_traceback(self):
        offset = self.server.log_offset()
        before = self.counts().get("fail_iter_0", 0)
        resp = get(self.server, "/fail_iter?at=0", [("X-Request-Id", "fail-0")])
        self.assertEqual(resp.status, 500, resp)
        self.assertEqual(self.counts().get("fail_iter_0", 0), before + 1, "close() once")
        self.server.wait_for_log(r"(?s)\[ERROR\] \[fail-0\] \"GET /fail_iter\?at=0\": [^\n]*\nTraceback \(most recent call last\):"
                                 r".*?\nRuntimeError: failing on purpose in chunk 0", start=offset)

    def test_an_exception_raised_by_the_app_itself_is_a_500(self):
        offset = self.server.log_offset()
        resp = get(self.server, "/raise", [("X-Request-Id", "raise-1")])
        self.assertEqual(resp.status, 500)
        self.server.wait_for_log(r"(?s)\[raise-1\] \"GET /raise\": Error handling request\nTraceback.*?"
                                 r"pep3333\.py\", line \d+, in raise_now\n.*?\nRuntimeError: the app failed on purpose",
                                 start=offset)
        self.assertServerAlive()

    def test_an_exception_after_the_headers_closes_the_connection(self):
        before = self.counts().get("fail_iter_1", 0)
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/fail_iter?at=1", [("Host", "t")]))
            data = recv_until_closed(sock)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertIn(b"first\n", data)
        self.assertNotIn(b"second", data)
        self.assertFalse(data.endswith(b"0\r\n\r\n"))
        self.wait_count("fail_iter_1", before + 1)

    def test_close_is_called_when_the_client_goes_away(self):
        before = self.counts().get("gen", 0)
        with connect(self.server.port) as sock:  # 64 GiB: it can only end by the client leaving
            sock.sendall(simple_request("GET", "/gen?n=1048576&size=65536", [("Host", "t")]))
            HttpReader(sock).read_head()
            sock.recv(1 << 16)
        self.wait_count("gen", before + 1)
        self.assertServerAlive()

    def test_a_64_mib_generator_streams_in_bounded_memory(self):
        get(self.server, "/gen?n=16&size=65536")  # warm up
        pid = self.server.worker_pids()[0]
        peak_before = int(self.server.proc_status(pid)["VmHWM"].split()[0])
        total = 0
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/gen?n=1024&size=65536&cl=1", [("Host", "t"), ("Connection", "close")]))
            reader = HttpReader(sock)
            head = reader.read_head()
            self.assertEqual(head.header("Content-Length"), str(64 << 20))
            total = len(reader.buf)
            reader.buf.clear()
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                total += len(data)
        self.assertEqual(total, 64 << 20)
        if SANITIZER:
            return  # ASan's quarantine keeps freed chunks: its RSS says nothing about streaming
        growth_kib = int(self.server.proc_status(pid)["VmHWM"].split()[0]) - peak_before
        self.assertLess(growth_kib, 32 << 10, "worker's peak RSS grew by %d KiB" % growth_kib)

    # ---- wsgi.file_wrapper ----

    def test_file_wrapper_sends_a_real_file_with_sendfile_from_its_offset(self):
        reads = self.counts().get("file_read", 0)
        resp = get(self.server, "/file?offset=1000")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, FILE_DATA[1000:])
        resp = get(self.server, "/file?offset=70000&cl=5000")
        self.assertEqual(resp.body, FILE_DATA[70000:75000])
        self.assertEqual(self.counts().get("file_read", 0), reads, "sendfile, never read()")

    def test_file_wrapper_starts_where_the_file_object_is_not_where_its_fd_is(self):
        resp = get(self.server, "/file?offset=10&buffered=100")
        self.assertEqual(resp.body, FILE_DATA[110:])

    def test_file_wrapper_is_closed_once(self):
        before = self.counts().get("file", 0)
        get(self.server, "/file?offset=5")
        get(self.server, "/file?kind=bytesio")
        self.assertEqual(self.counts().get("file", 0), before + 2)

    def test_file_wrapper_reads_a_bytesio(self):
        resp = get(self.server, "/file?kind=bytesio&offset=123&blksize=1000")
        self.assertEqual(resp.body, FILE_DATA[123:])

    def test_file_wrapper_without_content_length_reads_the_file(self):
        reads = self.counts().get("file_read", 0)
        resp = get(self.server, "/file?nocl=1&offset=100&blksize=65536")
        self.assertEqual(resp.header("Transfer-Encoding"), "chunked")
        self.assertEqual(resp.body, FILE_DATA[100:])
        self.assertGreater(self.counts().get("file_read", 0), reads)

    def test_file_wrapper_never_sends_past_the_content_length(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/file?offset=0&cl=10", [("Host", "t")])
                         + simple_request("GET", "/file?offset=20&cl=3", [("Host", "t")]))
            reader = HttpReader(sock)
            self.assertEqual(reader.read_response().body, FILE_DATA[:10])
            self.assertEqual(reader.read_response().body, FILE_DATA[20:23])

    # ---- bodies that must not be sent, Content-Length ----

    def test_head_sends_no_body(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("HEAD", "/file?offset=0", [("Host", "t")])
                         + simple_request("HEAD", "/gen?n=2&size=3", [("Host", "t")])
                         + simple_request("GET", "/gen?n=1&size=2", [("Host", "t")]))
            reader = HttpReader(sock)
            first = reader.read_response(head=True)
            self.assertEqual(first.header("Content-Length"), str(FILE_SIZE))
            reader.read_response(head=True)
            self.assertEqual(reader.read_response().body, b"AA", "nothing of the HEAD bodies in between")

    def test_204_and_304_send_no_body(self):
        for code in (204, 304):
            with connect(self.server.port) as sock:
                sock.sendall(simple_request("GET", "/status?code=%d" % code, [("Host", "t")])
                             + simple_request("GET", "/gen?n=1&size=2", [("Host", "t")]))
                reader = HttpReader(sock)
                resp = reader.read_response()
                self.assertEqual(resp.status, code)
                self.assertEqual(reader.read_response().body, b"AA")

    def test_a_1xx_status_from_the_app_is_an_error(self):
        self.assertEqual(get(self.server, "/status?code=103").status, 500)

    def test_a_short_body_closes_the_connection(self):
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/cl?declared=10&actual=5", [("Host", "t")]))
            data = recv_until_closed(sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 10", head)
        self.assertEqual(body, b"xxxxx")

    def test_a_long_body_is_cut_and_the_connection_kept(self):
        offset = self.server.log_offset()
        with connect(self.server.port) as sock:
            sock.sendall(simple_request("GET", "/cl?declared=5&actual=10", [("Host", "t")])
                         + simple_request("GET", "/gen?n=1&size=2", [("Host", "t")]))
            reader = HttpReader(sock)
            self.assertEqual(reader.read_response().body, b"xxxxx")
            self.assertEqual(reader.read_response().body, b"AA")
        self.server.wait_for_log(r"more than its Content-Length of 5 bytes", start=offset)

    # ---- validation, wsgi.errors ----

    def test_invalid_responses_are_500s_with_the_reason_logged(self):
        for path, reason in (("/bad_status", "ValueError: invalid status 'OK'"),
                             ("/bad_header", "ValueError: invalid header value"),
                             ("/str_body", "TypeError: the app's iterable must yield bytes, not str")):
            offset = self.server.log_offset()
            with self.subTest(path=path):
                self.assertEqual(get(self.server, path).status, 500)
                self.server.wait_for_log(re.escape(reason), start=offset)

    def test_hop_by_hop_headers_are_dropped(self):
        resp = get(self.server, "/hop")
        self.assertEqual(resp.body, b"ok")
        self.assertEqual(resp.header("X-Kept"), "yes")
        for name in ("Keep-Alive", "Upgrade"):
            self.assertIsNone(resp.header(name), name)
        self.assertIsNone(resp.header("Transfer-Encoding"))

    def test_wsgi_errors_lines_carry_the_request_id(self):
        offset = self.server.log_offset()
        get(self.server, "/errors", [("X-Request-Id", "errs-1")])
        for line in ("first line", "second line", "third", "unended"):
            self.server.wait_for_log(r"\[ERROR\] \[errs-1\] %s$" % line, start=offset)


class ScriptNameTest(WsgiServerTestCase, unittest.TestCase):
    """SCRIPT_NAME from the process environment is stripped from the path."""

    WSGI_APP = "pep3333:app"

    @classmethod
    def setUpClass(cls):
        os.environ["SCRIPT_NAME"] = "/mount"
        try:
            super().setUpClass()
        finally:
            del os.environ["SCRIPT_NAME"]

    def test_script_name_is_stripped_from_path_info(self):
        env = get(self.server, "/mount/environ").json()
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), ("/mount", "/environ"))
        self.assertEqual(get(self.server, "/mountain").json()["path"], "/mountain", "only at a segment boundary")


class BodyErrorTest(WsgiServerTestCase, unittest.TestCase):
    """A body the server cannot deliver reaches the app as BodyError (an OSError with the
    status the server answers): over --limit-request-body 413, malformed 400, stalled past
    --body-timeout 408. The answer is the server's unless the app answers with something
    other than a 5xx."""

    WSGI_APP = "pep3333:app"
    EXTRA_ARGS = ("--limit-request-body", "100000", "--body-timeout", "1")

    def post(self, query):
        # Chunked: a Content-Length over the limit is refused before the app runs.
        body = chunked(b"x" * 300000, 10000)
        return request(self.server, "POST", "/read_body" + query, [("Transfer-Encoding", "chunked")], body)

    def test_an_uncaught_body_error_is_a_413(self):
        self.assertEqual(self.post("").status, 413)

    def test_an_app_that_turns_it_into_a_500_still_answers_413(self):
        self.assertEqual(self.post("?catch=500").status, 413)

    def test_an_app_that_answers_otherwise_is_heard(self):
        resp = self.post("?catch=200")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"caught BodyError 413")

    def broken_upload(self, rest):
        """70 KB of a chunked body (more than the server reads before it calls the app), then,
        once the app is reading, `rest` (None: nothing, the client stalls)."""
        started = get(self.server, "/counts").json().get("read_body_started", 0)
        sock = connect(self.server.port, timeout=T(10))
        self.addCleanup(sock.close)
        sock.sendall(simple_request("POST", "/read_body?catch=200", [("Host", "t"), ("Transfer-Encoding", "chunked")])
                     + b"%x\r\n" % 70000 + b"y" * 70000 + b"\r\n")
        wait_until(lambda: get(self.server, "/counts").json().get("read_body_started", 0) > started, T(5),
                   what="the app to read the body")
        if rest is not None:
            sock.sendall(rest)
        return HttpReader(sock, timeout=T(10)).read_response()

    def test_a_malformed_body_is_a_400(self):
        self.assertEqual(self.broken_upload(b"zz\r\nnot a chunk\r\n").body, b"caught BodyError 400")

    def test_a_stalled_body_is_a_408(self):
        self.assertEqual(self.broken_upload(None).body, b"caught BodyError 408")


class AppLoadingTest(WsgiCase):
    """MODULE, MODULE:NAME and MODULE:factory(...) as gunicorn takes them; an app that cannot
    be loaded stops the start (exit 3, the worker's 4) with the reason in the log."""

    def test_module_alone_means_application(self):
        server = self.start_wsgi("hello")
        self.assertEqual(get(server, "/").body, b"Hello, World!\n")

    def test_factory_with_literal_arguments(self):
        server = self.start_wsgi('hello:create_app("Hi", punctuation="?")')
        self.assertEqual(get(server, "/").body, b"Hi, World?\n")

    def load_fails(self, app, *fragments, pythonpath=None, direct=False):
        """`direct`: the plugin and its own arguments, as `cppgunicorn wsgi.so -- ARGS`."""
        server = Server()
        self.addCleanup(server.cleanup)
        extra = ["--pythonpath", pythonpath] if pythonpath else []
        if direct:
            server.start(["--workers", "1"], WSGI_PLUGIN, app_args=bridge_args(app, 1, extra=extra), wait=False)
        else:
            server.start(server_args(1, 1, extra), app, wait=False)
        code = server.wait_exit(T(15))
        log = server.log_text()
        self.assertEqual(code, 4, log)  # gunicorn's APP_LOAD_ERROR
        for fragment in fragments:
            self.assertIn(fragment, log)
        return log

    def test_a_missing_module(self):
        log = self.load_fails("no_such_module:app", "cannot load WSGI app 'no_such_module:app'",
                              "ModuleNotFoundError: No module named 'no_such_module'")
        self.assertIn("Traceback (most recent call last):", log)

    def test_a_syntax_error(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(lambda: shutil.rmtree(tmp))
        with open(os.path.join(tmp, "broken.py"), "w") as f:
            f.write("def app(environ, start_response:\n    pass\n")
        self.load_fails("broken:app", "SyntaxError", "broken.py", pythonpath=tmp)

    def test_a_missing_callable(self):
        self.load_fails("hello:nope", "Failed to find attribute 'nope' in 'hello'.")

    def test_a_factory_that_raises(self):
        self.load_fails("pep3333:raise_now(1, 2)", "in raise_now", "RuntimeError: the app failed on purpose")
        self.load_fails('hello:create_app(1, 2, 3)', "create_app() takes from 0 to 2 positional arguments but 3 were given")

    def test_a_factory_with_non_literal_arguments(self):
        self.load_fails("hello:create_app(print)", "Failed to parse arguments as literal values")

    def test_bad_bridge_arguments(self):
        self.load_fails("--nope", "unknown option '--nope'", direct=True)

    def test_a_virtualenv_supplies_packages(self):
        venv = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, venv)
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], check=True)
        site = os.path.join(venv, "lib", "python3.11", "site-packages")
        with open(os.path.join(site, "only_in_venv.py"), "w") as f:
            f.write("import sys\n"
                    "def app(environ, start_response):\n"
                    "    start_response('200 OK', [])\n"
                    "    return [('%s %s' % (sys.prefix, sys.executable)).encode()]\n")
        server = self.start_wsgi("only_in_venv:app", extra=["--virtualenv", venv])
        self.assertEqual(get(server, "/").body.decode(), "%s %s/bin/python3" % (venv, venv))

    def test_a_virtualenv_of_another_python_is_refused(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(lambda: shutil.rmtree(tmp))
        with open(os.path.join(tmp, "pyvenv.cfg"), "w") as f:
            f.write("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.9.2\n")
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(["--workers", "1", "--virtualenv", tmp], "hello", wait=False)
        self.assertEqual(server.wait_exit(T(15)), 4)
        self.assertIn("was made with Python 3.9, but this bridge runs Python 3.11", server.log_text())


class PreloadTest(WsgiCase):
    """--preload imports the app once in the master; each worker is forked from it with
    CPython's fork protocol around the fork (PyOS_BeforeFork/AfterFork_*), even while a thread
    the app started at import runs in the master."""

    @unittest.skipIf("thread" in os.environ.get("CPPG_SANITIZE", ""), "ThreadSanitizer does not support starting threads after a fork of a "
                                            "multi-threaded process, which this test is about")
    def test_an_app_with_a_thread_at_import_is_preloaded_and_forked_safely(self):
        server = self.start_wsgi("preloaded:app", threads=2, workers=2, extra=["--preload"])
        workers = server.wait_workers(2)
        seen = {}
        for _ in range(40):
            body = get(server, "/").json()
            seen[body["pid"]] = body
            if len(seen) == 2:
                break
        for pid, body in seen.items():
            self.assertIn(pid, workers)
            self.assertEqual(body["import_pid"], server.pid, "imported once, in the master")
            self.assertFalse(body["ticker_alive"], "fork copies no thread: the worker knows it")
            self.assertNotIn("ticker", body["threads"])
        self.assertEqual(server.stop(), 0)
        self.assertNotIn("Traceback", server.log_text())


class TimeoutTracebackTest(WsgiCase):
    """--timeout: the master aborts the stuck thread; the log gets every Python thread's
    stack (faulthandler), naming the app's code, before the worker is replaced."""

    def test_a_stuck_request_logs_its_python_stack(self):
        server = self.start_wsgi("pep3333:app", extra=["--timeout", "2"])
        stuck = server.wait_workers(1)
        sock = connect(server.port, timeout=T(20))
        self.addCleanup(sock.close)
        sock.sendall(simple_request("GET", "/sleep?s=60", [("Host", "t")]))
        server.wait_for_log(r"WORKER TIMEOUT", timeout=T(15))
        match = server.wait_for_log(r"(?s)Current thread 0x[0-9a-f]+ \(most recent call first\):\n"
                                    r"  File \"[^\"]*pep3333\.py\", line \d+ in sleep\n", timeout=T(10))
        self.assertTrue(match)
        server.wait_workers(1, exclude=stuck)  # the aborted worker may still be dying
        self.assertEqual(get(server, "/gen?n=1&size=2").body, b"AA")


if __name__ == "__main__":
    unittest.main()
