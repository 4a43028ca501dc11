// The threads that run the app: at most `threads` app calls in flight per worker, fed from
// one queue by the loop thread. Idle keep-alive connections never hold a thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "app/plugin.hpp"
#include "master/scoreboard.hpp"
#include "worker/exchange.hpp"

namespace cppg::worker {

class AppPool {
public:
    // `slot` (may be null) is where each thread shows the master what it is running.
    AppPool(const app::Plugin& plugin, size_t threads, master::WorkerSlot* slot);
    ~AppPool();
    AppPool(const AppPool&) = delete;
    AppPool& operator=(const AppPool&) = delete;

    void submit(Exchange* exchange);
    // Lets queued work finish, then joins the threads.
    void stop();

private:
    void run_thread(size_t index);
    void serve(size_t index);
    bool spin_for_work();

    static constexpr int kSpinIterations = 300;  // a few microseconds of pause instructions

    const app::Plugin& plugin_;
    master::WorkerSlot* slot_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Exchange*> queue_;
    std::atomic<size_t> queued_{0};  // queue_.size(), readable without the lock
    int sleepers_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace cppg::worker
