// SPDX-License-Identifier: MIT
#include "master/metrics.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <fstream>
#include <sstream>
#include <vector>

#include "cppgunicorn/app.h"
#include "version.hpp"

namespace cppg::master {

namespace {

constexpr const char* kReasonLabels[kRestartReasonCount] = {"crash", "timeout", "max_requests",
                                                            "reload", "scale", "memory", "lifetime"};

// Prometheus text format: a label value escapes backslash, quote and newline.
std::string label_value(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

// Integers (every counter) exactly, as integers; other values with full precision.
std::string number(double v) {
    char buf[32];
    if (v == std::floor(v) && std::fabs(v) < 9e15)
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    else
        std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

class Exposition {
public:
    void family(const char* name, const char* type, const char* help) {
        out_ += "# HELP " + std::string(name) + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& name, const std::string& labels, double value) {
        out_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
    }
    void histogram(const char* name, const char* help, const shared::CounterTotals::Sums& h) {
        family(name, "histogram", help);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < shared::kBucketCount; ++i) {
            cumulative += h.buckets[i];
            char le[16];
            std::snprintf(le, sizeof le, "%g", shared::kLatencyBuckets[i]);
            sample(std::string(name) + "_bucket", "le=\"" + std::string(le) + "\"",
                   static_cast<double>(cumulative));
        }
        sample(std::string(name) + "_bucket", "le=\"+Inf\"", static_cast<double>(h.count));
        sample(std::string(name) + "_sum", "", static_cast<double>(h.sum_us) / 1e6);
        sample(std::string(name) + "_count", "", static_cast<double>(h.count));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void render_requests(Exposition& e, const ServiceStats& s) {
    e.family("cppgunicorn_http_requests_total", "counter",
             "HTTP requests answered, by exact status code and method (other for non-standard "
             "methods; 499 when the client went away first).");
    for (size_t code = 0; code < shared::kStatusCount; ++code)
        for (size_t m = 0; m < shared::kMethodCount; ++m)
            if (uint64_t n = s.totals.requests[code][m])
                e.sample("cppgunicorn_http_requests_total",
                         "code=\"" + std::to_string(code + shared::kMinStatus) + "\",method=\"" +
                             std::string(shared::method_label(m)) + "\"",
                         static_cast<double>(n));
    e.histogram("cppgunicorn_http_request_duration_seconds",
                "Time from a request's head received to its response done.", s.totals.duration);
    e.histogram("cppgunicorn_http_request_queue_seconds",
                "Time from a request's head (and body, up to 64 KiB) complete to its app call "
                "starting: requests read together wait for each other's threads.",
                s.totals.queue);
    e.family("cppgunicorn_threads_saturated_seconds_total", "counter",
             "Time during which every app thread of a worker was busy, summed over workers: "
             "requests that came then waited unread for a thread.");
    e.sample("cppgunicorn_threads_saturated_seconds_total", "", static_cast<double>(s.totals.saturated_us) / 1e6);
    e.family("cppgunicorn_http_requests_in_flight", "gauge", "Requests received and not yet answered.");
    e.sample("cppgunicorn_http_requests_in_flight", "", static_cast<double>(s.totals.in_flight));
    e.family("cppgunicorn_slow_requests_total", "counter",
             "Requests slower than --slow-request-threshold (also logged).");
    e.sample("cppgunicorn_slow_requests_total", "", static_cast<double>(s.totals.slow));
}

void render_capacity(Exposition& e, const ServiceStats& s) {
    e.family("cppgunicorn_threads", "gauge", "App threads of serving workers, busy in an app call or idle.");
    e.sample("cppgunicorn_threads", "state=\"busy\"", s.threads_busy);
    e.sample("cppgunicorn_threads", "state=\"idle\"", s.threads_idle);
    int64_t active = s.totals.in_flight;
    int64_t idle = std::max<int64_t>(0, s.totals.connections_open - active);
    e.family("cppgunicorn_connections", "gauge",
             "Client connections: active with a request in progress, or idle between requests.");
    e.sample("cppgunicorn_connections", "state=\"active\"", static_cast<double>(active));
    e.sample("cppgunicorn_connections", "state=\"idle\"", static_cast<double>(idle));
    e.family("cppgunicorn_connections_accepted_total", "counter", "Client connections accepted.");
    e.sample("cppgunicorn_connections_accepted_total", "", static_cast<double>(s.totals.accepted));
    e.family("cppgunicorn_workers", "gauge", "Worker processes serving.");
    e.sample("cppgunicorn_workers", "", s.workers_serving);
    e.family("cppgunicorn_worker_restarts_total", "counter",
             "Workers replaced, by reason: crash (died unasked), timeout (killed by the master), "
             "max_requests, reload, scale (TTOU), memory (--max-worker-memory), lifetime "
             "(--max-worker-lifetime).");
    for (size_t r = 0; r < kRestartReasonCount; ++r)
        e.sample("cppgunicorn_worker_restarts_total", std::string("reason=\"") + kReasonLabels[r] + "\"",
                 static_cast<double>(s.restarts[r]));
    e.family("cppgunicorn_request_timeouts_total", "counter",
             "Workers aborted by the master because a request (or their loop) ran past --timeout.");
    e.sample("cppgunicorn_request_timeouts_total", "", static_cast<double>(s.request_timeouts));
    e.family("cppgunicorn_reloads_total", "counter",
             "Reloads (HUP, --reload) by result: ok (the new workers serve), failed (the "
             "configuration or the app was refused; the last good one serves on).");
    e.sample("cppgunicorn_reloads_total", "result=\"ok\"", static_cast<double>(s.reloads.ok));
    e.sample("cppgunicorn_reloads_total", "result=\"failed\"", static_cast<double>(s.reloads.failed));
    e.family("cppgunicorn_reload_success", "gauge",
             "1 if the last reload succeeded (or none was tried), 0 if it failed.");
    e.sample("cppgunicorn_reload_success", "", s.reloads.last_failed ? 0 : 1);
}

void render_listen_queues(Exposition& e, const ServiceStats& s) {
    struct Family {
        const char* name;
        const char* help;
        uint64_t ListenQueue::*field;
    } families[] = {
        {"cppgunicorn_listen_queue", "Connections waiting in a listener's accept queue.", &ListenQueue::queued},
        {"cppgunicorn_listen_queue_max", "The most connections seen waiting in the accept queue since start.",
         &ListenQueue::max_seen},
        {"cppgunicorn_listen_backlog", "The accept queue's size (listen backlog).", &ListenQueue::backlog},
    };
    for (const auto& f : families) {
        e.family(f.name, "gauge", f.help);
        for (const auto& q : s.listen_queues)
            e.sample(f.name, "listener=\"" + label_value(q.listener) + "\"", static_cast<double>(q.*f.field));
    }
}

// The master's own process, as every Prometheus client library reports it.
void render_process(Exposition& e) {
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    long page = sysconf(_SC_PAGESIZE);
    if (f.size() > 21) {
        double cpu = (std::stod(f[11]) + std::stod(f[12])) / tick;
        e.family("process_cpu_seconds_total", "counter", "User and system CPU time of the master.");
        e.sample("process_cpu_seconds_total", "", cpu);
        e.family("process_virtual_memory_bytes", "gauge", "Virtual memory of the master.");
        e.sample("process_virtual_memory_bytes", "", std::stod(f[20]));
        e.family("process_resident_memory_bytes", "gauge", "Resident memory of the master.");
        e.sample("process_resident_memory_bytes", "", std::stod(f[21]) * static_cast<double>(page));
        std::ifstream proc_stat("/proc/stat");
        for (std::string line; std::getline(proc_stat, line);)
            if (line.rfind("btime ", 0) == 0) {
                e.family("process_start_time_seconds", "gauge", "Start time of the master, in seconds since the epoch.");
                e.sample("process_start_time_seconds", "", std::stod(line.substr(6)) + std::stod(f[19]) / tick);
            }
    }
    int fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (readdir(d)) ++fds;
        closedir(d);
        fds -= 3;  // ".", ".." and the directory's own descriptor
    }
    e.family("process_open_fds", "gauge", "Open file descriptors of the master.");
    e.sample("process_open_fds", "", fds);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    e.family("process_max_fds", "gauge", "The master's limit of open file descriptors.");
    e.sample("process_max_fds", "", static_cast<double>(limit.rlim_cur));
}

}  // namespace

const char* worker_state_name(WorkerState state) {
    switch (state) {
        case WorkerState::kBooting: return "booting";
        case WorkerState::kServing: return "serving";
        case WorkerState::kLeaving: return "leaving";
        case WorkerState::kStopping: return "stopping";
        case WorkerState::kAborted: return "aborted";
    }
    return "?";
}

void ReloadHistory::record(bool success, const std::string& app, const std::string& error) {
    ++(success ? ok : failed);
    last_failed = !success;
    last_at = static_cast<int64_t>(std::time(nullptr));
    last_app = app;
    last_error = error;
}

const char* restart_reason_label(RestartReason reason) { return kReasonLabels[static_cast<size_t>(reason)]; }

bool read_listen_queue(int fd, uint64_t& queued, uint64_t& backlog) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    // For a listening socket the kernel reports the accept queue here (as php-fpm reads it).
    queued = info.tcpi_unacked;
    backlog = info.tcpi_sacked;
    return true;
}

std::string render_prometheus(const ServiceStats& stats) {
    Exposition e;
    e.family("cppgunicorn_build_info", "gauge", "The server's version and app ABI version; always 1.");
    e.sample("cppgunicorn_build_info",
             "version=\"" + label_value(kVersion) + "\",abi=\"" + std::to_string(CPPG_ABI_VERSION) + "\"", 1);
    render_requests(e, stats);
    render_capacity(e, stats);
    render_listen_queues(e, stats);
    render_process(e);
    return e.take();
}

}  // namespace cppg::master
