#include "master/scoreboard.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>

namespace cppg::master {

int64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
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
    t.tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    t.started_ms.store(monotonic_ms(), std::memory_order_release);
}

void WorkerSlot::end_request(size_t thread) {
    if (thread >= kWatchedThreads) return;
    threads[thread].started_ms.store(0, std::memory_order_release);
    requests.fetch_add(1, std::memory_order_relaxed);
}

Scoreboard::Scoreboard(size_t slots) : slots_(slots) {
    void* mem = mmap(nullptr, sizeof(WorkerSlot) * slots, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("mmap() of the scoreboard failed");
    base_ = static_cast<WorkerSlot*>(mem);
    for (size_t i = 0; i < slots; ++i) new (&base_[i]) WorkerSlot();
}

Scoreboard::~Scoreboard() { munmap(base_, sizeof(WorkerSlot) * slots_); }

WorkerSlot* Scoreboard::claim(pid_t pid) {
    for (size_t i = 0; i < slots_; ++i) {
        WorkerSlot& s = base_[i];
        if (s.pid.load() != 0) continue;
        s.beat_ms.store(monotonic_ms());
        s.loop_tid.store(0);
        s.requests.store(0);
        for (auto& t : s.threads) t.started_ms.store(0);
        s.pid.store(pid);
        return &s;
    }
    return nullptr;
}

void Scoreboard::release(WorkerSlot* slot) { slot->pid.store(0); }

}  // namespace cppg::master
