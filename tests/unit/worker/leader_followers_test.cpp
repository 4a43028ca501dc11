// SPDX-License-Identifier: MIT
// LeaderFollowers with a fake loop whose turns release scheduled jobs: which thread runs
// what, and how long a ready job waits while others block. Bounds on waits are generous
// (100 ms for a 1 ms tick) so that a loaded machine cannot fail them.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "worker/leader_followers.hpp"

using cppg::worker::LeaderFollowers;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct FakeLoop;

struct TestJob final : LeaderFollowers::Job {
    FakeLoop* loop = nullptr;
    Clock::duration work{};
    size_t pushed_by = SIZE_MAX, ran_on = SIZE_MAX;
    Clock::time_point scheduled, ready, started, finished;
    std::function<void()> then;    // on the loop once it is back: schedule the next one
    std::function<void()> during;  // on its thread, in the middle of the work
    void run(size_t thread) override {
        ran_on = thread;
        started = Clock::now();
        if (work > Clock::duration::zero()) std::this_thread::sleep_for(work / 2);
        if (during) during();
        if (work > Clock::duration::zero()) std::this_thread::sleep_for(work / 2);
        finished = Clock::now();
    }
    bool needs_loop_now() const override { return false; }
    void back_on_loop() override;
};

struct FakeLoop final : LeaderFollowers::Loop {
    std::unique_ptr<LeaderFollowers> crew;
    std::mutex mu;
    std::condition_variable cv;
    std::multimap<Clock::time_point, TestJob*> schedule;
    int outstanding = 0;  // released and not back
    bool woken = false;
    size_t leader = SIZE_MAX;  // only the leader reads or writes it
    std::atomic<int> all_busy{0};

    explicit FakeLoop(size_t threads) : crew(std::make_unique<LeaderFollowers>(threads, *this)) {}

    void at(Clock::duration from_now, TestJob* job) {
        std::lock_guard lock(mu);
        job->loop = this;
        job->scheduled = Clock::now() + from_now;
        schedule.emplace(job->scheduled, job);
    }
    bool turn(bool wait) override {
        std::unique_lock lock(mu);
        if (schedule.empty() && outstanding == 0) return false;
        auto until = schedule.empty() ? Clock::now() + 20ms : schedule.begin()->first;
        if (wait) cv.wait_until(lock, until, [&] { return woken; });
        woken = false;
        auto now = Clock::now();
        while (!schedule.empty() && schedule.begin()->first <= now) {
            TestJob* job = schedule.begin()->second;
            schedule.erase(schedule.begin());
            job->pushed_by = leader;
            job->ready = now;
            ++outstanding;
            crew->push_ready(job);
        }
        return true;
    }
    void wake() override {
        std::lock_guard lock(mu);
        woken = true;
        cv.notify_all();
    }
    void on_lead(size_t thread) override { leader = thread; }
    void on_all_busy(bool busy) override { all_busy += busy ? 1 : 0; }
    void run() {
        crew->run([](size_t) { return true; }, [](size_t) {});
    }
};

void TestJob::back_on_loop() {
    std::function<void()> next;
    {
        std::lock_guard lock(loop->mu);
        --loop->outstanding;
        next = then;
    }
    if (next) next();
}

Clock::duration latency(const TestJob& j) { return j.started - j.ready; }

}  // namespace

TEST_CASE("leader/followers: a fast request runs on the thread that read it") {
    FakeLoop loop(2);
    std::vector<TestJob> jobs(200);
    for (size_t i = 0; i + 1 < jobs.size(); ++i)
        jobs[i].then = [&, i] { loop.at(0ms, &jobs[i + 1]); };  // a keep-alive client's next request
    loop.at(0ms, &jobs[0]);
    loop.run();
    for (const auto& j : jobs) {
        REQUIRE(j.ran_on != SIZE_MAX);
        CHECK(j.ran_on == j.pushed_by);
    }
}

TEST_CASE("leader/followers: with one thread, calls run one after another (the sync worker)") {
    FakeLoop loop(1);
    TestJob slow, fast;
    slow.work = 100ms;
    loop.at(0ms, &slow);
    loop.at(10ms, &fast);
    loop.run();
    CHECK(fast.started >= slow.finished);
    CHECK(loop.all_busy > 0);
}

