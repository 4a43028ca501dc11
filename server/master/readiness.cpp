// SPDX-License-Identifier: MIT
#include "master/readiness.hpp"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include <spdlog/spdlog.h>

#include "master/status.hpp"

namespace cppg::master {

std::string Readiness::status_line() const {
    std::string line;
    if (stopping_) line = graceful_ ? "Stopping gracefully; " : "Stopping quickly; ";
    else if (!announced_) line = reloads_ > 0 ? "Reloading; " : "Starting; ";
    line += std::to_string(w_.serving) + " of " + std::to_string(w_.wanted) + " worker(s) serving, " +
            std::to_string(w_.requests_served) + " request(s) served";
    if (reloads_ > 0)
        line += ", last reload " + last_reload_ + (last_reload_failed_ ? " failed" : "") + " (" +
                std::to_string(reloads_) + " so far)";
    return line;
}

void Readiness::update(const Workers& workers, int64_t now_ms) {
    w_ = workers;
    if (stopping_) w_.serving = 0;  // they finish what they have but take nothing new
    // Booting counts as fine for one watchdog interval from the start, as serving does.
    if (w_.serving > 0 || w_.wanted == 0 || stopping_ || workers_ok_ms_ == 0) workers_ok_ms_ = now_ms;
    if (!announced_ && ready()) {
        announced_ = true;
        pid_t main_pid = claim_main_ ? getpid() : 0;
        notifier_.ready(status_line(), main_pid);
        if (main_pid && notifier_.enabled() && !notifier_.quiet())
            spdlog::info("told systemd that this master (pid {}) is the service's main process",
                         main_pid);
        claim_main_ = claim_main_ && notifier_.quiet();
        next_status_ms_ = now_ms + kStatusEveryMs;
    } else if (now_ms >= next_status_ms_) {
        notifier_.status(status_line());
        next_status_ms_ = now_ms + kStatusEveryMs;
    }
    feed_watchdog(now_ms);
}

// Pings only while the loop runs (this is called from it) and some worker has served within
// the watchdog interval: a master stuck in a crash loop with nothing serving stops feeding
// the watchdog, and systemd restarts the service.
void Readiness::feed_watchdog(int64_t now_ms) {
    int64_t interval = notifier_.watchdog_interval_ms();
    if (interval <= 0 || now_ms < next_watchdog_ms_) return;
    if (now_ms - workers_ok_ms_ >= interval) {
        spdlog::warn("no worker has served for {} ms; withholding the systemd watchdog ping",
                     now_ms - workers_ok_ms_);
        next_watchdog_ms_ = now_ms + interval / 2;
        return;
    }
    notifier_.watchdog_ping();
    next_watchdog_ms_ = now_ms + std::max<int64_t>(interval / 2, 1);
}

void Readiness::reload_failed() {
    last_reload_failed_ = true;
    announced_ = false;  // READY=1 on the next turn, the old workers serving
}

void Readiness::reload_started() {
    ++reloads_;
    last_reload_failed_ = false;
    last_reload_ = wall_clock_text(std::time(nullptr));
    announced_ = false;
    notifier_.reloading(status_line());
}

void Readiness::stop_started(bool graceful, bool old_master_alive) {
    bool first = !stopping_;
    stopping_ = true;
    graceful_ = graceful;
    w_.serving = 0;
    w_.old_master_alive = old_master_alive;
    if (!first) return;
    // A rollback (USR2, then this new master is stopped while the old one still runs): the
    // old master is the service again. Say so, and make sure systemd has read it before this
    // process can exit, or its exit would count as the service's main process dying.
    // STOPPING=1 would stop the whole service.
    if (old_master_alive && old_master_ > 0) {
        notifier_.hand_main_back(old_master_);
        notifier_.set_quiet(true);
        return;
    }
    notifier_.stopping(status_line());
}

void Readiness::upgrade_started() { notifier_.set_quiet(true); }

void Readiness::upgrade_failed() {
    notifier_.set_quiet(false);
    claim_main_ = true;
    announced_ = false;
}

int64_t Readiness::next_wake_ms(int64_t now_ms) const {
    int64_t next = next_status_ms_;
    if (notifier_.watchdog_interval_ms() > 0) next = std::min(next, next_watchdog_ms_);
    if (!stopping_ && w_.booting > 0) next = std::min(next, now_ms + kBootPollMs);
    return next;
}

AdminReply Readiness::livez() const { return {200, "alive: " + status_line() + "\n"}; }

// 200 when this master's workers all serve, or, during an upgrade, while the old master's
// workers do (the new master is still starting, or is being rolled back): the listening
// socket is served either way, so a load balancer must not drain the instance.
AdminReply Readiness::readyz() const {
    if (ready()) return {200, "ready: " + status_line() + "\n"};
    if (!stopping_ && w_.wanted > 0 && w_.standby >= w_.wanted)
        return {200, "ready: the previous workers serve meanwhile; " + status_line() + "\n"};
    if (w_.old_master_alive && (stopping_ || !announced_))
        return {200, "ready: the old master (pid " + std::to_string(old_master_) +
                         ") serves meanwhile; this one: " + status_line() + "\n"};
    return {503, "not ready: " + status_line() + "\n"};
}

}  // namespace cppg::master
