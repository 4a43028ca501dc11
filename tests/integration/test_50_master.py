# SPDX-License-Identifier: MIT
"""The master: worker processes, supervision and signals, with real processes and signals."""
import json
import os
import shutil
import signal
import threading
import time
import unittest

from harness import (SANITIZER, TIME_SCALE, BoundedLoad, Server, ServerCase, example_app,
                     fixture_app, read_text, wait_until)


def T(seconds):
    """A deadline, stretched under sanitizers."""
    return seconds * TIME_SCALE


def accepted_connections(port):
    """Established connections to 127.0.0.1:port that a process has accepted. A connection
    still in the listen backlog has no inode yet in /proc/net/tcp."""
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.split(":")[1], 16) == port and state == "01" and inode != "0":
                count += 1
    return count


class MasterCase(ServerCase):
    def assertWorkers(self, server, count, exclude=()):
        return server.wait_workers(count, timeout=T(10), exclude=exclude)


class WorkerCountTest(MasterCase):
    def test_workers_start_and_ttin_ttou_change_their_number(self):
        server = self.start(["--workers", "3"])
        first = self.assertWorkers(server, 3)
        os.kill(server.pid, signal.SIGTTIN)
        self.assertWorkers(server, 4)
        os.kill(server.pid, signal.SIGTTOU)
        remaining = self.assertWorkers(server, 3)
        self.assertNotIn(first[0], remaining, "TTOU retires the oldest worker")
        self.assertEqual(server.get("/environ").status, 200)

    def test_pidfile_holds_the_master_pid_and_goes_away(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "master.pid")
        server.start(["--pid", path], example_app("hello"))
        with open(path) as f:
            self.assertEqual(int(f.read().strip()), server.pid)
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))


class ReplacementTest(MasterCase):
    def test_kill_9_of_a_worker_gets_it_replaced(self):
        server = self.start(["--workers", "2"])
        victim = self.assertWorkers(server, 2)[0]
        os.kill(victim, signal.SIGKILL)
        self.assertWorkers(server, 2, exclude=[victim])
        server.wait_for_log(r"Worker \(pid:%d\) was sent SIGKILL" % victim)
        self.assertEqual(server.get("/environ").status, 200)

    @unittest.skipIf(SANITIZER, "the sanitizer turns the deliberate SIGSEGV into a report")
    def test_segfault_in_the_app_replaces_only_that_worker(self):
        server = self.start(["--workers", "2"])
        before = set(self.assertWorkers(server, 2))
        with self.assertRaises((ConnectionError, AssertionError, OSError)):
            server.get("/crash")  # the worker dies mid-request: no response
        m = server.wait_for_log(r"Worker \(pid:(\d+)\) was sent SIGSEGV")
        dead = int(m.group(1))
        self.assertIn(dead, before)
        after = set(self.assertWorkers(server, 2, exclude=[dead]))
        self.assertEqual(before & after, before - {dead}, "the other worker kept running")
        self.assertEqual(server.get("/environ").status, 200)

    def test_a_hung_request_is_aborted_after_the_timeout_with_its_backtrace(self):
        server = self.start(["--workers", "1", "--timeout", "1"])
        stuck = self.assertWorkers(server, 1)[0]
        started = time.monotonic()
        with self.assertRaises((ConnectionError, AssertionError, OSError)):
            server.get("/sleep?ms=30000", timeout=T(15))
        self.assertLess(time.monotonic() - started, T(10))
        server.wait_for_log(r"WORKER TIMEOUT \(pid:%d\): request \"GET /sleep\?ms=30000\" has run "
                            r"for [\d.]+ s \(timeout 1 s\)" % stuck)
        server.wait_for_log(r"backtrace of stuck thread \d+:\n.*\n")
        server.wait_for_log(r"Worker \(pid:%d\) was sent SIGABRT" % stuck)
        self.assertWorkers(server, 1, exclude=[stuck])
        self.assertEqual(server.get("/environ").status, 200)

    def test_max_requests_recycles_the_worker(self):
        server = self.start(["--workers", "1", "--max-requests", "5"])
        old = self.assertWorkers(server, 1)[0]
        for _ in range(5):
            self.assertEqual(server.get("/environ").status, 200)
        server.wait_for_log(r"\[%d\] \[INFO\] Autorestarting worker after current request" % old)
        self.assertWorkers(server, 1, exclude=[old])
        self.assertEqual(server.get("/environ").status, 200)


