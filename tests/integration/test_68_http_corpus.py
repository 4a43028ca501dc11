# SPDX-License-Identifier: MIT
"""The HTTP conformance corpus (tests/http_corpus/requests.jsonl: RFC 9112 and 9110 cases
and the answer each should get) against the real server with the echo app, sent whole and
cut into random pieces on the wire; and the same corpus against gunicorn 20.1, where every
case on which the two differ must be one the corpus documents (field "gunicorn").
Python: Debian's /usr/bin/python3 (gunicorn is imported from there)."""
import base64
import json
import os
import random
import socket
import subprocess
import unittest

from harness import (DEFAULT_TIMEOUT, HERE, SANITIZER, HttpReader, IncompleteResponse, ServerCase, example_app,
                     free_port, wait_until)

CORPUS_DIR = os.path.join(HERE, "..", "http_corpus")
CASES = [json.loads(line) for line in open(os.path.join(CORPUS_DIR, "requests.jsonl")) if line.strip()]


def exchange(port, raw, pieces, expected_responses):
    """Sends `raw` in `pieces` (lengths) and reads up to `expected_responses` answers;
    returns [(status, json or None)] and whether the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        offset = 0
        for size in pieces:
            sock.sendall(raw[offset:offset + size])
            offset += size
        sock.sendall(raw[offset:])
        reader = HttpReader(sock)
        answers = []
        for _ in range(expected_responses):
            try:
                resp = reader.read_response()
            except (IncompleteResponse, OSError):
                break
            try:
                doc = resp.json() if resp.status == 200 else None
            except ValueError:
                doc = None
            answers.append((resp.status, doc))
            if resp.status != 200:
                break
        return answers


def random_pieces(raw, rng):
    pieces, left = [], len(raw)
    while left > 0:
        n = min(left, rng.randint(1, 8))
        pieces.append(n)
        left -= n
    return pieces


def outcome(answers, case):
    """What a server did with a case: "no answer", its status, or for 200 whether it saw
    exactly the requests the corpus expects (200) or something else ("accepted otherwise")."""
    if not answers:
        return "no answer"
    status = answers[0][0]
    if status != 200:
        return status
    want = case.get("requests")
    if want is None:
        return "accepted otherwise"  # the corpus expects a refusal
    got = [(d["method"], d["target"], base64.b64decode(d["body_b64"])) if d else None for _, d in answers]
    expect = [(r["method"], r["target"], r["body"].encode("latin-1")) for r in want]
    return 200 if got == expect else "accepted otherwise"


class CorpusTest(ServerCase):
    def test_every_case_whole_and_in_random_pieces(self):
        server = self.start(["--workers", "1", "--keep-alive", "5"], example_app("echo"))
        rng = random.Random(20261202)
        wrong = []
        for case in CASES:
            raw = case["raw"].encode("latin-1")
            n = len(case.get("requests", [])) or 1
            for pieces in ([], random_pieces(raw, rng), random_pieces(raw, rng)):
                got = outcome(exchange(server.port, raw, pieces, n), case)
                if got != case["status"]:
                    wrong.append((case["id"], case["section"], pieces[:3], got, case["status"]))
        self.assertEqual(wrong, [])


@unittest.skipIf(SANITIZER, "gunicorn's answers do not change with our sanitizers")
@unittest.skipUnless(subprocess.run(["/usr/bin/python3", "-c", "import gunicorn"],
                                    capture_output=True).returncode == 0,
                     "gunicorn is not installed (package gunicorn)")
class GunicornComparisonTest(unittest.TestCase):
    def test_differences_from_gunicorn_are_the_documented_ones(self):
        port = free_port()
        proc = subprocess.Popen(["/usr/bin/python3", "-m", "gunicorn", "--bind", "127.0.0.1:%d" % port,
                                 "--workers", "1", "--chdir", CORPUS_DIR, "wsgi_echo:app"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.terminate)

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, DEFAULT_TIMEOUT * 2, what="gunicorn listening")
        undocumented = []
        for case in CASES:
            raw = case["raw"].encode("latin-1")
            got = outcome(exchange(port, raw, [], len(case.get("requests", [])) or 1), case)
            documented = case.get("gunicorn", {}).get("status", case["status"])
            if got != documented:
                undocumented.append((case["id"], "gunicorn: %r" % (got,), "documented: %r" % (documented,)))
        self.maxDiff = None
        self.assertEqual(undocumented, [], "cases where gunicorn differs from what the corpus says")


if __name__ == "__main__":
    unittest.main()
