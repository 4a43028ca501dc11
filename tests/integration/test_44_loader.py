# SPDX-License-Identifier: MIT
"""Start-up failures: an app that cannot be loaded stops the master with exit 3 (a worker
could not boot), bad configuration exits 2, each with a
message that names the file or setting and the cause."""

import socket
import os
import shutil
import tempfile
import unittest

from harness import BINARY, Server, T, example_app, fixture_app

EXIT_BIND = 1
EXIT_CONFIG = 2
EXIT_APP_LOAD = 4  # the worker exits 4 when its app cannot load, and the master with it (gunicorn's APP_LOAD_ERROR)


class StartupFailureTest(unittest.TestCase):
    def run_server(self, args=(), app=None, bind=True, timeout=T(10)):
        """Starts the server and waits (with a deadline) for it to exit; returns (code, stderr)."""
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(args, app, wait=False, bind=bind)
        code = server.wait_exit(timeout)
        return code, server.log_text()

    # ---- app loading: exit code 3 ----

    def assertLoadFails(self, app, *fragments):
        code, log = self.run_server(app=app)
        self.assertEqual(code, EXIT_APP_LOAD, log)
        self.assertIn(app, log)
        for fragment in fragments:
            self.assertIn(fragment, log)
        self.assertRegex(log, r"\[CRITICAL\] ")
        self.assertIn("failed to boot", log)  # the master names the worker that could not start
        return log

    def test_nonexistent_path(self):
        self.assertLoadFails("/nonexistent/dir/app.so", "No such file")

    def test_no_export(self):
        self.assertLoadFails(fixture_app("noexport"), "does not export cppg_app_on_load")

    def test_bad_abi_version(self):
        self.assertLoadFails(fixture_app("badversion"), "ABI version 42", "version 1")

    def test_missing_dependency(self):
        self.assertLoadFails(fixture_app("missingdep"), "libcppg_fixture_dep.so", "cannot open shared object file")

    def test_init_fails(self):
        self.assertLoadFails(fixture_app("initfails"), "init failed with code 7")

    # ---- configuration: exit code 2 ----

    def assertConfigError(self, args, *fragments, app=None):
        code, log = self.run_server(args, example_app("hello") if app is None else app, bind=False)
        self.assertEqual(code, EXIT_CONFIG, log)
        self.assertTrue(log.startswith("cppgunicorn: error: "), log)
        for fragment in fragments:
            self.assertIn(fragment, log)
        return log

    def test_a_config_error_leaves_nothing_behind(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        pidfile, sock = os.path.join(tmp, "x.pid"), os.path.join(tmp, "x.sock")
        config = os.path.join(tmp, "c.yaml")
        with open(config, "w") as f:
            f.write("bind: [\"unix:%s\"]\npidfile: %s\nthreds: 4\n" % (sock, pidfile))
        self.assertConfigError(["-c", config], "config file %s:3:1: unknown setting 'threds'; "
                               "did you mean 'threads'?" % config)
        self.assertEqual(os.listdir(tmp), ["c.yaml"], "no pidfile, no socket file")

    def test_invalid_yaml_names_the_position(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        config = os.path.join(tmp, "c.yaml")
        with open(config, "w") as f:
            f.write("threads: 2\nbind: [127.0.0.1:1\n")
        self.assertConfigError(["-c", config], "config file %s:3:1: invalid YAML: " % config)

    def test_unreadable_config_file(self):
        self.assertConfigError(["-c", "/nonexistent/c.yaml"],
                               "setting 'config': cannot read config file '/nonexistent/c.yaml' "
                               "(No such file or directory)")

    def test_environment_error_names_the_variable(self):
        code, log = None, None
        server = Server()
        self.addCleanup(server.cleanup)
        os.environ["CPPGUNICORN_THREADS"] = "lots"
        try:
            server.start([], example_app("hello"), wait=False, bind=False)
        finally:
            del os.environ["CPPGUNICORN_THREADS"]
        code = server.wait_exit(T(10))
        log = server.log_text()
        self.assertEqual(code, EXIT_CONFIG, log)
        self.assertIn("setting 'threads': value 'lots' is not an integer (from environment "
                      "CPPGUNICORN_THREADS); allowed: an integer in 1..1024", log)

    def test_threads_zero(self):
        self.assertConfigError(["--threads", "0"], "'threads'", "'0'", "command line flag --threads", "1..1024")

    def test_threads_not_a_number(self):
        self.assertConfigError(["--threads=many"], "'threads'", "'many'", "is not an integer",
                               "command line flag --threads")

    def test_unknown_flag_suggestion(self):
        self.assertConfigError(["--bindd", "x"], "unknown option '--bindd'", "did you mean '--bind'")

    def test_bad_bind_address(self):
        self.assertConfigError(["--bind", "nonsense"], "'bind'", "'nonsense'", "not a valid address",
                               "command line flag --bind")

    def test_bad_log_level(self):
        self.assertConfigError(["--log-level", "loud"], "'loglevel'", "'loud'",
                               "debug|info|warning|error|critical")

    def test_bad_access_log_format(self):
        self.assertConfigError(["--access-logformat", "%(zz)s"], "access_log_format", "unknown atom %(zz)s")

    def test_missing_value(self):
        self.assertConfigError([example_app("hello"), "--threads"], "option '--threads' needs a value",
                               "1..1024", app="")

    def test_no_app(self):
        self.assertConfigError(["--threads", "2"], "no app given", "usage: cppgunicorn", app="")

    def test_two_apps(self):
        self.assertConfigError([example_app("hello")], "unexpected argument", "after '--'")

    # ---- binding ----

    def test_port_in_use(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            code, log = self.run_server(["--bind", "127.0.0.1:%d" % port], example_app("hello"), bind=False)
        self.assertEqual(code, EXIT_BIND, log)
        self.assertIn(str(port), log)
        self.assertIn("Address already in use", log)

    # ---- informational flags ----

    def test_version_and_help(self):
        import subprocess
        out = subprocess.run([BINARY, "--version"], capture_output=True, timeout=T(10))
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"^cppgunicorn \S+ \(app ABI 1\)\n$")
        out = subprocess.run([BINARY, "--help"], capture_output=True, timeout=T(10))
        self.assertEqual(out.returncode, 0)
        text = out.stdout.decode()
        for flag in ("--bind", "--threads", "--keep-alive", "--header-timeout", "--limit-request-line",
                     "--access-logfile", "--access-logformat", "--graceful-timeout"):
            self.assertIn(flag, text)


if __name__ == "__main__":
    unittest.main()
