# SPDX-License-Identifier: MIT
"""Apps wrapped in wsgiref.validate.validator, which asserts (AssertionError) whenever the
server or the app breaks PEP 3333: the environ's keys and types, wsgi.input and wsgi.errors
methods, start_response's arguments, the iterable and its close(). An assertion while the
app runs becomes a 500 with the traceback in the log; one in the iterator's __del__ (close()
never called) is printed to stderr, which is the server's log too."""

import sys
from wsgiref.validate import validator


def _inner(environ, start_response):
    path = environ["PATH_INFO"]
    body_in = environ["wsgi.input"]
    if path == "/read":
        data = body_in.read(int(environ.get("CONTENT_LENGTH") or 0))
    elif path == "/readline":
        data = b"".join(iter(lambda: body_in.readline(8), b""))
    elif path == "/readlines":
        data = b"".join(body_in.readlines())
    elif path == "/iter":
        data = b"".join(body_in)
    elif path == "/errors":
        environ["wsgi.errors"].write("validated errors line\n")
        environ["wsgi.errors"].writelines(["a\n", "b\n"])
        environ["wsgi.errors"].flush()
        data = b"logged"
    elif path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned"]
    elif path == "/generator":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"chunk %d\n" % i for i in range(5))
    elif path == "/file":
        import io
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from a file"), 4)
    elif path == "/exc_info":
        try:
            raise ValueError("replaced before the headers")
        except ValueError:
            start_response("200 OK", [("Content-Type", "text/plain")])
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error page"]
    elif path == "/head":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"body"]
    elif path == "/not_modified":
        start_response("304 Not Modified", [])
        return []
    elif path == "/wrong":  # the canary: validator must catch a str body
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str, not bytes"]
    else:
        data = ("%s %s" % (environ["REQUEST_METHOD"], path)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


application = validator(_inner)
