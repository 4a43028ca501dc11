# SPDX-License-Identifier: MIT
"""A Python app through the server's lifecycle, started as gunicorn is (cppgunicorn
MODULE:CALLABLE): --reload follows the app's own .py files and keeps the old workers when
the new code does not import; HUP under load loses nothing; a module broken before a HUP
leaves the old generation serving; TERM with app threads still running exits within the
graceful timeout; --check-config imports the app. Python: Debian's /usr/bin/python3."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BINARY, TIME_SCALE, BoundedLoad, T, wait_until
from wsgi_harness import WsgiCase

APP = """
import helper
import threading

def app(environ, start_response):
    if environ["PATH_INFO"] == "/thread":
        threading.Thread(target=helper.forever, daemon=False).start()
    body = ("v%d" % helper.VERSION).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""

HELPER = """
import time
VERSION = {version}

def forever():
    while True:
        time.sleep(0.05)
"""


class PythonLifecycleTest(WsgiCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.write("app_mod.py", APP)
        self.write("helper.py", HELPER.format(version=1))

    def write(self, name, text):
        """As an editor saves: a new file renamed over the old one."""
        path = os.path.join(self.dir, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)

    def serve(self, *extra, workers=2):
        return self.start_wsgi("app_mod:app", threads=2, workers=workers, extra=["--pythonpath", self.dir, *extra])

    def version(self, server):
        return server.get("/").body.decode()

    def test_reload_follows_the_apps_own_modules_and_keeps_serving_through_a_syntax_error(self):
        server = self.serve("--reload")
        self.assertEqual(self.version(server), "v1")
        old = server.wait_workers(2)
        edited = time.monotonic()
        self.write("helper.py", HELPER.format(version=2))   # a module the app imports
        server.wait_workers(2, exclude=old, timeout=T(5))
        wait_until(lambda: self.version(server) == "v2", T(5), what="the new code serving")
        self.assertLess(time.monotonic() - edited, 2 * TIME_SCALE, "within 2 s of the save")
        current = server.wait_workers(2)
        offset = server.log_offset()
        self.write("helper.py", "VERSION = (\n")            # broken: the new workers cannot import it
        server.wait_for_log(r"reload failed, the old workers keep serving: new worker \(pid \d+\) exited with code 4",
                            start=offset, timeout=T(10))
        self.assertIn("SyntaxError", server.log_text()[offset:])
        self.assertEqual(server.wait_workers(2), current, "the old workers never stopped")
        self.assertEqual(self.version(server), "v2")
        self.write("helper.py", HELPER.format(version=3))   # mended
        wait_until(lambda: self.version(server) == "v3", T(10), what="the mended code serving")

    def test_hup_under_load_loses_nothing_and_a_broken_module_keeps_the_old_generation(self):
        server = self.serve()
        old = server.wait_workers(2)
        load = BoundedLoad(server, target="/", timeout=T(10), limit=100000).start()
        self.addCleanup(load.stop)
        load.wait_for(50, T(10), what="load under way")
        self.write("helper.py", HELPER.format(version=2))
        server.signal(signal.SIGHUP)
        new = server.wait_workers(2, exclude=old, timeout=T(10))
        load.wait_for(50, T(10), what="serving after the reload")
        self.write("app_mod.py", "import no_such_module\n")
        offset = server.log_offset()
        server.signal(signal.SIGHUP)
        server.wait_for_log(r"reload failed, the old workers keep serving", start=offset, timeout=T(10))
        self.assertIn("ModuleNotFoundError: No module named 'no_such_module'", server.log_text()[offset:])
        load.wait_for(50, T(10), what="serving after the failed reload")
        load.stop()
        self.assertEqual(load.failures, [])
        self.assertEqual(server.wait_workers(2), new)
        self.assertEqual(self.version(server), "v2")

    def test_term_with_app_threads_still_running_exits_within_the_graceful_timeout(self):
        server = self.serve("--graceful-timeout", "3", workers=1)
        self.assertEqual(server.get("/thread").status, 200)  # a non-daemon thread that never ends
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(T(10)), 0)
        self.assertLess(time.monotonic() - started, 3)

    def test_check_config_imports_the_app(self):
        def check():
            return subprocess.run([BINARY, "--check-config", "--pythonpath", self.dir, "app_mod:app"],
                                  capture_output=True, text=True, timeout=T(20))
        self.assertEqual(check().returncode, 0)
        self.write("helper.py", "VERSION = (\n")
        result = check()
        self.assertEqual(result.returncode, 1)
        self.assertIn("SyntaxError", result.stderr)
        self.assertIn("check failed: app '", result.stderr)


if __name__ == "__main__":
    unittest.main()
