// SPDX-License-Identifier: MIT
// GET /status on the admin listener: the picture /metrics gives, for a person, php-fpm
// style: the service's totals, then one line per worker (pid, state, requests, age, RSS,
// connections) with the request each busy thread runs and for how long. ?json for machines.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "master/metrics.hpp"

namespace cppg::master {

struct ThreadStatus {
    size_t index = 0;
    std::string request_line;
    int64_t running_ms = 0;
    bool waiting_for_client = false;
};

struct WorkerStatus {
    pid_t pid = 0;
    std::string state;  // booting, serving, leaving (max_requests), stopping, previous (mid-reload)
    uint64_t requests = 0;
    int64_t age_ms = 0;
    uint64_t rss_kib = 0;
    int64_t connections = 0;
    std::vector<ThreadStatus> busy;
};

struct StatusView {
    std::string app;
    pid_t master = 0;
    int64_t uptime_ms = 0;
    int workers_wanted = 0;
    int threads_per_worker = 0;
    ServiceStats stats;
    std::vector<WorkerStatus> workers;
};

std::string render_status_text(const StatusView& view);
std::string render_status_json(const StatusView& view);

// Resident memory of a process in KiB, or 0 when it is gone.
uint64_t resident_kib(pid_t pid);

}  // namespace cppg::master
