# SPDX-License-Identifier: MIT
"""Medians over rounds, the markdown report and the targets table of bench/suite.py."""
import statistics

from .scenarios import SCENARIOS, SLEEP_CEILING_RPS

LIST_KEYS = ("elapsed_ms", "wall_ms", "shares", "expected_ms")


# --- medians ---------------------------------------------------------------------------------


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _elementwise_median(lists):
    lists = [v for v in lists if v]
    if not lists:
        return None
    width = max(len(v) for v in lists)
    return [_median([v[i] if i < len(v) else None for v in lists]) for i in range(width)]


def _median_record(records):
    out = {"rounds": len(records)}
    for key, value in records[0].items():
        if key in LIST_KEYS:
            out[key] = _elementwise_median([r.get(key) for r in records])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = _median([r.get(key) for r in records])
        elif key not in ("round", "wrk_output"):
            out[key] = value
    if "rps" in records[0]:
        out["rps_min"] = min(r["rps"] for r in records)
        out["rps_max"] = max(r["rps"] for r in records)
    return out


def summarize(suite):
    """{scenario: {(server, load): median record}} in the order things ran."""
    groups = {}
    for record in suite.runs:
        groups.setdefault(record["scenario"], {}).setdefault(
            (record["server"], record["load"] if "load" in record else ""), []
        ).append(record)
    return {
        sc: {key: _median_record(recs) for key, recs in rows.items()} for sc, rows in groups.items()
    }


def startup_summary(suite):
    """{(scenario, server): median startup and idle RSS} over every start."""
    groups = {}
    for record in suite.started:
        groups.setdefault((record["scenario"], record["server"]), []).append(record)
    return {key: _median_record(recs) for key, recs in groups.items()}


# --- formatting ------------------------------------------------------------------------------


def _f(value, digits=1, suffix=""):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _ratio(a, b):
    return a / b if a is not None and b else None


def _table(header, rows):
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _find(rows, server, load=None):
    for (name, label), record in rows.items():
        if name == server and (load is None or label == load):
            return record
    return None


# --- scenario tables -------------------------------------------------------------------------


def _hello_table(scenario, rows, startups):
    nginx, flask = _find(rows, "nginx"), _find(rows, "gunicorn-flask")
    header = [
        "server",
        "req/s",
        "req/s min–max",
        "p50 ms",
        "p99 ms",
        "active conns",
        "errors",
        "CPU µs/req",
        "worker RSS MiB",
        "master RSS MiB",
        "startup ms",
    ]
    header += ["req/s ÷ nginx", "CPU ÷ nginx"] if nginx else []
    header += ["req/s ÷ gunicorn-flask"] if flask else []
    out = []
    for (server, _), r in rows.items():
        start = startups.get((scenario, server), {})
        row = [
            server,
            _f(r["rps"], 0),
            f"{_f(r['rps_min'], 0)}–{_f(r['rps_max'], 0)}",
            _f(r["p50_ms"], 3),
            _f(r["p99_ms"], 3),
            _f(r["active_conns"], 1),
            _f(r["errors"], 0),
            _f(r["cpu_us_per_req"], 2),
            _f(r["rss_worker_mib"]),
            _f(r["rss_master_mib"]),
            _f(start.get("startup_ms"), 0),
        ]
        if nginx:
            row += [
                _f(_ratio(r["rps"], nginx["rps"]), 2),
                _f(_ratio(r["cpu_us_per_req"], nginx["cpu_us_per_req"]), 2),
            ]
        if flask:
            row.append(_f(_ratio(r["rps"], flask["rps"]), 1))
        out.append(row)
    return _table(header, out)


def _sleep_table(rows):
    out = []
    for (server, label), r in rows.items():
        out.append(
            [
                server,
                r["connections"],
                _f(r["rps"], 0),
                _f(100 * r["rps"] / SLEEP_CEILING_RPS, 1, " %"),
                _f(r["p50_ms"], 2),
                _f(r["p99_ms"], 2),
                _f(_ratio(r["p99_ms"], r["p50_ms"]), 2),
                _f(r["active_conns"], 1),
                _f(r["errors"], 0),
                _f(r["cpu_us_per_req"], 1),
            ]
        )
    out.sort(key=lambda row: row[1])
    return _table(
        [
            "server",
            "conns",
            "req/s",
            f"% of {SLEEP_CEILING_RPS}",
            "p50 ms",
            "p99 ms",
            "p99/p50",
            "active conns",
            "errors",
            "CPU µs/req",
        ],
        out,
    )


