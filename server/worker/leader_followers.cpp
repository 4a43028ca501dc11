#include "worker/leader_followers.hpp"

#include <thread>

namespace cppg::worker {

void LeaderFollowers::run(const std::function<void(size_t)>& start,
                          const std::function<void(size_t)>& stop) {
    std::vector<std::thread> others;
    others.reserve(threads_ - 1);
    for (size_t i = 1; i < threads_; ++i)
        others.emplace_back([&, i] {
            start(i);
            serve(i);
            stop(i);
        });
    start(0);
    serve(0);
    stop(0);
    for (auto& t : others) t.join();
}

// Staged, and published when the leader is done with its batch: until then the loop may
// still touch the job (a job must not run while the code that made it ready is on the stack).
void LeaderFollowers::push_ready(Job* job) { staged_.push_back(job); }

void LeaderFollowers::publish_staged() {
    ready_.insert(ready_.end(), staged_.begin(), staged_.end());
    staged_.clear();
}

bool LeaderFollowers::leaderless() {
    std::lock_guard lock(mu_);
    return !leader_ && !ended_;
}

bool LeaderFollowers::lead_briefly(const std::function<void()>& fn) {
    Lock lock(mu_);
    if (leader_ || ended_) return false;
    leader_ = true;
    ++leader_epoch_;
    lock.unlock();
    fn();
    lock.lock();
    publish_staged();
    leader_ = false;
    return true;
}

void LeaderFollowers::serve(size_t index) {
    Lock lock(mu_);
    for (;;) {
        // Jobs that came back are the loop's to finish first: their clients wait on them.
        if (!leader_ && !ended_ && (!returned_.empty() || ready_.empty())) {
            lead(index, lock);
            continue;
        }
        if (!ready_.empty()) {
            Job* job = ready_.front();
            ready_.pop_front();
            run_job(index, job, lock);
            continue;
        }
        if (ended_) break;
        wait_as_follower(lock);
    }
    standby_cv_.notify_all();
    followers_cv_.notify_all();
}

void LeaderFollowers::lead(size_t index, Lock& lock) {
    leader_ = true;
    ++leader_epoch_;
    bool ended = false;
    lock.unlock();
    loop_.on_lead(index);
    std::vector<Job*> back;
    for (;;) {
        lock.lock();
        publish_staged();
        if (returned_.empty() && !ready_.empty()) break;  // keeps the lock: the first is ours
        back.swap(returned_);
        lock.unlock();
        for (Job* job : back) job->back_on_loop();  // may make requests ready
        if (!back.empty()) {
            back.clear();
            continue;
        }
        if (!loop_.turn()) {
            lock.lock();
            ended = true;
            break;
        }
    }
    leader_ = false;
    if (ended) {
        ended_ = true;
        standby_cv_.notify_all();
        followers_cv_.notify_all();
        return;
    }
    // The loop is leaderless from here: an idle standby starts watching it.
    if (standby_idle_) standby_cv_.notify_one();
}

void LeaderFollowers::run_job(size_t index, Job* job, Lock& lock) {
    ++away_;
    ++jobs_started_;
    if (away_ == threads_) loop_.on_all_busy(true);
    // A follower woken to stand by took a job instead: the post must not stay empty while
    // threads sleep, or a slow call would hold up everything behind it.
    if (!standby_ && followers_waiting_ > 0) followers_cv_.notify_one();
    // Calls are slow today and more requests wait: a thread that is free takes one now
    // rather than at its next tick.
    if (slow_calls_ && !ready_.empty() && standby_) standby_cv_.notify_one();
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    job->run(index);
    bool slow = std::chrono::steady_clock::now() - started > kTick;
    bool urgent = job->needs_loop_now();
    lock.lock();
    slow_calls_ = slow;
    if (away_ == threads_) loop_.on_all_busy(false);
    --away_;
    returned_.push_back(job);
    if (leader_ && urgent) {
        lock.unlock();
        loop_.wake();
        lock.lock();
    }
}

void LeaderFollowers::wait_as_follower(Lock& lock) {
    if (standby_) {
        ++followers_waiting_;
        followers_cv_.wait(lock);  // until the standby post is free again, or the end
        --followers_waiting_;
        return;
    }
    standby_ = true;
    stand_by(lock);
    standby_ = false;
    if (followers_waiting_ > 0) followers_cv_.notify_one();  // the next standby
}

// Returns when there is work for this thread: a ready job, or a loop to lead.
void LeaderFollowers::stand_by(Lock& lock) {
    uint64_t epoch_seen = leader_epoch_;
    uint64_t jobs_seen = jobs_started_;
    bool leaderless_seen = false;
    while (!ended_) {
        if (!ready_.empty()) return;
        if (!leader_) {
            if (away_ == 0) return;  // nobody leads and nobody works: lead
            if (leaderless_seen && leader_epoch_ == epoch_seen) return;  // a slow call: take over
        }
        leaderless_seen = !leader_;
        epoch_seen = leader_epoch_;
        if (leader_ && jobs_started_ == jobs_seen) {
            // Nothing ran for a tick: sleep until a leader leaves the loop.
            standby_idle_ = true;
            standby_cv_.wait(lock);
            standby_idle_ = false;
        } else {
            standby_cv_.wait_for(lock, kTick);
        }
        jobs_seen = jobs_started_;
    }
}

}  // namespace cppg::worker
