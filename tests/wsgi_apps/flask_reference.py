# SPDX-License-Identifier: MIT
"""A Flask app (Debian's python3-flask 2.2) served by cppgunicorn and by gunicorn 20.1 in
tests/integration/test_80_wsgi_flask_reference.py, which compares their answers. It uses
nothing of cppgunicorn, so that gunicorn runs it unchanged: sessions, redirects, send_file
of a real file (conditional GET, Range), stream_with_context, JSON, a form, 404, 405, error
handlers and large responses."""

import os

from flask import (Flask, abort, jsonify, redirect, request, send_file, session, stream_with_context,
                   url_for)

app = Flask(__name__)
app.secret_key = "reference-tests-only"  # the same in every worker of both servers

# Committed with the tests: both servers see the same bytes and the same mtime (send_file's
# ETag and Last-Modified come from them).
REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "report.txt")
TAIL_FROM = 100  # /tail sends the report from this offset

LARGE = bytes(range(256)) * (4 << 12)  # 4 MiB


class Refused(Exception):
    """An app exception with an error handler of its own."""


@app.get("/")
def hello():
    return "Hello from Flask"


@app.get("/json")
def get_json():
    return jsonify(path=request.path, args=request.args.to_dict(flat=False), method=request.method)


@app.post("/json")
def post_json():
    return jsonify(received=request.get_json(), length=request.content_length)


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "GET":
        return '<form method="post"><input name="name"><input name="extra"><input type="submit"></form>'
    return "Hello, %s (%s)" % (request.form["name"], request.form.get("extra", "-"))


@app.get("/old")
def old():
    return redirect(url_for("hello"))


@app.get("/moved")
def moved():
    return redirect(url_for("get_json", x="1"), code=301)


@app.get("/session/set")
def session_set():
    session["value"] = request.args["v"]
    return "set"


@app.get("/session/get")
def session_get():
    return session.get("value", "nothing")


@app.get("/download")
def download():
    return send_file(REPORT, as_attachment=True, download_name="report.txt")


@app.get("/tail")
def tail():
    # werkzeug's send_file documents it: "make sure the file pointer is seeked to the start
    # of the data". The server gets it in wsgi.file_wrapper, positioned at TAIL_FROM.
    f = open(REPORT, "rb")
    f.seek(TAIL_FROM)
    return send_file(f, mimetype="text/plain")


@app.get("/stream")
def stream():
    def generate():
        for i in range(5):
            yield "%s-%d\n" % (request.args.get("word", "w"), i)  # the request, while streaming
    return app.response_class(stream_with_context(generate()), mimetype="text/plain")


@app.get("/large")
def large():
    return app.response_class(LARGE, mimetype="application/octet-stream")


@app.get("/large-stream")
def large_stream():
    def generate():
        for i in range(0, len(LARGE), 65536):
            yield LARGE[i:i + 65536]
    return app.response_class(generate(), mimetype="application/octet-stream")


@app.get("/refused")
def refused():
    raise Refused("not today")


@app.errorhandler(Refused)
def on_refused(error):
    return jsonify(error=str(error), kind="refused"), 422


@app.get("/teapot")
def teapot():
    abort(418)


@app.errorhandler(404)
def on_not_found(error):
    return jsonify(error="no such page", path=request.path), 404


@app.get("/boom")
def boom():
    raise RuntimeError("flask handler failed")