def _idle_table(rows):
    summaries = {server: r for (server, label), r in rows.items() if label == "idle summary"}
    nginx = summaries.get("nginx")
    out = []
    for server, r in summaries.items():
        per_conn_kib = _ratio(r["cost_mib"] * 1024, r["opened"])
        out.append(
            [
                server,
                f"{_f(r['opened'], 0)} / {_f(r['idle_requested'], 0)}",
                _f(r["alive_after_run"], 0),
                _f(r["rss_before_mib"]),
                _f(r["rss_held_mib"]),
                _f(r["cost_mib"]),
                _f(per_conn_kib, 2),
                _f(r["rps_without"], 0),
                _f(r["rps_with"], 0),
                _f(100 * r["rate_kept"], 1, " %"),
            ]
            + ([_f(_ratio(r["cost_mib"], nginx["cost_mib"]), 2)] if nginx else [])
        )
    header = [
        "server",
        "idle conns opened",
        "still open after run",
        "tree RSS before MiB",
        "tree RSS held MiB",
        "cost MiB",
        "KiB/conn",
        "req/s without",
        "req/s with",
        "rate kept",
    ]
    return _table(header + (["cost ÷ nginx"] if nginx else []), out)


def _echo_table(rows):
    out = []
    for (server, label), r in rows.items():
        if label.startswith("stream"):
            continue
        stream = next(
            (s for (name, lbl), s in rows.items() if name == server and lbl.startswith("stream")),
            {},
        )
        out.append(
            [
                server,
                _f(r["rps"], 0),
                _f(r["rps"] * r["body_mib"], 0),
                _f(r["p50_ms"], 2),
                _f(r["p99_ms"], 2),
                _f(r["errors"], 0),
                _f(r["cpu_us_per_req"], 0),
                stream.get("load", "n/a"),
                _f(stream.get("mib_s"), 0),
                _f(stream.get("rss_growth_mib"), 2),
            ]
        )
    return _table(
        [
            "server",
            "1 MiB: req/s",
            "MiB/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "CPU µs/req",
            "streamed",
            "stream MiB/s",
            "worker RSS growth MiB",
        ],
        out,
    )


def _within(measured, expected, tolerance=0.2):
    if not measured or len(measured) != len(expected):
        return False
    return all(abs(m - e) <= tolerance * e for m, e in zip(measured, expected))


def _fanout_table(rows):
    out = []
    for (server, label), r in rows.items():
        out.append(
            [
                label,
                " / ".join(_f(v, 0) for v in r["expected_ms"]),
                " / ".join(_f(v, 0) for v in r["elapsed_ms"]),
                " / ".join(_f(v, 1) for v in r["wall_ms"]),
                "yes" if _within(r["elapsed_ms"], r["expected_ms"]) else "no",
            ]
        )
    return _table(
        ["case", "expected ms", "elapsed_ms (server)", "wall ms (client)", "within 20 %"], out
    )


def _startup_table(rows, suite):
    nginx, flask = _find(rows, "nginx"), _find(rows, "gunicorn-flask")
    out = []
    for (server, _), r in rows.items():
        times = [
            s["startup_ms"] for s in suite.runs if s["scenario"] == "g" and s["server"] == server
        ]
        out.append(
            [
                server,
                _f(r["startup_ms"], 1),
                f"{_f(min(times), 1)}–{_f(max(times), 1)}",
                _f(r["rss_worker_mib"], 2),
                _f(r["rss_master_mib"], 2),
            ]
            + ([_f(_ratio(r["startup_ms"], nginx["startup_ms"]), 2)] if nginx else [])
            + ([_f(_ratio(r["startup_ms"], flask["startup_ms"]), 2)] if flask else [])
        )
    header = ["server", "startup ms", "min–max", "idle worker RSS MiB", "idle master RSS MiB"]
    return _table(
        header + (["÷ nginx"] if nginx else []) + (["÷ gunicorn-flask"] if flask else []), out
    )


def _max_min(shares):
    if not shares:
        return "n/a"
    return "∞ (a worker got none)" if shares[-1] == 0 else _f(shares[0] / shares[-1], 2)


def _spread_table(rows):
    out = []
    for (server, label), r in rows.items():
        shares = r.get("shares") or []
        out.append(
            [
                server,
                label,
                _f(r["rps"], 0),
                _f(r.get("logged"), 0),
                ", ".join(_f(s, 1, " %") for s in shares),
                _max_min(shares),
            ]
        )
    return _table(
        [
            "server",
            "load",
            "req/s",
            "requests logged",
            "share per worker (largest first)",
            "max/min",
        ],
        out,
    )


def scenario_table(scenario, rows, startups, suite):
    if scenario in ("a", "b"):
        return _hello_table(scenario, rows, startups)
    return {
        "c": _sleep_table,
        "d": _idle_table,
        "e": _echo_table,
        "f": _fanout_table,
        "g": lambda r: _startup_table(r, suite),
        "h": _spread_table,
    }[scenario](rows)


