# SPDX-License-Identifier: MIT
"""GET /metrics on the admin listener, scraped with a real client and parsed with
Prometheus's own text parser (python3-prometheus-client): the numbers move exactly as they
must. Python: Debian's /usr/bin/python3 (for prometheus_client)."""
import os
import signal
import socket
import threading
import unittest

from harness import (DEFAULT_TIMEOUT, DELIBERATE_CRASH_ENV, TIME_SCALE, HttpReader, Server, ServerCase,
                     fixture_app, free_port, simple_request, wait_until)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # the test command installs python3-prometheus-client
    text_string_to_metric_families = None

T = 10 * TIME_SCALE


def fetch(port, target):
    with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT) as sock:
        sock.sendall(simple_request("GET", target, [("Host", "x")]))
        return HttpReader(sock).read_response()


class Scrape:
    """One scrape: samples by (name, sorted labels), and the families' types."""

    def __init__(self, text):
        self.text = text
        self.samples, self.types = {}, {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for s in family.samples:
                self.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def get(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)


@unittest.skipUnless(text_string_to_metric_families, "python3-prometheus-client is not installed")
class MetricsTest(ServerCase):
    def serve(self, *args, env=None):
        self.admin = free_port()
        server = Server()
        self.addCleanup(server.cleanup)
        server.start(["--admin-bind", "127.0.0.1:%d" % self.admin] + list(args), fixture_app("testkit"), env=env)
        return server

    def scrape(self):
        resp = fetch(self.admin, "/metrics")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return Scrape(resp.body.decode())

    def settle(self, server):
        """Start-up's port probe waits in the backlog until a worker accepts it; under load that
        can land after a test's first scrape, so wait until nothing is queued or open."""
        label = "http://127.0.0.1:%d" % server.port

        def idle():
            s = self.scrape()
            return s.get("cppgunicorn_listen_queue", listener=label) == 0 and \
                s.get("cppgunicorn_connections", state="active") == 0 and \
                s.get("cppgunicorn_connections", state="idle") == 0
        wait_until(idle, DEFAULT_TIMEOUT, what="no queued or open connections")

    def test_exact_counts_by_code_and_method(self):
        server = self.serve("--workers", "2", "--threads", "2")
        server.wait_workers(2)
        self.settle(server)
        before = self.scrape()
        for _ in range(7):
            server.get("/pid")
        for _ in range(3):
            server.get("/nope")
        for _ in range(2):
            server.request(simple_request("POST", "/pid", [("Host", "x"), ("Connection", "close")]))
        self.assertEqual(server.get("/throw").status, 500)
        wait_until(lambda: self.scrape().get("cppgunicorn_http_requests_in_flight") == 0, DEFAULT_TIMEOUT)
        after = self.scrape()
        delta = lambda name, **l: after.get(name, **l) - before.get(name, **l)
        self.assertEqual(delta("cppgunicorn_http_requests_total", code="200", method="GET"), 7)
        self.assertEqual(delta("cppgunicorn_http_requests_total", code="404", method="GET"), 3)
        self.assertEqual(delta("cppgunicorn_http_requests_total", code="200", method="POST"), 2)
        self.assertEqual(delta("cppgunicorn_http_requests_total", code="500", method="GET"), 1)
        self.assertEqual(delta("cppgunicorn_http_request_duration_seconds_count"), 13)
        self.assertEqual(delta("cppgunicorn_http_request_queue_seconds_count"), 13)
        self.assertEqual(delta("cppgunicorn_connections_accepted_total"), 13)
        self.assertEqual(after.get("cppgunicorn_http_request_duration_seconds_bucket", le="+Inf"),
                         after.get("cppgunicorn_http_request_duration_seconds_count"))
        self.assertEqual(after.types["cppgunicorn_http_request_duration_seconds"], "histogram")
        self.assertEqual(after.types["cppgunicorn_http_requests"], "counter")
        self.assertEqual(after.get("cppgunicorn_workers"), 2)
        self.assertEqual(after.get("cppgunicorn_threads", state="idle") + after.get("cppgunicorn_threads", state="busy"), 4)
        self.assertEqual(after.get("cppgunicorn_build_info", version="0.1.0", abi="1"), 1)
        self.assertGreater(after.get("process_resident_memory_bytes"), 0)

    def test_restarts_by_reason_and_counters_that_never_go_back(self):
        server = self.serve("--workers", "2", "--threads", "2", "--timeout", "1", "--max-requests", "20",
                            env=DELIBERATE_CRASH_ENV)
        workers = server.wait_workers(2)
        for _ in range(10):
            server.get("/pid")
        before = self.scrape()
        os.kill(workers[0], signal.SIGKILL)                       # crash
        server.wait_workers(2, exclude=(workers[0],), timeout=T)
        wait_until(lambda: self.scrape().get("cppgunicorn_worker_restarts_total", reason="crash") ==
                   before.get("cppgunicorn_worker_restarts_total", reason="crash") + 1, T, what="crash counted")
        mid = self.scrape()
        self.assertGreaterEqual(mid.get("cppgunicorn_http_requests_total", code="200", method="GET"),
                                before.get("cppgunicorn_http_requests_total", code="200", method="GET"),
                                "the dead worker's requests are still counted")
        with self.assertRaises(Exception):
            server.get("/sleep?ms=30000", timeout=T)              # hung: killed at --timeout
        wait_until(lambda: self.scrape().get("cppgunicorn_worker_restarts_total", reason="timeout") == 1, T,
                   what="timeout counted")
        self.assertEqual(self.scrape().get("cppgunicorn_request_timeouts_total"), 1)
        old = server.wait_workers(2, timeout=T)
        server.signal(signal.SIGHUP)                              # reload
        server.wait_workers(2, exclude=old, timeout=T)
        wait_until(lambda: self.scrape().get("cppgunicorn_worker_restarts_total", reason="reload") == 2, T,
                   what="reload counted")
        self.assertEqual(self.scrape().get("cppgunicorn_reloads_total", result="ok"), 1)
        self.assertEqual(self.scrape().get("cppgunicorn_reloads_total", result="failed"), 0)
        self.assertEqual(self.scrape().get("cppgunicorn_reload_success"), 1)
        for _ in range(60):                                       # max_requests
            server.get("/pid")
        wait_until(lambda: self.scrape().get("cppgunicorn_worker_restarts_total", reason="max_requests") >= 1, T,
                   what="max_requests counted")
        server.signal(signal.SIGTTOU)                             # scale
        wait_until(lambda: self.scrape().get("cppgunicorn_worker_restarts_total", reason="scale") == 1, T,
                   what="scale counted")
        wait_until(lambda: self.scrape().get("cppgunicorn_workers") == 1, T, what="one worker")

    def test_saturation_when_every_thread_is_busy(self):
        server = self.serve("--workers", "1", "--threads", "2")
        server.wait_workers(1)
        self.settle(server)
        before = self.scrape().get("cppgunicorn_threads_saturated_seconds_total")
        results = []
        sleep_s = 0.4 * TIME_SCALE
        threads = [threading.Thread(target=lambda: results.append(server.get("/sleep?ms=%d" % (sleep_s * 1000), timeout=T)))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T)
        self.assertEqual([r.status for r in results], [200] * 4)
        # Four calls on two threads: both threads were busy for two call lengths at least
        # (less a little: the calls do not start at the same instant).
        saturated = self.scrape().get("cppgunicorn_threads_saturated_seconds_total") - before
        self.assertGreaterEqual(saturated, 1.5 * sleep_s)
        self.assertLess(saturated, T)
        s = self.scrape()
        self.assertEqual(s.get("cppgunicorn_http_request_queue_seconds_count"), 4)

    def test_listen_queue_while_workers_are_paused(self):
        server = self.serve("--workers", "1")
        worker = server.wait_workers(1)[0]
        self.settle(server)
        os.kill(worker, signal.SIGSTOP)
        self.addCleanup(lambda: os.kill(worker, signal.SIGCONT))
        socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        for s in socks:
            self.addCleanup(s.close)
        label = "http://127.0.0.1:%d" % server.port
        wait_until(lambda: self.scrape().get("cppgunicorn_listen_queue", listener=label) == 5, DEFAULT_TIMEOUT,
                   what="five connections waiting")
        s = self.scrape()
        self.assertEqual(s.get("cppgunicorn_listen_queue_max", listener=label), 5)
        self.assertEqual(s.get("cppgunicorn_listen_backlog", listener=label), 2048)
        os.kill(worker, signal.SIGCONT)
        wait_until(lambda: self.scrape().get("cppgunicorn_listen_queue", listener=label) == 0, DEFAULT_TIMEOUT)
        self.assertEqual(self.scrape().get("cppgunicorn_listen_queue_max", listener=label), 5)

    def test_status_page_shows_each_worker_and_the_running_requests(self):
        import json
        server = self.serve("--workers", "2", "--threads", "2")
        workers = server.wait_workers(2)
        for _ in range(4):
            server.get("/pid")
        slow = threading.Thread(target=lambda: server.get("/sleep?ms=%d" % (1500 * TIME_SCALE), timeout=T))
        slow.start()
        self.addCleanup(slow.join)
        def running():
            doc = json.loads(fetch(self.admin, "/status?json").body)
            return doc if any(w["busy_threads"] for w in doc["workers"]) else None
        doc = wait_until(running, DEFAULT_TIMEOUT, what="a busy thread on /status")
        self.assertEqual(sorted(w["pid"] for w in doc["workers"]), workers)
        self.assertEqual({w["state"] for w in doc["workers"]}, {"serving"})
        self.assertEqual(doc["requests"], 4)
        self.assertEqual(sum(w["requests"] for w in doc["workers"]), 4)
        busy = [t for w in doc["workers"] for t in w["busy_threads"]]
        self.assertEqual(busy[0]["request"], "GET /sleep?ms=%d" % (1500 * TIME_SCALE))
        self.assertGreaterEqual(busy[0]["running_ms"], 0)
        self.assertTrue(all(w["rss_kib"] > 0 for w in doc["workers"]))
        text = fetch(self.admin, "/status").body.decode()
        self.assertIn("workers:             2 of 2 serving", text)
        self.assertIn("GET /sleep?ms=", text)
        for pid in workers:
            self.assertIn("\n%d " % pid, text)

    def test_dashboard_alerts_and_docs_use_exactly_the_served_metrics(self):
        import json
        import re
        server = self.serve()
        server.get("/pid")
        scrape = wait_until(lambda: (lambda s: s if s.get("cppgunicorn_http_requests_total", code="200", method="GET") else None)(self.scrape()),
                            DEFAULT_TIMEOUT, what="the request counted")
        served = {name for name, _ in scrape.samples}
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        dashboard = json.load(open(os.path.join(root, "packaging", "grafana", "cppgunicorn.json")))
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        exprs.append(open(os.path.join(root, "packaging", "prometheus", "alerts.yml")).read())
        used = {m for e in exprs for m in re.findall(r"\b(?:cppgunicorn|process)_[a-z_]+", e)}
        self.assertTrue(used)
        self.assertEqual(used - served, set(), "the dashboard or the alerts use metrics /metrics does not serve")
        # The metrics table (generated from server/master/metrics.def) and the exposition agree:
        # the same families, of the same types, with the labels the table declares.
        docs = open(os.path.join(root, "docs", "operations.md")).read()
        declared = {m.group(1): (m.group(2), set(re.findall(r"`([a-z_]+)`", m.group(3))))
                    for m in re.finditer(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|", docs, re.M)}
        text = scrape.text
        served_types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        self.assertEqual(set(served_types), set(declared), "families served vs declared in metrics.def")
        for name, (kind, labels) in declared.items():
            self.assertEqual(served_types[name], kind, name)
            sample_labels = {label for line in re.findall(r"^%s(?:_bucket|_sum|_count)?\{([^}]*)\}" % name, text, re.M)
                             for label in re.findall(r"([a-z_]+)=", line)} - {"le"}
            self.assertEqual(sample_labels - labels, set(), "%s: labels served but not declared" % name)

    def test_metrics_off(self):
        self.serve("--metrics", "off")
        self.assertEqual(fetch(self.admin, "/metrics").status, 404)


if __name__ == "__main__":
    unittest.main()
