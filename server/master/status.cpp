// SPDX-License-Identifier: MIT
#include "master/status.hpp"

#include <ctime>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "version.hpp"

namespace cppg::master {

namespace {

uint64_t total_requests(const shared::CounterTotals& t) {
    uint64_t n = 0;
    for (const auto& by_method : t.requests)
        for (uint64_t v : by_method) n += v;
    return n;
}

std::string restarts_text(const ServiceStats& s) {
    std::string out;
    for (size_t r = 0; r < kRestartReasonCount; ++r)
        out += fmt::format("{}{} {}", r ? ", " : "", restart_reason_label(static_cast<RestartReason>(r)),
                           s.restarts[r]);
    return out;
}

std::string reloads_text(const ReloadHistory& r) {
    std::string out = fmt::format("{} ok, {} failed", r.ok, r.failed);
    if (r.last_at == 0) return out;
    out += fmt::format("; last at {} {}", wall_clock_text(r.last_at), r.last_failed ? "FAILED" : "ok");
    if (r.last_failed) out += fmt::format(" ({}): {}", r.last_app, r.last_error);
    return out;
}

nlohmann::ordered_json time_or_null(int64_t seconds) {
    return seconds ? nlohmann::ordered_json(wall_clock_text(seconds)) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json reloads_json(const ReloadHistory& r) {
    return {{"ok", r.ok},
            {"failed", r.failed},
            {"last_failed", r.last_failed},
            {"last_at", time_or_null(r.last_at)},
            {"last_app", r.last_app},
            {"last_error", r.last_error},
            {"serving_app", r.serving_app},
            {"serving_app_read_at", time_or_null(r.serving_app_captured_at)}};
}

std::string serving_app_text(const ReloadHistory& r) {
    if (r.serving_app_captured_at == 0) return r.serving_app + " (loaded from the file itself)";
    return fmt::format("{} (as read at {})", r.serving_app, wall_clock_text(r.serving_app_captured_at));
}

}  // namespace

std::string wall_clock_text(int64_t seconds) {
    if (seconds == 0) return "-";
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

uint64_t resident_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

std::string render_status_text(const StatusView& v) {
    const ServiceStats& s = v.stats;
    std::string out;
    auto row = [&out](std::string_view name, const std::string& value) {
        out += fmt::format("{:<20} {}\n", std::string(name) + ":", value);
    };
    row("app", v.app);
    row("server", fmt::format("cppgunicorn {} (master pid {})", kVersion, v.master));
    row("uptime", fmt::format("{} s", v.uptime_ms / 1000));
    row("workers", fmt::format("{} of {} serving", s.workers_serving, v.workers_wanted));
    row("threads", fmt::format("{} busy, {} idle ({} per worker)", s.threads_busy, s.threads_idle,
                               v.threads_per_worker));
    row("requests", fmt::format("{} answered, {} in flight, {} slow", total_requests(s.totals),
                                s.totals.in_flight, s.totals.slow));
    row("connections", fmt::format("{} open, {} accepted", s.totals.connections_open, s.totals.accepted));
    for (const auto& q : s.listen_queues)
        row("listen queue", fmt::format("{} now, {} at most, {} backlog ({})", q.queued, q.max_seen,
                                        q.backlog, q.listener));
    row("worker restarts", restarts_text(s));
    row("reloads", reloads_text(s.reloads));
    row("app file", serving_app_text(s.reloads));
    out += fmt::format("\n{:<8} {:<9} {:>9} {:>8} {:>9} {:>6}  {}\n", "pid", "state", "requests",
                       "age(s)", "rss(KiB)", "conns", "busy threads: request (running)");
    for (const auto& w : v.workers) {
        std::string busy;
        for (const auto& t : w.busy)
            busy += fmt::format("{}[{}] {} ({} ms{})", busy.empty() ? "" : "; ", t.index, t.request_line,
                                t.running_ms, t.waiting_for_client ? ", waiting for the client" : "");
        out += fmt::format("{:<8} {:<9} {:>9} {:>8} {:>9} {:>6}  {}\n", w.pid, w.state, w.requests,
                           w.age_ms / 1000, w.rss_kib, w.connections, busy.empty() ? "-" : busy);
    }
    return out;
}

std::string render_status_json(const StatusView& v) {
    const ServiceStats& s = v.stats;
    nlohmann::ordered_json doc;
    doc["app"] = v.app;
    doc["version"] = kVersion;
    doc["master_pid"] = v.master;
    doc["uptime_seconds"] = static_cast<double>(v.uptime_ms) / 1000.0;
    doc["workers_wanted"] = v.workers_wanted;
    doc["workers_serving"] = s.workers_serving;
    doc["threads_per_worker"] = v.threads_per_worker;
    doc["threads_busy"] = s.threads_busy;
    doc["threads_idle"] = s.threads_idle;
    doc["requests"] = total_requests(s.totals);
    doc["requests_in_flight"] = s.totals.in_flight;
    doc["slow_requests"] = s.totals.slow;
    doc["connections_open"] = s.totals.connections_open;
    doc["connections_accepted"] = s.totals.accepted;
    doc["reloads"] = reloads_json(s.reloads);
    auto restarts = nlohmann::ordered_json::object();
    for (size_t r = 0; r < kRestartReasonCount; ++r)
        restarts[restart_reason_label(static_cast<RestartReason>(r))] = s.restarts[r];
    doc["worker_restarts"] = restarts;
    auto queues = nlohmann::ordered_json::array();
    for (const auto& q : s.listen_queues)
        queues.push_back({{"listener", q.listener}, {"queued", q.queued}, {"max_queued", q.max_seen},
                          {"backlog", q.backlog}});
    doc["listen_queues"] = queues;
    auto workers = nlohmann::ordered_json::array();
    for (const auto& w : v.workers) {
        auto busy = nlohmann::ordered_json::array();
        for (const auto& t : w.busy)
            busy.push_back({{"thread", t.index}, {"request", t.request_line}, {"running_ms", t.running_ms},
                            {"waiting_for_client", t.waiting_for_client}});
        workers.push_back({{"pid", w.pid}, {"state", w.state}, {"requests", w.requests},
                           {"age_seconds", static_cast<double>(w.age_ms) / 1000.0}, {"rss_kib", w.rss_kib},
                           {"connections", w.connections}, {"busy_threads", busy}});
    }
    doc["workers"] = workers;
    // Request lines are the client's bytes: never let one make the document invalid.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace cppg::master