# --- targets ---------------------------------------------------------------------------------


def _check(name, goal, value, ok, fmt):
    """One row of the Targets table; a value of None means that scenario did not run."""
    measured = None if value is None else (fmt(value) if callable(fmt) else fmt.format(value))
    return {
        "target": name,
        "goal": goal,
        "measured": measured,
        "met": None if value is None else ok(value),
    }


def _metric(summary, scenario, server, load=None, key="rps"):
    record = _find(summary.get(scenario, {}), server, load)
    return None if record is None else record.get(key)


def _hello_targets(s):
    rps = lambda scenario, server: _metric(s, scenario, server)
    cpu = lambda server: _metric(s, "a", server, key="cpu_us_per_req")
    at_least = lambda bound: (f"≥ {bound}×", lambda v: v >= bound)
    at_most = lambda bound: (f"≤ {bound}×", lambda v: v <= bound)
    rows = [  # name, numerator, denominator, (goal, test), format
        ("(a) cppgunicorn req/s ÷ nginx", rps("a", "cppgunicorn"), rps("a", "nginx"), at_least(1.0), "{:.2f}×"),
        ("(a) cppgunicorn CPU µs/req ÷ nginx", cpu("cppgunicorn"), cpu("nginx"), at_most(1.1), "{:.2f}×"),
        ("(a) cppgunicorn-2x2 req/s ÷ nginx", rps("a", "cppgunicorn-2x2"), rps("a", "nginx"), at_least(1.0), "{:.2f}×"),
        ("(a) cppgunicorn-2x2 CPU µs/req ÷ nginx", cpu("cppgunicorn-2x2"), cpu("nginx"), at_most(1.1), "{:.2f}×"),
        ("(a) cppgunicorn-2x8 req/s ÷ cppgunicorn-2x2", rps("a", "cppgunicorn-2x8"), rps("a", "cppgunicorn-2x2"),
         at_least(0.9), "{:.2f}×"),
        ("(a) cppgunicorn req/s ÷ gunicorn-flask", rps("a", "cppgunicorn"), rps("a", "gunicorn-flask"),
         at_least(10), "{:.1f}×"),
        ("(b) cppgunicorn req/s ÷ nginx, Connection: close", rps("b", "cppgunicorn"), rps("b", "nginx"),
         at_least(1.0), "{:.2f}×"),
    ]
    return [_check(name, goal, _ratio(a, b), ok, fmt) for name, a, b, (goal, ok), fmt in rows]


def _sleep_targets(s):
    at = lambda conns, key: _metric(s, "c", "cppgunicorn-4x2", f"sleep 10 ms, {conns} conns", key)
    return [
        _check(
            "(c) cppgunicorn-4x2 at 64 conns, share of 800 req/s",
            "≥ 97 %",
            _ratio(at(64, "rps"), SLEEP_CEILING_RPS / 100),
            lambda v: v >= 97,
            "{:.1f} %",
        ),
        _check(
            "(c) cppgunicorn-4x2 at 64 conns, p99 ÷ p50",
            "≤ 1.5×",
            _ratio(at(64, "p99_ms"), at(64, "p50_ms")),
            lambda v: v <= 1.5,
            "{:.2f}×",
        ),
        _check(
            "(c) cppgunicorn-4x2 at 8 conns, p99",
            "≤ 12 ms",
            at(8, "p99_ms"),
            lambda v: v <= 12,
            "{:.2f} ms",
        ),
    ]


def _idle_targets(s):
    get = lambda key: _metric(s, "d", "cppgunicorn", "idle summary", key)
    opened, kept = get("opened"), get("rate_kept")
    return [
        _check(
            f"(d) cppgunicorn RSS cost of {opened or 0:,.0f} idle connections",
            "< 64 MiB",
            get("cost_mib"),
            lambda v: v < 64,
            "{:.1f} MiB",
        ),
        _check(
            "(d) cppgunicorn req/s kept with them held",
            "≥ 90 %",
            None if kept is None else 100 * kept,
            lambda v: v >= 90,
            "{:.1f} %",
        ),
    ]


def _echo_targets(s):
    rows = s.get("e", {})
    checks = []
    for server in ("cppgunicorn", "cppgunicorn-2x2"):
        stream = next(
            (r for (name, label), r in rows.items() if name == server and label.startswith("stream")),
            {},
        )
        checks += [
            _check(
                f"(e) {server} 1 MiB echo",
                "≥ 2000 MiB/s",
                _metric(s, "e", server, "POST /echo 1 MiB"),
                lambda v: v >= 2000,
                "{:.0f} MiB/s",
            ),
            _check(
                f"(e) {server} {stream.get('load', 'stream')} RSS growth",
                "< 16 MiB",
                stream.get("rss_growth_mib"),
                lambda v: v < 16,
                "{:.2f} MiB",
            ),
        ]
    return checks


