// SPDX-License-Identifier: MIT
// The worker's shared executor: one bounded pool for app code that fans out blocking work
// (Flask's "global thread pool" pattern), shared by all requests of the worker rather than
// one pool per request. Tasks beyond the threads queue; beyond the queue, submit refuses.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace cppg::worker {

class Executor {
public:
    using Task = void (*)(void* arg);

    Executor(size_t threads, size_t queue_limit);
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Queues fn(arg). False when `queue_limit` tasks already wait: the caller is told at once
    // (CPPG_EBUSY) rather than blocked, so a burst cannot stall the app threads.
    bool submit(Task fn, void* arg);
    // Runs what is queued, then joins the threads.
    void stop();

private:
    void run();

    size_t thread_count_;
    size_t queue_limit_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<Task, void*>> queue_;
    std::vector<std::thread> threads_;  // started on the first submit
    bool stopping_ = false;
};

// The executor of this worker process, for the host table (null outside a worker).
Executor* current_executor();
void set_current_executor(Executor* executor);

}  // namespace cppg::worker
