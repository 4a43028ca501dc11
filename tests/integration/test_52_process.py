# SPDX-License-Identifier: MIT
"""Process settings: titles, user/group, environment, umask, chdir, daemon."""
import http.client
import os
import signal
import subprocess
import tempfile
import unittest

from harness import (BINARY, DEFAULT_TIMEOUT, Server, ServerCase, fixture_app, free_port,
                     HttpReader, read_text, simple_request, wait_until)


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")[0].decode()


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class ProcessSettingsTest(ServerCase):
    def test_process_titles_name_the_role_and_the_app(self):
        server = self.start(["--workers", "2"])
        workers = server.wait_workers(2)
        self.assertEqual(cmdline(server.pid), "cppgunicorn: master [testkit]")
        for pid in workers:
            self.assertEqual(cmdline(pid), "cppgunicorn: worker [testkit]")

    def test_name_sets_the_title(self):
        server = self.start(["--name", "shop-api"])
        self.assertEqual(cmdline(server.pid), "cppgunicorn: master [shop-api]")

    def test_env_and_umask_reach_the_workers(self):
        server = self.start(["-e", "CPPG_TEST_VAR=hello world", "--env", "OTHER=1", "--umask", "027"])
        resp = server.get("/getenv?name=CPPG_TEST_VAR")
        self.assertEqual((resp.status, resp.body), (200, b"hello world"))
        self.assertEqual(server.get("/getenv?name=OTHER").body, b"1")
        self.assertEqual(status(server.wait_workers(1)[0])["Umask"], "0027")

    def test_chdir_makes_the_app_path_relative_to_it(self):
        apps_dir = os.path.dirname(fixture_app("testkit"))
        server = self.start(["--chdir", apps_dir], "testkit.so")
        self.assertEqual(server.get("/environ").status, 200)

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_user_drops_worker_privileges_but_not_the_masters(self):
        server = self.start(["--user", "nobody", "--group", "nogroup"])
        worker = server.wait_workers(1)[0]
        uid = str(os.getuid())
        nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout.strip()
        nogroup = subprocess.run(["getent", "group", "nogroup"], capture_output=True, text=True).stdout.split(":")[2]
        self.assertEqual(status(worker)["Uid"].split(), [nobody] * 4)
        self.assertEqual(status(worker)["Gid"].split(), [nogroup] * 4)
        self.assertEqual(status(server.pid)["Uid"].split()[0], uid)
        self.assertEqual(server.get("/environ").status, 200)

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_rotated_logs_are_recreated_for_workers_of_another_user(self):
        # logrotate moves the files away in a root-owned directory, then USR1: the workers
        # (nobody) could not create new files there; the master does and gives them over.
        logs = tempfile.mkdtemp(prefix="cppg-logs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", logs])
        os.chmod(logs, 0o755)
        access = os.path.join(logs, "access.log")
        server = self.start(["--user", "nobody", "--group", "nogroup", "--access-logfile", access])
        server.get("/before")
        wait_until(lambda: "/before" in read_text(access), DEFAULT_TIMEOUT, what="the first access line")
        os.rename(access, access + ".1")
        offset = server.log_offset()
        server.signal(signal.SIGUSR1)
        server.wait_for_log("USR1: log files reopened", start=offset)

        def after_lands():
            server.get("/after")
            return os.path.exists(access) and "/after" in read_text(access)
        wait_until(after_lands, 5, interval=0.1, what="an access line in the recreated file")
        nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
        self.assertEqual(os.stat(access).st_uid, nobody)
        self.assertNotIn("cannot reopen", server.log_text())

    def test_umask_is_kept_unless_given(self):
        os.umask(old := os.umask(0o022))  # read this process's umask: the server inherits it
        server = self.start([])
        self.assertEqual(status(server.pid)["Umask"], "%04o" % old)
        self.assertEqual(status(server.wait_workers(1)[0])["Umask"], "%04o" % old)

    def test_unknown_user_is_a_config_error(self):
        out = subprocess.run([BINARY, "--user", "no-such-user-cppg", fixture_app("testkit")],
                             capture_output=True, text=True, timeout=DEFAULT_TIMEOUT)
        self.assertEqual(out.returncode, 2)
        self.assertIn("setting 'user': value 'no-such-user-cppg' is not a known user "
                      "(from command line flag --user)", out.stderr)

    def test_daemon_detaches_and_keeps_serving(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            pidfile = os.path.join(tmp, "d.pid")
            log = os.path.join(tmp, "error.log")
            out = subprocess.run([BINARY, "--daemon", "--pid", pidfile, "--error-logfile", log,
                                  "--bind", "127.0.0.1:%d" % port, fixture_app("testkit")],
                                 capture_output=True, timeout=DEFAULT_TIMEOUT)
            self.assertEqual(out.returncode, 0, out)
            pid = int(wait_until(lambda: os.path.exists(pidfile) and read_text(pidfile).strip(),
                                 DEFAULT_TIMEOUT, what="pidfile"))
            try:
                self.assertNotEqual(os.getsid(pid), os.getsid(0), "a new session")
                wait_until(lambda: "Booting worker" in read_text(log), DEFAULT_TIMEOUT)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEFAULT_TIMEOUT)
                conn.request("GET", "/environ")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
            finally:
                os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                       status(pid).get("State", "").startswith("Z"), DEFAULT_TIMEOUT, what="daemon gone")
            self.assertFalse(os.path.exists(pidfile))


