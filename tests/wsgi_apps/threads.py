# SPDX-License-Identifier: MIT
"""Concurrency probes for tests/integration/test_76_wsgi_threads.py: sleeping requests,
a slow upload, context variables and threading.local across requests on one thread, and
cppgunicorn.executor tasks that see their request."""

import contextvars
import json
import threading
import time
from urllib.parse import parse_qs

import cppgunicorn

seen = contextvars.ContextVar("seen", default=None)
local = threading.local()
background_ticks = 0
uploading = 0  # requests inside wsgi.input.read() of /upload


def _ticker():  # a Python thread of the app: it must run while no request is in flight
    global background_ticks
    while True:
        time.sleep(0.01)
        background_ticks += 1


threading.Thread(target=_ticker, name="app-ticker", daemon=True).start()


def _json(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def app(environ, start_response):
    path, q = environ["PATH_INFO"], _query(environ)
    if path == "/sleep":
        time.sleep(float(q.get("s", "1")))
        return _json(start_response, {"slept": q.get("s", "1")})
    if path == "/upload":
        global uploading
        uploading += 1
        try:
            data = environ["wsgi.input"].read()
        finally:
            uploading -= 1
        return _json(start_response, {"len": len(data)})
    if path == "/uploading":
        return _json(start_response, {"uploading": uploading})
    if path == "/fast":
        return _json(start_response, {"fast": True})
    if path == "/context":
        # Each request must start with an empty context: `seen` unset, whatever the thread did.
        before = seen.get()
        seen.set(q.get("token"))
        return _json(start_response, {"before": before, "thread": threading.get_ident()})
    if path == "/local":
        local.count = getattr(local, "count", 0) + 1
        return _json(start_response, {"thread": threading.get_ident(), "count": local.count})
    if path == "/executor":
        seen.set(q.get("token"))
        futures = [cppgunicorn.executor.submit(lambda i=i: (i, seen.get(), cppgunicorn.request_id(),
                                                            threading.current_thread().name))
                   for i in range(4)]
        results = [f.result(timeout=10) for f in futures]
        return _json(start_response, {"results": results, "request_id": cppgunicorn.request_id(),
                                      "handler_thread": threading.current_thread().name})
    if path == "/executor_full":
        gate = threading.Event()
        futures, full = [], None
        try:
            for _ in range(int(q.get("n", "100"))):
                futures.append(cppgunicorn.executor.submit(gate.wait, 10))
        except cppgunicorn.ExecutorFull as e:
            full = str(e)
        gate.set()
        for f in futures:
            f.result(timeout=10)
        return _json(start_response, {"submitted": len(futures), "full": full})
    if path == "/executor_shutdown":
        ex = cppgunicorn.Executor()
        with ex:
            f = ex.submit(time.sleep, 0.2)
        done = f.done()
        try:
            ex.submit(time.sleep, 0)
            refused = None
        except RuntimeError as e:
            refused = str(e)
        cppgunicorn.executor.shutdown(wait=True)
        shared_still_works = cppgunicorn.executor.submit(lambda: 42).result(timeout=10)
        return _json(start_response, {"waited": done, "refused": refused, "shared": shared_still_works})
    if path == "/ticks":
        return _json(start_response, {"ticks": background_ticks})
    start_response("404 Not Found", [("Content-Length", "0")])
    return []
