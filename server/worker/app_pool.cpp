#include "worker/app_pool.hpp"

namespace cppg::worker {

AppPool::AppPool(const app::Plugin& plugin, size_t threads) : plugin_(plugin) {
    threads_.reserve(threads);
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run_thread(); });
}

AppPool::~AppPool() { stop(); }

void AppPool::submit(Exchange* exchange) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(exchange);
    }
    cv_.notify_one();
}

void AppPool::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void AppPool::run_thread() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to run
        Exchange* exchange = queue_.front();
        queue_.pop_front();
        lock.unlock();
        bool threw = false;
        int rc = plugin_.handle(exchange, threw);
        exchange->finish(rc, threw);
        lock.lock();
    }
}

}  // namespace cppg::worker
