# SPDX-License-Identifier: MIT
"""Per-request isolation at scale: 3,840 concurrent Flask requests (64 client threads x 60
requests, on kept-alive connections with a Connection: close now and then) on
`--workers 4 --threads 2`, the configuration people run. Each request carries its own
token (in its path, its query, an X-Token header and its X-Request-Id), puts it in flask.g
and in a context variable, sleeps so that requests interleave on the worker's threads, and
submits a cppgunicorn.executor task that sleeps too. Every answer must show only its own
request: on arrival an empty g and an unset variable (nothing left by the thread's previous
request), then, in the handler and in the task, its own path, query, header, g, variable
and request id. The app is tests/wsgi_apps/flask_isolation.py."""

import http.client
import json
import threading
import time
import unittest

from harness import T
from wsgi_harness import WsgiCase

CLIENTS, PER_CLIENT = 64, 60
CLOSE_EVERY = 3  # every third request of a client asks for Connection: close


def have_flask():
    try:
        import flask  # noqa: F401  (Debian's, under /usr/bin/python3)
        return True
    except ImportError:
        return False


class Client(threading.Thread):
    """One client: PER_CLIENT requests in a row on a kept-alive connection, which it opens
    again after each Connection: close. Keeps the answers and the failures."""

    def __init__(self, port, n, timeout):
        super().__init__(name="client-%d" % n)
        self.port, self.n, self.timeout = port, n, timeout
        self.answers, self.failures = [], []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            for i in range(PER_CLIENT):
                token = "c%02d-r%02d" % (self.n, i)
                headers = {"X-Token": token, "X-Request-Id": "rid-" + token}
                if i % CLOSE_EVERY == CLOSE_EVERY - 1:
                    headers["Connection"] = "close"
                try:
                    conn.request("GET", "/isolation/%s?token=%s" % (token, token), headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status != 200:
                        self.failures.append((token, resp.status, body[:200]))
                    else:
                        self.answers.append((token, headers.get("Connection"), resp.getheader("Connection"),
                                             json.loads(body)))
                except (OSError, http.client.HTTPException, ValueError) as e:
                    self.failures.append((token, repr(e)))
                    conn.close()
        finally:
            conn.close()


def mismatches(token, answer):
    """What in an answer is not the request's own: [] when all is."""
    own = {"path": "/isolation/" + token, "arg": token, "header": token, "g": token, "var": token,
           "request_id": "rid-" + token}
    wrong = []
    if answer["token"] != token:
        wrong.append(("token", answer["token"]))
    if answer["fresh"] != {"g": [], "var": None}:
        wrong.append(("on arrival", answer["fresh"]))
    for where in ("handler", "task"):
        seen = {k: v for k, v in answer[where].items() if k != "thread"}
        if seen != own:
            wrong.append((where, seen))
    if answer["task"]["thread"] != "cppg-executor":
        wrong.append(("task thread", answer["task"]["thread"]))
    return wrong


@unittest.skipUnless(have_flask(), "python3-flask is not installed (scripts/deps.sh test)")
class IsolationAtScaleTest(WsgiCase):
    def test_3840_concurrent_flask_requests_each_see_only_their_own(self):
        server = self.start_wsgi("flask_isolation:app", threads=2, workers=4)
        workers = server.wait_workers(4, timeout=T(30))
        clients = [Client(server.port, n, T(30)) for n in range(CLIENTS)]
        start = time.monotonic()
        for c in clients:
            c.start()
        for c in clients:
            c.join(T(120))
        elapsed = time.monotonic() - start
        self.assertFalse(any(c.is_alive() for c in clients), "clients still running after %.0f s" % elapsed)
        failures = [f for c in clients for f in c.failures]
        self.assertEqual(failures, [], "%d requests failed" % len(failures))
        answers = [a for c in clients for a in c.answers]
        self.assertEqual(len(answers), CLIENTS * PER_CLIENT)
        wrong = [(token, w) for token, _, _, answer in answers for w in [mismatches(token, answer)] if w]
        self.assertEqual(wrong[:10], [], "%d of %d answers saw another request's state" % (len(wrong), len(answers)))
        # The load did what it is for: every worker served, requests overlapped on a worker's
        # threads, and the Connection: close requests were closed.
        self.assertEqual({a["pid"] for _, _, _, a in answers}, set(workers))
        self.assertEqual(max(a["in_flight"] for _, _, _, a in answers), 2)
        self.assertEqual({(asked, got) for _, asked, got, _ in answers if asked}, {("close", "close")})
        print("\n%d requests in %.2f s (%.0f/s)" % (len(answers), elapsed, len(answers) / elapsed))
        self.assertLess(elapsed, T(45), "3,840 requests took %.1f s" % elapsed)


if __name__ == "__main__":
    unittest.main()
