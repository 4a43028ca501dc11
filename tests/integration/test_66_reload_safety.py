# SPDX-License-Identifier: MIT
"""Reloads that cannot take the service down, and recycling that is not a crash:
- HUP (and --reload) start the new workers first; the old ones stop only once every new one
  serves. A new app that fails to load, to init, or crashes at once leaves the old workers
  serving, the cause logged, the master up.
- An app file rewritten in place (cp) never crashes a running worker: it runs a private copy.
- --max-requests: the replacement serves before the old worker leaves; never a back-off.
Python: any python3."""
import json
import os
import re
import shutil
import signal
import socket
import time
import unittest

from harness import (DEFAULT_TIMEOUT, DELIBERATE_CRASH_ENV, TIME_SCALE, BoundedLoad, HttpReader, Server, ServerCase,
                     fixture_app, example_app, free_port, simple_request, wait_until)


def replace_file(src, dst):
    """A deploy done right: a new file renamed over the old one."""
    shutil.copy(src, dst + ".tmp")
    os.rename(dst + ".tmp", dst)


class ReloadTest(ServerCase):
    def serve_copy(self, args=("--workers", "2"), app_args=(), env=None):
        """The server on a copy of testkit.so that the test may replace."""
        server = Server()
        self.addCleanup(server.cleanup)
        self.app = os.path.join(server.tmpdir, "app.so")
        shutil.copy(fixture_app("testkit"), self.app)
        server.start(list(args), self.app, app_args=list(app_args), env=env)
        return server

    def assert_reload_fails(self, server, broken, cause):
        old = server.wait_workers(2)
        load = BoundedLoad(server, target="/pid", timeout=10 * TIME_SCALE, limit=100000).start()
        self.addCleanup(load.stop)
        load.wait_for(20, 10 * TIME_SCALE, what="load under way")
        replace_file(broken, self.app)
        offset = server.log_offset()
        server.signal(signal.SIGHUP)
        line = server.wait_for_log(r"reload failed, the old workers keep serving: new worker \(pid \d+\) (.*)",
                                   start=offset, timeout=10 * TIME_SCALE)
        self.assertRegex(line.group(1), cause)
        load.wait_for(50, 10 * TIME_SCALE, what="serving after the failed reload")
        load.stop()
        self.assertEqual(load.failures, [])
        self.assertEqual(server.returncode, None, "the master stays up")
        self.assertEqual(server.wait_workers(2), old, "the old workers were never stopped")
        # Fixed: the next reload works.
        replace_file(fixture_app("testkit"), self.app)
        server.signal(signal.SIGHUP)
        server.wait_workers(2, exclude=old, timeout=10 * TIME_SCALE)
        self.assertEqual(server.get("/pid").status, 200)

    def test_an_app_that_does_not_load(self):
        server = self.serve_copy()
        self.assert_reload_fails(server, fixture_app("noexport"),
                                 r"exited with code 4: cannot load app '.*app.so': it does not export cppg_app_on_load")

    def test_an_app_whose_init_fails(self):
        server = self.serve_copy()
        self.assert_reload_fails(server, fixture_app("initfails"), r"exited with code 4: app '.*' init failed")

    def test_an_app_that_crashes_at_once(self):
        # hooks.so reads its first argument: "crash-worker-start" makes every worker SIGSEGV
        # right after it starts; testkit ignores the argument.
        server = self.serve_copy(app_args=["crash-worker-start"], env=DELIBERATE_CRASH_ENV)
        self.assert_reload_fails(server, fixture_app("hooks"), r"was sent SIGSEGV")

    def test_old_workers_serve_until_slow_new_ones_do(self):
        server = self.serve_copy(app_args=["boot-delay-ms=%d" % (700 * TIME_SCALE)])
        old = server.wait_workers(2)
        load = BoundedLoad(server, target="/pid", timeout=10 * TIME_SCALE, limit=100000).start()
        self.addCleanup(load.stop)
        load.wait_for(20, 10 * TIME_SCALE, what="load under way")
        offset = server.log_offset()
        server.signal(signal.SIGHUP)
        server.wait_for_log(r"Booting worker", start=offset)
        # The new workers spend 700 ms in init: meanwhile the old ones are untouched.
        time_booting = time.monotonic()
        while time.monotonic() - time_booting < 0.3 * TIME_SCALE and "new worker(s) serve" not in server.log_text()[offset:]:
            self.assertTrue(all(os.path.exists("/proc/%d" % p) for p in old))
            time.sleep(0.02)
        server.wait_for_log(r"reload: 2 new worker\(s\) serve; stopping the old ones", start=offset,
                            timeout=10 * TIME_SCALE)
        load.wait_for(50, 10 * TIME_SCALE, what="serving after the reload")
        load.stop()
        self.assertEqual(load.failures, [])

    def test_reload_watch_with_a_broken_file(self):
        server = self.serve_copy(args=("--workers", "2", "--reload"))
        old = server.wait_workers(2)
        offset = server.log_offset()
        replace_file(fixture_app("noexport"), self.app)
        server.wait_for_log(r"reload failed, the old workers keep serving", start=offset, timeout=10 * TIME_SCALE)
        try:
            self.assertEqual(server.wait_workers(2), old)
        except AssertionError:
            print(server.log_text())
            raise
        self.assertEqual(server.get("/pid").status, 200)