TEST_CASE("leader/followers: while one call blocks, another thread serves what comes") {
    FakeLoop loop(2);
    TestJob slow, fast;
    slow.work = 400ms;
    loop.at(0ms, &slow);
    loop.at(30ms, &fast);
    loop.run();
    CHECK(fast.finished < slow.finished);
    CHECK(latency(fast) < 100ms);
    CHECK(slow.ran_on != fast.ran_on);
}

TEST_CASE("leader/followers: three blocked threads of four; the fourth answers fast requests") {
    FakeLoop loop(4);
    std::vector<TestJob> slow(3), fast(20);
    for (auto& j : slow) {
        j.work = 500ms;
        loop.at(0ms, &j);
    }
    for (size_t i = 0; i < fast.size(); ++i) loop.at(20ms + i * 10ms, &fast[i]);
    loop.run();
    for (auto& j : fast) {
        CHECK(latency(j) < 100ms);
        CHECK(j.finished < slow[0].finished);
    }
}

TEST_CASE("leader/followers: a batch of ready blocking calls spreads over the threads") {
    FakeLoop loop(4);
    std::vector<TestJob> jobs(8);
    for (auto& j : jobs) {
        j.work = 100ms;
        loop.at(0ms, &j);
    }
    auto start = Clock::now();
    loop.run();
    // Eight 100 ms calls on four threads: two rounds, not eight.
    CHECK(Clock::now() - start < 400ms);
    std::set<size_t> threads;
    for (auto& j : jobs) threads.insert(j.ran_on);
    CHECK(threads.size() == 4);
}

TEST_CASE("leader/followers: after a call briefly leads the loop (a signal while it waits), a free thread takes it") {
    FakeLoop loop(2);
    TestJob a, b, c;
    a.work = 600ms;
    bool led = false;
    // At 300 ms the call leads the loop for 100 ms; meanwhile b's thread comes back, finds a
    // leader and stands by. When the call lets go, that thread must take the loop, or c,
    // due at 450 ms, waits for a's end at 600 ms.
    a.during = [&] {
        led = loop.crew->lead_briefly([] { std::this_thread::sleep_for(100ms); });
    };
    b.work = 350ms;
    loop.at(0ms, &a);
    loop.at(0ms, &b);
    loop.at(450ms, &c);
    loop.run();
    CHECK(led);
    CHECK(c.started - c.scheduled < 100ms);
    CHECK(c.finished < a.finished);
}

TEST_CASE("leader/followers: threads serve only once every thread has started") {
    FakeLoop loop(3);
    std::atomic<int> starts{0};
    int started_when_gate_opened = -1;
    TestJob job;
    bool job_ran_after_gate = false;
    bool gate_open = false;
    job.during = [&] { job_ran_after_gate = gate_open; };
    loop.at(0ms, &job);
    bool ok = loop.crew->run(
        [&](size_t i) {
            if (i == 2) std::this_thread::sleep_for(50ms);  // the slowest thread to set up
            ++starts;
            return true;
        },
        [](size_t) {},
        [&] {
            started_when_gate_opened = starts.load();
            gate_open = true;
        });
    CHECK(ok);
    CHECK(started_when_gate_opened == 3);
    CHECK(job_ran_after_gate);
}

TEST_CASE("leader/followers: when one thread's start fails no thread serves, and stop runs where start succeeded") {
    FakeLoop loop(3);
    TestJob job;
    loop.at(0ms, &job);
    std::mutex mu;
    std::set<size_t> stopped;
    bool gate_opened = false;
    bool ok = loop.crew->run([](size_t i) { return i != 1; },
                             [&](size_t i) {
                                 std::lock_guard lock(mu);
                                 stopped.insert(i);
                             },
                             [&] { gate_opened = true; });
    CHECK_FALSE(ok);
    CHECK_FALSE(gate_opened);
    CHECK(job.ran_on == SIZE_MAX);
    CHECK(stopped == std::set<size_t>{0, 2});
}
