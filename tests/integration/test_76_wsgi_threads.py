# SPDX-License-Identifier: MIT
"""The WSGI bridge's threads: the GIL is released while requests wait, so sleeping requests
overlap and a slow upload on one thread does not hold up another; each request runs in a
fresh contextvars.Context; threading.local lives as long as its thread; Python threads of
the app run between requests; cppgunicorn.executor tasks see their request's context."""

import socket
import threading
import time
import unittest

from harness import DEFAULT_TIMEOUT, T, connect, HttpReader, simple_request, wait_until
from wsgi_harness import WsgiCase, WsgiServerTestCase


def get(server, target, timeout=DEFAULT_TIMEOUT):
    return server.request(simple_request("GET", target, [("Host", "t"), ("Connection", "close")]), timeout)


def keep_alive_gets(port, targets):
    """GETs on one connection (so on one worker thread at a time, in order)."""
    with connect(port) as sock:
        sock.sendall(b"".join(simple_request("GET", t, [("Host", "t")]) for t in targets))
        reader = HttpReader(sock)
        return [reader.read_response() for _ in targets]


class ThreadsTest(WsgiServerTestCase, unittest.TestCase):
    WSGI_APP = "threads:app"
    THREADS = 4
    ALIVE_PATH = "/fast"

    def test_four_sleeping_requests_overlap(self):
        get(self.server, "/fast")
        results = []

        def one():
            results.append(get(self.server, "/sleep?s=1", timeout=T(10)).status)
        threads = [threading.Thread(target=one) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        self.assertEqual(results, [200] * 4)
        self.assertLess(elapsed, T(1.8), "four 1 s sleeps on 4 threads took %.2f s" % elapsed)

    def test_a_trickled_upload_does_not_slow_other_threads(self):
        # More than the 64 KiB the server buffers before it calls the app: the app waits in
        # wsgi.input.read() for the rest, without the GIL.
        total, first = 200000, 100000
        with connect(self.server.port, timeout=T(20)) as slow:
            slow.sendall(simple_request("POST", "/upload", [("Host", "t"), ("Content-Length", str(total))])
                         + b"x" * first)
            wait_until(lambda: get(self.server, "/uploading").json()["uploading"] == 1, T(5),
                       what="the app to wait for the rest of the body")
            start = time.monotonic()
            for _ in range(20):
                self.assertEqual(get(self.server, "/fast").status, 200)
            elapsed = time.monotonic() - start
            slow.sendall(b"y" * (total - first))
            self.assertEqual(HttpReader(slow).read_response().json(), {"len": total})
        self.assertLess(elapsed, T(1.0), "20 fast requests took %.2f s beside a trickled upload" % elapsed)

    def test_a_context_variable_never_crosses_requests(self):
        responses = keep_alive_gets(self.server.port, ["/context?token=t%d" % i for i in range(50)])
        self.assertEqual([r.json()["before"] for r in responses], [None] * 50)
        # ... on the same thread: prove that the requests did share threads.
        threads = [r.json()["thread"] for r in responses]
        self.assertLess(len(set(threads)), len(threads))

    def test_threading_local_lives_as_long_as_the_thread(self):
        counts = {}
        for resp in keep_alive_gets(self.server.port, ["/local"] * 40):
            body = resp.json()
            counts[body["thread"]] = max(counts.get(body["thread"], 0), body["count"])
        # Each thread's count went 1, 2, 3...: together they counted every request once.
        self.assertEqual(sum(counts.values()), 40, counts)
        self.assertGreater(max(counts.values()), 1, counts)

    def test_app_threads_run_between_requests(self):
        first = get(self.server, "/ticks").json()["ticks"]
        wait_until(lambda: get(self.server, "/ticks").json()["ticks"] >= first + 20, T(5),
                   what="the app's own thread to tick")

    def test_executor_tasks_see_their_request(self):
        resp = get(self.server, "/executor?token=tok-7")
        body = resp.json()
        self.assertEqual(len(body["results"]), 4)
        for i, seen, request_id, thread in body["results"]:
            self.assertEqual(seen, "tok-7")
            self.assertEqual(request_id, body["request_id"])
            self.assertEqual(thread, "cppg-executor")
        self.assertNotEqual(body["handler_thread"], "cppg-executor")

    def test_executor_shutdown(self):
        body = get(self.server, "/executor_shutdown").json()
        self.assertTrue(body["waited"], "shutdown(wait=True) waited for the task")
        self.assertIn("after shutdown", body["refused"])
        self.assertEqual(body["shared"], 42, "the shared executor keeps working")


class ExecutorQueueTest(WsgiCase):
    def test_a_full_queue_raises_executor_full(self):
        server = self.start_wsgi("threads:app", threads=2, extra=["--executor-threads", "1", "--executor-queue", "2"])
        body = get(server, "/executor_full?n=10").json()
        self.assertIn("--executor-queue", body["full"])
        self.assertLessEqual(body["submitted"], 3)


if __name__ == "__main__":
    unittest.main()
