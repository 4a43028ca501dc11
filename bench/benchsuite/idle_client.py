# SPDX-License-Identifier: MIT
"""Holds many idle keep-alive connections open to a server, for bench/suite.py scenario (d).

    python3 idle_client.py PORT COUNT DEADLINE_S

Opens COUNT connections one after another, sends one GET / on each and reads the answer,
then prints {"opened", "failed", "seconds", "error"} as a JSON line and keeps them idle.
Each "check" line on stdin prints {"alive": n}: the connections the server has not closed.
End of stdin closes everything. A separate process, so its sockets do not count against the
suite's file limit and its memory stays apart from the measured servers'.
"""
import json
import resource
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def raise_nofile_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def read_response(sock):
    """Reads one response with a Content-Length; raises OSError on anything else."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"unexpected response: {head[:80]!r}")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    if length is None:
        raise OSError("no Content-Length: the connection cannot stay open")
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("closed mid-body")
        body += chunk


def open_connections(port, count, deadline_s):
    started = time.monotonic()
    held, failed, error = [], 0, None
    for _ in range(count):
        if time.monotonic() - started > deadline_s:
            error = error or f"deadline of {deadline_s} s reached"
            failed += count - len(held) - failed
            break
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(REQUEST)
            read_response(sock)
            held.append(sock)
        except OSError as e:
            failed += 1
            error = error or str(e)
    report = {
        "opened": len(held),
        "failed": failed,
        "seconds": time.monotonic() - started,
        "error": error,
    }
    return held, report


def count_alive(held):
    """A connection the server closed reads as EOF (or an error) without blocking."""
    alive = 0
    for sock in held:
        sock.setblocking(False)
        try:
            alive += sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def main():
    port, count, deadline_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    raise_nofile_limit()
    held, report = open_connections(port, count, deadline_s)
    print(json.dumps(report), flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            print(json.dumps({"alive": count_alive(held)}), flush=True)
    for sock in held:
        sock.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # a Ctrl-C meant for the suite reaches this process too
        sys.exit(130)
