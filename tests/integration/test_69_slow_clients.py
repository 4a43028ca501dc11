# SPDX-License-Identifier: MIT
"""Slow clients cannot starve the app threads, and waiting for a client is not the app
hanging:
- a request reaches an app thread only once its body is in (or 64 KiB of it), so clients
  that trickle small bodies hold no thread;
- time an app call spends waiting for its client (body bytes, room to write) does not count
  toward --timeout: a stalled client is body_timeout's and send_timeout's business, and the
  worker, with the other requests on it, is never aborted for it.
Python: any python3."""
import json
import socket
import threading
import time
import unittest

from harness import (DEFAULT_TIMEOUT, TIME_SCALE, HttpReader, ServerCase, simple_request,
                     wait_until)


class SlowBodyTest(ServerCase):
    def test_trickled_small_bodies_hold_no_app_thread(self):
        server = self.start(["--workers", "1", "--threads", "2"])
        body = b"x" * 200
        trickle_seconds = 3.0 * TIME_SCALE
        socks = []
        # Six clients (three times the threads) send their heads now and the body a few
        # bytes at a time over three seconds.
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=DEFAULT_TIMEOUT * 4)
            self.addCleanup(s.close)
            s.sendall(simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", str(len(body)))]))
            socks.append(s)
        stop = threading.Event()

        def trickle():
            step = trickle_seconds / 20
            for i in range(20):
                for s in socks:
                    s.sendall(body[i * 10:(i + 1) * 10])
                if stop.wait(step):
                    return
        writer = threading.Thread(target=trickle)
        writer.start()
        self.addCleanup(writer.join)
        self.addCleanup(stop.set)
        # Meanwhile a normal client is answered at once, again and again.
        slowest = 0.0
        t_end = time.monotonic() + trickle_seconds / 2
        count = 0
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            self.assertEqual(server.get("/pid").status, 200)
            slowest = max(slowest, time.monotonic() - t0)
            count += 1
        self.assertLess(slowest, 0.5 * TIME_SCALE, "a normal request waited behind trickling bodies")
        writer.join()
        for s in socks:
            resp = HttpReader(s, DEFAULT_TIMEOUT * 2).read_response()
            self.assertEqual(json.loads(resp.body)["bytes"], len(body))


class NonReadingClientsTest(ServerCase):
    def test_clients_that_do_not_read_cannot_hold_every_thread(self):
        # Two threads: at most one may wait for a client's reading. Four clients ask for
        # 8 MiB and read nothing; a normal client is still answered at once.
        server = self.start(["--workers", "1", "--threads", "2"])
        socks = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=DEFAULT_TIMEOUT)
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(simple_request("GET", "/big?bytes=%d" % (8 << 20), [("Host", "x")]))
            socks.append(s)
        server.wait_for_log(r"reads \"GET /big\?bytes=8388608\" too slowly while 1 app thread\(s\) "
                            r"already wait for clients", timeout=DEFAULT_TIMEOUT)
        for _ in range(20):
            t0 = time.monotonic()
            self.assertEqual(server.get("/pid").status, 200)
            self.assertLess(time.monotonic() - t0, 0.5 * TIME_SCALE)


class ClientWaitIsNotAHangTest(ServerCase):
    def test_an_upload_stalled_longer_than_timeout(self):
        server = self.start(["--workers", "1", "--threads", "2", "--timeout", "1", "--body-timeout", "30"])
        worker = server.wait_workers(1)
        size = 256 << 10
        s = socket.create_connection(("127.0.0.1", server.port), timeout=DEFAULT_TIMEOUT * 4)
        self.addCleanup(s.close)
        s.sendall(simple_request("POST", "/upload", [("Host", "x"), ("Content-Length", str(size))]))
        s.sendall(b"y" * (100 << 10))  # past 64 KiB: the app runs and waits for the rest
        # Stall twice as long as --timeout; the app thread waits for the client all along.
        deadline = time.monotonic() + 2.0 * TIME_SCALE
        while time.monotonic() < deadline:
            self.assertEqual(server.get("/pid").status, 200)  # the worker serves on meanwhile
            time.sleep(0.05)
        s.sendall(b"y" * (size - (100 << 10)))
        resp = HttpReader(s, DEFAULT_TIMEOUT * 2).read_response()
        self.assertEqual(json.loads(resp.body)["bytes"], size)
        self.assertNotIn("WORKER TIMEOUT", server.log_text())
        self.assertEqual(server.wait_workers(1), worker)

    def test_a_client_that_does_not_read_longer_than_timeout(self):
        server = self.start(["--workers", "1", "--threads", "2", "--timeout", "1", "--send-timeout", "30"])
        worker = server.wait_workers(1)
        size = 8 << 20  # far beyond the socket buffers and the 1 MiB taken off the app thread
        s = socket.create_connection(("127.0.0.1", server.port), timeout=DEFAULT_TIMEOUT * 4)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(simple_request("GET", "/big?bytes=%d" % size, [("Host", "x"), ("Connection", "close")]))
        deadline = time.monotonic() + 2.0 * TIME_SCALE
        while time.monotonic() < deadline:
            self.assertEqual(server.get("/pid").status, 200)
            time.sleep(0.05)
        got = 0
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        self.assertGreater(got, size)  # head + every byte of the body
        self.assertNotIn("WORKER TIMEOUT", server.log_text())
        self.assertEqual(server.wait_workers(1), worker)


if __name__ == "__main__":
    unittest.main()
