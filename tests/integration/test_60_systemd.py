# SPDX-License-Identifier: MIT
"""systemd's notify protocol, spoken by the master: a NOTIFY_SOCKET listener receives
READY=1 once the workers serve, RELOADING=1 + MONOTONIC_USEC then READY=1 on HUP,
STOPPING=1 on TERM, MAINPID=<new master> on USR2, and WATCHDOG=1 pings. Python: any python3."""
import os
import signal
import socket
import struct
import threading
import time
import unittest

from harness import (DEFAULT_TIMEOUT, DELIBERATE_CRASH_ENV, TIME_SCALE, Server, ServerCase, fixture_app, simple_request,
                     wait_until, HttpReader)


class NotifyListener:
    """What systemd does with NOTIFY_SOCKET: a datagram socket whose messages carry the
    sender's pid (SO_PASSCRED). Messages are kept as (monotonic time, pid, fields)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        creds_size = struct.calcsize("3i")
        while not self._stop.is_set():
            try:
                data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(creds_size))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:creds_size])[0]
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            # Whether the sender still ran when its message was read: a master about to exit
            # must have been heard first.
            fields["_sender_alive"] = str(pid is not None and proc_stat(pid)[0] not in ("Z", "gone"))
            self.messages.append((time.monotonic(), pid, fields))

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def with_field(self, name, value=None, start=0):
        return [m for m in self.messages[start:] if name in m[2] and (value is None or m[2][name] == value)]

    def wait_for(self, name, value=None, start=0, timeout=DEFAULT_TIMEOUT):
        """The first message from index `start` on with field name(=value)."""
        found = wait_until(lambda: self.with_field(name, value, start), timeout,
                           what="notify message with %s=%s; got %r" % (name, value, self.messages))
        return found[0]


def get(port, target="/pid"):
    with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT) as sock:
        sock.sendall(simple_request("GET", target, [("Host", "x"), ("Connection", "close")]))
        return HttpReader(sock).read_response()


def proc_stat(pid):
    """(state, ppid) of a process, or ("gone", "") once it has been reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], fields[1]
    except OSError:
        return "gone", ""


class NotifyCase(ServerCase):
    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.listener = NotifyListener(self.server.tmpdir)
        self.addCleanup(self.listener.close)

    def launch(self, args=("--workers", "2"), app_args=(), env=None, wait=True):
        environment = {"NOTIFY_SOCKET": self.listener.path}
        environment.update(env or {})
        return self.server.start(list(args), fixture_app("testkit"), app_args=app_args, env=environment,
                                 wait=wait)


class ReadyTest(NotifyCase):
    def test_ready_comes_once_every_worker_serves(self):
        # Workers take 300 ms to init: READY=1 must wait for both, not for the bind.
        self.launch(["--workers", "2"], app_args=["boot-delay-ms=300"], wait=False)
        ready = self.listener.wait_for("READY", "1", timeout=10 * TIME_SCALE)
        self.assertEqual(ready[1], self.server.pid, "READY=1 comes from the master")
        before = self.listener.messages[:self.listener.messages.index(ready)]
        self.assertTrue(before, "a STATUS line says the master is starting")
        for _, _, fields in before:
            self.assertEqual(sorted(fields), ["STATUS", "_sender_alive"], "nothing but STATUS before READY=1")
            self.assertRegex(fields["STATUS"], r"^Starting; [01] of 2 worker\(s\) serving")
        self.assertIn("2 of 2 worker(s) serving", ready[2]["STATUS"])
        # At the moment of READY=1 both workers answer at once: no retry needed.
        pids = {int(get(self.server.port).body) for _ in range(20)}
        self.assertTrue(pids <= set(self.server.worker_pids()))
        self.assertEqual(len(self.server.worker_pids()), 2)
        booted = self.server.log_text().count("Booting worker")
        self.assertEqual(booted, 2)

    def test_status_lines_count_requests(self):
        self.launch()
        self.listener.wait_for("READY", "1")
        for _ in range(5):
            self.assertEqual(get(self.server.port).status, 200)
        start = len(self.listener.messages)
        msg = self.listener.wait_for("STATUS", "2 of 2 worker(s) serving, 5 request(s) served", start=start,
                                     timeout=5 * TIME_SCALE)
        self.assertNotIn("READY", msg[2])

    def test_hup_reloads_then_ready_again(self):
        self.launch()
        self.listener.wait_for("READY", "1")
        old = set(self.server.worker_pids())
        start = len(self.listener.messages)
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.server.signal(signal.SIGHUP)
        reloading = self.listener.wait_for("RELOADING", "1", start=start)
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        usec = int(reloading[2]["MONOTONIC_USEC"])
        self.assertTrue(before * 1e6 <= usec <= after * 1e6, (before, usec, after))
        ready = self.listener.wait_for("READY", "1", start=start)
        self.assertGreater(ready[0], reloading[0])
        self.assertIn("last reload", ready[2]["STATUS"])
        # At READY=1 the new generation serves.
        new = set(self.server.wait_workers(2, exclude=old))
        self.assertIn(int(get(self.server.port).body), new)

    def test_term_says_stopping(self):
        self.launch()
        self.listener.wait_for("READY", "1")
        self.server.signal(signal.SIGTERM)
        stopping = self.listener.wait_for("STOPPING", "1")
        self.assertIn("Stopping gracefully", stopping[2]["STATUS"])
        self.assertEqual(self.server.wait_exit(), 0)

    def test_quick_stop_says_stopping(self):
        self.launch()
        self.listener.wait_for("READY", "1")
        self.server.signal(signal.SIGINT)
        self.assertIn("Stopping quickly", self.listener.wait_for("STOPPING", "1")[2]["STATUS"])
        self.server.wait_exit()


