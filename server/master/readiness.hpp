// Whether this master serves, as systemd (sd_notify) and probes (/livez, /readyz) see it.
// The arbiter reports what happens (workers serving, reloads, stops, upgrades); this turns
// it into READY/RELOADING/STOPPING/STATUS/MAINPID/WATCHDOG messages and probe answers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "master/admin.hpp"
#include "master/notify.hpp"

namespace cppg::master {

class Readiness {
public:
    // How often the STATUS line is refreshed (requests served move all the time).
    static constexpr int64_t kStatusEveryMs = 2000;
    // While workers are expected to come up, the master looks this often.
    static constexpr int64_t kBootPollMs = 10;

    Readiness() = default;
    ~Readiness();
    Readiness(const Readiness&) = delete;
    Readiness& operator=(const Readiness&) = delete;

    // This master was started by an old master's USR2: once it serves it claims MAINPID.
    void started_by_upgrade(pid_t old_master);

    // After every turn of the master's loop: `serving` workers answer (of `wanted`).
    void update(int serving, int wanted, uint64_t requests_served, int64_t now_ms);
    void reload_started();
    void stop_started(bool graceful);
    // USR2: a new master takes over the talking to systemd, until it dies (upgrade_failed).
    void upgrade_started();
    void upgrade_failed();

    bool ready() const { return !stopping_ && wanted_ > 0 && serving_ >= wanted_; }
    // The latest time the loop must wake to keep its promises.
    int64_t next_wake_ms(int64_t now_ms) const;

    AdminReply livez() const;
    AdminReply readyz() const;
    std::string status_line() const;

private:
    void feed_watchdog(int64_t now_ms);

    SystemdNotifier notifier_;
    int old_master_pidfd_ = -1;  // readable once the master that started this one has exited
    bool announced_ = false;   // READY=1 sent for the current generation of workers
    bool claim_main_ = false;  // the next READY=1 also says MAINPID=<this pid>
    bool stopping_ = false;
    bool graceful_ = true;
    int serving_ = 0;
    int wanted_ = 0;
    uint64_t requests_ = 0;
    int reloads_ = 0;
    std::string last_reload_;  // wall-clock time of the last reload, for people
    int64_t next_status_ms_ = 0;
    int64_t next_watchdog_ms_ = 0;
    int64_t workers_ok_ms_ = 0;  // the last time at least one worker served, or none was wanted
};

}  // namespace cppg::master
