# SPDX-License-Identifier: MIT
"""Helpers for the WSGI bridge's integration tests (test_74 to test_77): where the bridge
and the test apps are, and servers that run them. The tests skip, saying why, when the
bridge was not built (it needs Debian's libpython3.11-dev)."""

import os
import unittest

from harness import BUILD_DIR, HERE, SANITIZER, Server, ServerCase, ServerTestCase

# Under a sanitizer, Python's allocations go through malloc so that ASan sees them (servers
# inherit this process's environment).
if SANITIZER:
    os.environ.setdefault("PYTHONMALLOC", "malloc")

WSGI_PLUGIN = os.path.join(BUILD_DIR, "plugins", "wsgi", "wsgi.so")
WSGI_APPS = os.path.abspath(os.path.join(HERE, "..", "wsgi_apps"))


def require_bridge():
    if not os.path.exists(WSGI_PLUGIN):
        raise unittest.SkipTest("the WSGI bridge was not built (%s is missing; it needs Debian's "
                                "libpython3.11-dev at configure time)" % WSGI_PLUGIN)


def bridge_args(app, threads=4, workers=1, extra=()):
    """The bridge's own arguments (after "--"), for a test of the plugin used directly."""
    return ["--threads", str(threads), "--workers", str(workers), "--pythonpath", WSGI_APPS, *extra, app]


def server_args(threads=4, workers=1, extra=()):
    """gunicorn's command line: the test apps' folder on sys.path."""
    return ["--workers", str(workers), "--threads", str(threads), "--pythonpath", WSGI_APPS, *extra]


class WsgiServerTestCase(ServerTestCase):
    """A class-wide server running WSGI_APP (MODULE:CALLABLE from tests/wsgi_apps) with
    THREADS threads and ARGS besides, started as gunicorn would be: cppgunicorn MODULE:CALLABLE."""

    WSGI_APP = None
    THREADS = 4
    EXTRA_ARGS = ()

    @classmethod
    def setUpClass(cls):
        require_bridge()
        cls.APP = cls.WSGI_APP
        cls.ARGS = server_args(cls.THREADS, extra=cls.EXTRA_ARGS)
        cls.APP_ARGS = []
        super().setUpClass()


class WsgiCase(ServerCase):
    """Each test starts its own server with start_wsgi()."""

    @classmethod
    def setUpClass(cls):
        require_bridge()
        super().setUpClass()

    def start_wsgi(self, app, threads=4, workers=1, extra=(), **kwargs):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(server_args(threads, workers, extra), app, **kwargs)
        return server
