# SPDX-License-Identifier: MIT
"""Reloads that cannot take the service down, and recycling that is not a crash:
- HUP (and --reload) start the new workers first; the old ones stop only once every new one
  serves. A new app that fails to load, to init, or crashes at once leaves the old workers
  serving, the cause logged, the master up.
- An app file rewritten in place (cp) never crashes a running worker: it runs a private copy.
- --max-requests: the replacement serves before the old worker leaves; never a back-off.
Python: any python3."""
import os
import shutil
import signal
import time
import unittest

from harness import (DELIBERATE_CRASH_ENV, TIME_SCALE, BoundedLoad, Server, ServerCase, fixture_app, example_app,
                     wait_until)


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
        log = server.log_text()
        # Each worker reached its count at least once (more often when replacements boot fast:
        # a worker that asked to leave serves on until its replacement does).
        self.assertGreaterEqual(log.count("its replacement serves, stopping it"), 2)
        self.assertNotIn("in a row right after boot", log, "recycling is not a crash")
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        self.assertLess(max(gaps), 0.1 * TIME_SCALE, "longest time without a response: %.3f s" % max(gaps))


if __name__ == "__main__":
    unittest.main()
