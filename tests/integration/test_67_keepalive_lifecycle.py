# SPDX-License-Identifier: MIT
"""Zero lost requests on keep-alive connections through every lifecycle event: clients that
send back to back on kept-alive connections (as wrk and connection pools do) and
Connection: close clients, through HUP, TTOU, --max-requests, USR2 + WINCH + TERM of the
old master, and a graceful TERM. A stopping worker answers what is in flight, and a request
that arrives within a short grace, with Connection: close. Python: any python3."""
import os
import signal
import socket
import unittest

from harness import (TIME_SCALE, BoundedLoad, HttpReader, KeepAliveLoad, ServerCase, proc_state,
                     simple_request, sleeping_in_app, wait_until)

T = 10 * TIME_SCALE


class LifecycleCase(ServerCase):
    threads = "2"

    def serve(self, *extra):
        server = self.start(["--workers", "2", "--threads", self.threads, "--keep-alive", "5"] + list(extra))
        server.wait_workers(2)
        self.keep = KeepAliveLoad(server.port, target="/pid", clients=8, timeout=T).start()
        self.close = BoundedLoad(server, target="/pid", clients=2, limit=100000, timeout=T).start()
        self.addCleanup(self.close.stop)
        self.addCleanup(self.keep.stop)
        self.more(200)
        return server

    def more(self, n):
        goal_keep, goal_close = len(self.keep.successes) + n, len(self.close.successes) + n // 10
        wait_until(lambda: len(self.keep.successes) >= goal_keep and len(self.close.successes) >= goal_close,
                   T, what="%d more requests from both kinds of client" % n)

    def assert_nothing_lost(self):
        self.keep.stop()
        self.close.stop()
        self.assertEqual(self.keep.failures, [], "keep-alive requests lost")
        self.assertEqual(self.close.failures, [], "Connection: close requests lost")

    def test_hup_twice(self):
        server = self.serve()
        for _ in range(2):
            old = server.worker_pids()
            server.signal(signal.SIGHUP)
            server.wait_workers(2, exclude=old, timeout=T)
            self.more(300)
        self.assert_nothing_lost()

    def test_ttou(self):
        server = self.serve()
        server.signal(signal.SIGTTIN)
        server.wait_workers(3, timeout=T)
        self.more(200)
        server.signal(signal.SIGTTOU)
        server.wait_workers(2, timeout=T)
        self.more(300)
        self.assert_nothing_lost()

    def test_max_requests(self):
        server = self.serve("--max-requests", "150")
        self.more(1500)
        # The master retires a worker once its replacement serves, which may be just after
        # the last request: wait for the log lines rather than read them at once.
        wait_until(lambda: server.log_text().count("its replacement serves") >= 4, T, what="four workers recycled")
        self.assert_nothing_lost()

    def test_usr2_then_winch_and_term_of_the_old_master(self):
        server = self.serve()
        server.signal(signal.SIGUSR2)
        new_master = int(server.wait_for_log(r"USR2: started a new master \(pid (\d+)\)").group(1))
        self.addCleanup(lambda: proc_state(new_master) == "gone" or os.kill(new_master, signal.SIGTERM))
        server.wait_for_log(r"Listening at: inherited fd \d+ \(%d\)" % new_master)
        self.more(200)
        server.signal(signal.SIGWINCH)
        self.more(300)
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(T), 0)
        self.more(300)
        self.assert_nothing_lost()

    def test_graceful_term(self):
        server = self.serve()
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(T), 0)
        # Every request sent on an open connection was answered; afterwards new connections
        # are refused, as they must be once nothing listens.
        self.keep.stop()
        self.close.stop()
        self.assertEqual(self.keep.failures, [], "keep-alive requests lost")
        self.assertEqual([f for f in self.close.failures if "Refused" not in f], [])


class BacklogAtStopTest(ServerCase):
    def test_graceful_term_answers_the_connections_waiting_in_the_backlog(self):
        # One worker, one thread: while its app call sleeps, new clients can only wait in the
        # listen backlog. A graceful TERM then must not reset them: the worker takes them
        # before it closes its listener and answers each (with Connection: close).
        server = self.start(["--workers", "1", "--threads", "1", "--graceful-timeout", "10"])
        worker = server.wait_workers(1)[0]
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=T)
        self.addCleanup(slow.close)
        slow.sendall(simple_request("GET", "/sleep?ms=%d" % (800 * TIME_SCALE), [("Host", "x"), ("Connection", "close")]))
        wait_until(lambda: sleeping_in_app(worker), T, what="the app call running")
        waiting = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=T)
            self.addCleanup(s.close)
            s.sendall(simple_request("GET", "/pid", [("Host", "x")]))
            waiting.append(s)
        server.signal(signal.SIGTERM)
        self.assertEqual(HttpReader(slow, T).read_response().status, 200)
        for s in waiting:
            resp = HttpReader(s, T).read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.header("Connection"), "close")
        self.assertEqual(server.wait_exit(T), 0)


class LifecycleOneThreadTest(LifecycleCase):
    """The same with --threads 1, where the loop thread runs the app."""
    threads = "1"


if __name__ == "__main__":
    unittest.main()
