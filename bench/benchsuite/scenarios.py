# SPDX-License-Identifier: MIT
"""The scenarios (a)-(h) of bench/suite.py, run in interleaved rounds.

Each scenario starts its servers one after another (so startup times do not compete), then
for every round measures every server in turn, and stops them all at the end. Raw records go
to Suite.runs; a server that fails is recorded in Suite.failures and left out from then on.
"""
import json
import shlex
import statistics
import time
from contextlib import contextmanager

from . import load, procs, servers
from .load import Load
from .servers import ServerError, Server

SLEEP_CEILING_RPS = 800  # 4 workers x 2 threads, each request blocking 10 ms
IDLE_CONNECTIONS = 10_000
STREAM_BYTES = 64 * load.MIB
MIN_IDLE = 0.85


class Suite:
    def __init__(self, opts, paths, log):
        self.opts, self.paths, self.log = opts, paths, log
        self.runs = []  # one record per measurement
        self.started = []  # one record per server start: command, startup, idle RSS
        self.failures = []  # what makes the suite exit non-zero
        self.notes = []  # what the report should mention but is not a failure
        self.quiet_checks = []

    # --- helpers -----------------------------------------------------------------------------

    def port(self, slot):
        return self.opts.ports_from + slot

    def wants(self, name):
        """--servers selects by exact name or by family: 'gunicorn' selects gunicorn-flask."""
        return not self.opts.servers or any(
            name == s or name.startswith(s + "-") for s in self.opts.servers
        )

    def conns(self, n=64):
        return 8 if self.opts.smoke and n == 64 else n

    def fail(self, scenario, name, error):
        self.log(f"FAILED {scenario}/{name}: {error}")
        self.failures.append({"scenario": scenario, "server": name, "error": str(error)})

    def start(self, scenario, spec):
        """Starts one server and records its startup; returns it, or None if it failed."""
        server = Server(spec)
        self.log(f"({scenario}) starting {spec.name}: {spec.command}")
        try:
            startup_ms = server.start()
            server.check_body()
            rss = server.wait_for_workers()
        except ServerError as e:
            server.stop()
            self.fail(scenario, spec.name, e)
            return None
        self.started.append(
            {
                "scenario": scenario,
                "server": spec.name,
                "command": spec.command,
                "startup_ms": startup_ms,
                **_rss_summary(rss),
            }
        )
        return server

    @contextmanager
    def running(self, scenario, specs):
        active = []
        for spec in specs:
            if self.wants(spec.name) and (server := self.start(scenario, spec)):
                active.append(server)
        everything = list(active)
        try:
            yield active
        finally:
            for server in everything:
                server.stop()

    def rounds(self, scenario, servers_left, only=None):
        """Yields the round numbers (or just `only`), after a wait for a quiet machine; none if
        no server is left."""
        for number in [only] if only else range(1, self.opts.rounds + 1):
            if not servers_left:
                return
            # A smoke run checks only once, to stay short; its numbers are not for comparing.
            if not (self.opts.smoke and self.quiet_checks):
                idle = procs.wait_for_quiet_machine(
                    MIN_IDLE, 5 if self.opts.smoke else 30, self.log
                )
                self.quiet_checks.append({"scenario": scenario, "round": number, "cpu_idle": idle})
            self.log(f"({scenario}) round {number}/{self.opts.rounds}")
            yield number

    def each_server(self, scenario, active, step, best_effort=()):
        """Runs step(server) on every active server; one that fails is dropped, and only
        noted if its name is in best_effort."""
        for server in list(active):
            try:
                step(server)
            except ServerError as e:
                if server.name in best_effort:
                    self.log(f"({scenario}) {server.name} did not cope: {e}")
                    self.notes.append(f"({scenario}) {server.name} did not cope, left out: {e}")
                else:
                    self.fail(scenario, server.name, e)
                active.remove(server)
                server.stop()

    def measure(self, scenario, number, server, wrk_load, **extra):
        """One wrk run, with the server tree's CPU time sampled around it and RSS after it."""
        self.log(f"({scenario}) {server.name}: {wrk_load.label}")
        server.ensure_running("before the run")
        cpu_before = procs.tree_cpu_seconds(server.pid)
        result = load.run_wrk(server.spec.port, wrk_load, self.opts.duration)
        cpu = procs.tree_cpu_seconds(server.pid) - cpu_before
        server.ensure_running("during the run")
        if result["requests"] == 0:
            raise ServerError(f"{server.name}: wrk completed zero requests\n{result['wrk_output']}")
        wrk_command = load.wrk_command("PORT", wrk_load, self.opts.duration)
        record = {
            "scenario": scenario,
            "round": number,
            "server": server.name,
            "load": wrk_load.label,
            "connections": wrk_load.connections,
            "wrk_command": shlex.join(wrk_command),
            **result,
            "cpu_us_per_req": cpu * 1e6 / result["requests"],
            "active_conns": _active_connections(result),
            **_rss_summary(procs.tree_rss(server.pid)),
            **extra,
        }
        self.runs.append(record)
        return record

    def wrk_rounds(self, scenario, specs, loads):
        with self.running(scenario, specs) as active:
            for number in self.rounds(scenario, active):
                for wrk_load in loads:
                    self.each_server(
                        scenario, active, lambda s: self.measure(scenario, number, s, wrk_load)
                    )

    # --- server sets -------------------------------------------------------------------------

    def hello_servers(self, keep_alive=True):
        p = self.paths
        return [
            servers.nginx(p, self.port(0)),
            servers.cppgunicorn(p, "cppgunicorn", self.port(1), p.hello_so, 2, 1),
            servers.cppgunicorn(p, "cppgunicorn-2x2", self.port(2), p.hello_so, 2, 2),
            servers.gunicorn(p, "gunicorn-flask", self.port(3), "flask_app:app", 2, 2),
            servers.gunicorn(p, "gunicorn-wsgi", self.port(4), "wsgi_app:application", 2, 2),
            servers.uwsgi(p, "uwsgi", self.port(5), 2, 2, keep_alive),
            servers.cppgunicorn(p, "cppgunicorn-2x8", self.port(6), p.hello_so, 2, 8),
        ]

    def sleep_servers(self):
        p = self.paths
        return [
            servers.cppgunicorn(p, "cppgunicorn-4x2", self.port(0), p.bench_so, 4, 2),
            servers.gunicorn(p, "gunicorn-gthread-4x2", self.port(1), "wsgi_app:application", 4, 2),
            servers.gunicorn(
                p, "gunicorn-sync-8", self.port(2), "wsgi_app:application", 8, worker_class="sync"
            ),
            servers.uwsgi(p, "uwsgi-4x2", self.port(3), 4, 2),
        ]


