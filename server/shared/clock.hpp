// SPDX-License-Identifier: MIT
// CLOCK_MONOTONIC, the one clock for deadlines and durations: the same in every process, so
// the master can compare a worker's timestamps in the scoreboard with its own.
#pragma once

#include <time.h>

#include <cstdint>

namespace cppg::shared {

inline int64_t monotonic_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline int64_t monotonic_ms() { return monotonic_us() / 1000; }

}  // namespace cppg::shared
