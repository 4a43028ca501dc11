# SPDX-License-Identifier: MIT
"""examples/notes (SQLite, one connection per app thread) under the real server: concurrent
writers on every thread of two workers all succeed (WAL and the busy timeout), the data is
in the file when the server starts again, and a database the workers cannot open stops the
boot with SQLite's reason. Python: any python3 (standard library only)."""
import http.client
import json
import os
import tempfile
import threading
import unittest

from harness import TIME_SCALE, ServerCase, example_app

T = 10 * TIME_SCALE


def call(port, method, target, doc=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=T)
    try:
        body = json.dumps(doc) if doc is not None else None
        conn.request(method, target, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class NotesTest(ServerCase):
    def test_concurrent_writers_then_a_restart(self):
        db = os.path.join(self.tmp_dir(), "notes.db")
        args = ["--workers", "2", "--threads", "4"]
        server = self.start(args, example_app("notes"), app_args=[db])
        server.wait_for_log(r"database .*notes\.db \(WAL, busy timeout 5000 ms\)")

        clients, each = 8, 25
        results, lock = [], threading.Lock()

        def post_many(client):
            for i in range(each):
                status, body = call(server.port, "POST", "/notes/", {"text": "c%d-%d" % (client, i)})
                with lock:
                    results.append((status, json.loads(body)))

        threads = [threading.Thread(target=post_many, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T)
        self.assertEqual([s for s, _ in results], [201] * (clients * each), results[:3])
        ids = sorted(doc["id"] for _, doc in results)
        self.assertEqual(ids, list(range(1, clients * each + 1)))
        self.assertEqual(server.stop(), 0)

        again = self.start(args, example_app("notes"), app_args=[db])
        status, body = call(again.port, "GET", "/notes/%d" % (clients * each))
        self.assertEqual(status, 200)
        status, body = call(again.port, "GET", "/notes/")
        self.assertEqual(len(json.loads(body)["items"]), 100)  # the newest hundred

    def test_a_database_the_workers_cannot_open_stops_the_boot(self):
        db = os.path.join(self.tmp_dir(), "missing", "notes.db")
        server = self.start(["--workers", "2"], example_app("notes"), app_args=[db], wait=False)
        self.assertEqual(server.wait_exit(T), 3)  # a worker could not boot: the master halts
        self.assertRegex(server.log_text(), r"\[CRITICAL\] worker_start threw notes::DatabaseError: cannot open .*missing/notes\.db")

    def tmp_dir(self):
        d = tempfile.TemporaryDirectory(prefix="cppg-notes-")
        self.addCleanup(d.cleanup)
        return d.name


if __name__ == "__main__":
    unittest.main()
