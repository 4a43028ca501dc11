# SPDX-License-Identifier: MIT
"""--threads 1: the worker's loop thread runs the app itself. A request starts once its body
is in (or its first 64 KiB), and the app's socket waits still act on stop signals."""
import json
import os
import signal
import unittest

from harness import HttpReader, ServerCase, T, connect, simple_request, wait_until


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class InlineTest(ServerCase):
    def test_a_slow_small_body_does_not_hold_the_worker(self):
        server = self.start(["--workers", "1", "--threads", "1", "--body-timeout", "30"])
        with connect(server.port, timeout=T(10)) as slow:
            slow.sendall(simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", "1000")]))
            slow.sendall(b"a" * 10)  # ... and the rest much later
            # The only worker still answers others: the slow body is buffered, not awaited
            # by the app on the loop thread.
            self.assertEqual(server.get("/pid", timeout=T(5)).status, 200)
            slow.sendall(b"a" * 990)
            reader = HttpReader(slow, timeout=T(10))
            head = reader.read_head()
            self.assertEqual(head.status, 200)
            self.assertEqual(json.loads(reader.read_body(head).body)["bytes"], 1000)

    def test_quick_stop_during_a_stalled_large_upload(self):
        server = self.start(["--workers", "1", "--threads", "1", "--body-timeout", "60"])
        [worker] = server.wait_workers(1)
        with connect(server.port, timeout=T(10)) as sock:
            sock.sendall(simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", str(10 << 20))]))
            sock.sendall(b"a" * (256 << 10))  # past 64 KiB: the app runs, waiting for more
            offset = server.log_offset()
            # The worker's only thread that waits in poll(2) is the loop thread running the
            # app, in its read; the loop itself waits in epoll_wait(2).
            wait_until(lambda: waits_in_poll(worker), T(5), what="the app waiting for the body")
            os.kill(worker, signal.SIGQUIT)
            # The worker is inside the app's read, on its loop thread, and still stops.
            server.wait_for_log(r"quick stop", start=offset, timeout=T(5))
            wait_until(lambda: not pid_alive(worker) or is_zombie(worker), T(5), what="worker gone")
        # The master replaces it, and the new worker serves.
        server.wait_workers(1, exclude=(worker,))
        self.assertEqual(server.get("/pid").status, 200)


    def test_a_request_that_arrives_during_a_long_call_is_served_not_timed_out(self):
        # keep-alive 1 s, and the other connection's call takes 2.5 s: its request arrives
        # while the loop is inside that call, and the keep-alive timer has expired by the
        # time the loop runs again.
        server = self.start(["--workers", "1", "--threads", "1", "--keep-alive", "1"])
        [worker] = server.wait_workers(1)
        with connect(server.port, timeout=T(10)) as idle, connect(server.port, timeout=T(10)) as busy:
            idle_reader = HttpReader(idle, timeout=T(10))
            idle.sendall(simple_request("GET", "/pid", [("Host", "x")]))
            head = idle_reader.read_head()
            idle_reader.read_body(head)
            busy.sendall(simple_request("GET", "/sleep?ms=2500", [("Host", "x")]))
            wait_until(lambda: sleeps(worker), T(5), what="the app sleeping on the loop thread")
            idle.sendall(simple_request("GET", "/pid", [("Host", "x")]))
            head = idle_reader.read_head()
            self.assertEqual(head.status, 200)
            self.assertEqual(int(idle_reader.read_body(head).body), worker)


def sleeps(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "nanosleep" in f.read()
    except OSError:
        return False


def waits_in_poll(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
    except OSError:
        return False
    return "poll" in wchan and "epoll" not in wchan and wchan != "ep_poll"


def is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


if __name__ == "__main__":
    unittest.main()