class StopTest(MasterCase):
    def test_graceful_term_lets_a_slow_request_finish(self):
        server = self.start(["--workers", "2", "--graceful-timeout", "10"])
        self.assertWorkers(server, 2)
        result = {}

        def slow_request():
            try:
                result["resp"] = server.get("/sleep?ms=1500", timeout=T(10))
            except Exception as e:  # reported below
                result["error"] = e

        client = threading.Thread(target=slow_request)
        client.start()
        # TERM only once a worker has accepted the request: one still in the backlog is
        # refused by a stopping server, as nginx and gunicorn refuse it too.
        wait_until(lambda: accepted_connections(server.port) > 0, T(5), what="request accepted")
        os.kill(server.pid, signal.SIGTERM)
        client.join(T(15))
        self.assertNotIn("error", result, result)
        self.assertEqual(result["resp"].status, 200)
        self.assertEqual(result["resp"].body, b"slept\n")
        self.assertEqual(server.wait_exit(T(10)), 0)


class ReloadTest(MasterCase):
    def write_config(self, server, text):
        path = os.path.join(server.tmpdir, "cppgunicorn.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_hup_rereads_the_file_and_replaces_the_workers(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = self.write_config(server, "workers: 1\n")
        server.start(["-c", path], fixture_app("testkit"))
        old = self.assertWorkers(server, 1)
        self.write_config(server, "workers: 2\nthreads: 3\n")
        os.kill(server.pid, signal.SIGHUP)
        server.wait_for_log(r"Hang up: Master")
        self.assertWorkers(server, 2, exclude=old)
        self.assertEqual(server.get("/environ").status, 200)

    def test_hup_with_a_broken_file_keeps_the_running_configuration(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = self.write_config(server, "workers: 1\n")
        server.start(["-c", path], fixture_app("testkit"))
        old = self.assertWorkers(server, 1)
        self.write_config(server, "workers: 1\nthreads: 0\n")
        os.kill(server.pid, signal.SIGHUP)
        server.wait_for_log(r"\[ERROR\] reload rejected, the running configuration stays in force: "
                            r"setting 'threads': value '0' is out of range \(from config file "
                            r".*cppgunicorn\.yaml:2:10\); allowed: an integer in 1\.\.1024")
        self.assertEqual(server.worker_pids(), old)
        self.assertEqual(server.get("/environ").status, 200)

    def test_hup_during_load_loses_no_request(self):
        server = self.start(["--workers", "2", "--threads", "2"])
        old = self.assertWorkers(server, 2)
        load = BoundedLoad(server, limit=400, timeout=T(10)).start()
        self.addCleanup(load.stop)
        load.wait_for(50, T(10), what="load under way")
        os.kill(server.pid, signal.SIGHUP)
        self.assertWorkers(server, 2, exclude=old)
        load.wait_for(250, T(20), what="load after the reload")
        load.stop()
        self.assertEqual(load.failures, [])


class DevReloadTest(MasterCase):
    """--reload: rebuilding the plugin (or editing the config file) is enough."""

    def test_replacing_the_app_so_serves_the_new_code(self):
        server = Server()
        self.addCleanup(server.cleanup)
        app = os.path.join(server.tmpdir, "app.so")
        shutil.copyfile(example_app("hello"), app)
        server.start(["--reload"], app)
        self.assertEqual(server.get("/").body, b"Hello, World!\n")
        old = self.assertWorkers(server, 1)
        # As a build does it: write a new file, then rename it over the old one.
        shutil.copyfile(example_app("echo"), app + ".tmp")
        os.rename(app + ".tmp", app)
        server.wait_for_log(r"reload: a watched file changed; restarting the workers", timeout=T(5))
        self.assertWorkers(server, 1, exclude=old)
        def new_app_answers():
            body = server.get("/p?q=1").body  # one request per look: the old worker may still answer
            return body if body.startswith(b"{") else None
        body = wait_until(new_app_answers, T(10), what="the new app answering")
        self.assertEqual(json.loads(body)["path"], "/p")

    def test_editing_the_config_file_applies_it(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "conf.yaml")
        with open(path, "w") as f:
            f.write("workers: 1\n")
        server.start(["--reload", "-c", path], fixture_app("testkit"))
        old = self.assertWorkers(server, 1)
        with open(path, "w") as f:
            f.write("workers: 2\n")
        self.assertWorkers(server, 2, exclude=old)


class LogReopenTest(MasterCase):
    def test_usr1_reopens_the_log_files_after_rotation(self):
        server = Server()
        self.addCleanup(server.cleanup)
        error_log = os.path.join(server.tmpdir, "error.log")
        access_log = os.path.join(server.tmpdir, "access.log")
        server.start(["--workers", "2", "--error-logfile", error_log, "--access-logfile", access_log,
                      "--access-logformat", "%(U)s"], fixture_app("testkit"))
        workers = server.wait_workers(2)
        self.assertEqual(server.get("/before").status, 404)
        wait_until(lambda: os.path.exists(access_log) and "/before" in read_text(access_log), T(5),
                   what="first access line")
        # As logrotate does: move the files away, then signal.
        os.rename(error_log, error_log + ".1")
        os.rename(access_log, access_log + ".1")
        os.kill(server.pid, signal.SIGUSR1)
        wait_until(lambda: os.path.exists(error_log) and "USR1: log files reopened" in read_text(error_log),
                   T(5), what="the master's new error log")
        # Each worker reopens on its own; requests after that land in the new access log.
        def after_lands():
            server.get("/after")
            return os.path.exists(access_log) and "/after" in read_text(access_log)
        wait_until(after_lands, T(5), interval=0.1, what="an access line in the new file")
        self.assertNotIn("/after", read_text(access_log + ".1"))
        self.assertEqual(server.worker_pids(), workers, "reopening restarts nothing")




class UpgradeTest(MasterCase):
    def test_usr2_then_winch_and_term_of_the_old_master_loses_no_request(self):
        server = Server()
        self.addCleanup(server.cleanup)
        pidfile = os.path.join(server.tmpdir, "app.pid")
        server.start(["--workers", "2", "--pid", pidfile], fixture_app("testkit"))
        old_workers = server.wait_workers(2)
        load = BoundedLoad(server, timeout=T(10)).start()
        self.addCleanup(load.stop)
        load.wait_for(50, T(10), what="load under way")

        os.kill(server.pid, signal.SIGUSR2)
        def new_master():
            try:
                text = read_text(pidfile).strip()
            except FileNotFoundError:  # between the old master's rename and the new one's write
                return None
            return text and int(text) != server.pid and int(text)
        new_pid = wait_until(new_master, T(10), what="the new master's pidfile")
        self.addCleanup(_terminate, new_pid)
        self.assertNotEqual(new_pid, server.pid)
        self.assertEqual(int(read_text(pidfile + ".oldbin")), server.pid)
        wait_until(lambda: len(_children(new_pid)) == 2, T(10), what="the new master's workers")

        os.kill(server.pid, signal.SIGWINCH)  # the old workers finish what they have and go
        wait_until(lambda: not any(os.path.exists("/proc/%d" % p) for p in old_workers), T(10),
                   what="the old workers gone")
        load.wait_for(100, T(20), what="the new workers serving")
        os.kill(server.pid, signal.SIGTERM)
        self.assertEqual(server.wait_exit(T(10)), 0)
        load.wait_for(100, T(20), what="serving after the old master left")
        load.stop()
        self.assertEqual(load.failures, [])
        self.assertFalse(os.path.exists(pidfile + ".oldbin"))
        self.assertEqual(int(read_text(pidfile)), new_pid)


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []


def _terminate(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
               "Z" in read_text("/proc/%d/stat" % pid).split()[2], T(10), what="pid %d gone" % pid)
