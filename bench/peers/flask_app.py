# SPDX-License-Identifier: MIT
"""Flask hello world for gunicorn (bench/suite.py): GET / -> 200 "Hello, World!\n"."""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!\n", 200, {"Content-Type": "text/plain"}
