#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile clients beside a normal one (issue 11, item 5): the normal client's throughput
alone, then beside 500 slowloris, 300 slow-body, 1,000 idle and 50 non-reading clients,
then the server's descriptors and memory once they are gone. Standard library and wrk only.

    bench/hostile.py [--duration 5] [--workers 2] [--threads 2] [--build build]

Prints the two throughputs, their ratio (goal: >= 0.80), the normal client's errors (goal:
none) and the descriptors and RSS of the server before, during and after."""
import argparse
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time

from benchsuite import procs, servers

HERE = os.path.dirname(os.path.abspath(__file__))


def usage(pid):
    """Open fds and RSS (KiB) of the server's whole process tree."""
    fds = rss = 0
    for p in [pid] + procs.descendants(pid):
        try:
            fds += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass
        rss += procs.rss_kib(p)
    return fds, rss


def wrk(port, duration):
    out = subprocess.run(["wrk", "-t1", "-c16", "-d%ds" % duration, "http://127.0.0.1:%d/pid" % port],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, (sum(int(x) for x in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)


class Hostiles:
    """The hostile clients, driven from one thread: every second each trickles a byte."""

    def __init__(self, port):
        self.port, self.sel, self.stop = port, selectors.DefaultSelector(), threading.Event()
        self.socks = []

    def open(self, kind, n, first_bytes):
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.socks.append((kind, s, first_bytes))

    def run(self):
        time.sleep(0.2)
        for kind, s, first in self.socks:
            try:
                if first:
                    s.send(first)
                if kind == "nonreading":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            except OSError:
                pass
        while not self.stop.wait(1.0):
            for kind, s, _ in self.socks:
                try:
                    if kind == "slowloris":
                        s.send(b"X")              # a header line that never ends
                    elif kind == "slowbody":
                        s.send(b"yy")             # two body bytes a second
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        for _, s, _ in self.socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    procs.raise_nofile_limit()
    port = servers.free_port()
    server = subprocess.Popen([os.path.join(args.build, "cppgunicorn"), "--bind", "127.0.0.1:%d" % port,
                               "--workers", args.workers, "--threads", args.threads,
                               os.path.join(args.build, "tests", "apps", "testkit.so")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers.wait_for_port(port)
        wrk(port, 1)  # warm up
        base = usage(server.pid)
        solo, solo_errors = wrk(port, args.duration)
        h = Hostiles(port)
        h.open("slowloris", 500, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        h.open("slowbody", 300, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        h.open("idle", 1000, b"")
        h.open("nonreading", 50, b"GET /big?bytes=16777216 HTTP/1.1\r\nHost: x\r\n\r\n")
        t = threading.Thread(target=h.run)
        t.start()
        time.sleep(1.5)  # let them all connect and settle in
        during_usage = usage(server.pid)
        busy, busy_errors = wrk(port, args.duration)
        h.close()
        t.join()
        time.sleep(2.0)  # let the server notice the closed sockets
        after = usage(server.pid)
        print("normal client alone:          %8.0f req/s, %d errors" % (solo, solo_errors))
        print("beside 1,850 hostile clients: %8.0f req/s, %d errors" % (busy, busy_errors))
        print("ratio: %.2f (goal >= 0.80)" % (busy / solo))
        print("server fds / RSS: before %d / %d KiB, during %d / %d KiB, after %d / %d KiB"
              % (base + during_usage + after))
        print("command: %s" % " ".join(sys.argv))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
