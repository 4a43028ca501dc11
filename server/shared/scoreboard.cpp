// SPDX-License-Identifier: MIT
#include "shared/scoreboard.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>

namespace cppg::shared {

void ThreadSlot::begin_client_wait() {
    client_wait_since_ms.store(monotonic_ms(), std::memory_order_release);
}

void ThreadSlot::end_client_wait() {
    int64_t since = client_wait_since_ms.exchange(0, std::memory_order_acq_rel);
    if (since == 0 || started_ms.load(std::memory_order_acquire) == 0) return;
    started_ms.fetch_add(monotonic_ms() - since, std::memory_order_acq_rel);
}

void WorkerSlot::beat() { beat_ms.store(monotonic_ms(), std::memory_order_release); }

void WorkerSlot::begin_request(size_t thread, std::string_view method, std::string_view target) {
    if (thread >= kWatchedThreads) return;
    ThreadSlot& t = threads[thread];
    size_t n = std::min(method.size(), kRequestLineBytes - 2);
    std::memcpy(t.request_line, method.data(), n);
    t.request_line[n++] = ' ';
    size_t m = std::min(target.size(), kRequestLineBytes - 1 - n);
    std::memcpy(t.request_line + n, target.data(), m);
    t.request_line[n + m] = '\0';
    thread_local const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));  // once per thread
    t.tid.store(tid, std::memory_order_relaxed);
    t.started_ms.store(monotonic_ms(), std::memory_order_release);
}

void WorkerSlot::end_request(size_t thread) {
    if (thread >= kWatchedThreads) return;
    threads[thread].client_wait_since_ms.store(0, std::memory_order_release);
    threads[thread].started_ms.store(0, std::memory_order_release);
    requests.fetch_add(1, std::memory_order_relaxed);
}

std::vector<BusyThread> WorkerSlot::busy_threads(size_t count, int64_t now_ms) const {
    std::vector<BusyThread> busy;
    for (size_t t = 0; t < std::min(count, kWatchedThreads); ++t) {
        int64_t started = threads[t].started_ms.load(std::memory_order_acquire);
        if (started == 0) continue;
        // now was read before this slot: a request that began since is 0 ms old, not -1.
        busy.push_back({t, threads[t].request_line, std::max<int64_t>(0, now_ms - started),
                        threads[t].client_wait_since_ms.load(std::memory_order_relaxed) != 0});
    }
    return busy;
}

std::string describe(const std::vector<BusyThread>& busy) {
    std::string out;
    for (const auto& t : busy)
        out += (out.empty() ? "" : "; ") + ("[" + std::to_string(t.index) + "] " + t.request_line + " (" +
                                            std::to_string(t.running_ms) + " ms" +
                                            (t.waiting_for_client ? ", waiting for the client" : "") + ")");
    return out;
}

void WorkerSlot::set_boot_error(std::string_view why) {
    size_t n = std::min(why.size(), sizeof boot_error - 1);
    std::memcpy(boot_error, why.data(), n);
    boot_error[n] = '\0';
}

int32_t WorkerSlot::least_loaded_peer(int64_t now_ms) const {
    int32_t least = -1;
    size_t used = board_used->load(std::memory_order_relaxed);
    for (size_t i = 0; i < used; ++i) {
        const WorkerSlot& peer = board[i];
        if (&peer == this || peer.pid.load(std::memory_order_relaxed) <= 0) continue;
        if (now_ms - peer.beat_ms.load(std::memory_order_relaxed) > kStaleBeatMs) continue;
        int64_t saturated_us = peer.counters.saturated_since_us.load(std::memory_order_relaxed);
        if (saturated_us > 0 && now_ms - saturated_us / 1000 > kSaturatedGraceMs) continue;
        int32_t n = peer.open_connections.load(std::memory_order_relaxed);
        if (n >= 0 && (least < 0 || n < least)) least = n;
    }
    return least;
}

Scoreboard::Scoreboard(size_t slots) : slots_(slots) {
    void* mem = mmap(nullptr, kHeaderBytes + sizeof(WorkerSlot) * slots, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("mmap() of the scoreboard failed");
    // Slots are constructed when claimed: touching every page here would make all of them
    // resident in the master (megabytes) for the few workers that exist. Fresh anonymous
    // memory is zero, which is also what an unclaimed slot's pid (0 = free) must read.
    header_ = new (mem) Header();
    base_ = reinterpret_cast<WorkerSlot*>(static_cast<char*>(mem) + kHeaderBytes);
}

Scoreboard::~Scoreboard() { munmap(header_, kHeaderBytes + sizeof(WorkerSlot) * slots_); }

WorkerSlot* Scoreboard::claim(pid_t pid) {
    for (size_t i = 0; i < slots_; ++i) {
        WorkerSlot* s = &base_[i];
        if (s->pid.load() != 0) continue;
        s = new (s) WorkerSlot();  // no worker uses a free slot, so it may be rebuilt
        s->board = base_;
        s->board_used = &header_->used;
        if (header_->used.load() < i + 1) header_->used.store(i + 1);
        s->beat_ms.store(monotonic_ms());
        s->pid.store(pid);
        return s;
    }
    return nullptr;
}

void Scoreboard::release(WorkerSlot* slot) { slot->pid.store(0); }

}  // namespace cppg::shared
