# SPDX-License-Identifier: MIT
"""Isolated context stacks and the shared executor, under real concurrency."""
import json
import random
import threading
import unittest

from harness import ServerCase, T, example_app


class IsolationTest(ServerCase):
    def test_a_thousand_concurrent_requests_each_see_only_their_own_context(self):
        server = self.start(["--workers", "2", "--threads", "8"], example_app("isolation"))
        server.wait_workers(2)
        rng = random.Random(1234)  # deterministic sleeps: 0-5 ms
        plan = [(i, rng.randint(0, 5)) for i in range(1000)]
        results, errors = {}, []
        lock = threading.Lock()

        def client(chunk):
            for i, sleep_ms in chunk:
                try:
                    resp = server.get("/check?id=%d&sleep_ms=%d" % (i, sleep_ms), timeout=T(10))
                    with lock:
                        results[i] = (resp.status, json.loads(resp.body))
                except Exception as e:  # counted below
                    with lock:
                        errors.append(repr(e))

        clients = [threading.Thread(target=client, args=(plan[k::32],)) for k in range(32)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(T(60))
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 1000)
        mismatches = [(i, body) for i, (status, body) in results.items()
                      if status != 200 or not body["ok"] or body["id"] != str(i)]
        self.assertEqual(mismatches, [])

    def test_an_exception_leaves_clean_stacks_for_the_next_request(self):
        server = self.start(["--workers", "1", "--threads", "2"], example_app("isolation"))
        for _ in range(4):  # every app thread has failed at least once, most likely twice
            self.assertEqual(server.get("/throw").status, 500)
        for _ in range(8):
            self.assertEqual(json.loads(server.get("/depth").body), {"app": 1, "request": 1})
        server.wait_for_log(r"unhandled exception in handler: [\w:]+: deliberate failure inside the contexts")


class ExecutorTest(ServerCase):
    def fanout(self, server, calls, ms):
        resp = server.get("/?calls=%d&ms=%d" % (calls, ms), timeout=T(10))
        return resp.status, (json.loads(resp.body) if resp.status == 200 else resp.body)

    def test_fanned_out_calls_run_in_parallel(self):
        server = self.start(["--executor-threads", "4"], example_app("fanout"))
        status, body = self.fanout(server, 4, 100)
        self.assertEqual(status, 200)
        # Four 100 ms calls in parallel: well under the 400 ms they take one after another.
        self.assertGreaterEqual(body["elapsed_ms"], 100)
        self.assertLess(body["elapsed_ms"], 300)

    def test_tasks_beyond_the_threads_queue(self):
        server = self.start(["--threads", "2", "--executor-threads", "4"], example_app("fanout"))
        out = []
        clients = [threading.Thread(target=lambda: out.append(self.fanout(server, 4, 100)))
                   for _ in range(2)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(T(10))
        times = sorted(body["elapsed_ms"] for status, body in out)
        self.assertEqual([s for s, _ in out], [200, 200])
        # 8 calls on 4 threads: one request's calls wait for the other's (about 200 ms).
        self.assertGreaterEqual(times[1], 190)

    def test_a_full_queue_refuses_at_once(self):
        server = self.start(["--executor-threads", "1", "--executor-queue", "1"], example_app("fanout"))
        status, body = self.fanout(server, 3, 100)  # 1 running, 1 queued, the third refused
        self.assertEqual(status, 503)
        self.assertEqual(body, b"executor queue full\n")
        self.assertEqual(self.fanout(server, 1, 1)[0], 200, "the pool recovers")


if __name__ == "__main__":
    unittest.main()
