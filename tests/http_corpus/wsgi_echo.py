# SPDX-License-Identifier: MIT
"""gunicorn's side of the corpus comparison: answers every request with the JSON that
examples/echo.so gives (method, target, base64 body), so both servers can be compared on
the same raw requests. Python: Debian's /usr/bin/python3 with its gunicorn (20.1)."""
import base64
import json


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    doc = {
        "method": environ["REQUEST_METHOD"],
        "target": environ.get("RAW_URI", ""),
        "body_b64": base64.b64encode(body).decode(),
    }
    out = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
