// SPDX-License-Identifier: MIT
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
    // While workers boot, the master looks this often whether they serve yet.
    static constexpr int64_t kBootPollMs = 10;

    // What the arbiter sees after a turn of its loop.
    struct Workers {
        int serving = 0;   // booted, listening, not stopping
        int booting = 0;   // forked, not serving yet
        int standby = 0;   // the previous generation's, serving while a reload's workers boot
        int wanted = 0;    // --workers, after TTIN/TTOU/WINCH
        uint64_t requests_served = 0;
        bool old_master_alive = false;  // the master whose USR2 started this one still runs
    };

    // This master was started by USR2 from `old_master`: it claims MAINPID once it serves,
    // and gives it back if it is stopped while the old master still runs (a rollback).
    void started_by_upgrade(pid_t old_master) { old_master_ = old_master, claim_main_ = true; }

    void update(const Workers& workers, int64_t now_ms);
    void reload_started();
    // The new workers failed; the old ones serve on: READY=1 again, and the status says so.
    void reload_failed();
    // `old_master_alive`: see Workers; then this is a rollback, not the service stopping.
    void stop_started(bool graceful, bool old_master_alive);
    // USR2: a new master takes over the talking to systemd, until it dies (upgrade_failed).
    void upgrade_started();
    void upgrade_failed();

    // Every wanted worker serves: READY=1, and /readyz 200.
    bool ready() const { return !stopping_ && w_.wanted > 0 && w_.serving >= w_.wanted; }
    // The latest time the loop must wake to keep its promises.
    int64_t next_wake_ms(int64_t now_ms) const;

    AdminReply livez() const;
    AdminReply readyz() const;
    std::string status_line() const;

private:
    void feed_watchdog(int64_t now_ms);

    SystemdNotifier notifier_;
    Workers w_;
    pid_t old_master_ = 0;
    bool announced_ = false;   // READY=1 sent for the current generation of workers
    bool claim_main_ = false;  // the next READY=1 also says MAINPID=<this pid>
    bool stopping_ = false;
    bool graceful_ = true;
    int reloads_ = 0;
    std::string last_reload_;  // wall-clock time of the last reload, for people
    bool last_reload_failed_ = false;
    int64_t next_status_ms_ = 0;
    int64_t next_watchdog_ms_ = 0;
    int64_t workers_ok_ms_ = 0;  // the last time at least one worker served, or none was wanted
};

}  // namespace cppg::master