def admin_get(port, target):
    with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT) as sock:
        sock.sendall(simple_request("GET", target, [("Host", "x")]))
        return HttpReader(sock).read_response().body.decode()


def metric(text, name, labels=""):
    """A sample's value from /metrics text: name{labels} value."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape("{%s}" % labels if labels else "")), text, re.M)
    return float(m.group(1)) if m else None


class LastGoodAppTest(ServerCase):
    """A failed reload leaves the last good app in use for every later spawn: TTIN, a worker
    killed, until a reload succeeds."""

    def test_spawns_after_a_failed_reload_load_the_last_good_app(self):
        admin = free_port()
        server = Server()
        self.addCleanup(server.cleanup)
        app = os.path.join(server.tmpdir, "app.so")
        shutil.copy(fixture_app("testkit"), app)
        server.start(["--workers", "2", "--admin-bind", "127.0.0.1:%d" % admin], app)
        old = server.wait_workers(2)
        replace_file(fixture_app("initfails"), app)
        offset = server.log_offset()
        server.signal(signal.SIGHUP)
        server.wait_for_log(r"reload failed, the old workers keep serving", start=offset, timeout=10 * TIME_SCALE)
        self.assertEqual(server.wait_workers(2), old)
        load = BoundedLoad(server, target="/pid", timeout=10 * TIME_SCALE, limit=100000).start()
        self.addCleanup(load.stop)
        load.wait_for(20, 10 * TIME_SCALE, what="load under way")

        offset = server.log_offset()
        server.signal(signal.SIGTTIN)                          # a spawn after the failed reload
        server.wait_for_log(r"spawning a worker with the last good app, .*app\.so as read at .*: the last "
                            r"reload failed \(.*app\.so: new worker \(pid \d+\) exited with code 4: .*init failed",
                            start=offset, timeout=10 * TIME_SCALE)
        third = [p for p in server.wait_workers(3, timeout=10 * TIME_SCALE) if p not in old]
        load.wait_for(50, 10 * TIME_SCALE, what="serving with the third worker")
        load.stop()
        self.assertEqual(load.failures, [])
        os.kill(old[0], signal.SIGKILL)                        # a crash after the failed reload
        workers = server.wait_workers(3, exclude=[old[0]], timeout=10 * TIME_SCALE)
        self.assertIn(third[0], workers)
        for pid in [third[0]] + [p for p in workers if p not in old]:  # they answer, as testkit
            wait_until(lambda: server.get("/pid").body.strip() == str(pid).encode(), 10 * TIME_SCALE,
                       what="worker %d answering" % pid)
        self.assertIsNone(server.returncode, "the master stays up")
        self.assertNotRegex(server.log_text()[offset:], r"\[CRITICAL\] app .* init failed",
                            "no spawn loaded the broken file")

        metrics = admin_get(admin, "/metrics")
        self.assertEqual(metric(metrics, "cppgunicorn_reload_success"), 0)
        self.assertEqual(metric(metrics, "cppgunicorn_reloads_total", 'result="failed"'), 1)
        self.assertEqual(metric(metrics, "cppgunicorn_reloads_total", 'result="ok"'), 0)
        self.assertEqual(metric(metrics, "cppgunicorn_worker_restarts_total", 'reason="reload"'), 0,
                         "a failed reload replaced no worker")
        self.assertEqual(metric(metrics, "cppgunicorn_worker_restarts_total", 'reason="crash"'), 1,
                         "only the kill -9")
        status = json.loads(admin_get(admin, "/status?json"))
        self.assertTrue(status["reloads"]["last_failed"])
        self.assertEqual(status["reloads"]["last_app"], app)
        self.assertRegex(status["reloads"]["last_error"], r"init failed with code 7")
        self.assertIsNotNone(status["reloads"]["last_at"])
        self.assertEqual(status["reloads"]["serving_app"], app)
        self.assertRegex(admin_get(admin, "/status"), r"reloads: +0 ok, 1 failed; last at .* FAILED")

        replace_file(fixture_app("testkit"), app)              # the fix lands (and --workers 2 again)
        server.signal(signal.SIGHUP)
        server.wait_workers(2, exclude=workers, timeout=10 * TIME_SCALE)
        wait_until(lambda: metric(admin_get(admin, "/metrics"), "cppgunicorn_reload_success") == 1,
                   10 * TIME_SCALE, what="reload_success back to 1")
        metrics = admin_get(admin, "/metrics")
        self.assertEqual(metric(metrics, "cppgunicorn_reloads_total", 'result="ok"'), 1)


class WatchedFilesTest(ServerCase):
    def test_reload_follows_the_files_the_app_names(self):
        server = Server()
        self.addCleanup(server.cleanup)
        template = os.path.join(server.tmpdir, "page.html")
        with open(template, "w") as f:
            f.write("v1")
        server.start(["--workers", "2", "--reload"], fixture_app("testkit"), app_args=["watch=" + template])
        old = server.wait_workers(2)
        with open(template + ".tmp", "w") as f:
            f.write("v2")
        os.rename(template + ".tmp", template)  # an editor's save
        server.wait_for_log(r"reload: a watched file changed", timeout=10 * TIME_SCALE)
        server.wait_workers(2, exclude=old, timeout=10 * TIME_SCALE)
        offset = server.log_offset()
        with open(template, "a") as f:           # written in place, too
            f.write("v3")
        server.wait_for_log(r"reload: a watched file changed", start=offset, timeout=10 * TIME_SCALE)


class PrivateCopyTest(ServerCase):
    def test_writing_over_the_loaded_file_crashes_nothing(self):
        server = Server()
        self.addCleanup(server.cleanup)
        app = os.path.join(server.tmpdir, "app.so")
        shutil.copy(fixture_app("testkit"), app)
        server.start(["--workers", "2"], app)
        old = server.wait_workers(2)
        with open("/proc/%d/maps" % old[0]) as f:
            self.assertIn("/memfd:app", f.read(), "the worker runs a private copy")
        load = BoundedLoad(server, target="/pid", timeout=10 * TIME_SCALE, limit=100000).start()
        self.addCleanup(load.stop)
        load.wait_for(20, 10 * TIME_SCALE, what="load under way")
        shutil.copyfile(example_app("hello"), app)  # cp: the same inode, rewritten in place
        load.wait_for(100, 10 * TIME_SCALE, what="serving after the file changed")
        load.stop()
        self.assertEqual(load.failures, [])
        self.assertNotIn("was sent", server.log_text())
        self.assertEqual(server.wait_workers(2), old)
        server.signal(signal.SIGHUP)
        # One request per look: an old worker answers until it has stopped.
        wait_until(lambda: server.get("/").body == b"Hello, World!\n", 10 * TIME_SCALE,
                   what="the new file serving after HUP")


class RecyclingTest(ServerCase):
    def test_max_requests_replaces_before_leaving(self):
        server = self.start(["--workers", "2", "--max-requests", "50"])
        server.wait_workers(2)
        stamps = []
        load = BoundedLoad(server, target="/pid", timeout=10 * TIME_SCALE, limit=150)

        class Stamped(list):
            def append(inner, value):
                stamps.append(time.monotonic())
                list.append(inner, value)
        load.successes = Stamped()
        load.start()
        self.addCleanup(load.stop)
        wait_until(lambda: len(load.successes) >= 400, 30 * TIME_SCALE, what="400 requests")
        load.stop()
        self.assertEqual(load.failures, [])
        # Each worker reached its count at least once (more often when replacements boot fast:
        # a worker that asked to leave serves on until its replacement does). The master
        # retires it once the replacement serves, which may be just after the last request.
        wait_until(lambda: server.log_text().count("its replacement serves, stopping it") >= 2,
                   10 * TIME_SCALE, what="two workers recycled")
        log = server.log_text()
        self.assertNotIn("such failure(s) in a row", log, "recycling is not a crash")
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        self.assertLess(max(gaps), 0.1 * TIME_SCALE, "longest time without a response: %.3f s" % max(gaps))


if __name__ == "__main__":
    unittest.main()


class RecycleByMemoryAndAgeTest(ServerCase):
    """--max-worker-memory and --max-worker-lifetime replace a worker as --max-requests does:
    the replacement serves first, so a load sees no failure."""

    def recycle_under_load(self, args, target, reason):
        admin = free_port()
        server = self.start(["--workers", "2", "--admin-bind", "127.0.0.1:%d" % admin] + args)
        first = server.wait_workers(2)
        load = BoundedLoad(server, target=target, timeout=10 * TIME_SCALE, limit=100000).start()
        self.addCleanup(load.stop)
        server.wait_workers(2, exclude=first, timeout=30 * TIME_SCALE)  # both replaced
        load.wait_for(50, 10 * TIME_SCALE, what="serving after both were replaced")
        load.stop()
        self.assertEqual(load.failures, [])
        wait_until(lambda: metric(admin_get(admin, "/metrics"), "cppgunicorn_worker_restarts_total",
                                  'reason="%s"' % reason) >= 2, 10 * TIME_SCALE, what="restarts counted")
        metrics = admin_get(admin, "/metrics")
        self.assertEqual(metric(metrics, "cppgunicorn_worker_restarts_total", 'reason="crash"'), 0)
        return server.log_text()

    def test_a_worker_over_max_worker_memory_is_replaced_and_nothing_is_lost(self):
        # Each request leaks 1 MiB; the limit is 40 MiB above what an idle worker uses here
        # (sanitizers make that much larger).
        limit = 40 if not os.environ.get("CPPG_SANITIZE") else 400
        log = self.recycle_under_load(["--max-worker-memory", str(limit)], "/leak?kib=1024", "memory")
        self.assertRegex(log, r"Worker \(pid:\d+\) uses \d+ MiB of memory \(max_worker_memory %d MiB\); "
                              r"replacing it" % limit)
        self.assertIn("reached max_worker_memory; its replacement serves, stopping it", log)
        self.assertNotIn("such failure(s) in a row", log)

    def test_a_worker_past_max_worker_lifetime_is_replaced_and_nothing_is_lost(self):
        log = self.recycle_under_load(["--max-worker-lifetime", "1"], "/pid", "lifetime")
        self.assertRegex(log, r"Worker \(pid:\d+\) has served [12] s \(max_worker_lifetime 1 s\); replacing it")
        self.assertIn("reached max_worker_lifetime; its replacement serves, stopping it", log)
