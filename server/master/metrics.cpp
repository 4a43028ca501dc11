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
#include "master/metrics_table.hpp"
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

// Families by their id in master/metrics.def, which gives each its name, type and help.
class Exposition {
public:
    void family(Metric metric) {
        const MetricSpec& m = spec_of(metric);
        out_ += "# HELP " + std::string(m.name) + " " + std::string(m.help) + "\n# TYPE " + std::string(m.name) +
                " " + std::string(m.type) + "\n";
        current_ = m.name;
    }
    // A sample of the family begun last.
    void sample(const std::string& labels, double value) { sample_of(std::string(current_), labels, value); }
    // A family with one sample.
    void single(Metric metric, double value, const std::string& labels = "") {
        family(metric);
        sample(labels, value);
    }
    void histogram(Metric metric, const shared::CounterTotals::Sums& h) {
        family(metric);
        std::string name(current_);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < shared::kBucketCount; ++i) {
            cumulative += h.buckets[i];
            char le[16];
            std::snprintf(le, sizeof le, "%g", shared::kLatencyBuckets[i]);
            sample_of(name + "_bucket", "le=\"" + std::string(le) + "\"", static_cast<double>(cumulative));
        }
        sample_of(name + "_bucket", "le=\"+Inf\"", static_cast<double>(h.count));
        sample_of(name + "_sum", "", static_cast<double>(h.sum_us) / 1e6);
        sample_of(name + "_count", "", static_cast<double>(h.count));
    }
    std::string take() { return std::move(out_); }

private:
    void sample_of(const std::string& name, const std::string& labels, double value) {
        out_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
    }

    std::string out_;
    std::string_view current_;
};

void render_requests(Exposition& e, const ServiceStats& s) {
    e.family(Metric::kHttpRequests);
    for (size_t code = 0; code < shared::kStatusCount; ++code)
        for (size_t m = 0; m < shared::kMethodCount; ++m)
            if (uint64_t n = s.totals.requests[code][m])
                e.sample("code=\"" + std::to_string(code + shared::kMinStatus) + "\",method=\"" +
                             std::string(shared::method_label(m)) + "\"",
                         static_cast<double>(n));
    e.histogram(Metric::kRequestDuration, s.totals.duration);
    e.histogram(Metric::kRequestQueue, s.totals.queue);
    e.single(Metric::kThreadsSaturated, static_cast<double>(s.totals.saturated_us) / 1e6);
    e.single(Metric::kInFlight, static_cast<double>(s.totals.in_flight));
    e.single(Metric::kSlowRequests, static_cast<double>(s.totals.slow));
}

void render_capacity(Exposition& e, const ServiceStats& s) {
    e.family(Metric::kThreads);
    e.sample("state=\"busy\"", s.threads_busy);
    e.sample("state=\"idle\"", s.threads_idle);
    int64_t active = s.totals.in_flight;
    int64_t idle = std::max<int64_t>(0, s.totals.connections_open - active);
    e.family(Metric::kConnections);
    e.sample("state=\"active\"", static_cast<double>(active));
    e.sample("state=\"idle\"", static_cast<double>(idle));
    e.single(Metric::kAccepted, static_cast<double>(s.totals.accepted));
    e.single(Metric::kWorkers, s.workers_serving);
    e.family(Metric::kWorkerRestarts);
    for (size_t r = 0; r < kRestartReasonCount; ++r)
        e.sample(std::string("reason=\"") + kReasonLabels[r] + "\"", static_cast<double>(s.restarts[r]));
    e.single(Metric::kRequestTimeouts, static_cast<double>(s.request_timeouts));
    e.family(Metric::kReloads);
    e.sample("result=\"ok\"", static_cast<double>(s.reloads.ok));
    e.sample("result=\"failed\"", static_cast<double>(s.reloads.failed));
    e.single(Metric::kReloadSuccess, s.reloads.last_failed ? 0 : 1);
}

void render_listen_queues(Exposition& e, const ServiceStats& s) {
    struct Family {
        Metric metric;
        uint64_t ListenQueue::*field;
    } families[] = {
        {Metric::kListenQueue, &ListenQueue::queued},
        {Metric::kListenQueueMax, &ListenQueue::max_seen},
        {Metric::kListenBacklog, &ListenQueue::backlog},
    };
    for (const auto& f : families) {
        e.family(f.metric);
        for (const auto& q : s.listen_queues)
            e.sample("listener=\"" + label_value(q.listener) + "\"", static_cast<double>(q.*f.field));
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
        e.single(Metric::kProcessCpu, (std::stod(f[11]) + std::stod(f[12])) / tick);
        e.single(Metric::kProcessVirtual, std::stod(f[20]));
        e.single(Metric::kProcessResident, std::stod(f[21]) * static_cast<double>(page));
        std::ifstream proc_stat("/proc/stat");
        for (std::string line; std::getline(proc_stat, line);)
            if (line.rfind("btime ", 0) == 0)
                e.single(Metric::kProcessStart, std::stod(line.substr(6)) + std::stod(f[19]) / tick);
    }
    int fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (readdir(d)) ++fds;
        closedir(d);
        fds -= 3;  // ".", ".." and the directory's own descriptor
    }
    e.single(Metric::kProcessOpenFds, fds);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    e.single(Metric::kProcessMaxFds, static_cast<double>(limit.rlim_cur));
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
    e.single(Metric::kBuildInfo, 1,
             "version=\"" + label_value(kVersion) + "\",abi=\"" + std::to_string(CPPG_ABI_VERSION) + "\"");
    render_requests(e, stats);
    render_capacity(e, stats);
    render_listen_queues(e, stats);
    render_process(e);
    return e.take();
}

}  // namespace cppg::master
