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
#include "shared/scoreboard.hpp"

namespace cppg::master {

using ThreadStatus = shared::BusyThread;

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

// Local time for people, "2026-12-07 21:30:00"; "-" for 0 (never).
std::string wall_clock_text(int64_t seconds_since_epoch);

// Resident memory of a process in KiB, or 0 when it is gone.
uint64_t resident_kib(pid_t pid);

}  // namespace cppg::master
