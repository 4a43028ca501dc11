// The threads that run the app: at most `threads` app calls in flight per worker, fed from
// one queue by the loop thread. Idle keep-alive connections never hold a thread.
// With one thread the loop thread is that thread (run_inline): a hand-off to a thread that
// could only run one call at a time anyway costs more than the app call itself for a fast
// handler, and gunicorn runs --threads 1 the same way (its sync worker).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "app/plugin.hpp"
#include "shared/scoreboard.hpp"
#include "worker/exchange.hpp"

namespace cppg::worker {

class AppPool {
public:
    // `slot` (may be null) is where each thread shows the master what it is running.
    // threads == 1: no thread is started and the caller runs the app with run_inline().
    AppPool(const app::Plugin& plugin, size_t threads, shared::WorkerSlot* slot);
    // Where the time requests wait for a thread is counted (null: not counted).
    void set_counters(shared::RequestCounters* counters) { counters_ = counters; }
    ~AppPool();
    AppPool(const AppPool&) = delete;
    AppPool& operator=(const AppPool&) = delete;

    bool runs_inline() const { return inline_; }
    void submit(Exchange* exchange);
    // Runs the app for one exchange on the calling (loop) thread; only when runs_inline().
    void run_inline(Exchange* exchange) { run_one(0, exchange); }
    // Lets queued work finish, then joins the threads.
    void stop();

private:
    void run_thread(size_t index);
    void serve(size_t index);
    bool spin_for_work();
    void run_one(size_t index, Exchange* exchange);

    static constexpr int kSpinIterations = 300;  // a few microseconds of pause instructions

    const app::Plugin& plugin_;
    shared::WorkerSlot* slot_;
    shared::RequestCounters* counters_ = nullptr;
    const bool inline_;
    bool inline_thread_started_ = false;
    ClientWaitBudget wait_budget_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Exchange*> queue_;
    std::atomic<size_t> queued_{0};  // queue_.size(), readable without the lock
    int sleepers_ = 0;
    std::atomic<bool> spinning_{false};  // one thread at a time looks for work before sleeping
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace cppg::worker
