// SPDX-License-Identifier: MIT
// What the master knows about its service, as numbers: the totals of every worker's counters
// (live ones, plus those folded in when a worker exits, so a counter never goes back), its own
// supervision counters, the listen queues, and its process. Rendered in the Prometheus text
// format (0.0.4) for GET /metrics on the admin listener.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shared/counters.hpp"

namespace cppg::master {

// Why a worker was replaced, for cppgunicorn_worker_restarts_total{reason}.
enum class RestartReason : uint8_t { kCrash, kTimeout, kMaxRequests, kReload, kScale, kMemory, kLifetime };
inline constexpr size_t kRestartReasonCount = 7;
const char* restart_reason_label(RestartReason reason);

// A worker's life as the master sees it, one state at a time: booting until its scoreboard
// slot says it serves; serving until it asks to be replaced or the master recycles it
// (leaving: it serves on until its replacement does), the master tells it to stop
// (stopping), or the master aborts it for a timeout (aborted: SIGABRT sent, SIGKILL follows).
// Gone workers are removed. Readiness, /status, the reload and recycling all read this state.
enum class WorkerState : uint8_t { kBooting, kServing, kLeaving, kStopping, kAborted };
const char* worker_state_name(WorkerState state);

struct ListenQueue {
    std::string listener;  // its URL, as the logs name it
    uint64_t queued = 0;   // connections waiting to be accepted now
    uint64_t max_seen = 0; // the most ever seen waiting
    uint64_t backlog = 0;  // the most the kernel will keep waiting
};

// Reloads that ended, and what the last one left behind, for /metrics and /status.
struct ReloadHistory {
    uint64_t ok = 0;
    uint64_t failed = 0;
    bool last_failed = false;  // cppgunicorn_reload_success is 0 while it is
    int64_t last_at = 0;       // wall-clock seconds when the last reload ended, 0: none yet
    std::string last_error;    // why the last one failed
    std::string last_app;      // the app file the last reload tried
    std::string serving_app;   // the app file the serving workers' image was taken from
    int64_t serving_app_captured_at = 0;  // wall-clock seconds, 0: loaded from the file itself

    void record(bool success, const std::string& app, const std::string& error);
};

struct ServiceStats {
    shared::CounterTotals totals;
    int workers_serving = 0;
    int threads_busy = 0;
    int threads_idle = 0;
    uint64_t restarts[kRestartReasonCount]{};
    ReloadHistory reloads;
    uint64_t request_timeouts = 0;
    std::vector<ListenQueue> listen_queues;
};

// The whole exposition: every cppgunicorn_* metric, then the master's process_* metrics.
std::string render_prometheus(const ServiceStats& stats);

// What TCP_INFO says of a listening socket (php-fpm's way): false for a non-TCP socket.
bool read_listen_queue(int fd, uint64_t& queued, uint64_t& backlog);

}  // namespace cppg::master
