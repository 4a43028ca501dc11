# SPDX-License-Identifier: MIT
"""The master as PID 1, as in a container: it reaps every child, including processes the app
orphaned, and stops gracefully on TERM. Uses `unshare --pid --fork --mount-proc` (root, no
container engine needed). Python: any python3."""
import os
import shutil
import socket
import signal
import subprocess
import tempfile
import threading
import unittest

from harness import (BINARY, DEFAULT_TIMEOUT, TIME_SCALE, HttpReader, fixture_app, free_port,
                     read_text, simple_request, sleeping_in_app, wait_until, children, proc_state)


def get(port, target):
    with socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE) as sock:
        sock.sendall(simple_request("GET", target, [("Host", "x"), ("Connection", "close")]))
        return HttpReader(sock, 10 * TIME_SCALE).read_response()


def can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(can_unshare(), "needs root and unshare --pid (util-linux)")
class Pid1Test(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.log_path = os.path.join(self._tmp.name, "server.log")
        self.port = free_port()
        log = open(self.log_path, "ab")
        self.addCleanup(log.close)
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", BINARY,
             "--bind", "127.0.0.1:%d" % self.port, "--workers", "2", "--threads", "2",
             "--graceful-timeout", "10", fixture_app("testkit")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.addCleanup(self.kill)
        # unshare's only child is the master, PID 1 inside the new namespace.
        self.master = wait_until(lambda: (children(self.proc.pid) or [None])[0], DEFAULT_TIMEOUT,
                                 what="the master under unshare")
        wait_until(lambda: "Booting worker" in read_text(self.log_path) and len(self.workers()) == 2,
                   DEFAULT_TIMEOUT, what="two workers")
        wait_until(lambda: self.try_get("/pid"), DEFAULT_TIMEOUT, what="an answer")
        with open("/proc/%d/status" % self.master) as f:
            ns_pids = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
        self.assertEqual(ns_pids[-1], "1", "the master is PID 1 in its namespace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def try_get(self, target):
        try:
            return get(self.port, target).status == 200
        except (OSError, AssertionError):
            return False

    def workers(self):
        return [p for p in children(self.master) if proc_state(p) != "Z"]

    def zombies(self):
        return [p for p in children(self.master) if proc_state(p) == "Z"]

    def test_orphans_of_the_app_are_reaped(self):
        known = set(children(self.master))
        for _ in range(5):
            self.assertEqual(get(self.port, "/orphan?ms=500").status, 200)
        # Each orphan is adopted by PID 1 (the master), lives 500 ms, exits and is reaped:
        # the master ends with its two workers and no zombie.
        wait_until(lambda: set(children(self.master)) - known, DEFAULT_TIMEOUT,
                   what="orphans adopted by the master")
        wait_until(lambda: set(children(self.master)) == known and not self.zombies(),
                   5 * TIME_SCALE, what="every orphan reaped; children now %s" % children(self.master))
        self.assertNotIn("Worker (pid", read_text(self.log_path).split("Booting worker")[-1],
                         "an orphan is not taken for a worker")

    def test_term_stops_gracefully_with_requests_in_flight(self):
        results = []
        slow = threading.Thread(target=lambda: results.append(get(self.port, "/sleep?ms=%d" % (1000 * TIME_SCALE))))
        slow.start()
        wait_until(lambda: sleeping_in_app(*self.workers()), DEFAULT_TIMEOUT,
                   what="the slow request running")
        os.kill(self.master, signal.SIGTERM)
        self.assertEqual(self.proc.wait(10 * TIME_SCALE), 0, read_text(self.log_path))
        slow.join(10 * TIME_SCALE)
        self.assertEqual(results[0].status, 200, "the in-flight request completed")
        self.assertIn("Shutting down: master", read_text(self.log_path))


if __name__ == "__main__":
    unittest.main()
