# SPDX-License-Identifier: MIT
"""A Flask app (Debian's python3-flask) for tests/integration/test_83_wsgi_isolation.py:
each request puts its own token in flask.g and in a context variable, sleeps (so that the
worker's other thread runs another request meanwhile), submits a task to
cppgunicorn.executor that sleeps too, and answers with what the handler and the task see
then: the request's path, query and header, g, the context variable, the request id."""

import contextvars
import os
import threading
import time

import cppgunicorn
from flask import Flask, g, jsonify, request

app = Flask(__name__)
token_var = contextvars.ContextVar("token")

_lock = threading.Lock()
_in_flight = 0  # requests of this worker inside the handler


def observe():
    return {"path": request.path, "arg": request.args.get("token"), "header": request.headers.get("X-Token"),
            "g": g.get("token"), "var": token_var.get(None), "request_id": cppgunicorn.request_id(),
            "thread": threading.current_thread().name}


def task(pause):
    time.sleep(pause)
    return observe()


@app.get("/isolation/<token>")
def isolation(token):
    global _in_flight
    # What a request finds on arrival: nothing of the thread's previous requests.
    fresh = {"g": sorted(vars(g)), "var": token_var.get(None)}
    with _lock:
        _in_flight += 1
        in_flight = _in_flight
    try:
        g.token = token
        token_var.set(token)
        pause = float(request.args.get("pause", "0.002"))
        time.sleep(pause)
        future = cppgunicorn.executor.submit(task, pause)
        seen = observe()
        return jsonify(token=token, fresh=fresh, handler=seen, task=future.result(timeout=30), pid=os.getpid(),
                       in_flight=in_flight)
    finally:
        with _lock:
            _in_flight -= 1
