# SPDX-License-Identifier: MIT
"""Behind nginx, with the config shipped in packaging/nginx/cppgunicorn.conf: upstream
keep-alive to two instances, one of them reloaded (HUP) twice under load, and not one failed
request. Python: any python3; needs nginx (package nginx-light)."""
import http.client
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import (DEFAULT_TIMEOUT, TIME_SCALE, HERE, KeepAliveLoad, Server, fixture_app, free_port,
                     read_text, wait_until)

NGINX = "/usr/sbin/nginx"
SHIPPED = os.path.join(HERE, "..", "..", "packaging", "nginx", "cppgunicorn.conf")
COMPOSE = os.path.join(HERE, "..", "..", "packaging", "docker", "nginx.conf")


def body(text):
    """A config from its first block on, without the header comments."""
    return text[text.index("upstream "):]


class ComposeConfigTest(unittest.TestCase):
    def test_the_compose_nginx_config_is_the_tested_one(self):
        expected = body(read_text(SHIPPED)).replace("127.0.0.1:8001", "app1:8000").replace(
            "127.0.0.1:8002", "app2:8000")
        self.assertEqual(body(read_text(COMPOSE)), expected,
                         "packaging/docker/nginx.conf drifted from packaging/nginx/cppgunicorn.conf")


def nginx_conf(prefix, port, upstreams):
    """The shipped server block, pointed at these ports, in a minimal nginx.conf whose paths
    all stay in `prefix` (Debian's compiled-in ones are under /var/lib/nginx)."""
    site = read_text(SHIPPED)
    site = site.replace("127.0.0.1:8001", "127.0.0.1:%d" % upstreams[0])
    site = site.replace("127.0.0.1:8002", "127.0.0.1:%d" % upstreams[1])
    site, n = re.subn(r"listen 80;", "listen 127.0.0.1:%d;" % port, site)
    assert n == 1, "the shipped config should listen on port 80 once"
    return """worker_processes 2;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
{site}
}}
""".format(p=prefix, site=site)


@unittest.skipUnless(os.access(NGINX, os.X_OK), "nginx is not installed (package nginx-light)")
class BehindNginxTest(unittest.TestCase):
    def setUp(self):
        self.instances = []
        for _ in range(2):
            server = Server()
            self.addCleanup(server.cleanup)
            server.start(["--workers", "2", "--threads", "2", "--keep-alive", "5",
                          "--access-logfile", "access.log"], fixture_app("testkit"))
            self.instances.append(server)
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        prefix = self._tmp.name
        self.port = free_port()
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(nginx_conf(prefix, self.port, [s.port for s in self.instances]))
        self.nginx = subprocess.Popen([NGINX, "-p", prefix + "/", "-c", os.path.join(prefix, "nginx.conf"),
                                       "-e", os.path.join(prefix, "error.log"), "-g", "daemon off;"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_nginx)
        wait_until(self.nginx_answers, DEFAULT_TIMEOUT, what="nginx answering")
        self.error_log = os.path.join(prefix, "error.log")

    def stop_nginx(self):
        self.nginx.send_signal(signal.SIGQUIT)
        try:
            self.nginx.wait(DEFAULT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.nginx.kill()
            self.nginx.wait()

    @staticmethod
    def access_lines(server):
        """Requests an instance logged (its access log is written by a background thread)."""
        path = os.path.join(server.tmpdir, "access.log")
        return len([l for l in read_text(path).splitlines() if "/environ" in l]) if os.path.exists(path) else 0

    def nginx_answers(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/pid")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def test_one_instance_reloaded_twice_under_load_loses_nothing(self):
        reloaded = self.instances[0]
        load = KeepAliveLoad(self.port, timeout=10 * TIME_SCALE).start()
        try:
            wait_until(lambda: len(load.successes) >= 300, 10 * TIME_SCALE, what="load flowing")
            for _ in range(2):
                old = set(reloaded.worker_pids())
                reloaded.signal(signal.SIGHUP)
                reloaded.wait_workers(2, timeout=10 * TIME_SCALE, exclude=old)
                goal = len(load.successes) + 300
                wait_until(lambda: len(load.successes) >= goal, 10 * TIME_SCALE, what="load after the reload")
        finally:
            load.stop()
        self.assertEqual(load.failures, [], "requests lost behind nginx; nginx error log:\n" +
                         read_text(self.error_log))
        # Both instances served, and nginx reused its connections to them (keep-alive):
        # far fewer client ports than requests.
        wait_until(lambda: sum(self.access_lines(s) for s in self.instances) >= len(load.successes),
                   DEFAULT_TIMEOUT, what="every request in the instances' access logs")
        served = [self.access_lines(s) for s in self.instances]
        self.assertTrue(all(n > 0 for n in served), "both instances served: %s" % served)
        ports = {re.search(rb"REMOTE_PORT=(\d+)", b).group(1) for b in load.successes}
        self.assertLess(len(ports) * 10, len(load.successes),
                        "%d upstream connections for %d requests" % (len(ports), len(load.successes)))


if __name__ == "__main__":
    unittest.main()
