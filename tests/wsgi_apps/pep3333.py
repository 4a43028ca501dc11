# SPDX-License-Identifier: MIT
"""A WSGI app with one route per PEP 3333 behaviour that tests/integration/test_74_wsgi.py
checks over the wire. Counters of close() calls live in this process (the tests run one
worker) and are read back with GET /counts."""

import io
import json
import os
import threading
import time
from urllib.parse import parse_qs

_counts = {}
_counts_lock = threading.Lock()


def _count(name):
    with _counts_lock:
        _counts[name] = _counts.get(name, 0) + 1


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Closing:
    """An iterable that counts its close() calls under `name`; `fail_at` raises at that
    chunk, before yielding it."""

    def __init__(self, name, chunks, fail_at=None, delay=0.0):
        self.name, self.chunks, self.fail_at, self.delay = name, chunks, fail_at, delay

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failing on purpose in chunk %d" % i)
            if self.delay and i:
                time.sleep(self.delay)
            yield chunk

    def close(self):
        _count(self.name)


def environ_view(environ, start_response):
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    out["wsgi.version"] = list(environ["wsgi.version"])
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
        out[key] = environ[key]
    out["environ_type"] = type(environ).__name__
    out["input_type"] = type(environ["wsgi.input"]).__name__
    out["errors_type"] = type(environ["wsgi.errors"]).__name__
    out["file_wrapper"] = environ["wsgi.file_wrapper"].__name__
    return _json(start_response, out)


def echo(environ, start_response):
    """Reads the body as ?mode= says and answers with what each call returned (latin-1)."""
    q = _query(environ)
    body = environ["wsgi.input"]
    mode, n = q.get("mode", "read"), int(q.get("n", "-1"))
    calls = []
    if mode == "read":
        calls.append(body.read() if n < 0 else body.read(n))
    elif mode == "read_none":
        calls.append(body.read(None))
    elif mode == "chunks":  # read(n) until the end
        while True:
            data = body.read(n)
            calls.append(data)
            if not data:
                break
    elif mode == "readline":  # readline(n) (or readline()) until the end
        while True:
            line = body.readline() if n < 0 else body.readline(n)
            calls.append(line)
            if not line:
                break
    elif mode == "readlines":
        calls.extend(body.readlines() if n < 0 else body.readlines(n))
    elif mode == "iter":
        calls.extend(body)
    return _json(start_response, [c.decode("latin-1") for c in calls])


def lazy_headers(environ, start_response):
    """Empty chunks first: the headers are not sent, so exc_info may still replace them."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])

    def body():
        yield b""
        yield b""
        try:
            raise ValueError("replaced")
        except ValueError:
            import sys
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("X-Replaced", "1")],
                           sys.exc_info())
        yield b"replaced\n"
    return body()


def exc_after_headers(environ, start_response):
    """exc_info once a chunk went out: start_response re-raises, the connection closes."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"partial\n"
        try:
            raise KeyError("after headers")
        except KeyError:
            import sys
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"never\n"
    return Closing("exc_after", body())


def twice(environ, start_response):
    """A second start_response without exc_info is an error; with exc_info (before any
    body) it replaces the first."""
    import sys
    start_response("200 OK", [])
    try:
        start_response("200 OK", [])
        second = None
    except AssertionError as e:
        second = "AssertionError: %s" % e
    body = json.dumps({"second_call": second}).encode()
    try:
        raise ValueError("replace")
    except ValueError:
        start_response("200 OK", [("Content-Length", str(len(body)))], sys.exc_info())
    return [body]


def write_then_iterable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one,")
    write(b"")
    write(b"two,")
    return [b"three"]


def generator(environ, start_response):
    """?n=chunks&size=bytes: n chunks of size bytes, made one at a time."""
    q = _query(environ)
    n, size = int(q.get("n", "4")), int(q.get("size", "10"))
    headers = [("Content-Type", "application/octet-stream")]
    if q.get("cl"):
        headers.append(("Content-Length", str(n * size)))
    start_response("200 OK", headers)

    def chunks():
        for i in range(n):
            yield bytes([65 + i % 26]) * size
    return Closing("gen", chunks(), delay=float(q.get("delay", "0")))