def _active_connections(result):
    """Connections with a request in flight on average, by Little's law (rate x mean latency).
    Far below the connection count, it means the server left connections unserved: wrk only
    times the requests that got an answer, so their latency alone would look fine."""
    return result["rps"] * result["mean_ms"] / 1000 if result["mean_ms"] is not None else None


def _rss_summary(rss):
    workers = list(rss["workers"].values())
    return {
        "rss_master_mib": rss["master"] / 1024,
        "rss_worker_mib": statistics.median(workers) / 1024 if workers else None,
        "rss_total_mib": (rss["master"] + sum(workers)) / 1024,
        "workers": len(workers),
    }


# --- (a), (b), (c): plain wrk runs ------------------------------------------------------------


def hello_keepalive(suite):
    suite.wrk_rounds(
        "a", suite.hello_servers(), [Load("hello keep-alive", connections=suite.conns())]
    )


def hello_close(suite):
    suite.wrk_rounds(
        "b",
        suite.hello_servers(keep_alive=False),
        [
            Load(
                "hello Connection: close", connections=suite.conns(), headers=("Connection: close",)
            )
        ],
    )


def sleep_10ms(suite):
    loads = [Load(f"sleep 10 ms, {n} conns", "/sleep?ms=10", n) for n in (8, 64)]
    suite.wrk_rounds("c", suite.sleep_servers(), loads)


# --- (d): 10k idle keep-alive connections -----------------------------------------------------


def idle_connections(suite):
    p = suite.paths
    count = 200 if suite.opts.smoke else IDLE_CONNECTIONS
    specs = [
        servers.nginx(p, suite.port(0)),
        servers.cppgunicorn(
            p, "cppgunicorn", suite.port(1), p.hello_so, 2, 1, "--worker-connections", "20000"
        ),
        servers.gunicorn(
            p,
            "gunicorn-wsgi",
            suite.port(2),
            "wsgi_app:application",
            2,
            2,
            extra=("--worker-connections", "20000"),
        ),
    ]
    for number in range(1, suite.opts.rounds + 1):
        # Fresh servers every round: memory freed after the round before stays with the
        # allocator (RSS does not fall), so it would hide the cost of the next 10,000.
        with suite.running("d", specs) as active:
            for _ in suite.rounds("d", active, only=number):
                suite.each_server(
                    "d",
                    active,
                    lambda s: _idle_round(suite, number, s, count),
                    best_effort=("gunicorn-wsgi",),
                )


