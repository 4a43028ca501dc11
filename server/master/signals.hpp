// The signals cppgunicorn acts on, declared once. docs/signals.md mirrors this table.
#pragma once

#include <csignal>
#include <string_view>

namespace cppg::master {

struct SignalSpec {
    int signo;
    std::string_view name;
    std::string_view master_action;
    std::string_view worker_action;
};

inline constexpr SignalSpec kSignals[] = {
    {SIGTERM, "TERM", "graceful stop: workers finish in-flight requests within graceful_timeout",
     "graceful stop"},
    {SIGINT, "INT", "quick stop", "quick stop"},
    {SIGQUIT, "QUIT", "quick stop", "quick stop"},
    {SIGHUP, "HUP", "re-read the config file, start new workers, gracefully stop the old ones",
     "ignored"},
    {SIGUSR1, "USR1", "reopen the log files and tell every worker to", "reopen the log files"},
    {SIGTTIN, "TTIN", "one worker more", "ignored"},
    {SIGTTOU, "TTOU", "one worker less", "ignored"},
    {SIGUSR2, "USR2",
     "binary upgrade: start a new master from the executable on disk, handing it the listening "
     "sockets; the pidfile becomes PIDFILE.oldbin", "ignored"},
    {SIGWINCH, "WINCH", "gracefully stop the workers, keep the master (after USR2)", "ignored"},
    {SIGCHLD, "CHLD", "reap exited workers and replace them", "default"},
};

// The name of any signal, for logs ("SIGSEGV"), or "signal N".
std::string_view signal_name(int signo);

}  // namespace cppg::master