def fail_in_iteration(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    at = int(_query(environ).get("at", "1"))
    return Closing("fail_iter_%d" % at, [b"first\n", b"second\n"], fail_at=at)


def raise_now(environ, start_response):
    raise RuntimeError("the app failed on purpose")


class CountingFile(io.FileIO):
    """A real file whose read() calls are counted: sendfile never calls it."""

    def read(self, size=-1):
        _count("file_read")
        return super().read(size)


def _make_file():
    # 1 MiB + 7 bytes of a known pattern, in the server's working directory.
    path = os.path.join(os.getcwd(), "pep3333_file.bin")
    with open(path, "wb") as f:
        f.write(bytes(i % 251 for i in range(FILE_SIZE)))
    return path


FILE_SIZE = (1 << 20) + 7
FILE_PATH = _make_file()


def file_response(environ, start_response):
    """?offset= seeks first; ?cl= declares a length (default: the rest of the file);
    ?kind=bytesio serves a BytesIO; ?nocl=1 declares none."""
    q = _query(environ)
    path = FILE_PATH
    offset = int(q.get("offset", "0"))
    if q.get("kind") == "bytesio":
        with open(path, "rb") as f:
            f_like = io.BytesIO(f.read())
    else:
        f_like = io.BufferedReader(CountingFile(path, "rb")) if q.get("buffered") else CountingFile(path, "rb")
    f_like.seek(offset)
    if q.get("buffered"):  # a read through the file object's buffer moves tell(), not the fd
        f_like.read(int(q["buffered"]))
        offset = f_like.tell()
    size = os.path.getsize(path)
    headers = [("Content-Type", "application/octet-stream")]
    if not q.get("nocl"):
        headers.append(("Content-Length", q.get("cl", str(size - offset))))
    start_response("200 OK", headers)
    wrapper = environ["wsgi.file_wrapper"](f_like, int(q.get("blksize", "8192")))
    inner_close = wrapper.close

    def close():
        _count("file")
        inner_close()
    wrapper.close = close
    return wrapper


def status(environ, start_response):
    """?code=204 etc.: the status with a body the server must not send."""
    code = _query(environ).get("code", "200")
    body = b"body that must not be sent"
    start_response(code + " Whatever", [("Content-Length", str(len(body)))])
    return [body]


def content_length(environ, start_response):
    """?declared=N&actual=M."""
    q = _query(environ)
    start_response("200 OK", [("Content-Length", q["declared"])])
    return [b"x" * int(q["actual"])]


def errors(environ, start_response):
    stream = environ["wsgi.errors"]
    stream.write("first line\nsecond ")
    stream.write("line\n")
    stream.writelines(["third\n", "unended"])
    stream.flush()
    return _json(start_response, {"ok": True})


def bad_status(environ, start_response):
    start_response("OK", [])
    return [b"x"]


def bad_header(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
    return [b"x"]


def str_body(environ, start_response):
    start_response("200 OK", [])
    return ["text, not bytes"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", [("Content-Length", "2"), ("Keep-Alive", "timeout=1"),
                              ("Transfer-Encoding", "gzip"), ("Upgrade", "h2c"), ("X-Kept", "yes")])
    return [b"ok"]


def sleep(environ, start_response):
    time.sleep(float(_query(environ).get("s", "1")))
    return _json(start_response, {"slept": True})


def read_body_status(environ, start_response):
    """Reads the whole body; ?catch=500 answers 500 itself on an error, ?catch=200 200."""
    catch = _query(environ).get("catch")
    _count("read_body_started")
    try:
        data = environ["wsgi.input"].read()
    except OSError as e:
        if not catch:
            raise
        start_response(catch + " Caught", [("Content-Type", "text/plain")])
        return [("caught %s %s" % (type(e).__name__, getattr(e, "status", None))).encode()]
    return _json(start_response, {"len": len(data)})


def request_id(environ, start_response):
    import cppgunicorn
    return _json(start_response, {"environ": environ["REQUEST_ID"], "module": cppgunicorn.request_id()})


def c_extensions(environ, start_response):
    """C extension modules load (they need libpython's symbols, which the server's
    RTLD_LOCAL dlopen of the bridge would hide); json, for one, would fall back silently."""
    import importlib
    loaded = {}
    for name in ("_decimal", "_ctypes", "_sqlite3", "_json"):
        loaded[name] = importlib.import_module(name).__file__
    return _json(start_response, loaded)


def counts(environ, start_response):
    with _counts_lock:
        snapshot = dict(_counts)
    return _json(start_response, snapshot)


_drip_release = threading.Event()


def drip(environ, start_response):
    """A stream (server-sent events): the first event must reach the client while the
    generator waits, at most 10 s, for /drip_release."""
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    _drip_release.clear()

    def events():
        yield b"data: first\n\n"
        released = _drip_release.wait(10)
        yield b"data: second (released=%d)\n\n" % released
    return events()


def drip_release(environ, start_response):
    _drip_release.set()
    return _json(start_response, {"released": True})


ROUTES = {
    "/drip": drip,
    "/drip_release": drip_release,
    "/environ": environ_view,
    "/echo": echo,
    "/lazy": lazy_headers,
    "/exc_after": exc_after_headers,
    "/twice": twice,
    "/write": write_then_iterable,
    "/gen": generator,
    "/fail_iter": fail_in_iteration,
    "/raise": raise_now,
    "/file": file_response,
    "/status": status,
    "/cl": content_length,
    "/errors": errors,
    "/bad_status": bad_status,
    "/bad_header": bad_header,
    "/str_body": str_body,
    "/hop": hop_by_hop,
    "/sleep": sleep,
    "/read_body": read_body_status,
    "/request_id": request_id,
    "/cext": c_extensions,
    "/counts": counts,
}


def app(environ, start_response):
    handler = ROUTES.get(environ["PATH_INFO"])
    if handler is None:
        return _json(start_response, {"path": environ["PATH_INFO"]}, "404 Not Found")
    return handler(environ, start_response)