if __name__ == "__main__":
    unittest.main()


class ForwardedProtoTest(ServerCase):
    def scheme(self, server, proto):
        resp = server.request(simple_request("GET", "/environ", [("Host", "x"), ("X-Forwarded-Proto", proto),
                                                                  ("Connection", "close")]))
        return [line for line in resp.body.decode().splitlines() if line.startswith("URL_SCHEME=")]

    def test_a_trusted_proxy_can_say_https(self):
        server = self.start([])  # default: 127.0.0.1 and ::1 are trusted, as in gunicorn
        self.assertEqual(self.scheme(server, "https"), ["URL_SCHEME=https"])
        self.assertEqual(self.scheme(server, "http"), ["URL_SCHEME=http"])

    def test_anyone_else_cannot(self):
        server = self.start(["--forwarded-allow-ips", "10.1.2.3,192.0.2.7"])
        self.assertEqual(self.scheme(server, "https"), ["URL_SCHEME=http"])

    def test_a_bad_address_is_a_config_error(self):
        out = subprocess.run([BINARY, "--forwarded-allow-ips", "10.0.0.1,proxy.local", fixture_app("testkit")],
                             capture_output=True, text=True, timeout=DEFAULT_TIMEOUT)
        self.assertEqual(out.returncode, 2)
        self.assertIn("setting 'forwarded_allow_ips': value '10.0.0.1,proxy.local' has 'proxy.local', "
                      "which is not a numeric IP address or *", out.stderr)


class OutputAndCountTest(ServerCase):
    def test_capture_output_sends_the_apps_prints_to_the_error_log(self):
        server = Server()
        self.addCleanup(server.cleanup)
        log = os.path.join(server.tmpdir, "error.log")
        server.start(["--capture-output", "--error-logfile", log], fixture_app("testkit"))
        self.assertEqual(server.get("/print").status, 200)
        wait_until(lambda: "testkit says hello on stdout" in read_text(log) and
                   "testkit says hello on stderr" in read_text(log), DEFAULT_TIMEOUT,
                   what="the app's output in the error log")
        self.assertNotIn("testkit says", server.stdout_text())

    def test_workers_auto_is_one_per_core(self):
        server = self.start(["--workers", "auto"])
        server.wait_workers(os.cpu_count())


class ProxyProtocolTest(ServerCase):
    def environ(self, server, prefix, pieces=1):
        request = prefix + simple_request("GET", "/environ", [("Host", "x"), ("Connection", "close")])
        with server.connect() as sock:
            step = max(1, len(request) // pieces)
            for i in range(0, len(request), step):
                sock.sendall(request[i:i + step])
            return HttpReader(sock).read_response()

    def test_the_proxy_line_gives_the_clients_address(self):
        server = self.start(["--proxy-protocol"])
        for pieces in (1, 7):  # in one piece, and split across several writes
            resp = self.environ(server, b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 8000\r\n", pieces)
            self.assertEqual(resp.status, 200)
            self.assertIn(b"REMOTE_ADDR=203.0.113.7\n", resp.body)
            self.assertIn(b"REMOTE_PORT=51234\n", resp.body)

    def test_unknown_keeps_the_connections_address(self):
        server = self.start(["--proxy-protocol"])
        resp = self.environ(server, b"PROXY UNKNOWN\r\n")
        self.assertIn(b"REMOTE_ADDR=127.0.0.1\n", resp.body)

    def test_a_missing_line_is_refused(self):
        server = self.start(["--proxy-protocol"])
        resp = self.environ(server, b"")
        self.assertEqual(resp.status, 400)
        self.assertIn(b"PROXY protocol", resp.body)

    def test_without_the_setting_a_proxy_line_is_just_a_bad_request(self):
        server = self.start([])
        self.assertEqual(self.environ(server, b"PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r\n").status, 400)

    def test_peers_outside_proxy_allow_from_are_not_read_as_proxies(self):
        server = self.start(["--proxy-protocol", "--proxy-allow-from", "10.9.9.9"])
        resp = self.environ(server, b"")
        self.assertEqual(resp.status, 200)
        self.assertIn(b"REMOTE_ADDR=127.0.0.1\n", resp.body)
