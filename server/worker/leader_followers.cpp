// SPDX-License-Identifier: MIT
#include "worker/leader_followers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cppg::worker {

bool LeaderFollowers::run(const std::function<bool(size_t)>& start,
                          const std::function<void(size_t)>& stop,
                          const std::function<void()>& all_started) {
    tids_.assign(threads_, 0);
    in_job_.assign(threads_, false);
    auto work = [&](size_t i) {
        bool started = start(i);
        if (wait_until_all_started(started, all_started)) serve(i);
        if (started) stop(i);
    };
    std::vector<std::thread> others;
    others.reserve(threads_ - 1);
    for (size_t i = 1; i < threads_; ++i)
        others.emplace_back([&, i] {
            // Thread 0 keeps the process's name (what pgrep and systemd see); the others are
            // named for top -H and ps -L.
            std::string name = "cppg-thread-" + std::to_string(i);
            pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
            work(i);
        });
    work(0);
    for (auto& t : others) t.join();
    return !start_failed_;
}

// No thread serves before every thread is set up: a worker whose app cannot set up one of
// its threads must fail its boot, not serve on the others.
bool LeaderFollowers::wait_until_all_started(bool started, const std::function<void()>& all_started) {
    Lock lock(mu_);
    start_failed_ = start_failed_ || !started;
    if (++starts_done_ < threads_) {
        start_cv_.wait(lock, [this] { return start_gate_open_; });
        return !start_failed_;
    }
    if (!start_failed_) {
        lock.unlock();
        all_started();
        lock.lock();
    }
    start_gate_open_ = true;
    start_cv_.notify_all();
    return !start_failed_;
}

// Staged, and published when the leader is done with its batch: until then the loop may
// still touch the job (a job must not run while the code that made it ready is on the stack).
void LeaderFollowers::push_ready(Job* job) { staged_.push_back(job); }

void LeaderFollowers::publish_staged() {
    published_ += staged_.size();
    ready_.insert(ready_.end(), staged_.begin(), staged_.end());
    staged_.clear();
}

size_t LeaderFollowers::away() {
    std::lock_guard lock(mu_);
    return away_;
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
    leave_loop();
    return true;
}

void LeaderFollowers::serve(size_t index) {
    Lock lock(mu_);
    tids_[index] = static_cast<pid_t>(syscall(SYS_gettid));
    for (;;) {
        // Jobs that came back are the loop's to finish first: their clients wait on them.
        if (!leader_ && !ended_ && (!returned_.empty() || ready_.empty())) {
            lead(index, lock);
            continue;
        }
        if (!ready_.empty()) {
            Job* job = ready_.front();
            ready_.pop_front();
            ++taken_;
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
    bool polled = false;
    for (;;) {
        lock.lock();
        publish_staged();
        // With slow calls, requests pile up in their sockets while the threads are away:
        // read them (without waiting) before taking the oldest ready one, so that they queue
        // in the order they came rather than behind a whole batch.
        if (returned_.empty() && !ready_.empty() && (polled || !slow_calls_)) break;  // keeps the lock
        back.swap(returned_);
        lock.unlock();
        for (Job* job : back) job->back_on_loop();  // may make requests ready
        if (!back.empty()) {
            back.clear();
            continue;
        }
        lock.lock();
        bool wait = ready_.empty();
        lock.unlock();
        polled = true;
        if (!loop_.turn(wait)) {
            lock.lock();
            ended = true;
            break;
        }
    }
    if (ended) {
        leader_ = false;
        ended_ = true;
        standby_cv_.notify_all();
        followers_cv_.notify_all();
        return;
    }
    leave_loop();
}

// The loop is leaderless from here: an idle standby starts watching it (or, with the post
// empty, a sleeping follower takes it).
void LeaderFollowers::leave_loop() {
    leader_ = false;
    if (standby_idle_) standby_cv_.notify_one();
    else if (!standby_ && followers_waiting_ > 0) followers_cv_.notify_one();
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
    in_job_[index] = true;
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    job->run(index);
    bool slow = std::chrono::steady_clock::now() - started > kTick;
    lock.lock();
    in_job_[index] = false;
    // Consistently slow calls, not one that was merely preempted: spreading work on a busy
    // machine would only add threads competing for its cores.
    slow_score_ = slow ? std::min(slow_score_ + 1, kSlowScoreMax) : std::max(slow_score_ - 1, 0);
    slow_calls_ = slow_score_ >= kSlowScoreOn;
    if (away_ == threads_) loop_.on_all_busy(false);
    --away_;
    returned_.push_back(job);
    // Under the lock: the leader cannot have taken the job back yet, so the loop (and its
    // wake-up handle) is still there.
    if (leader_ && job->needs_loop_now()) loop_.wake();
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

// Returns when there is work for this thread: a request that has waited for a thread, or a
// loop that has been leaderless, for long enough (should_act), or a loop nobody leads while
// nobody works.
void LeaderFollowers::stand_by(Lock& lock) {
    uint64_t epoch_seen = leader_epoch_;
    uint64_t jobs_seen = jobs_started_;
    uint64_t published_seen = published_;
    int waiting_ticks = 0, leaderless_ticks = 0;
    while (!ended_) {
        if (!ready_.empty() && (slow_calls_ || (taken_ < published_seen && should_act(lock, ++waiting_ticks))))
            return;
        if (ready_.empty()) waiting_ticks = 0;
        if (!leader_ && away_ == 0) return;  // nobody leads and nobody works: lead
        bool same_leaderless = !leader_ && leader_epoch_ == epoch_seen;
        leaderless_ticks = same_leaderless ? leaderless_ticks + 1 : 0;
        if (leaderless_ticks > 0 && should_act(lock, leaderless_ticks)) return;
        if (ended_) return;
        epoch_seen = leader_epoch_;
        published_seen = published_;
        if (leader_ && jobs_started_ == jobs_seen && ready_.empty()) {
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

// After `ticks` ticks of waiting: act now if a thread away in a call is blocked, or once
// kBusyTicks have gone by.
bool LeaderFollowers::should_act(Lock& lock, int ticks) {
    return ticks >= kBusyTicks || a_thread_away_is_blocked(lock);
}

// From the kernel's view of the threads in calls: 'S' or 'D' is a call waiting on something
// (a sleep, a socket, a lock); 'R' is one computing, or preempted.
bool LeaderFollowers::a_thread_away_is_blocked(Lock& lock) {
    std::vector<pid_t> away;
    for (size_t i = 0; i < threads_; ++i)
        if (in_job_[i]) away.push_back(tids_[i]);
    lock.unlock();
    bool blocked = false;
    for (pid_t tid : away) {
        char path[64], stat[256];
        std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = ::read(fd, stat, sizeof stat - 1);
        ::close(fd);
        if (n <= 0) continue;
        stat[n] = '\0';
        const char* end = std::strrchr(stat, ')');  // the name may hold spaces and parentheses
        if (end && (end[2] == 'S' || end[2] == 'D')) {
            blocked = true;
            break;
        }
    }
    lock.lock();
    return blocked;
}

}  // namespace cppg::worker
