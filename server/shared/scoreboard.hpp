// SPDX-License-Identifier: MIT
// Shared memory between the master and its workers, mapped before the first fork: each worker
// beats in its slot and each app thread records the request it is running, so the master can
// tell a stuck worker from a busy one and say which request is stuck, and where.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/clock.hpp"
#include "shared/counters.hpp"

namespace cppg::shared {

// Threads beyond this many per worker run unwatched by the per-request timeout (the loop's
// heartbeat still covers the worker).
constexpr size_t kWatchedThreads = 64;
constexpr size_t kRequestLineBytes = 160;
constexpr int64_t kStaleBeatMs = 1000;  // four missed heartbeats
constexpr int64_t kSaturatedGraceMs = 20;

struct ThreadSlot {
    std::atomic<int64_t> started_ms{0};  // 0 when idle; set last, after the fields below
    std::atomic<pid_t> tid{0};
    // Non-zero while the request waits for its client (body bytes, or room to write): that
    // is the client's time, not the app's, and the master's timeout does not count it.
    std::atomic<int64_t> client_wait_since_ms{0};
    char request_line[kRequestLineBytes]{};

    void begin_client_wait();
    void end_client_wait();  // moves started_ms forward by the time waited
};

// Marks a wait for the client on a watched thread (null: not watched) for its lifetime.
class ClientWait {
public:
    explicit ClientWait(ThreadSlot* thread) : thread_(thread) {
        if (thread_) thread_->begin_client_wait();
    }
    ~ClientWait() {
        if (thread_) thread_->end_client_wait();
    }
    ClientWait(const ClientWait&) = delete;
    ClientWait& operator=(const ClientWait&) = delete;

private:
    ThreadSlot* thread_;
};

// A request an app thread runs now, as the board shows it.
struct BusyThread {
    size_t index = 0;
    std::string request_line;
    int64_t running_ms = 0;
    bool waiting_for_client = false;
};

// "[0] GET /report HTTP/1.1 (31204 ms); [1] ...", for log lines.
std::string describe(const std::vector<BusyThread>& busy);

struct WorkerSlot {
    std::atomic<pid_t> pid{0};
    std::atomic<int64_t> beat_ms{0};      // monotonic ms of the loop's last beat
    std::atomic<pid_t> loop_tid{0};
    std::atomic<uint64_t> requests{0};
    // Monotonic ms since the worker serves (listening, reading its signals), or 0 while it
    // boots and once it has begun to stop: what /readyz and READY=1 count.
    std::atomic<int64_t> serving_ms{0};
    // Set by a worker that wants to be replaced (max_requests): the master starts its
    // replacement and sends it TERM once that one serves, so capacity never drops.
    std::atomic<int64_t> leave_requested_ms{0};
    // Connections the worker holds while it is ready to accept more, else -1 (booting or
    // stopping). Workers read each other's to share connections out evenly (see
    // Worker::my_turn_to_accept).
    std::atomic<int32_t> open_connections{-1};
    // Set by claim(): the whole board, so a worker can see its peers' slots.
    WorkerSlot* board = nullptr;
    const std::atomic<size_t>* board_used = nullptr;  // slots [0, used) have ever been claimed
    ThreadSlot threads[kWatchedThreads];
    // Why the worker could not boot, for the master's log (a failed reload names it).
    char boot_error[256]{};
    // Requests, latencies, connections: what /metrics shows (see counters.hpp).
    RequestCounters counters;

    // Worker side.
    void beat();
    void begin_request(size_t thread, std::string_view method, std::string_view target);
    // The watched slot of app thread `thread`, or null beyond kWatchedThreads.
    ThreadSlot* thread_slot(size_t thread) { return thread < kWatchedThreads ? &threads[thread] : nullptr; }
    void end_request(size_t thread);
    void set_boot_error(std::string_view why);
    // The requests its first `threads` app threads run now (`now_ms` read before this call).
    std::vector<BusyThread> busy_threads(size_t threads, int64_t now_ms) const;
    // The fewest open_connections among the other workers that accept, or -1 if none does.
    // A peer whose loop has not beaten for kStaleBeatMs, or whose threads have all been in
    // calls for kSaturatedGraceMs (counters.saturated_since_us), is skipped: a stuck or saturated worker must not make the
    // others leave it connections. A peer saturated for less still counts, so that a burst
    // of connections is shared out evenly while short calls run (keep-alive connections
    // stay where they land).
    int32_t least_loaded_peer(int64_t now_ms) const;
};

class Scoreboard {
public:
    // Maps `slots` slots shared with every process forked afterwards.
    explicit Scoreboard(size_t slots);
    ~Scoreboard();
    Scoreboard(const Scoreboard&) = delete;
    Scoreboard& operator=(const Scoreboard&) = delete;

    size_t size() const { return slots_; }
    WorkerSlot& slot(size_t i) { return base_[i]; }
    // A free slot for a new worker, or nullptr when all are taken.
    WorkerSlot* claim(pid_t pid);
    void release(WorkerSlot* slot);

private:
    struct Header {
        std::atomic<size_t> used{0};
    };
    static constexpr size_t kHeaderBytes = 4096;  // keeps the slots page-aligned

    Header* header_;
    WorkerSlot* base_;
    size_t slots_;
};

}  // namespace cppg::shared
