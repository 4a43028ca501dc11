# SPDX-License-Identifier: MIT
"""The app's lifecycle hooks, with and without --preload: which process runs each, and when."""
import os
import re
import signal
import socket
import tempfile
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
        self.assertEqual(events(log, "fork_event"), [], "only an app loaded in the master hears of forks")
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
        # Around each worker's fork: before and parent in the master, child first in the worker.
        self.assertEqual(events(log, "fork_event before"), [server.pid] * 2)
        self.assertEqual(events(log, "fork_event parent"), [server.pid] * 2)
        self.assertEqual(sorted(events(log, "fork_event child")), workers)
        for pid in workers:
            order = [m.group(1) for m in re.finditer(r"hooks: (\w+)[^\n]* pid=%d$" % pid, log, re.M)]
            self.assertEqual(order[:2], ["fork_event", "worker_start"])

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
        m = server.wait_for_log(r"before serving; 3 such failure\(s\) in a row, next spawn in (\d+) ms",
                                timeout=T(10))
        delays = [int(d) for d in re.findall(r"before serving; \d+ such failure\(s\) in a row, next spawn in (\d+) ms",
                                             server.log_text())]
        self.assertEqual(delays[:3], [200, 400, 800], "exponential back-off, not a spin")
        self.assertIsNotNone(m)
        self.assertIsNone(server.returncode, "a crash is not a boot failure: the master stays")

    def test_a_thread_start_that_throws_at_start_stops_the_server_after_a_bounded_number_of_spawns(self):
        server = Server()
        self.addCleanup(server.cleanup)
        flag = os.path.join(server.tmpdir, "db-broken")
        open(flag, "w").close()
        server.start(["--workers", "4", "--threads", "2"], fixture_app("testkit"),
                     app_args=["thread-start-fails-if=" + flag], wait=False)
        self.assertEqual(server.wait_exit(T(10)), 3, "a boot error before anything served: gunicorn's halt")
        log = server.log_text()
        self.assertRegex(log, r"unhandled exception in thread_start\(\d\): std::runtime_error: cannot open "
                              r"the database for thread \d")
        self.assertRegex(log, r"thread_start\(\d\) threw std::runtime_error: cannot open the database")
        self.assertIn("failed to boot", log)
        self.assertNotIn("terminate called", log)
        self.assertLessEqual(log.count("Booting worker"), 4, "no respawn once the boot failed")

    def test_a_thread_start_failure_after_serving_costs_one_spawn_per_back_off_step(self):
        server = Server()
        self.addCleanup(server.cleanup)
        flag = os.path.join(server.tmpdir, "db-broken")
        server.start(["--workers", "2", "--threads", "2"], fixture_app("testkit"),
                     app_args=["thread-start-fails-if=" + flag])
        survivor, victim = server.wait_workers(2)
        open(flag, "w").close()                      # the database goes away...
        offset = server.log_offset()
        os.kill(victim, signal.SIGKILL)              # ...and a worker must be replaced
        server.wait_for_log(r"before serving; 4 such failure\(s\) in a row, next spawn in 1600 ms",
                            start=offset, timeout=T(15))
        log = server.log_text()[offset:]
        delays = [int(d) for d in re.findall(r"in a row, next spawn in (\d+) ms", log)]
        self.assertEqual(delays[:4], [200, 400, 800, 1600], "exponential back-off, not a spin")
        self.assertLessEqual(log.count("Booting worker"), len(delays) + 1, "one spawn per back-off step")
        self.assertRegex(log, r"std::runtime_error: cannot open the database")
        self.assertIsNone(server.returncode, "the master stays: a worker serves")
        self.assertEqual(server.get("/pid").body.strip(), str(survivor).encode(), "the other worker serves on")
        os.unlink(flag)                              # mended: the next spawn serves
        server.wait_workers(2, exclude=[victim], timeout=T(15))
        server.wait_for_log(r"serves; spawning resumes", start=offset, timeout=T(5))

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


class CheckConfigTest(unittest.TestCase):
    """--check-config runs what a worker runs before it serves (init, worker_start, one
    thread_start) in a throwaway child, so a deploy script can refuse a build before HUP."""

    def check(self, app, *app_args, extra=()):
        import subprocess
        from harness import BINARY
        cmd = [BINARY, "--check-config", *extra, app]
        if app_args:
            cmd += ["--", *app_args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=T(10))

    def test_an_app_that_starts_passes(self):
        result = self.check(fixture_app("testkit"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("starts (init, worker_start and thread_start ran", result.stdout)

    def test_init_that_fails_is_caught_with_the_apps_message(self):
        result = self.check(fixture_app("initfails"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("check failed: app '%s' init failed with code 7" % fixture_app("initfails"), result.stderr)

    def test_worker_start_that_fails_is_caught(self):
        result = self.check(fixture_app("hooks"), "fail-worker-start")
        self.assertEqual(result.returncode, 1)
        self.assertIn("worker_start failed with code 1", result.stderr)

    def test_thread_start_that_throws_is_caught_with_type_and_message(self):
        with tempfile.NamedTemporaryFile() as flag:
            result = self.check(fixture_app("testkit"), "thread-start-fails-if=" + flag.name)
        self.assertEqual(result.returncode, 1)
        self.assertIn("check failed: thread_start(0) threw std::runtime_error: cannot open the database",
                      result.stderr)

    @unittest.skipIf(SANITIZER, "the sanitizer turns the deliberate SIGSEGV into a report")
    def test_an_app_that_crashes_while_starting_is_caught(self):
        result = self.check(fixture_app("hooks"), "crash-worker-start")
        self.assertEqual(result.returncode, 1)
        self.assertIn("check failed: the app killed the process while starting (SIGSEGV)", result.stderr)

    def test_the_settings_apply_to_the_check(self):
        with tempfile.TemporaryDirectory() as d:
            flag = os.path.join(d, "flag")
            open(flag, "w").close()
            # A relative path that exists only from --chdir: the check runs where workers would.
            result = self.check(fixture_app("testkit"), "thread-start-fails-if=flag", extra=["--chdir", d])
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("(flag exists)", result.stderr)