class UpgradeTest(NotifyCase):
    def test_usr2_new_master_claims_mainpid_once_it_serves(self):
        self.launch()
        self.listener.wait_for("READY", "1")
        start = len(self.listener.messages)
        self.server.signal(signal.SIGUSR2)
        claim = self.listener.wait_for("MAINPID", start=start, timeout=10 * TIME_SCALE)
        new_master = int(claim[2]["MAINPID"])
        self.assertNotEqual(new_master, self.server.pid)
        self.assertEqual(claim[1], new_master, "the new master speaks for itself")
        self.assertEqual(claim[2].get("READY"), "1")
        self.assertNotEqual(proc_stat(new_master)[1], str(self.server.pid),
                            "adopted by the service manager, not the old master's child")
        # The old master stays quiet from now on: its TERM must not say STOPPING=1, which
        # would stop the whole service under systemd.
        quiet_from = len(self.listener.messages)
        self.server.signal(signal.SIGWINCH)
        self.server.signal(signal.SIGTERM)
        self.assertEqual(self.server.wait_exit(10 * TIME_SCALE), 0)
        from_old = [m for m in self.listener.messages[quiet_from:] if m[1] == self.server.pid]
        self.assertEqual(from_old, [], "the old master said nothing after handing over")
        # The new master serves on the same port, and is stopped by its own TERM.
        wait_until(lambda: get(self.server.port).status == 200, DEFAULT_TIMEOUT, what="new master serving")
        os.kill(new_master, signal.SIGTERM)
        self.listener.wait_for("STOPPING", "1", start=quiet_from)
        wait_until(lambda: proc_stat(new_master)[0] in ("Z", "gone"), 10 * TIME_SCALE,
                   what="new master gone")


    def test_a_rolled_back_upgrade_keeps_the_service(self):
        # USR2, then the operator changes their mind: TERM to the new master while the old
        # one still runs. The new one must not say STOPPING=1 (that would stop the service);
        # the old one claims the service back.
        self.launch()
        self.listener.wait_for("READY", "1")
        start = len(self.listener.messages)
        self.server.signal(signal.SIGUSR2)
        new_master = int(self.listener.wait_for("MAINPID", start=start, timeout=10 * TIME_SCALE)[2]["MAINPID"])
        back_from = len(self.listener.messages)
        os.kill(new_master, signal.SIGTERM)
        claim = self.listener.wait_for("MAINPID", str(self.server.pid), start=back_from, timeout=10 * TIME_SCALE)
        self.assertEqual(claim[2].get("READY"), "1")
        # The new master hands the service back itself, and waits until it has been heard
        # (sd_notify_barrier): under systemd its exit must not count as the main one's.
        self.assertEqual(claim[1], new_master, "handed back by the leaving master")
        self.assertEqual(claim[2]["_sender_alive"], "True")
        barrier = self.listener.wait_for("BARRIER", "1", start=back_from)
        self.assertGreaterEqual(barrier[0], claim[0])
        self.assertEqual(self.listener.with_field("STOPPING", start=back_from), [],
                         "the rolled-back master did not stop the service")
        self.assertEqual(int(get(self.server.port).body) in self.server.worker_pids(), True)


    def test_a_rolled_back_upgrade_keeps_the_unix_socket_file(self):
        path = os.path.join(self.server.tmpdir, "app.sock")
        self.server.start(["--bind", "unix:" + path, "--workers", "1"], fixture_app("testkit"),
                          bind=False, wait=False)
        wait_until(lambda: os.path.exists(path), DEFAULT_TIMEOUT, what="the socket file")
        self.server.signal(signal.SIGUSR2)
        new_master = int(self.server.wait_for_log(r"USR2: started a new master \(pid (\d+)\)").group(1))
        self.server.wait_for_log(r"Listening at: inherited fd \d+ \(%d\)" % new_master)
        os.kill(new_master, signal.SIGTERM)
        wait_until(lambda: proc_stat(new_master)[0] in ("Z", "gone"), 10 * TIME_SCALE, what="new master gone")
        self.server.wait_for_log(r"the new master \(pid %d\) exited" % new_master)
        self.assertTrue(os.path.exists(path), "the old master still serves on it")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(DEFAULT_TIMEOUT)
            sock.connect(path)
            sock.sendall(simple_request("GET", "/pid", [("Host", "x"), ("Connection", "close")]))
            self.assertEqual(HttpReader(sock).read_response().status, 200)


