// SPDX-License-Identifier: MIT
#include "worker/executor.hpp"

#include <pthread.h>

#include <csignal>

namespace cppg::worker {

namespace {
Executor* the_executor = nullptr;
}  // namespace

Executor* current_executor() { return the_executor; }
void set_current_executor(Executor* executor) { the_executor = executor; }

Executor::Executor(size_t threads, size_t queue_limit)
    : thread_count_(threads), queue_limit_(queue_limit) {}

Executor::~Executor() { stop(); }

bool Executor::submit(Task fn, void* arg) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= queue_limit_) return false;
        queue_.emplace_back(fn, arg);
        // Threads start with the first task: a worker whose app never fans out pays nothing.
        if (threads_.empty())
            for (size_t i = 0; i < thread_count_; ++i)
                threads_.emplace_back([this] {
                    pthread_setname_np(pthread_self(), "cppg-executor");  // for top -H and ps -L
                    run();
                });
    }
    cv_.notify_one();
    return true;
}

void Executor::stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
}

void Executor::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        auto [fn, arg] = queue_.front();
        queue_.pop_front();
        lock.unlock();
        fn(arg);
        lock.lock();
    }
}

}  // namespace cppg::worker
