# SPDX-License-Identifier: MIT
"""Binding: unix sockets (stale files, modes), fd://N, IPv6, systemd socket activation."""
import os
import signal
import socket
import stat
import subprocess
import tempfile
import unittest

from harness import BINARY, DEFAULT_TIMEOUT, HttpReader, fixture_app, simple_request, wait_until


def unix_request(path, target="/environ"):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(DEFAULT_TIMEOUT)
        sock.connect(path)
        sock.sendall(simple_request("GET", target, [("Host", "x"), ("Connection", "close")]))
        return HttpReader(sock).read_response()


def tcp_listener(family=socket.AF_INET, host="127.0.0.1"):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(16)
    return sock


class BindingCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)
        self.log_path = os.path.join(self.tmp, "stderr.log")

    def launch(self, args, **popen):
        log = open(self.log_path, "ab")
        self.addCleanup(log.close)
        proc = subprocess.Popen([BINARY] + args + [fixture_app("testkit")], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, **popen)
        self.addCleanup(self.stop, proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(DEFAULT_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def answers_on(self, path):
        def ok():
            try:
                return unix_request(path).status == 200
            except OSError:
                return False
        wait_until(ok, DEFAULT_TIMEOUT, what="an answer on " + path)


class UnixSocketTest(BindingCase):
    def test_serves_on_a_unix_socket_and_removes_it_at_exit(self):
        path = os.path.join(self.tmp, "app.sock")
        proc = self.launch(["--bind", "unix:" + path, "--umask", "077"])
        self.answers_on(path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700, "mode follows --umask")
        resp = unix_request(path, "/environ")
        self.assertIn(b"REMOTE_ADDR=\n", resp.body, "a unix client has no address")
        self.stop(proc)
        self.assertEqual(proc.returncode, 0)
        self.assertFalse(os.path.exists(path))

    def test_a_stale_socket_file_is_replaced(self):
        path = os.path.join(self.tmp, "stale.sock")
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(path)
        dead.close()  # the file stays, nobody listens: what a killed server leaves
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.launch(["--bind", "unix:" + path])
        self.answers_on(path)

    def test_a_live_socket_is_not_stolen(self):
        path = os.path.join(self.tmp, "live.sock")
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(live.close)
        live.bind(path)
        live.listen(1)
        proc = self.launch(["--bind", "unix:" + path])
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT), 1)
        self.assertIn("bind(unix:%s) refused: another server is listening on it" % path, self.log())

    def test_a_regular_file_is_not_removed(self):
        path = os.path.join(self.tmp, "data.txt")
        with open(path, "w") as f:
            f.write("precious")
        proc = self.launch(["--bind", "unix:" + path])
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT), 1)
        self.assertIn("the path exists and is not a socket", self.log())
        with open(path) as f:
            self.assertEqual(f.read(), "precious")


class InheritedSocketTest(BindingCase):
    def get(self, port, family=socket.AF_INET, host="127.0.0.1"):
        def attempt():
            try:
                with socket.create_connection((host, port), timeout=DEFAULT_TIMEOUT) as sock:
                    sock.sendall(simple_request("GET", "/environ", [("Host", "x"), ("Connection", "close")]))
                    return HttpReader(sock).read_response()
            except OSError:
                return None
        return wait_until(attempt, DEFAULT_TIMEOUT, what="an answer on port %d" % port)

    def test_fd_url_listens_on_an_inherited_socket(self):
        listener = tcp_listener()
        self.addCleanup(listener.close)
        fd = listener.fileno()
        self.launch(["--bind", "fd://%d" % fd], pass_fds=[fd])
        self.assertEqual(self.get(listener.getsockname()[1]).status, 200)

    def test_fd_url_that_is_not_a_listener_is_refused(self):
        proc = self.launch(["--bind", "fd://0"])
        self.assertEqual(proc.wait(DEFAULT_TIMEOUT), 1)
        self.assertIn("fd://0 is not a listening socket", self.log())

    @unittest.skipUnless(socket.has_ipv6, "no IPv6")
    def test_ipv6_loopback(self):
        try:
            probe = tcp_listener(socket.AF_INET6, "::1")
        except OSError:
            self.skipTest("no ::1 on this machine")
        port = probe.getsockname()[1]
        probe.close()
        self.launch(["--bind", "[::1]:%d" % port])
        self.assertEqual(self.get(port, socket.AF_INET6, "::1").status, 200)

    def test_systemd_socket_activation_uses_the_passed_socket(self):
        listener = tcp_listener()
        self.addCleanup(listener.close)
        # As systemd does: the socket on fd 3, LISTEN_FDS=1, LISTEN_PID = the server's pid.
        fd = listener.fileno()
        env = dict(os.environ, LISTEN_FDS="1")
        log = open(self.log_path, "ab")
        self.addCleanup(log.close)
        # The shell moves the socket to fd 3 (and closes the original), then becomes the server.
        script = 'exec 3<&%d %d<&-; LISTEN_PID=$$ exec "$@"' % (fd, fd) if fd != 3 else 'LISTEN_PID=$$ exec "$@"'
        proc = subprocess.Popen(["sh", "-c", script, "sh", BINARY,
                                 "--bind", "127.0.0.1:1", fixture_app("testkit")],
                                pass_fds=[fd], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.addCleanup(self.stop, proc)
        try:
            resp = self.get(listener.getsockname()[1])
        except AssertionError as e:
            raise AssertionError("%s; server log:\n%s" % (e, self.log())) from None
        self.assertEqual(resp.status, 200)
        self.assertIn("Listening at: systemd socket fd 3", self.log())
        self.assertNotIn(b"LISTEN_FDS", resp.body)
        with socket.create_connection(listener.getsockname(), timeout=DEFAULT_TIMEOUT) as sock:
            sock.sendall(simple_request("GET", "/getenv?name=LISTEN_FDS", [("Host", "x"), ("Connection", "close")]))
            self.assertEqual(HttpReader(sock).read_response().status, 404, "LISTEN_FDS is hidden from the app")


if __name__ == "__main__":
    unittest.main()
