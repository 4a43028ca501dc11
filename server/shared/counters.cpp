// SPDX-License-Identifier: MIT
#include "shared/counters.hpp"

namespace cppg::shared {

namespace {

constexpr std::string_view kMethodLabels[kMethodCount] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"};

constexpr auto kRelaxed = std::memory_order_relaxed;

void add_sums(CounterTotals::Sums& into, const Histogram& h) {
    for (size_t i = 0; i < kBucketCount; ++i) into.buckets[i] += h.buckets[i].load(kRelaxed);
    into.count += h.count.load(kRelaxed);
    into.sum_us += h.sum_us.load(kRelaxed);
}

void add_sums(CounterTotals::Sums& into, const CounterTotals::Sums& from) {
    for (size_t i = 0; i < kBucketCount; ++i) into.buckets[i] += from.buckets[i];
    into.count += from.count;
    into.sum_us += from.sum_us;
}

}  // namespace

Method method_of(std::string_view method) {
    for (size_t i = 0; i + 1 < kMethodCount; ++i)
        if (method == kMethodLabels[i]) return static_cast<Method>(i);
    return Method::kOther;
}

std::string_view method_label(size_t index) { return kMethodLabels[index]; }

void Histogram::observe(uint64_t microseconds) {
    double seconds = static_cast<double>(microseconds) / 1e6;
    size_t i = 0;
    while (i < kBucketCount && seconds > kLatencyBuckets[i]) ++i;
    if (i < kBucketCount) buckets[i].fetch_add(1, kRelaxed);  // beyond the last: only in count
    sum_us.fetch_add(microseconds, kRelaxed);
    count.fetch_add(1, kRelaxed);
}

void RequestCounters::count_response(int status, Method method, uint64_t duration_us) {
    if (status < kMinStatus || status > kMaxStatus) status = 500;
    requests[status - kMinStatus][static_cast<size_t>(method)].fetch_add(1, kRelaxed);
    duration.observe(duration_us);
}

uint64_t RequestCounters::saturated_until(int64_t now_us) const {
    uint64_t total = saturated_us.load(kRelaxed);
    int64_t since = saturated_since_us.load(kRelaxed);
    if (since > 0 && now_us > since) total += static_cast<uint64_t>(now_us - since);
    return total;
}

void CounterTotals::add(const RequestCounters& c, bool gauges, int64_t now_us) {
    for (size_t s = 0; s < kStatusCount; ++s)
        for (size_t m = 0; m < kMethodCount; ++m) requests[s][m] += c.requests[s][m].load(kRelaxed);
    add_sums(duration, c.duration);
    add_sums(queue, c.queue);
#define CPPG_ADD_LOADED(type, name) name += c.name.load(kRelaxed);
    CPPG_WORKER_COUNTERS(CPPG_ADD_LOADED)
    if (gauges) { CPPG_WORKER_GAUGES(CPPG_ADD_LOADED) }
#undef CPPG_ADD_LOADED
    saturated_us += gauges ? c.saturated_until(now_us) : c.saturated_us.load(kRelaxed);
}

void CounterTotals::add(const CounterTotals& other) {
    for (size_t s = 0; s < kStatusCount; ++s)
        for (size_t m = 0; m < kMethodCount; ++m) requests[s][m] += other.requests[s][m];
    add_sums(duration, other.duration);
    add_sums(queue, other.queue);
    saturated_us += other.saturated_us;
#define CPPG_ADD_PLAIN(type, name) name += other.name;
    CPPG_WORKER_COUNTERS(CPPG_ADD_PLAIN)
    CPPG_WORKER_GAUGES(CPPG_ADD_PLAIN)
#undef CPPG_ADD_PLAIN
}

}  // namespace cppg::shared
