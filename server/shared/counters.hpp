// SPDX-License-Identifier: MIT
// Request metrics that a worker keeps in its scoreboard slot: relaxed atomics in shared
// memory, a handful per request, which the master sums (over live workers and those that
// have exited) for /metrics. Counting is cheap on purpose: no lock, no allocation.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cppg::shared {

// Upper bounds (seconds) of the latency histograms' buckets, chosen for web requests: from
// half a millisecond to ten seconds; +Inf is the count.
inline constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
inline constexpr size_t kBucketCount = std::size(kLatencyBuckets);

// Methods are folded to the standard ones and "other", so a client cannot make up labels.
enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kConnect, kTrace, kOther };
inline constexpr size_t kMethodCount = 10;
Method method_of(std::string_view method);
std::string_view method_label(size_t index);

inline constexpr int kMinStatus = 100;
inline constexpr int kMaxStatus = 599;
inline constexpr size_t kStatusCount = kMaxStatus - kMinStatus + 1;

struct Histogram {
    std::atomic<uint64_t> buckets[kBucketCount]{};  // per bucket, not cumulative
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_us{0};
    void observe(uint64_t microseconds);
};

// The plain counters and gauges a worker keeps, declared once: the atomics of
// RequestCounters, the sums of CounterTotals and the summing all come from these lists (the
// families they feed are in master/metrics.def). Counters are summed over every worker that
// ever ran; gauges over the live ones only.
#define CPPG_WORKER_COUNTERS(X) \
    X(uint64_t, accepted)       \
    X(uint64_t, slow)
#define CPPG_WORKER_GAUGES(X) \
    X(int64_t, in_flight)     \
    X(int64_t, connections_open)

struct RequestCounters {
    std::atomic<uint64_t> requests[kStatusCount][kMethodCount]{};
    Histogram duration;  // head received -> response done
    Histogram queue;     // head complete -> app call starts
#define CPPG_ATOMIC_MEMBER(type, name) std::atomic<type> name{0};
    CPPG_WORKER_COUNTERS(CPPG_ATOMIC_MEMBER)
    CPPG_WORKER_GAUGES(CPPG_ATOMIC_MEMBER)
#undef CPPG_ATOMIC_MEMBER
    // Time during which every app thread was busy: requests arriving then wait unread, in
    // their sockets or the listen queue. The period in progress started at saturated_since_us.
    std::atomic<uint64_t> saturated_us{0};
    // Monotonic; 0 when a thread is free. Kept with --metrics off too: peers read it when they
    // share out connections (WorkerSlot::least_loaded_peer).
    std::atomic<int64_t> saturated_since_us{0};

    void begin_saturation(int64_t now_us) { saturated_since_us.store(now_us, std::memory_order_relaxed); }
    void end_saturation(int64_t now_us) {
        int64_t since = saturated_since_us.exchange(0, std::memory_order_relaxed);
        if (since > 0 && now_us > since) saturated_us.fetch_add(static_cast<uint64_t>(now_us - since), std::memory_order_relaxed);
    }
    // Saturated time so far, the period in progress included.
    uint64_t saturated_until(int64_t now_us) const;

    void count_response(int status, Method method, uint64_t duration_us);
};

// Plain sums of RequestCounters, for the master's totals and the ones of exited workers.
struct CounterTotals {
    uint64_t requests[kStatusCount][kMethodCount]{};
    struct Sums {
        uint64_t buckets[kBucketCount]{};
        uint64_t count = 0;
        uint64_t sum_us = 0;
    } duration, queue;
    uint64_t saturated_us = 0;
#define CPPG_PLAIN_MEMBER(type, name) type name = 0;
    CPPG_WORKER_COUNTERS(CPPG_PLAIN_MEMBER)
    CPPG_WORKER_GAUGES(CPPG_PLAIN_MEMBER)
#undef CPPG_PLAIN_MEMBER

    // Adds a worker's counters; `gauges` adds its current gauges too (live workers only).
    void add(const RequestCounters& c, bool gauges, int64_t now_us = 0);
    void add(const CounterTotals& other);
};

}  // namespace cppg::shared