def _idle_round(suite, number, server, count):
    """wrk without and with the idle connections held; odd rounds measure without them first,
    even rounds last, so a warm-up effect does not always favour the same side."""
    wrk_load = Load("hello keep-alive", connections=suite.conns())
    without_first = number % 2 == 1
    if without_first:
        without = suite.measure("d", number, server, wrk_load, idle_held=0)
    rss_before = procs.tree_rss(server.pid)
    suite.log(f"(d) {server.name}: opening {count} idle connections")
    client = load.IdleConnections(server.spec.port, count, deadline_s=120 if count > 1000 else 30)
    try:
        try:
            opened = client.wait_opened()
        except RuntimeError as e:
            raise ServerError(f"{server.name}: {count} idle connections: {e}") from e
        rss_held = procs.tree_rss(server.pid)
        with_idle = suite.measure("d", number, server, wrk_load, idle_held=opened["opened"])
        alive = client.count_alive()
    finally:
        client.stop()
    if not without_first:
        without = suite.measure("d", number, server, wrk_load, idle_held=0)
    before = _rss_summary(rss_before)["rss_total_mib"]
    held = _rss_summary(rss_held)["rss_total_mib"]
    if opened["opened"] < count or alive < opened["opened"]:
        suite.notes.append(
            f"(d) {server.name}, round {number}: opened {opened['opened']} of {count} idle "
            f"connections ({opened['error'] or 'no error'}); {alive} still open after the run"
        )
    suite.runs.append(
        {
            "scenario": "d",
            "round": number,
            "server": server.name,
            "load": "idle summary",
            "idle_requested": count,
            **opened,
            "alive_after_run": alive,
            "rss_before_mib": before,
            "rss_held_mib": held,
            "cost_mib": held - before,
            "rps_without": without["rps"],
            "rps_with": with_idle["rps"],
            "rate_kept": with_idle["rps"] / without["rps"],
        }
    )


# --- (e): echo of request bodies ---------------------------------------------------------------


def echo_bodies(suite):
    p = suite.paths
    script = load.write_post_script(p.tmp / "post_1mib.lua", load.MIB)
    stream_bytes = 4 * load.MIB if suite.opts.smoke else STREAM_BYTES
    specs = [
        servers.cppgunicorn(p, "cppgunicorn", suite.port(3), p.bench_so, 2, 1),
        servers.cppgunicorn(p, "cppgunicorn-2x2", suite.port(0), p.bench_so, 2, 2),
        servers.gunicorn(p, "gunicorn-wsgi", suite.port(1), "wsgi_app:application", 2, 2),
        servers.uwsgi(p, "uwsgi", suite.port(2), 2, 2),
    ]
    wrk_load = Load("POST /echo 1 MiB", "/echo", 4, script=script)
    with suite.running("e", specs) as active:
        for number in suite.rounds("e", active):
            suite.each_server(
                "e", active, lambda s: suite.measure("e", number, s, wrk_load, body_mib=1)
            )
            suite.each_server("e", active, lambda s: _stream_round(suite, number, s, stream_bytes))


def _stream_round(suite, number, server, size):
    suite.log(f"(e) {server.name}: streaming {size // load.MIB} MiB through /echo")
    result = load.stream_echo(server.spec.port, size, procs.descendants(server.pid))
    server.ensure_running("during the streamed echo")
    if result["error"]:
        raise ServerError(f"{server.name}: streamed echo of {size} bytes failed: {result['error']}")
    suite.runs.append(
        {
            "scenario": "e",
            "round": number,
            "server": server.name,
            "load": f"stream {size // load.MIB} MiB",
            **result,
        }
    )


# --- (f): fan-out on the shared executor -------------------------------------------------------

FANOUT_PATH = "/?calls=4&ms=50"


def _fanout_body_problem(body):
    try:
        return None if "elapsed_ms" in json.loads(body) else "no elapsed_ms"
    except ValueError:
        return "not JSON"


def fan_out(suite):
    p = suite.paths
    spec = servers.cppgunicorn(
        p, "cppgunicorn-fanout", suite.port(0), p.fanout_so, 1, 2, "--executor-threads", "4"
    )
    spec.check_path, spec.check_body = "/?calls=1&ms=1", _fanout_body_problem
    with suite.running("f", [spec]) as active:
        for number in suite.rounds("f", active):
            suite.each_server("f", active, lambda s: _fanout_round(suite, number, s))


