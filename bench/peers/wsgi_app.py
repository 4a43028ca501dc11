# SPDX-License-Identifier: MIT
"""Plain WSGI twin of bench/apps/bench_app.cpp, for gunicorn and uWSGI (bench/suite.py).

GET /            200 "Hello, World!\n"
GET /sleep?ms=N  blocks the worker thread N ms, then 200 "slept\n"
POST /echo       streams wsgi.input back in 64 KiB chunks, with the request's Content-Length
"""
import time
from urllib.parse import parse_qs

CHUNK = 64 * 1024
HELLO = b"Hello, World!\n"


def _respond(start_response, status, body):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(body, remaining):
    # Reads only as much as the client announced, so memory stays at one chunk.
    while remaining is None or remaining > 0:
        chunk = body.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _respond(start_response, "200 OK", HELLO)
    if path == "/sleep":
        ms = int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["0"])[0])
        time.sleep(ms / 1000)
        return _respond(start_response, "200 OK", b"slept\n")
    if path == "/echo":
        length = environ.get("CONTENT_LENGTH") or None
        headers = [("Content-Type", "application/octet-stream")]
        if length is not None:
            headers.append(("Content-Length", length))
        start_response("200 OK", headers)
        return _stream(environ["wsgi.input"], None if length is None else int(length))
    return _respond(start_response, "404 Not Found", b"not found\n")
