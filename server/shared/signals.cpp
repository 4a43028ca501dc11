// SPDX-License-Identifier: MIT
#include "shared/signals.hpp"

namespace cppg::shared {

namespace {

constexpr SignalSpec kSignals[] = {
#define SIGNAL(NAME, master, worker, master_doc, worker_doc) \
    {SIG##NAME, #NAME, MasterAction::master, WorkerAction::worker, master_doc, worker_doc},
#include "shared/signals.def"
#undef SIGNAL
};

bool worker_acts_on(WorkerAction a) { return a != WorkerAction::kIgnore && a != WorkerAction::kDefault; }

}  // namespace

std::span<const SignalSpec> signal_table() { return kSignals; }

const SignalSpec* find_signal(int signo) {
    for (const auto& s : kSignals)
        if (s.signo == signo) return &s;
    return nullptr;
}

sigset_t master_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const auto& s : kSignals) sigaddset(&set, s.signo);
    return set;
}

sigset_t worker_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const auto& s : kSignals)
        if (worker_acts_on(s.worker)) sigaddset(&set, s.signo);
    return set;
}

void set_worker_dispositions() {
    for (const auto& s : kSignals) {
        if (s.worker == WorkerAction::kIgnore) signal(s.signo, SIG_IGN);
        if (s.worker == WorkerAction::kDefault) signal(s.signo, SIG_DFL);
    }
}

std::string_view signal_name(int signo) {
    static const struct {
        int signo;
        std::string_view name;
    } kNames[] = {{SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"},
                  {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
                  {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
                  {SIGHUP, "SIGHUP"},   {SIGPIPE, "SIGPIPE"}, {SIGUSR1, "SIGUSR1"},
                  {SIGUSR2, "SIGUSR2"}, {SIGCHLD, "SIGCHLD"}, {SIGTTIN, "SIGTTIN"},
                  {SIGTTOU, "SIGTTOU"}, {SIGWINCH, "SIGWINCH"}};
    for (const auto& n : kNames)
        if (n.signo == signo) return n.name;
    return "an unknown signal";
}

}  // namespace cppg::shared
