# SPDX-License-Identifier: MIT
"""The smallest WSGI app: 'Hello, World!' for GET /."""


def application(environ, start_response):
    body = b"Hello, World!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def create_app(greeting="Hello", punctuation="!"):
    """A factory, for the MODULE:factory(...) form."""
    def app(environ, start_response):
        body = ("%s, World%s\n" % (greeting, punctuation)).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    return app
