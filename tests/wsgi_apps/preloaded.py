# SPDX-License-Identifier: MIT
"""A WSGI app for --preload: it starts a thread at import (as apps with a scheduler or a
metrics pusher do), so the master that imports it has a Python thread of the app when it
forks its workers."""
import json
import os
import threading
import time

IMPORT_PID = os.getpid()
ticks = 0


def _tick():
    global ticks
    while True:
        ticks += 1
        time.sleep(0.001)


ticker = threading.Thread(target=_tick, name="ticker", daemon=True)
ticker.start()


def app(environ, start_response):
    worker_thread = threading.Thread(target=lambda: None)
    worker_thread.start()  # threads still start in a forked worker
    worker_thread.join()
    body = json.dumps({"import_pid": IMPORT_PID, "pid": os.getpid(), "ticker_alive": ticker.is_alive(),
                       "threads": [t.name for t in threading.enumerate()]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
