// SPDX-License-Identifier: MIT
// A worker's M threads share its one event loop (the leader/followers pattern). At any time
// at most one thread, the leader, runs the loop. When a turn of the loop makes requests
// ready, the leader leaves the loop and runs the first one itself: the thread that read a
// request answers it, and no other thread is woken for it. The loop is leaderless
// meanwhile; the thread takes it back when the call returns.
//
// gthread semantics come from one follower, the standby: while the worker is busy it looks
// every kTick whether a request has waited a whole tick for a thread (it takes it; at once
// when calls have been slow) or whether the loop has been leaderless for a whole tick (it
// becomes the leader). It acts after one tick when a thread away in a call is blocked
// (sleeping, waiting on I/O), and after kBusyTicks when they all run: those are computing
// or merely preempted, and on a busy machine another runnable thread would only compete
// with them. Idle, the standby sleeps until a leader leaves the loop. So a blocked call
// holds up requests on other connections for a tick or two, a computing one for
// kBusyTicks at most, and fast calls pay no wake-up at all.
// With M = 1 this is gunicorn's sync worker: one thread, reading, running, answering.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include <sys/types.h>
#include <vector>

namespace cppg::worker {

class LeaderFollowers {
public:
    static constexpr std::chrono::milliseconds kTick{1};
    static constexpr int kBusyTicks = 10;

    // What the threads run outside the loop: one request's app call.
    class Job {
    public:
        virtual ~Job() = default;
        // On whichever thread took it, outside the loop.
        virtual void run(size_t thread) = 0;
        // After run(), on the same thread, under the coordinator's lock once the job is queued
        // for the loop: must a leader be woken to take it back at once? When false it waits
        // for the leader's next turn (at most the loop's longest timer).
        virtual bool needs_loop_now() const = 0;
        // On the leader, after run(): the loop owns the job again.
        virtual void back_on_loop() = 0;
    };

    // The event loop the threads take turns at.
    class Loop {
    public:
        virtual ~Loop() = default;
        // Leader only: one turn (with `wait`, waits for events when there is nothing to do;
        // calls push_ready for requests it completes). False once the loop has ended.
        virtual bool turn(bool wait) = 0;
        // Any thread: makes a turn in progress return soon.
        virtual void wake() = 0;
        // The calling thread has just become the leader.
        virtual void on_lead(size_t thread) = 0;
        // Every thread is running a job (true), or one has come back (false).
        virtual void on_all_busy(bool busy) = 0;
    };

    LeaderFollowers(size_t threads, Loop& loop) : threads_(threads), loop_(loop) {}
    LeaderFollowers(const LeaderFollowers&) = delete;
    LeaderFollowers& operator=(const LeaderFollowers&) = delete;

    // Runs the threads until the loop ends: threads - 1 new ones and the calling thread
    // (thread 0). Each runs `start` first; once it has returned true on every thread,
    // `all_started` runs (once) and they serve. `stop` runs on each thread whose start
    // succeeded, at the end. If any start fails no thread serves, and run returns false.
    bool run(const std::function<bool(size_t)>& start, const std::function<void(size_t)>& stop,
             const std::function<void()>& all_started = [] {});

    // Leader only: `job` is ready to run.
    void push_ready(Job* job);
    // Any thread (one running a job that waits for its client): runs `fn` as the leader if
    // no thread leads now; false if one does (it will see what `fn` would handle).
    bool lead_briefly(const std::function<void()>& fn);
    bool leaderless();
    // Threads running a job now.
    size_t away();

    size_t threads() const { return threads_; }

private:
    using Lock = std::unique_lock<std::mutex>;
    bool wait_until_all_started(bool started, const std::function<void()>& all_started);
    void serve(size_t index);
    void lead(size_t index, Lock& lock);
    void run_job(size_t index, Job* job, Lock& lock);
    void wait_as_follower(Lock& lock);
    void stand_by(Lock& lock);
    void publish_staged();
    void leave_loop();
    bool should_act(Lock& lock, int ticks);
    bool a_thread_away_is_blocked(Lock& lock);

    const size_t threads_;
    Loop& loop_;
    std::mutex mu_;
    std::condition_variable standby_cv_;
    std::condition_variable followers_cv_;
    std::condition_variable start_cv_;
    size_t starts_done_ = 0;       // threads whose start has returned
    bool start_failed_ = false;    // ... and one of them failed
    bool start_gate_open_ = false;
    std::vector<pid_t> tids_;      // by thread index
    std::vector<bool> in_job_;     // by thread index
    std::vector<Job*> staged_;  // the leader's, not yet published
    std::deque<Job*> ready_;
    std::vector<Job*> returned_;
    bool leader_ = false;
    bool ended_ = false;
    size_t away_ = 0;              // threads running a job
    uint64_t leader_epoch_ = 0;    // counts leaderships, so the standby can tell a long one
    uint64_t jobs_started_ = 0;
    uint64_t published_ = 0;       // jobs made ready so far
    uint64_t taken_ = 0;           // ... and taken by a thread (they are taken in order)
    bool standby_ = false;         // a follower is the standby
    size_t followers_waiting_ = 0;  // the other followers, asleep
    bool standby_idle_ = false;    // ... and sleeps until a leader leaves the loop
    // Calls outlasting a tick raise the score, others lower it; at kSlowScoreOn calls count as
    // slow, and ready jobs are spread over free threads at once.
    static constexpr int kSlowScoreMax = 8;
    static constexpr int kSlowScoreOn = 4;
    int slow_score_ = 0;
    bool slow_calls_ = false;
};

}  // namespace cppg::worker