def _fanout_round(suite, number, server):
    single = [load.timed_get(server.spec.port, FANOUT_PATH)]
    pair = load.concurrent_gets(server.spec.port, FANOUT_PATH, 2)
    for case, results, expected in (("1 request", single, [50]), ("2 concurrent", pair, [50, 100])):
        measured = sorted((_elapsed_ms(server, r), r[0]) for r in results)
        suite.runs.append(
            {
                "scenario": "f",
                "round": number,
                "server": server.name,
                "load": case,
                "expected_ms": expected,
                "elapsed_ms": [m[0] for m in measured],
                "wall_ms": [m[1] for m in measured],
            }
        )


def _elapsed_ms(server, result):
    wall_ms, status, body = result
    if status != 200 or _fanout_body_problem(body):
        raise ServerError(f"{server.name}: GET {FANOUT_PATH} answered {status} {body[:200]!r}")
    return json.loads(body)["elapsed_ms"]


# --- (g): startup to the first 200 --------------------------------------------------------------


def startup(suite):
    p = suite.paths
    specs = [
        servers.nginx(p, suite.port(0)),
        servers.cppgunicorn(p, "cppgunicorn", suite.port(1), p.hello_so, 2, 1),
        servers.gunicorn(p, "gunicorn-flask", suite.port(2), "flask_app:app", 2, 2),
        servers.uwsgi(p, "uwsgi", suite.port(3), 2, 2),
    ]
    specs = [s for s in specs if suite.wants(s.name)]
    for number in suite.rounds("g", specs):
        for spec in list(specs):
            server = suite.start("g", spec)
            if server is None:
                specs.remove(spec)
                continue
            server.stop()
            suite.runs.append({"scenario": "g", "round": number, **suite.started[-1]})


# --- (h): how evenly requests spread over 4 workers ----------------------------------------------


def spread(suite):
    p = suite.paths
    log_args = lambda name: (
        "--access-logfile",
        p.tmp / f"access-{name}.log",
        "--access-logformat",
        "%(p)s",
    )
    specs = [
        servers.cppgunicorn(
            p, "cppgunicorn-4x2", suite.port(0), p.bench_so, 4, 2, *log_args("cppgunicorn")
        ),
        servers.gunicorn(
            p,
            "gunicorn-gthread-4x2",
            suite.port(1),
            "wsgi_app:application",
            4,
            2,
            extra=log_args("gunicorn"),
        ),
    ]
    loads = [
        Load("hello keep-alive", connections=suite.conns()),
        Load("sleep 10 ms", "/sleep?ms=10", suite.conns()),
    ]
    with suite.running("h", specs) as active:
        for number in suite.rounds("h", active):
            for wrk_load in loads:
                suite.each_server("h", active, lambda s: _spread_run(suite, number, s, wrk_load))


def _spread_run(suite, number, server, wrk_load):
    log_path = server.spec.argv[server.spec.argv.index("--access-logfile") + 1]
    offset = log_path.stat().st_size
    record = suite.measure("h", number, server, wrk_load)
    lines = _new_log_lines(log_path, offset)
    counts = {pid: 0 for pid in procs.descendants(server.pid)}
    for line in lines:
        pid = line.strip().strip("<>")
        if pid.isdigit():
            counts[int(pid)] = counts.get(int(pid), 0) + 1
    total = max(1, sum(counts.values()))
    shares = sorted((100 * n / total for n in counts.values()), reverse=True)
    record.update(logged=len(lines), shares=shares)


def _new_log_lines(path, offset, settle_s=0.3, max_wait_s=5):
    """The access log lines written since offset, once the file has stopped growing
    (the server may still be flushing its buffer when wrk ends)."""
    deadline, size = time.monotonic() + max_wait_s, -1
    while time.monotonic() < deadline and size != path.stat().st_size:
        size = path.stat().st_size
        time.sleep(settle_s)
    with open(path) as f:
        f.seek(offset)
        return [line for line in f.read().splitlines() if line.strip()]


SCENARIOS = {
    "a": ("hello world, keep-alive", hello_keepalive),
    "b": ("hello world, Connection: close", hello_close),
    "c": ("blocking handler (10 ms), 4 workers x 2 threads", sleep_10ms),
    "d": ("10,000 idle keep-alive connections", idle_connections),
    "e": ("POST echo: 1 MiB bodies, and one 64 MiB body streamed", echo_bodies),
    "f": ("fan-out on the shared executor", fan_out),
    "g": ("startup to the first 200", startup),
    "h": ("spread of requests over 4 workers", spread),
}
