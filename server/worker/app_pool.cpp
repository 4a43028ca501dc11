#include "worker/app_pool.hpp"

#include "worker/host_api.hpp"

namespace cppg::worker {

AppPool::AppPool(const app::Plugin& plugin, size_t threads, shared::WorkerSlot* slot)
    : plugin_(plugin), slot_(slot), inline_(threads == 1), wait_budget_(static_cast<int>(threads)) {
    if (inline_) {
        plugin_.thread_start(0);
        inline_thread_started_ = true;
        return;
    }
    threads_.reserve(threads);
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run_thread(i); });
}

AppPool::~AppPool() { stop(); }

void AppPool::submit(Exchange* exchange) {
    bool wake = false;
    {
        std::lock_guard lock(mu_);
        queue_.push_back(exchange);
        queued_.store(queue_.size(), std::memory_order_release);
        // A spinning thread takes one request without a wake-up; it checks the queue under
        // the lock before it sleeps, so none is missed if it gives up just now.
        bool spinner_takes_it = queue_.size() == 1 && spinning_.load(std::memory_order_acquire);
        wake = sleepers_ > 0 && !spinner_takes_it;
    }
    if (wake) cv_.notify_one();
}

// Under load the next request usually arrives within microseconds; looking for it briefly
// before sleeping saves the futex sleep and wake-up (two context switches) per request.
bool AppPool::spin_for_work() {
    for (int i = 0; i < kSpinIterations; ++i) {
        if (queued_.load(std::memory_order_acquire) > 0) return true;
        __builtin_ia32_pause();
    }
    return false;
}

void AppPool::stop() {
    if (inline_) {
        if (inline_thread_started_) plugin_.thread_stop(0);
        inline_thread_started_ = false;
        return;
    }
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void AppPool::run_thread(size_t index) {
    plugin_.thread_start(static_cast<unsigned>(index));
    serve(index);
    plugin_.thread_stop(static_cast<unsigned>(index));
}

void AppPool::serve(size_t index) {
    std::unique_lock lock(mu_);
    for (;;) {
        // Only one thread spins: with several, all but one would burn CPU for nothing.
        if (queue_.empty() && !stopping_ && !spinning_.exchange(true, std::memory_order_acq_rel)) {
            lock.unlock();
            spin_for_work();
            spinning_.store(false, std::memory_order_release);
            lock.lock();
        }
        ++sleepers_;
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        --sleepers_;
        if (queue_.empty()) return;  // stopping, and nothing left to run
        Exchange* exchange = queue_.front();
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_release);
        lock.unlock();
        run_one(index, exchange);
        lock.lock();
    }
}

void AppPool::run_one(size_t index, Exchange* exchange) {
    bool threw = false;
    if (slot_) slot_->begin_request(index, exchange->request().method(), exchange->request().target());
    exchange->set_thread_slot(slot_ ? slot_->thread_slot(index) : nullptr);
    exchange->set_wait_budget(&wait_budget_);
    if (counters_) counters_->queue.observe(exchange->since_head_us());
    set_current_request(exchange);
    plugin_.pre_request(exchange);
    int rc = plugin_.handle(exchange, threw);
    if (slot_) slot_->end_request(index);
    int status = exchange->conclude(rc, threw);
    plugin_.post_request(exchange, status);
    set_current_request(nullptr);
    exchange->publish();  // from here on the loop may reuse or free the exchange
}

}  // namespace cppg::worker
