# SPDX-License-Identifier: MIT
"""Workers never outlive their master: after `kill -9` of the master every worker stops
accepting within a second (the port can be bound again at once), finishes the request in
flight, and exits; the same for the workers of a new master (USR2) that is killed.
Python: any python3."""
import os
import signal
import socket
import threading
import time
import unittest

from harness import DEFAULT_TIMEOUT, TIME_SCALE, ServerCase, children, proc_state, sleeping_in_app, wait_until


def gone(pid):
    return proc_state(pid) in ("gone", "Z")


def can_bind(port):
    """What a restarted master does first: bind the port (SO_REUSEADDR) and listen."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
            return True
        except OSError:
            return False


class MasterDeathTest(ServerCase):
    def test_kill_9_of_the_master_stops_its_workers(self):
        server = self.start(["--workers", "2", "--threads", "2", "--graceful-timeout", "10"])
        workers = server.wait_workers(2)
        results = []
        slow = threading.Thread(target=lambda: results.append(
            server.get("/sleep?ms=%d" % (1500 * TIME_SCALE), timeout=10 * TIME_SCALE)))
        slow.start()
        self.addCleanup(slow.join)
        wait_until(lambda: sleeping_in_app(*workers), DEFAULT_TIMEOUT,
                   what="the slow request in an app thread")
        self.assertFalse(can_bind(server.port), "the port is in use while the server runs")
        killed = time.monotonic()
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(DEFAULT_TIMEOUT)
        wait_until(lambda: can_bind(server.port), 1.0 * TIME_SCALE + 0.5,
                   what="the port free within a second of the master's death")
        freed = time.monotonic() - killed
        slow.join(10 * TIME_SCALE)
        self.assertEqual(results[0].status, 200, "the request in flight was finished")
        wait_until(lambda: all(gone(w) for w in workers), 10 * TIME_SCALE, what="the workers gone")
        self.assertLess(freed, 1.5 * TIME_SCALE)

    def test_kill_9_of_a_new_master_stops_its_workers_and_the_old_one_serves_on(self):
        server = self.start(["--workers", "2"])
        server.wait_workers(2)
        server.signal(signal.SIGUSR2)
        match = server.wait_for_log(r"USR2: started a new master \(pid (\d+)\)")
        new_master = int(match.group(1))
        wait_until(lambda: len(children(new_master)) == 2, 10 * TIME_SCALE, what="the new master's workers")
        new_workers = children(new_master)
        os.kill(new_master, signal.SIGKILL)
        wait_until(lambda: all(gone(w) for w in new_workers), 5 * TIME_SCALE,
                   what="the new master's workers gone")
        server.wait_for_log(r"the new master \(pid %d\) exited; this master keeps serving" % new_master)
        self.assertEqual(server.get("/pid").status, 200)


if __name__ == "__main__":
    unittest.main()
