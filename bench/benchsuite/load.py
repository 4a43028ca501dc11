# SPDX-License-Identifier: MIT
"""Load generators: wrk, the idle-connection client, the streaming echo client, fan-out GETs."""
import json
import re
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import procs, servers

MIB = 1024 * 1024


@dataclass(frozen=True)
class Load:
    label: str
    path: str = "/"
    connections: int = 64
    headers: tuple = ()
    script: Path = None  # a wrk Lua script


def wrk_command(port, load, duration):
    argv = ["wrk", "-t1", f"-c{load.connections}", f"-d{duration}s", "--latency"]
    for header in load.headers:
        argv += ["-H", header]
    if load.script:
        argv += ["-s", str(load.script)]
    return argv + [f"http://127.0.0.1:{port}{load.path}"]


def run_wrk(port, load, duration):
    """Runs wrk once; returns its parsed numbers plus the raw output."""
    argv = wrk_command(port, load, duration)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout) | {"wrk_output": done.stdout}


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    def number(pattern, default=0.0):
        match = re.search(pattern, text, re.MULTILINE)
        return float(match.group(1)) if match else default

    latency = {
        pct: float(value) * _UNIT_MS[unit]
        for pct, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE
        )
    }
    mean = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s|m)\s", text, re.MULTILINE)
    socket_errors = (
        sum(
            int(n)
            for n in re.findall(
                r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
            )[0]
        )
        if "Socket errors" in text
        else 0
    )
    non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    return {
        "requests": int(number(r"^\s*(\d+) requests in")),
        "rps": number(r"^Requests/sec:\s+([\d.]+)"),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "mean_ms": float(mean.group(1)) * _UNIT_MS[mean.group(2)] if mean else None,
        "non2xx": non2xx,
        "socket_errors": socket_errors,
        "errors": non2xx + socket_errors,
    }


def write_post_script(path, body_bytes):
    path.write_text(
        f"""-- POSTs a {body_bytes}-byte body; wrk adds the Content-Length.
wrk.method = "POST"
wrk.body = string.rep("x", {body_bytes})
wrk.headers["Content-Type"] = "application/octet-stream"
"""
    )
    return path


# --- idle keep-alive connections -------------------------------------------------------------


class IdleConnections:
    """A client process (idle_client.py) holding N keep-alive connections open and idle."""

    def __init__(self, port, count, deadline_s):
        script = Path(__file__).with_name("idle_client.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(count), str(deadline_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.deadline_s = deadline_s
        servers.track(self)

    def _reply(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError("the idle-connection client gave no answer")
        return json.loads(line)

    def wait_opened(self):
        """{'opened': n, 'failed': n, 'seconds': s, 'error': text or None}"""
        return self._reply(self.deadline_s + 30)

    def count_alive(self):
        self.proc.stdin.write("check\n")
        self.proc.stdin.flush()
        return self._reply(60)["alive"]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        servers.untrack(self)


# --- a streamed upload, echoed back ----------------------------------------------------------


def stream_echo(port, size, worker_pids, sample_every=0.02):
    """POSTs size bytes to /echo from one thread while another reads the echo back, sampling
    the workers' RSS meanwhile. Returns seconds, MiB/s and the largest worker's RSS growth."""
    before = {pid: procs.rss_kib(pid) for pid in worker_pids}
    peak = dict(before)
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    outcome = {"sent": 0, "received": 0, "error": None}
    started = time.monotonic()
    threads = [
        threading.Thread(target=_send_body, args=(sock, port, size, outcome)),
        threading.Thread(target=_receive_echo, args=(sock, size, outcome)),
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for pid in worker_pids:
            peak[pid] = max(peak[pid], procs.rss_kib(pid))
        time.sleep(sample_every)
    seconds = time.monotonic() - started
    sock.close()
    growth_kib = max((peak[pid] - before[pid] for pid in worker_pids), default=0)
    ok = outcome["error"] is None and outcome["received"] == size
    return {
        "bytes": size,
        "seconds": seconds,
        "mib_s": size / MIB / seconds if ok else None,
        "rss_growth_mib": growth_kib / 1024,
        "received": outcome["received"],
        "error": outcome["error"] or (None if ok else f"got {outcome['received']} of {size} bytes"),
    }


def _send_body(sock, port, size, outcome):
    chunk = b"x" * (256 * 1024)
    try:
        sock.sendall(
            f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        while outcome["sent"] < size:
            n = min(len(chunk), size - outcome["sent"])
            sock.sendall(chunk[:n])
            outcome["sent"] += n
    except OSError as e:
        outcome["error"] = outcome["error"] or f"send: {e}"


def _receive_echo(sock, size, outcome):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                raise OSError("connection closed before the response head")
            head += data
        head, _, body = head.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if status != b"200" or not length or int(length.group(1)) != size:
            raise OSError(f"bad response head: {head[:300]!r}")
        _count_body(sock, body, size, outcome)
    except OSError as e:
        outcome["error"] = outcome["error"] or f"receive: {e}"


def _count_body(sock, first, size, outcome):
    data = first
    while True:
        if data.count(b"x") != len(data):
            raise OSError("the echoed bytes differ from the ones sent")
        outcome["received"] += len(data)
        if outcome["received"] >= size:
            return
        data = sock.recv(256 * 1024)
        if not data:
            raise OSError("connection closed mid-body")


# --- fan-out requests ------------------------------------------------------------------------


def timed_get(port, path):
    """GET path; returns (wall ms, status, body)."""
    started = time.monotonic()
    status, body = servers.http_request(port, path, timeout=30)
    return (time.monotonic() - started) * 1000, status, body


def concurrent_gets(port, path, count):
    """count GETs released at the same moment; returns their timed_get results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def one(i):
        barrier.wait()
        results[i] = timed_get(port, path)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
