# SPDX-License-Identifier: MIT
"""Large streamed uploads: the server never buffers a request body; its peak RSS (VmHWM from
/proc/PID/status) stays far below the upload size, also when the app reads slowly."""

import json
import threading
import time
import unittest

from harness import (SANITIZER, HttpReader, ServerTestCase, T, connect, fixture_app,
                     simple_request)

MIB = 1 << 20
RSS_LIMIT_KIB = 64 * 1024
# Sanitizer builds are slower and their shadow memory makes RSS meaningless: smaller uploads,
# and the RSS ceiling is only reported, not enforced.
BIG_UPLOAD = (64 if SANITIZER else 256) * MIB
BLOCK = 1 * MIB


def make_blocks(count=7):
    """A few distinct deterministic 1 MiB blocks, and their byte sums."""
    blocks = []
    for k in range(count):
        pattern = bytes(((i * (2 * k + 1)) + k * 37) & 0xFF for i in range(4096))
        blocks.append(pattern * (BLOCK // len(pattern)))
    return blocks, [sum(b) for b in blocks]


BLOCKS, SUMS = make_blocks()


def body_blocks(total):
    for i in range(total // BLOCK):
        yield BLOCKS[i % len(BLOCKS)]


def expected_sum(total):
    return sum(SUMS[i % len(SUMS)] for i in range(total // BLOCK))


class UploadBase(ServerTestCase):
    APP = fixture_app("testkit")
    ARGS = ("--threads", "2")
    peaks = None

    @classmethod
    def tearDownClass(cls):
        if cls.peaks:
            print("\n  peak RSS (VmHWM) of the server: " +
                  ", ".join("%s %.1f MiB" % (k, v / 1024) for k, v in sorted(cls.peaks.items())))
        super().tearDownClass()

    def upload(self, total, use_chunked, delay_ms=0, timeout=T(60)):
        """Streams `total` bytes to /upload from a thread; returns (json, seconds, max VmHWM)."""
        headers = [("Host", "x"), ("Content-Type", "application/octet-stream"), ("Connection", "close")]
        headers.append(("Transfer-Encoding", "chunked") if use_chunked else ("Content-Length", str(total)))
        errors = []
        with connect(self.server.port, timeout=timeout) as sock:
            sock.sendall(simple_request("POST", "/upload?delay_ms=%d" % delay_ms, headers))

            def send():
                try:
                    for block in body_blocks(total):
                        if use_chunked:
                            sock.sendall(b"%x\r\n" % len(block))
                            sock.sendall(block)
                            sock.sendall(b"\r\n")
                        else:
                            sock.sendall(block)
                    if use_chunked:
                        sock.sendall(b"0\r\n\r\n")
                except OSError as e:
                    errors.append(e)

            started = time.monotonic()
            sent_at = []
            sender = threading.Thread(target=lambda: (send(), sent_at.append(time.monotonic() - started)),
                                      daemon=True)
            sender.start()
            resp = HttpReader(sock, timeout=timeout).read_response(timeout=timeout)
            elapsed = time.monotonic() - started
            sender.join(timeout)
            self.assertFalse(sender.is_alive(), "sender still running")
        self.assertEqual(errors, [])
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        self.send_seconds = sent_at[0]
        return json.loads(resp.body), elapsed, self.server.rss_kib()[1]

    def check(self, name, total, use_chunked, delay_ms=0):
        doc, elapsed, hwm = self.upload(total, use_chunked, delay_ms)
        self.assertEqual(doc, {"bytes": total, "sum": expected_sum(total)})
        type(self).peaks[name] = hwm
        print("\n  %s: %d MiB in %.1f s (%.0f MiB/s), server VmHWM %.1f MiB"
              % (name, total // MIB, elapsed, total / MIB / elapsed, hwm / 1024), end="")
        if not SANITIZER:
            self.assertLess(hwm, RSS_LIMIT_KIB, "server peak RSS %d KiB after %s" % (hwm, name))


class UploadTest(UploadBase, unittest.TestCase):
    peaks = {}

    def test_1_upload_content_length(self):
        self.check("content-length", BIG_UPLOAD, use_chunked=False)

    def test_2_upload_chunked(self):
        self.check("chunked", BIG_UPLOAD, use_chunked=True)


class SlowAppUploadTest(UploadBase, unittest.TestCase):
    """A fresh server, so that its VmHWM reflects only the slow upload."""
    peaks = {}

    def test_slow_app_backpressure(self):
        # The app sleeps 20 ms per 64 KiB read (about 3 MiB/s). A server that buffered the body
        # would take all 32 MiB at once and grow by as much; one that applies back-pressure
        # keeps the client blocked in send() until the app has consumed most of it.
        self.check("slow app", 32 * MIB, use_chunked=False, delay_ms=20)
        print(" (client send() done after %.1f s)" % self.send_seconds, end="")
        self.assertGreater(self.send_seconds, 2.0, "the whole body was accepted before the app read it")


if __name__ == "__main__":
    unittest.main()
