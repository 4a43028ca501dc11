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
enum class RestartReason : uint8_t { kCrash, kTimeout, kMaxRequests, kReload, kScale };
inline constexpr size_t kRestartReasonCount = 5;
const char* restart_reason_label(RestartReason reason);

struct ListenQueue {
    std::string listener;  // its URL, as the logs name it
    uint64_t queued = 0;   // connections waiting to be accepted now
    uint64_t max_seen = 0; // the most ever seen waiting
    uint64_t backlog = 0;  // the most the kernel will keep waiting
};

struct ServiceStats {
    shared::CounterTotals totals;
    int workers_serving = 0;
    int threads_busy = 0;
    int threads_idle = 0;
    uint64_t restarts[kRestartReasonCount]{};
    uint64_t reloads = 0;
    uint64_t request_timeouts = 0;
    std::vector<ListenQueue> listen_queues;
};

// The whole exposition: every cppgunicorn_* metric, then the master's process_* metrics.
std::string render_prometheus(const ServiceStats& stats);

// What TCP_INFO says of a listening socket (php-fpm's way): false for a non-TCP socket.
bool read_listen_queue(int fd, uint64_t& queued, uint64_t& backlog);

}  // namespace cppg::master
