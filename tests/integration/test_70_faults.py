# SPDX-License-Identifier: MIT
"""Faults under load, bounded and on loopback only: kill -9 storms of workers; apps that
crash, hang, throw and leak; and hygiene (descriptors, memory, zombies) over 10,000
connections and 50 HUPs. The server must keep serving through all of it and lose nothing
but the requests that were inside a worker when it died. Python: any python3."""
import os
import random
import signal
import unittest

from harness import (DELIBERATE_CRASH_ENV, SANITIZER, TIME_SCALE, BoundedLoad, KeepAliveLoad,
                     ServerCase, children, proc_state, wait_until)

T = 15 * TIME_SCALE


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    """Resident KiB, or 0 for a process on its way out (a zombie has no memory)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            lines = [line for line in f if line.startswith("VmRSS:")]
    except OSError:
        return 0
    return int(lines[0].split()[1]) if lines else 0


class FaultsTest(ServerCase):
    def test_kill_9_storm(self):
        server = self.start(["--workers", "3", "--threads", "2"])
        server.wait_workers(3)
        close = BoundedLoad(server, target="/pid", clients=3, limit=100000, timeout=T).start()
        keep = KeepAliveLoad(server.port, target="/pid", clients=4, timeout=T).start()
        self.addCleanup(close.stop)
        self.addCleanup(keep.stop)
        rng = random.Random(7)
        for _ in range(10):
            victim = rng.choice(server.wait_workers(3, timeout=T))
            os.kill(victim, signal.SIGKILL)
            server.wait_workers(3, exclude=(victim,), timeout=T)
            goal = len(close.successes) + 50
            wait_until(lambda: len(close.successes) >= goal, T, what="serving after a kill")
        close.stop()
        keep.stop()
        # Each kill may take the requests inside that worker with it; nothing else is lost.
        lost = len(close.failures) + len(keep.failures)
        self.assertLessEqual(lost, 10 * (2 + 4), (close.failures[:3], keep.failures[:3]))
        self.assertEqual(server.log_text().count("was sent SIGKILL"), 10)
        self.assertNotIn("in a row right after boot", server.log_text())

    def test_apps_that_crash_hang_throw_and_leak(self):
        server = self.start(["--workers", "2", "--threads", "2", "--timeout", "2",
                             "--max-requests", "40"], env=DELIBERATE_CRASH_ENV)
        server.wait_workers(2)
        load = BoundedLoad(server, target="/pid", clients=2, limit=100000, timeout=T).start()
        self.addCleanup(load.stop)
        self.assertEqual(server.get("/throw").status, 500)                  # an exception: a 500
        with self.assertRaises(Exception):
            server.get("/crash")                                            # SIGSEGV: its worker goes
        server.wait_for_log(r"was sent SIGSEGV")
        with self.assertRaises(Exception):
            server.get("/sleep?ms=60000", timeout=T)                        # hangs: aborted after 2 s
        server.wait_for_log(r"WORKER TIMEOUT .*GET /sleep\?ms=60000", timeout=T)
        for _ in range(120):                                                # leaks: max_requests recycles
            self.assertEqual(server.get("/leak?kib=256").status, 200)
        server.wait_workers(2, timeout=T)
        load.wait_for(100, T, what="the other clients served throughout")
        load.stop()
        # The crash and the hang took at most the requests beside them on those workers.
        self.assertLessEqual(len(load.failures), 4, load.failures[:4])
        for worker in server.worker_pids():
            self.assertLess(rss_kib(worker), 40 * 1024, "recycling bounds the leak")

    @unittest.skipIf(SANITIZER, "the sanitizers' own memory makes RSS meaningless")
    def test_hygiene_over_10000_connections_and_50_hups(self):
        server = self.start(["--workers", "2", "--threads", "2"])
        server.wait_workers(2)
        for _ in range(200):
            server.get("/pid")  # warm up: caches, log buffers, the scoreboard pages
        fds, rss = open_fds(server.pid), rss_kib(server.pid)
        load = BoundedLoad(server, target="/pid", clients=4, limit=2500, timeout=T).start()
        self.addCleanup(load.stop)
        for _ in range(50):
            old = server.worker_pids()
            server.signal(signal.SIGHUP)
            server.wait_workers(2, exclude=old, timeout=T)
        for t in load._threads:
            t.join(60 * TIME_SCALE)
        self.assertEqual(load.failures, [])
        self.assertEqual(len(load.successes), 10000)
        wait_until(lambda: len(children(server.pid)) == 2, T, what="only the two current workers")
        self.assertEqual([p for p in children(server.pid) if proc_state(p) == "Z"], [], "zombies")
        self.assertEqual(open_fds(server.pid), fds, "the master's descriptors")
        self.assertLess(rss_kib(server.pid) - rss, 1024, "the master's memory grew by 1 MiB or more")
        self.assertEqual(server.log_text().count("Hang up: Master"), 50)


if __name__ == "__main__":
    unittest.main()