class WatchdogTest(NotifyCase):
    def test_pings_at_half_the_interval(self):
        self.launch(env={"WATCHDOG_USEC": "400000"})
        self.listener.wait_for("READY", "1")
        start = len(self.listener.messages)
        wait_until(lambda: len(self.listener.with_field("WATCHDOG", "1", start)) >= 4, 5 * TIME_SCALE,
                   what="four watchdog pings")
        pings = [m[0] for m in self.listener.with_field("WATCHDOG", "1", start)]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertTrue(all(gap < 0.4 * TIME_SCALE for gap in gaps), gaps)

    def test_no_pings_for_another_pid(self):
        self.launch(env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        self.listener.wait_for("READY", "1")
        for _ in range(3):
            get(self.server.port)
        # Long enough for several pings at the interval: wait for a status refresh instead.
        start = len(self.listener.messages)
        self.listener.wait_for("STATUS", "2 of 2 worker(s) serving, 3 request(s) served", start=start,
                               timeout=5 * TIME_SCALE)
        self.assertEqual(self.listener.with_field("WATCHDOG"), [])

    def test_no_pings_while_no_worker_can_serve(self):
        # Every worker dies at boot (SIGSEGV in worker_start): the master backs off and keeps
        # trying, but nothing serves, so it stops feeding the watchdog and systemd restarts it.
        self.server.start(["--workers", "2"], fixture_app("hooks"), app_args=["crash-worker-start"],
                          env=dict(DELIBERATE_CRASH_ENV, NOTIFY_SOCKET=self.listener.path,
                                   WATCHDOG_USEC="400000"), wait=False)
        first = self.server.wait_for_log(r"withholding the systemd watchdog ping", timeout=5 * TIME_SCALE)
        count = len(self.listener.messages)
        self.server.wait_for_log(r"withholding the systemd watchdog ping", start=first.end(), timeout=5 * TIME_SCALE)
        self.assertEqual(self.listener.with_field("WATCHDOG", start=count), [])
        self.assertEqual(self.listener.with_field("READY"), [], "never ready")
        self.assertIn("no worker has served for", self.server.log_text())

    def test_workers_do_not_inherit_the_notify_socket(self):
        self.launch(env={"WATCHDOG_USEC": "400000"})
        self.listener.wait_for("READY", "1")
        for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            self.assertEqual(get(self.server.port, "/getenv?name=" + var).status, 404, var)


if __name__ == "__main__":
    unittest.main()
