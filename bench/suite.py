#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cppgunicorn side by side with nginx, gunicorn (+Flask) and uWSGI: scenarios (a)-(h).

    bench/run.sh [options]            # installs the peers, builds, then runs this
    python3 bench/suite.py --smoke    # after a Release build in build/

Prints a markdown report on stdout and progress on stderr; see bench/README.md. Exits 1 if a
server fails to start, answers a wrong body, dies or serves nothing; targets are only reported.
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of bench/

from benchsuite import procs, report, scenarios, servers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


_T0 = time.monotonic()


def log(message):
    print(f"[suite {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per scenario; tables show medians (3)"
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument(
        "--scenarios",
        default=",".join(scenarios.SCENARIOS),
        help="comma-separated subset of " + ",".join(scenarios.SCENARIOS),
    )
    parser.add_argument(
        "--servers",
        default="",
        help="comma-separated names or families (nginx, cppgunicorn, gunicorn, uwsgi); default all",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="quick check: 1 round, 1 s, 8 connections, 200 idle connections, 4 MiB stream",
    )
    parser.add_argument(
        "--ports-from", type=int, default=18200, help="first port on 127.0.0.1 (uses up to 7)"
    )
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the temp dir: server logs, nginx config"
    )
    opts = parser.parse_args(argv)
    opts.scenarios = [s.strip() for s in opts.scenarios.split(",") if s.strip()]
    opts.servers = [s.strip() for s in opts.servers.split(",") if s.strip()]
    unknown = [s for s in opts.scenarios if s not in scenarios.SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    if opts.smoke:
        opts.rounds, opts.duration = 1, 1
    if opts.rounds < 1 or opts.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return opts


def check_prerequisites(paths, wanted):
    missing = [
        str(p)
        for p in (paths.cppgunicorn, paths.hello_so, paths.fanout_so, paths.bench_so)
        if not p.exists()
    ]
    tools = {"nginx": servers.NGINX, "gunicorn": servers.GUNICORN, "uwsgi": "uwsgi"}
    needed = [tool for family, tool in tools.items() if not wanted or family in wanted]
    missing += [tool for tool in ["wrk", *needed] if not shutil.which(tool)]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}; run bench/run.sh, which installs and builds them")


def _first_line(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (done.stdout + done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine_info(opts, argv):
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        "?",
    )
    flask = _first_line(
        ["/usr/bin/python3", "-c", "import importlib.metadata as m; print(m.version('flask'))"]
    )
    versions = {
        "cppgunicorn": _first_line([str(servers.Paths(REPO, None).cppgunicorn), "--version"]).removeprefix(
            "cppgunicorn "
        ),
        "git": _first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
        "nginx": _first_line([servers.NGINX, "-v"]).removeprefix("nginx version: nginx/"),
        "gunicorn": _first_line([servers.GUNICORN, "--version"])
        .removeprefix("gunicorn (version ")
        .rstrip(")"),
        "flask": flask,
        "uwsgi": _first_line(["uwsgi", "--version"]),
        "wrk": _first_line(["wrk", "-v"]).split(" Copyright")[0].removeprefix("wrk "),
        "python (suite)": platform.python_version(),
    }
    return {
        "command": shlex.join(["bench/suite.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "version_map": versions,
        "rounds": opts.rounds,
        "duration": opts.duration,
        "smoke": opts.smoke,
        "nofile_limit": procs.raise_nofile_limit(),
    }


def run_scenarios(suite):
    for key in suite.opts.scenarios:
        title, run = scenarios.SCENARIOS[key]
        log(f"=== ({key}) {title}")
        run(suite)


def write_json(path, suite, meta, summary, startups, target_rows):
    flat = lambda d: {" / ".join(k): v for k, v in d.items()}
    data = {
        "meta": meta,
        "runs": suite.runs,
        "server_starts": suite.started,
        "summary": {sc: flat(rows) for sc, rows in summary.items()},
        "startup_summary": flat(startups),
        "targets": target_rows,
        "notes": suite.notes,
        "failures": suite.failures,
        "quiet_checks": suite.quiet_checks,
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def main(argv):
    opts = parse_args(argv)
    check_prerequisites(servers.Paths(REPO, None), {s.split("-")[0] for s in opts.servers})
    paths = servers.Paths(REPO, Path(tempfile.mkdtemp(prefix="cppg-suite.")))
    meta = machine_info(opts, argv)  # also raises the fd limit, which servers inherit
    suite = scenarios.Suite(opts, paths, log)
    started = time.monotonic()
    try:
        run_scenarios(suite)
    finally:
        servers.stop_everything()
        if opts.keep_tmp:
            log(f"server logs kept in {paths.tmp}")
        else:
            shutil.rmtree(paths.tmp, ignore_errors=True)
    summary, startups = report.summarize(suite), report.startup_summary(suite)
    target_rows = report.targets(summary, startups)
    print(report.render(suite, meta, summary, startups, target_rows))
    if opts.json:
        write_json(opts.json, suite, meta, summary, startups, target_rows)
    log(
        f"done in {time.monotonic() - started:.0f} s"
        + (f"; {len(suite.failures)} failure(s)" if suite.failures else "")
    )
    return 1 if suite.failures else 0


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through main's finally, which stops the servers


if __name__ == "__main__":
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
