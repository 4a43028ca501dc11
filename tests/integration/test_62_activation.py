# SPDX-License-Identifier: MIT
"""Socket activation as systemd does it, through systemd-socket-activate: TCP and unix
sockets, an 'admin' named socket becoming the admin listener, and the sockets surviving
HUP and a USR2 upgrade. Python: any python3; needs systemd-socket-activate (package systemd)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import (BINARY, DEFAULT_TIMEOUT, TIME_SCALE, HttpReader, fixture_app, free_port,
                     simple_request, wait_until, read_text, has_signalfd, children)

ACTIVATE = shutil.which("systemd-socket-activate")


def request(address, target="/pid"):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(DEFAULT_TIMEOUT * 2)
        sock.connect(address)
        sock.sendall(simple_request("GET", target, [("Host", "x"), ("Connection", "close")]))
        return HttpReader(sock, DEFAULT_TIMEOUT * 2).read_response()


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate is not installed (package systemd)")
class ActivationTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.log_path = os.path.join(self._tmp.name, "server.log")

    def activate(self, listen, names, args=("--workers", "2")):
        """systemd-socket-activate with these -l addresses and fd names; it becomes the
        server at the first connection. Returns the process (its pid is the master's)."""
        cmd = [ACTIVATE]
        for address in listen:
            cmd += ["-l", address]
        cmd += ["--fdname=" + ":".join(names), BINARY] + list(args) + [fixture_app("testkit")]
        log = open(self.log_path, "ab")
        self.addCleanup(log.close)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.addCleanup(self.stop, proc)
        wait_until(lambda: "Listening on" in read_text(self.log_path), DEFAULT_TIMEOUT,
                   what="systemd-socket-activate listening")
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(DEFAULT_TIMEOUT * 2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self):
        return read_text(self.log_path)

    def survives_hup(self, proc, address):
        old = set(children(proc.pid))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: len(set(children(proc.pid)) - old) == 2 and not (set(children(proc.pid)) & old)
                   and all(has_signalfd(p) for p in children(proc.pid)),
                   DEFAULT_TIMEOUT * 2, what="two new workers after HUP")
        pids = {int(request(address).body) for _ in range(10)}
        self.assertTrue(pids <= set(children(proc.pid)), "the new workers serve on the passed socket")

    def test_tcp_sockets_with_a_named_admin_socket(self):
        port, admin = free_port(), free_port()
        proc = self.activate(["127.0.0.1:%d" % port, "127.0.0.1:%d" % admin], ["http", "admin"])
        # The first connection starts the server, which then answers it.
        self.assertEqual(request(("127.0.0.1", port)).status, 200)
        self.assertIn("Listening at: systemd socket fd 3 (http)", self.log())
        self.assertIn("Admin listener at: systemd socket fd 4 (admin)", self.log())
        self.assertNotIn("127.0.0.1:8000", self.log(), "--bind is ignored under activation")
        wait_until(lambda: request(("127.0.0.1", admin), "/readyz").status == 200, DEFAULT_TIMEOUT)
        self.survives_hup(proc, ("127.0.0.1", port))
        self.assertEqual(request(("127.0.0.1", admin), "/livez").status, 200)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT * 2), 0)

    def test_unix_socket_survives_hup_and_stays_systemds(self):
        path = os.path.join(self._tmp.name, "app.sock")
        proc = self.activate([path], ["http"])
        self.assertEqual(request(path).status, 200)
        self.survives_hup(proc, path)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT * 2), 0)
        self.assertTrue(os.path.exists(path), "the socket file belongs to systemd, not to the server")

    def test_usr2_keeps_the_passed_sockets(self):
        port = free_port()
        proc = self.activate(["127.0.0.1:%d" % port], ["http"])
        self.assertEqual(request(("127.0.0.1", port)).status, 200)
        proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: "Listening at: inherited fd 3" in self.log(), DEFAULT_TIMEOUT * 2,
                   what="the new master on the inherited socket")
        proc.send_signal(signal.SIGWINCH)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT * 2), 0)
        new_master = int(self.log().split("Listening at: inherited fd 3 (")[1].split(")")[0])
        self.addCleanup(lambda: os.path.exists("/proc/%d" % new_master) and os.kill(new_master, signal.SIGKILL))
        wait_until(lambda: request(("127.0.0.1", port)).status == 200, DEFAULT_TIMEOUT * 2,
                   what="the new master serving")
        os.kill(new_master, signal.SIGTERM)
        wait_until(lambda: not os.path.exists("/proc/%d" % new_master), DEFAULT_TIMEOUT * 2,
                   what="the new master gone")


if __name__ == "__main__":
    unittest.main()
