# SPDX-License-Identifier: MIT
"""The worker model (leader/followers, docs/architecture.md): with M threads, a call that
blocks holds up no other connection while a thread is free; with one thread a worker is
gunicorn's sync worker; every thread count serves keep-alive clients, pipelines and large
bodies the same way. Python: any python3 (standard library only)."""
import http.client
import json
import os
import threading
import time
import unittest

from harness import (DEFAULT_TIMEOUT, TIME_SCALE, ServerCase, connect, free_port, recv_until_closed,
                     wait_until)

T = 10 * TIME_SCALE


def threads_busy(admin_port):
    """App threads in a call, as the master's scoreboard sees them (GET /status?json)."""
    conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=DEFAULT_TIMEOUT)
    try:
        conn.request("GET", "/status?json")
        return json.loads(conn.getresponse().read())["threads_busy"]
    finally:
        conn.close()


class HeadOfLineTest(ServerCase):
    def test_fast_requests_pass_three_blocked_threads(self):
        """--workers 1 --threads 4: three connections each in a 1.5 s call; a fourth,
        keep-alive connection's requests are each answered at once (the target is 20 ms; the
        test allows 200 ms so that a loaded machine cannot fail it)."""
        admin = free_port()
        server = self.start(["--workers", "1", "--threads", "4", "--keep-alive", "30",
                             "--admin-bind", "127.0.0.1:%d" % admin])
        worker = server.wait_workers(1)[0]
        slow_ms = int(1500 * TIME_SCALE)
        results = []
        slow = [threading.Thread(target=lambda: results.append(server.get("/sleep?ms=%d" % slow_ms, timeout=T)))
                for _ in range(3)]
        started = time.monotonic()
        for t in slow:
            t.start()
        wait_until(lambda: threads_busy(admin) == 3, DEFAULT_TIMEOUT, what="three calls blocked")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=T)
        self.addCleanup(conn.close)
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            conn.request("GET", "/pid")
            resp = conn.getresponse()
            self.assertEqual(resp.read().decode(), str(worker))
            worst = max(worst, time.monotonic() - t0)
        self.assertLess(time.monotonic() - started, slow_ms / 1000.0, "the slow calls were still running")
        self.assertLess(worst, 0.2 * TIME_SCALE, "a fast request waited behind the blocked calls")
        for t in slow:
            t.join(T)
        self.assertEqual([r.status for r in results], [200] * 3)

    def test_one_thread_is_the_sync_worker(self):
        """--threads 1: a request that comes while the worker's one thread is in a call is
        served right after it, on the same worker; nothing is lost."""
        admin = free_port()
        server = self.start(["--workers", "1", "--threads", "1", "--admin-bind", "127.0.0.1:%d" % admin])
        worker = server.wait_workers(1)[0]
        results = {}
        slow = threading.Thread(target=lambda: results.setdefault("slow", server.get("/sleep?ms=%d" % int(500 * TIME_SCALE), timeout=T)))
        slow.start()
        wait_until(lambda: threads_busy(admin) == 1, DEFAULT_TIMEOUT, what="the call blocked")
        t0 = time.monotonic()
        fast = server.get("/pid", timeout=T)
        waited = time.monotonic() - t0
        slow.join(T)
        self.assertEqual(results["slow"].status, 200)
        self.assertEqual(fast.body.decode(), str(worker))
        self.assertGreater(waited, 0.05 * TIME_SCALE, "served while the only thread was busy?")


class SameBehaviourForEveryThreadCount(ServerCase):
    """What a client sees does not depend on --threads."""

    def serve(self, threads):
        server = self.start(["--workers", "1", "--threads", str(threads)])
        server.wait_workers(1)
        return server

    def test_pipeline_answered_in_order(self):
        for threads in (1, 2, 8):
            with self.subTest(threads=threads):
                server = self.serve(threads)
                sock = connect(server.port)
                self.addCleanup(sock.close)
                requests = b"".join(b"GET /sleep?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % ms for ms in (30, 1, 20, 0))
                sock.sendall(requests + b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = recv_until_closed(sock, T)
                self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 5)
                self.assertEqual(data.count(b"slept\n"), 4)
                self.assertTrue(data.rstrip().endswith(str(server.worker_pids()[0]).encode()))

    def test_large_bodies_echo_on_keep_alive(self):
        body = os.urandom(3 << 20)
        for threads in (1, 2, 4):
            with self.subTest(threads=threads):
                server = self.serve(threads)
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=T)
                self.addCleanup(conn.close)
                for _ in range(3):
                    conn.request("POST", "/stream-echo", body=body)
                    resp = conn.getresponse()
                    self.assertEqual(resp.status, 200)
                    self.assertEqual(resp.read(), body)


if __name__ == "__main__":
    unittest.main()
