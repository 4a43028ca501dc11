# SPDX-License-Identifier: MIT
"""A Flask app (Debian's python3-flask, 2.2) for tests/integration/test_77_wsgi_flask.py:
routes, JSON, a form, redirects, a session, send_file, stream_with_context, and
cppgunicorn.executor tasks that use flask.request, flask.g and current_app."""

import os
import threading
import time

import cppgunicorn
from flask import (Flask, current_app, g, jsonify, redirect, request, send_file, session,
                   stream_with_context, url_for)

app = Flask(__name__)
app.secret_key = "test-only"

DOWNLOAD = os.path.join(os.getcwd(), "flask_download.txt")
with open(DOWNLOAD, "w") as f:
    f.write("a file to download\n" * 100)


@app.get("/")
def hello():
    return "Hello from Flask"


@app.get("/json")
def get_json():
    return jsonify(a=1, items=[1, 2, 3], name=request.args.get("name", "none"))


@app.post("/json")
def post_json():
    data = request.get_json()
    return jsonify(received=data, length=request.content_length)


@app.get("/form")
def form():
    return '<form method="post"><input name="name"><input type="submit"></form>'


@app.post("/form")
def form_post():
    return "Hello, %s (%s)" % (request.form["name"], request.form.get("extra", "-"))


@app.get("/old")
def old():
    return redirect(url_for("hello"))


@app.get("/session/set")
def session_set():
    session["value"] = request.args["v"]
    return "set"


@app.get("/session/get")
def session_get():
    return session.get("value", "nothing")


@app.get("/download")
def download():
    return send_file(DOWNLOAD, as_attachment=True, download_name="report.txt")


@app.get("/stream")
def stream():
    def generate():
        for i in range(3):
            yield "%s-%d\n" % (request.args.get("word", "w"), i)
    return app.response_class(stream_with_context(generate()), mimetype="text/plain")


@app.get("/executor")
def executor_task():
    # No copy_current_request_context: cppgunicorn.executor copies the request's context.
    g.user = request.args.get("user", "anon")

    def task(i):
        return {"i": i, "q": request.args.get("q"), "user": g.user, "app": current_app.name,
                "path": request.path, "thread": threading.current_thread().name}
    futures = [cppgunicorn.executor.submit(task, i) for i in range(3)]
    return jsonify(results=[f.result(timeout=10) for f in futures])


@app.get("/whoami")
def whoami():
    g.token = request.args["token"]
    time.sleep(float(request.args.get("pause", "0")))  # other requests run meanwhile
    return jsonify(token=request.args["token"], g=g.token, rid=cppgunicorn.request_id())


@app.get("/boom")
def boom():
    raise RuntimeError("flask handler failed")
