# SPDX-License-Identifier: MIT
"""The app's lifecycle hooks, with and without --preload: which process runs each, and when."""
import re
import socket
import unittest

from harness import SANITIZER, HttpReader, Server, ServerCase, T, fixture_app


def events(log, name):
    """pids of the log lines 'hooks: NAME ... pid=N', in order."""
    return [int(m.group(1)) for m in re.finditer(r"hooks: %s(?: [^\n]*?)? pid=(\d+)$" % name, log, re.M)]


class HooksTest(ServerCase):
    def run_and_stop(self, args):
        server = self.start(args + ["--workers", "2", "--threads", "2"], fixture_app("hooks"))
        workers = server.wait_workers(2)
        resp = server.get("/x")
        self.assertEqual((resp.status, resp.body), (201, b"ok\n"))
        server.wait_for_log(r"hooks: post_request /x status=201 pid=\d+$")
        self.assertEqual(server.stop(), 0)
        return server, workers, server.log_text()

    def test_without_preload_every_worker_loads_and_shuts_down_its_app(self):
        server, workers, log = self.run_and_stop([])
        self.assertEqual(sorted(events(log, "init preloaded=0")), workers)
        self.assertEqual(sorted(events(log, "worker_start")), workers)
        self.assertEqual(sorted(events(log, "thread_start")), sorted(workers * 2))
        self.assertEqual(sorted(events(log, "thread_stop")), sorted(workers * 2))
        self.assertEqual(len(events(log, "pre_request /x")), 1)
        self.assertEqual(len(events(log, "current_request matches")), 1)
        self.assertEqual(events(log, "current_request MISMATCH"), [])
        self.assertEqual(sorted(events(log, "current_request outside: null")), workers)
        self.assertIn(events(log, "pre_request /x")[0], workers)
        self.assertEqual(sorted(events(log, "worker_exit")), workers)
        self.assertEqual(sorted(events(log, "shutdown")), workers)
        for pid in workers:  # per worker: init, worker_start ... worker_exit, shutdown
            order = [m.group(1) for m in re.finditer(r"hooks: (\w+)[^\n]* pid=%d$" % pid, log, re.M)]
            self.assertEqual(order[:2], ["init", "worker_start"])
            self.assertEqual(order[-2:], ["worker_exit", "shutdown"])

    def test_with_preload_init_and_shutdown_run_once_in_the_master(self):
        server, workers, log = self.run_and_stop(["--preload"])
        self.assertEqual(events(log, "init preloaded=1"), [server.pid])
        self.assertEqual(events(log, "init preloaded=0"), [])
        self.assertEqual(sorted(events(log, "worker_start")), workers)
        self.assertEqual(sorted(events(log, "worker_exit")), workers)
        self.assertEqual(events(log, "shutdown"), [server.pid])

    def test_a_failing_worker_start_stops_the_server(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start([], fixture_app("hooks"), app_args=["fail-worker-start"], wait=False)
        self.assertEqual(server.wait_exit(T(10)), 3)
        self.assertIn("worker_start failed with code 1", server.log_text())

    def test_preload_of_a_broken_app_fails_before_any_worker(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(["--preload"], fixture_app("initfails"), wait=False)
        self.assertEqual(server.wait_exit(T(10)), 4)
        log = server.log_text()
        self.assertIn("init failed with code 7", log)
        self.assertNotIn("Booting worker", log)


if __name__ == "__main__":
    unittest.main()


class SupervisionTest(ServerCase):
    @unittest.skipIf(SANITIZER, "the sanitizer turns the deliberate SIGSEGV into a report")
    def test_workers_dying_at_boot_are_respawned_with_a_growing_delay(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start([], fixture_app("hooks"), app_args=["crash-worker-start"], wait=False)
        m = server.wait_for_log(r"worker died 3 time\(s\) in a row right after boot; next spawn in (\d+) ms",
                                timeout=T(10))
        delays = [int(d) for d in re.findall(r"in a row right after boot; next spawn in (\d+) ms",
                                             server.log_text())]
        self.assertEqual(delays[:3], [200, 400, 800], "exponential back-off, not a spin")
        self.assertIsNotNone(m)
        self.assertIsNone(server.returncode, "a crash is not a boot failure: the master stays")

    def test_worker_connections_caps_what_one_worker_holds(self):
        server = self.start(["--workers", "1", "--worker-connections", "2", "--keep-alive", "30"])
        held = [server.connect() for _ in range(2)]
        for sock in held:
            sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(HttpReader(sock).read_response().status, 200)
        third = server.connect()
        self.addCleanup(third.close)
        third.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        third.settimeout(0.5)
        with self.assertRaises(socket.timeout):  # waits in the backlog: the worker is full
            third.recv(1)
        held[0].close()  # a slot frees up: the waiting connection is accepted and served
        third.settimeout(T(5))
        self.assertEqual(HttpReader(third, timeout=T(5)).read_response().status, 200)
        held[1].close()
