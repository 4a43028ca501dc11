// SPDX-License-Identifier: MIT
#include "master/notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>

#include "shared/clock.hpp"

namespace cppg::master {

namespace {

// STATUS= ends at a newline; a status is one line.
std::string status_field(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    return "STATUS=" + line;
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
    uint64_t usec = 0;
    // Checks WATCHDOG_PID against this pid, so a master started by USR2 pings only when the
    // old master handed the watchdog to it.
    if (sd_watchdog_enabled(0, &usec) > 0) watchdog_ms_ = static_cast<int64_t>(usec / 1000);
}

void SystemdNotifier::send(const std::string& message) {
    if (!enabled_) return;
    int rc = sd_notify(0, message.c_str());
    if (rc < 0) spdlog::warn("sd_notify failed ({}: {})", -rc, std::strerror(-rc));
}

void SystemdNotifier::ready(const std::string& status, pid_t main_pid) {
    if (quiet_) return;
    last_status_ = status;
    std::string message = "READY=1\n" + status_field(status);
    if (main_pid > 0) message = "MAINPID=" + std::to_string(main_pid) + "\n" + message;
    send(message);
}

void SystemdNotifier::reloading(const std::string& status) {
    if (quiet_) return;
    last_status_ = status;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(shared::monotonic_us()) + "\n" +
         status_field(status));
}

void SystemdNotifier::stopping(const std::string& status) {
    if (quiet_) return;
    last_status_ = status;
    send("STOPPING=1\n" + status_field(status));
}

void SystemdNotifier::status(const std::string& status) {
    if (quiet_ || status == last_status_) return;
    last_status_ = status;
    send(status_field(status));
}

void SystemdNotifier::watchdog_ping() {
    if (watchdog_ms_ > 0) send("WATCHDOG=1");
}

void SystemdNotifier::hand_main_back(pid_t pid) {
    if (!enabled_) return;
    send("MAINPID=" + std::to_string(pid) + "\nREADY=1\nSTATUS=the old master (pid " +
         std::to_string(pid) + ") serves again; the new one is stopping");
    constexpr uint64_t kBarrierUsec = 5'000'000;
    int rc = sd_notify_barrier(0, kBarrierUsec);
    if (rc < 0) spdlog::warn("sd_notify_barrier failed ({}: {})", -rc, std::strerror(-rc));
    spdlog::info("told systemd that the old master (pid {}) is the service's main process again", pid);
}

void SystemdNotifier::forget_in_child() {
    for (const char* var : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) unsetenv(var);
}

}  // namespace cppg::master
