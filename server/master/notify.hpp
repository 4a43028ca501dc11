// SPDX-License-Identifier: MIT
// The systemd notify protocol (sd_notify), as the master speaks it: READY, RELOADING,
// STOPPING, STATUS, MAINPID after a binary upgrade, and watchdog pings. Does nothing when
// the master was not started by systemd (no NOTIFY_SOCKET).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cppg::master {

class SystemdNotifier {
public:
    // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID of this process.
    SystemdNotifier();

    bool enabled() const { return enabled_; }
    // 0 when systemd wants no watchdog pings from this process.
    int64_t watchdog_interval_ms() const { return watchdog_ms_; }

    // READY=1 with a status line. `main_pid` (after a binary upgrade) also claims the
    // service's main process for this one: MAINPID=<pid>.
    void ready(const std::string& status, pid_t main_pid = 0);
    // RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects.
    void reloading(const std::string& status);
    void stopping(const std::string& status);
    void status(const std::string& status);
    void watchdog_ping();
    // MAINPID=<pid> with READY=1, then waits (a few seconds at most) until systemd has read
    // it: the caller is about to exit and must not be taken for the main process then.
    void hand_main_back(pid_t pid);

    // After USR2 the new master speaks for the service; this one only keeps the watchdog fed
    // until it exits, or speaks again if the new master dies first.
    void set_quiet(bool quiet) { quiet_ = quiet; }
    bool quiet() const { return quiet_; }

    // In a worker, after fork: the protocol is the master's business, not the app's.
    static void forget_in_child();

private:
    void send(const std::string& message);

    bool enabled_ = false;
    bool quiet_ = false;
    int64_t watchdog_ms_ = 0;
    std::string last_status_;
};

}  // namespace cppg::master
