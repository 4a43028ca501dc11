# SPDX-License-Identifier: MIT
"""cppgunicorn: what a WSGI app served by cppgunicorn can import.

    executor       the worker's shared thread pool as a concurrent.futures.Executor. Each
                   task runs in a copy of the submitting request's contextvars context, so
                   flask.request, flask.g and current_app work inside it.
    Executor       another executor on the same pool, with a shutdown() of its own.
    request_id()   the id of the request being handled (environ["REQUEST_ID"]), in its
                   executor tasks too; None outside a request.
    ExecutorFull   raised by submit() when the pool's queue is full (--executor-queue).
    BodyError      raised by wsgi.input when the request body cannot be read (too large,
                   malformed, too slow); .status is what the server answers.
    FileWrapper    the environ's wsgi.file_wrapper.

This module is built into the bridge (it is not a file on sys.path); its C half adds
_submit() and _log().
"""

import ast
import concurrent.futures as _futures
import contextvars
import importlib
import os
import sys
import threading
import traceback

__all__ = ["executor", "Executor", "ExecutorFull", "request_id", "BodyError", "FileWrapper"]

# Set by the bridge in each request's fresh context, and copied into its tasks.
_request_id = contextvars.ContextVar("cppgunicorn.request_id", default=None)


def request_id():
    """The id of the request being handled (its REQUEST_ID), or None outside a request."""
    return _request_id.get()


class BodyError(OSError):
    """The request body could not be read: larger than --limit-request-body (status 413),
    malformed (400), or the client stopped sending it (408). Unless the app answers with
    something other than a 5xx, the server answers with .status."""

    status = 400


class ExecutorFull(RuntimeError):
    """The worker's executor queue is full (--executor-queue): the task was not queued."""


class Executor(_futures.Executor):
    """An executor on the worker's shared pool (--executor-threads threads).

    submit() runs fn in a copy of the caller's contextvars context. shutdown() stops this
    object from taking tasks and waits for (or cancels) the ones it took; the pool itself
    lives as long as the worker."""

    _refuses_after_shutdown = True

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = set()
        self._shut_down = False

    def submit(self, fn, /, *args, **kwargs):
        context = contextvars.copy_context()
        future = _futures.Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._pending.add(future)

        def task():
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = context.run(fn, *args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._pending.discard(future)

        try:
            _submit(task)
        except BaseException:
            with self._lock:
                self._pending.discard(future)
            raise
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            if self._refuses_after_shutdown:
                self._shut_down = True
            pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            _futures.wait(pending)


class _SharedExecutor(Executor):
    """cppgunicorn.executor: every request of the worker submits through it, so its
    shutdown() waits for (or cancels) what it holds but never refuses later tasks."""

    _refuses_after_shutdown = False

    def __repr__(self):
        return "<cppgunicorn.executor: the worker's shared pool>"


executor = _SharedExecutor()


class FileWrapper:
    """wsgi.file_wrapper: a response the server sends with sendfile(2) when filelike is a
    regular file and the response has a Content-Length (from the file's current position);
    otherwise it is read blksize bytes at a time."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


# ---- used by the bridge at start-up ----


class AppImportError(Exception):
    """The app spec names nothing callable (gunicorn's message, without a traceback)."""


def _prepare_path(pythonpath):
    # As gunicorn: the working directory first in sys.path, then each --pythonpath entry
    # put in front of it.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for path in pythonpath:
        path = os.path.abspath(path)
        if path not in sys.path:
            sys.path.insert(0, path)


def _called_with_wrong_args(factory):
    # True when the TypeError came from calling factory itself (no frame of it ran).
    tb = sys.exc_info()[2]
    try:
        while tb is not None:
            if tb.tb_frame.f_code is getattr(factory, "__code__", None):
                return False
            tb = tb.tb_next
        return True
    finally:
        del tb


def _load_app(spec):
    """The WSGI callable for MODULE, MODULE:NAME or MODULE:factory(literal args), as
    gunicorn's import_app finds it."""
    module, _, obj = spec.partition(":")
    obj = obj or "application"
    try:
        mod = importlib.import_module(module)
    except ImportError:
        if module.endswith(".py") and os.path.exists(module):
            raise ImportError("Failed to find application, did you mean '%s:%s'?"
                              % (module.rsplit(".", 1)[0], obj))
        raise
    try:
        expression = ast.parse(obj, mode="eval").body
    except SyntaxError:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj) from None
    if isinstance(expression, ast.Name):
        name, args, kwargs = expression.id, None, None
    elif isinstance(expression, ast.Call):
        if not isinstance(expression.func, ast.Name):
            raise AppImportError("Function reference must be a simple name: %r" % obj)
        name = expression.func.id
        try:
            args = [ast.literal_eval(arg) for arg in expression.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expression.keywords}
        except ValueError:
            raise AppImportError("Failed to parse arguments as literal values: %r" % obj) from None
    else:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj)
    try:
        app = getattr(mod, name)
    except AttributeError:
        raise AppImportError("Failed to find attribute %r in %r." % (name, module)) from None
    if args is not None:
        try:
            app = app(*args, **kwargs)
        except TypeError as e:
            if _called_with_wrong_args(app):
                raise AppImportError("".join(traceback.format_exception_only(TypeError, e)).strip()) from None
            raise
    if app is None:
        raise AppImportError("Failed to find application object: %r" % obj)
    if not callable(app):
        raise AppImportError("Application object must be callable.")
    return app
