# SPDX-License-Identifier: MIT
"""The master's admin listener (--admin-bind): /livez and /readyz answered by the master
itself, whatever the workers do; and --probe, the health check that needs no curl.
Python: any python3."""
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (BINARY, DEFAULT_TIMEOUT, TIME_SCALE, HttpReader, IncompleteResponse, sleeping_in_app, Server, ServerCase,
                     fixture_app, free_port, simple_request, wait_until)


def admin_get(port, target="/readyz", method="GET", raw=None, timeout=DEFAULT_TIMEOUT):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw or simple_request(method, target, [("Host", "x")]))
        return HttpReader(sock, timeout).read_response(head=(method == "HEAD"))


def socket_inodes(pid):
    """The socket inodes a process holds open."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def listening_inode(port):
    """The inode of the socket listening on 127.0.0.1:port (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "0100007F:%04X" % port and fields[3] == "0A":
                return fields[9]
    return None


class AdminCase(ServerCase):
    @staticmethod
    def ignore_errors(fn, *args, **kwargs):
        """A thread target that drops the exception a killed worker's client gets."""
        def run():
            try:
                fn(*args, **kwargs)
            except (OSError, AssertionError):
                pass
        return run

    def serve(self, args=("--workers", "2"), app_args=(), wait=True):
        self.admin_port = free_port()
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(list(args) + ["--admin-bind", "127.0.0.1:%d" % self.admin_port],
                     fixture_app("testkit"), app_args=app_args, wait=wait)
        return server

    def wait_ready(self):
        wait_until(lambda: self.try_status() == 200, DEFAULT_TIMEOUT * 2, what="/readyz 200")

    def try_status(self, target="/readyz"):
        try:
            return admin_get(self.admin_port, target).status
        except (OSError, IncompleteResponse):  # not listening, or closed as the master exits
            return None


class ProbeEndpointsTest(AdminCase):
    def test_readyz_is_503_until_every_worker_serves(self):
        server = self.serve(["--workers", "2"], app_args=["boot-delay-ms=600"], wait=False)
        first = wait_until(lambda: self.try_status(), DEFAULT_TIMEOUT, what="the admin listener")
        self.assertEqual(first, 503, "workers still booting")
        resp = admin_get(self.admin_port)
        self.assertIn(b"not ready: Starting;", resp.body)
        self.assertEqual(admin_get(self.admin_port, "/livez").status, 200, "the master lives meanwhile")
        self.wait_ready()
        resp = admin_get(self.admin_port)
        self.assertEqual(resp.body, b"ready: 2 of 2 worker(s) serving, 0 request(s) served\n")
        self.assertEqual(resp.header("Cache-Control"), "no-store")
        self.assertEqual(len(server.worker_pids()), 2)

    def test_livez_and_readyz_while_the_app_hangs_and_workers_crash(self):
        server = self.serve(["--workers", "1", "--threads", "1"])
        self.wait_ready()
        worker = server.worker_pids()[0]
        hung = threading.Thread(target=self.ignore_errors(server.get, "/sleep?ms=%d" % (1500 * TIME_SCALE),
                                                          timeout=10 * TIME_SCALE))
        hung.start()
        self.addCleanup(hung.join)
        wait_until(lambda: sleeping_in_app(worker), DEFAULT_TIMEOUT, what="the app call running")
        t0 = time.monotonic()
        self.assertEqual(admin_get(self.admin_port, "/livez").status, 200)
        self.assertLess(time.monotonic() - t0, 1.0 * TIME_SCALE, "answered by the master, not the busy worker")
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: self.try_status() == 503 or worker not in server.worker_pids(), DEFAULT_TIMEOUT)
        self.assertEqual(admin_get(self.admin_port, "/livez").status, 200)
        self.wait_ready()  # the replacement serves

    def test_readyz_503_from_the_start_of_a_graceful_stop_until_the_master_exits(self):
        server = self.serve(["--workers", "1", "--threads", "2", "--graceful-timeout", "10"])
        self.wait_ready()
        results = []
        slow = threading.Thread(target=lambda: results.append(
            server.get("/sleep?ms=%d" % (1200 * TIME_SCALE), timeout=10 * TIME_SCALE)))
        slow.start()
        wait_until(lambda: sleeping_in_app(server.worker_pids()[0]), DEFAULT_TIMEOUT,
                   what="the app call running")
        offset = server.log_offset()
        server.signal(signal.SIGTERM)
        server.wait_for_log("Handling signal: term", start=offset)
        resp = admin_get(self.admin_port)
        self.assertEqual(resp.status, 503)
        self.assertIn(b"Stopping gracefully", resp.body)
        self.assertEqual(admin_get(self.admin_port, "/livez").status, 200, "answers while draining")
        slow.join(10 * TIME_SCALE)
        self.assertEqual(results[0].status, 200, "the in-flight request finished")
        self.assertEqual(server.wait_exit(10 * TIME_SCALE), 0)
        with self.assertRaises(OSError):
            admin_get(self.admin_port, timeout=1)

    def test_http_details(self):
        self.serve()
        self.wait_ready()
        self.assertEqual(admin_get(self.admin_port, "/nope").status, 404)
        resp = admin_get(self.admin_port, "/readyz", method="POST")
        self.assertEqual((resp.status, resp.header("Allow")), (405, "GET, HEAD"))
        head = admin_get(self.admin_port, "/readyz", method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertGreater(int(head.header("Content-Length")), 0)
        self.assertEqual(admin_get(self.admin_port, "/readyz?verbose").status, 200, "a query is ignored")
        bad = admin_get(self.admin_port, raw=b"GET /readyz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        self.assertEqual(bad.status, 400)
        long_line = admin_get(self.admin_port, raw=b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n")
        self.assertEqual(long_line.status, 414)

    def test_idle_admin_clients_do_not_block_probes(self):
        self.serve()
        self.wait_ready()
        idle = [socket.create_connection(("127.0.0.1", self.admin_port)) for _ in range(70)]
        for s in idle:
            self.addCleanup(s.close)
        idle[0].sendall(b"GET /readyz HTTP/1.1\r\n")  # half a request, never finished
        # 64 are held at most; a new client takes the place of the oldest idle one, so a
        # probe is answered at once, not after the idle ones' deadline.
        t0 = time.monotonic()
        self.assertEqual(admin_get(self.admin_port, timeout=1.0 * TIME_SCALE).status, 200)
        self.assertLess(time.monotonic() - t0, 1.0 * TIME_SCALE)

    def test_idle_clients_are_dropped_after_a_second(self):
        self.serve()
        self.wait_ready()
        idle = socket.create_connection(("127.0.0.1", self.admin_port))
        self.addCleanup(idle.close)
        idle.settimeout(3 * TIME_SCALE)
        t0 = time.monotonic()
        self.assertEqual(idle.recv(100), b"", "closed without an answer")
        self.assertLess(time.monotonic() - t0, 2.5 * TIME_SCALE)

    def test_readyz_stays_200_through_an_upgrade(self):
        server = self.serve(["--workers", "2"], app_args=["boot-delay-ms=400"])
        self.wait_ready()
        server.signal(signal.SIGUSR2)
        new_master = int(server.wait_for_log(r"USR2: started a new master \(pid (\d+)\)").group(1))
        self.addCleanup(lambda: os.path.exists("/proc/%d" % new_master) and os.kill(new_master, signal.SIGKILL))
        # While the new master boots its workers (400 ms), the old ones serve: ready.
        bodies = []
        deadline = time.monotonic() + 2.0 * TIME_SCALE
        while time.monotonic() < deadline:
            resp = admin_get(self.admin_port)
            self.assertEqual(resp.status, 200, resp.body)
            bodies.append(resp.body)
            if resp.body.startswith(b"ready: 2 of 2"):
                break
        self.assertTrue(any(b"the old master (pid %d) serves meanwhile" % server.pid in b for b in bodies),
                        bodies[:3])
        self.assertTrue(bodies[-1].startswith(b"ready: 2 of 2"), bodies[-1])
        server.signal(signal.SIGWINCH)  # the old workers leave; the new master answers alone
        for _ in range(20):
            self.assertEqual(admin_get(self.admin_port).status, 200)
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(10 * TIME_SCALE), 0)
        for _ in range(5):
            self.assertEqual(admin_get(self.admin_port).status, 200)
        os.kill(new_master, signal.SIGTERM)

    def test_workers_do_not_hold_the_admin_socket(self):
        server = self.serve()
        self.wait_ready()
        inode = listening_inode(self.admin_port)
        self.assertIsNotNone(inode)
        self.assertIn(inode, socket_inodes(server.pid))
        for worker in server.worker_pids():
            self.assertNotIn(inode, socket_inodes(worker))

    def test_usr2_hands_the_admin_listener_over(self):
        server = self.serve()
        self.wait_ready()
        inode = listening_inode(self.admin_port)
        server.signal(signal.SIGUSR2)
        server.wait_for_log(r"Admin listener at: inherited fd \d+ \((?!%d\))\d+\)" % server.pid)
        server.signal(signal.SIGWINCH)
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(10 * TIME_SCALE), 0)
        self.wait_ready()  # the new master's workers, counted by the new master
        self.assertEqual(listening_inode(self.admin_port), inode, "the same socket, never closed")
        new_master = int(server.wait_for_log(r"Admin listener at: inherited fd \d+ \((\d+)\)").group(1))
        os.kill(new_master, signal.SIGTERM)
        wait_until(lambda: self.try_status() is None, 10 * TIME_SCALE, what="the new master gone")


class ProbeCommandTest(AdminCase):
    def probe(self, *args, env=None):
        return subprocess.run([BINARY] + list(args), capture_output=True, text=True,
                              env=dict(os.environ, **(env or {})), timeout=10 * TIME_SCALE)

    def test_probe_exit_codes(self):
        self.serve()
        self.wait_ready()
        ok = self.probe("--probe", "/readyz", "--admin-bind", "127.0.0.1:%d" % self.admin_port)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(ok.stdout.startswith("HTTP/1.1 200 OK\nready: 2 of 2"), ok.stdout)
        # The address from the environment, as a container's HEALTHCHECK gets it.
        env_ok = self.probe("--probe", "/livez", env={"CPPGUNICORN_ADMIN_BIND": "127.0.0.1:%d" % self.admin_port})
        self.assertEqual(env_ok.returncode, 0, env_ok.stderr)
        missing = self.probe("--probe", "/nope", "--admin-bind", "127.0.0.1:%d" % self.admin_port)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("404", missing.stdout)

    def test_probe_without_a_server_fails(self):
        port = free_port()
        result = self.probe("--probe", "/readyz", "--admin-bind", "127.0.0.1:%d" % port)
        self.assertEqual(result.returncode, 1)
        self.assertIn("connect failed", result.stderr)
        unset = self.probe("--probe", "/readyz")
        self.assertEqual(unset.returncode, 1)
        self.assertIn("admin_bind is not set", unset.stderr)

    def test_probe_path_is_validated(self):
        result = self.probe("--probe", "readyz", "--admin-bind", "127.0.0.1:1")
        self.assertEqual(result.returncode, 2)
        self.assertIn("setting 'probe': value 'readyz' is not a path starting with /", result.stderr)

    def test_unix_admin_socket(self):
        server = Server()
        self.addCleanup(server.cleanup)
        path = os.path.join(server.tmpdir, "admin.sock")
        server.start(["--admin-bind", "unix:" + path], fixture_app("testkit"))
        wait_until(lambda: self.probe("--probe", "/readyz", "--admin-bind", "unix:" + path).returncode == 0,
                   DEFAULT_TIMEOUT, what="probe over the unix admin socket")
        server.stop()
        self.assertFalse(os.path.exists(path), "the admin socket file is removed at exit")

    def test_bad_admin_bind_refuses_to_start(self):
        result = self.probe("--admin-bind", "127.0.0.1:99999", fixture_app("testkit"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("setting 'admin_bind': value '127.0.0.1:99999' is not a valid address", result.stderr)


if __name__ == "__main__":
    unittest.main()
