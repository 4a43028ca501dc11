#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The cost of --metrics: the hello app under wrk with metrics on and off, in interleaved
rounds, each on a fresh server; reports the server's CPU time per request (master and
workers, from /proc) and requests per second, as medians, and the difference.

    bench/metrics_cost.py [--rounds 5] [--duration 5] [--workers 2] [--threads 1] [--build build]

Goal (issue 12): metrics on costs at most 3 % more CPU per request than off."""
import argparse
import os
import re
import statistics
import subprocess
import sys

from benchsuite import procs, servers

HERE = os.path.dirname(os.path.abspath(__file__))


def one_round(args, metrics):
    port = servers.free_port()
    server = subprocess.Popen([os.path.join(args.build, "cppgunicorn"), "--bind", "127.0.0.1:%d" % port,
                               "--workers", args.workers, "--threads", args.threads, "--metrics", metrics,
                               os.path.join(args.build, "examples", "hello.so")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers.wait_for_port(port)
        subprocess.run(["wrk", "-t1", "-c64", "-d1s", "http://127.0.0.1:%d/" % port], capture_output=True)
        before = procs.tree_cpu_seconds(server.pid)
        out = subprocess.run(["wrk", "-t1", "-c64", "-d%ds" % args.duration, "http://127.0.0.1:%d/" % port],
                             capture_output=True, text=True).stdout
        used = procs.tree_cpu_seconds(server.pid) - before
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return used * 1e6 / requests, rps
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    results = {"on": [], "off": []}
    for r in range(args.rounds):
        for metrics in (("on", "off") if r % 2 == 0 else ("off", "on")):
            results[metrics].append(one_round(args, metrics))
    med = {k: (statistics.median(c for c, _ in v), statistics.median(x for _, x in v)) for k, v in results.items()}
    for k in ("off", "on"):
        print("metrics %-3s  %6.2f us CPU/request  %8.0f req/s   (rounds: %s)" % (
            k, med[k][0], med[k][1], ", ".join("%.2f" % c for c, _ in results[k])))
    print("difference: %+.1f %% CPU per request (goal: within 3 %%)" % ((med["on"][0] / med["off"][0] - 1) * 100))
    print("command: %s" % " ".join(sys.argv))


if __name__ == "__main__":
    main()