def _echo_ratio_target(s):
    mibs = lambda server: _metric(s, "e", server, "POST /echo 1 MiB")
    return [
        _check(
            "(e) cppgunicorn-2x2 1 MiB echo ÷ cppgunicorn (2x1)",
            "≥ 1.0×",
            _ratio(mibs("cppgunicorn-2x2"), mibs("cppgunicorn")),
            lambda v: v >= 1.0,
            "{:.2f}×",
        )
    ]


def _fanout_targets(s):
    checks = []
    for case, expected in (("1 request", [50]), ("2 concurrent", [50, 100])):
        checks.append(
            _check(
                f"(f) fan-out, {case}",
                " / ".join(map(str, expected)) + " ms ± 20 %",
                _metric(s, "f", "cppgunicorn-fanout", case, "elapsed_ms"),
                lambda v, e=expected: _within(v, e),
                lambda v: " / ".join(f"{x:.0f} ms" for x in v),
            )
        )
    return checks


def _startup_targets(s, startups):
    # Idle RSS right after startup, before any load: from (g) if it ran, else (a) or (b).
    idle = next(
        (
            startups[key]
            for key in (("g", "cppgunicorn"), ("a", "cppgunicorn"), ("b", "cppgunicorn"))
            if key in startups
        ),
        {},
    )
    return [
        _check(
            "(g) cppgunicorn startup to first 200",
            "≤ 100 ms",
            _metric(s, "g", "cppgunicorn", key="startup_ms"),
            lambda v: v <= 100,
            "{:.1f} ms",
        ),
        _check(
            "cppgunicorn idle worker RSS",
            "≤ 6 MiB",
            idle.get("rss_worker_mib"),
            lambda v: v <= 6,
            "{:.2f} MiB",
        ),
        _check(
            "cppgunicorn idle master RSS",
            "≤ 8 MiB",
            idle.get("rss_master_mib"),
            lambda v: v <= 8,
            "{:.2f} MiB",
        ),
    ]


def targets(summary, startups):
    return (
        _hello_targets(summary)
        + _sleep_targets(summary)
        + _idle_targets(summary)
        + _echo_targets(summary)
        + _echo_ratio_target(summary)
        + _fanout_targets(summary)
        + _startup_targets(summary, startups)
    )


def _targets_table(rows):
    result = lambda m: "not run" if m is None else ("met" if m else "**missed**")
    return _table(
        ["target", "goal", "measured", "result"],
        [[t["target"], t["goal"], t["measured"] or "n/a", result(t["met"])] for t in rows],
    )


# --- the whole report ------------------------------------------------------------------------


def _header(meta):
    lines = [
        "# cppgunicorn benchmark suite",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- machine: nproc {meta['nproc']}, {meta['cpu']}, kernel {meta['kernel']}, "
        f"load average before the run {meta['loadavg']}",
        f"- versions: {meta['versions']}",
        f"- {meta['rounds']} round(s) × {meta['duration']} s per run, interleaved; tables show medians",
        "",
    ]
    return lines


def _commands(suite):
    seen = {}
    for record in suite.started:
        seen.setdefault((record["server"], record["command"]), []).append(record["scenario"])
    lines = ["## Server command lines", ""]
    for (server, command), scenarios in seen.items():
        lines.append(f"- {server} ({', '.join(sorted(set(scenarios)))}): `{command}`")
    return lines + [""]


def _load_commands(suite, scenario):
    commands = dict.fromkeys(
        r["wrk_command"] for r in suite.runs if r["scenario"] == scenario and "wrk_command" in r
    )
    return [f"- `{c}`" for c in commands] + ([""] if commands else [])


def render(suite, meta, summary, startups, target_rows):
    lines = _header(meta) + _commands(suite)
    for scenario, (title, _) in SCENARIOS.items():
        if scenario in summary:
            lines += [f"## ({scenario}) {title}", ""] + _load_commands(suite, scenario)
            lines += [scenario_table(scenario, summary[scenario], startups, suite), ""]
    lines += ["## Targets", "", _targets_table(target_rows), ""]
    if suite.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in suite.notes] + [""]
    if suite.failures:
        lines += (
            ["## Failures", ""]
            + [f"- ({f['scenario']}) {f['error'].splitlines()[0]}" for f in suite.failures]
            + [""]
        )
    busy = [q for q in suite.quiet_checks if q["cpu_idle"] < 0.85]
    if busy:
        lines += [
            f"Warning: the machine was busy before {len(busy)} round(s) "
            f"(CPU idle as low as {min(q['cpu_idle'] for q in busy):.0%}); those numbers are suspect.",
            "",
        ]
    return "\n".join(lines)
