// SPDX-License-Identifier: MIT
// The signals cppgunicorn acts on, declared once in shared/signals.def: the master and the
// workers take their signal sets and their dispatch from it, and docs/signals.md is
// generated from it.
#pragma once

#include <csignal>
#include <span>
#include <string_view>

namespace cppg::shared {

enum class MasterAction {
    kGracefulStop, kQuickStop, kReload, kReopenLogs, kUpgrade, kStopWorkers, kMoreWorkers,
    kFewerWorkers, kReap,
};
enum class WorkerAction { kGracefulStop, kQuickStop, kReopenLogs, kIgnore, kDefault };

struct SignalSpec {
    int signo;
    std::string_view name;  // without "SIG"
    MasterAction master;
    WorkerAction worker;
    std::string_view master_doc;  // markdown
    std::string_view worker_doc;
};

std::span<const SignalSpec> signal_table();
// The entry for `signo`, or null when cppgunicorn does not act on it.
const SignalSpec* find_signal(int signo);
// What the master reads from its signalfd: every signal in the table.
sigset_t master_signals();
// What a worker reads from its signalfd: the ones it acts on.
sigset_t worker_signals();
// In a new worker: SIG_IGN for kIgnore, SIG_DFL for kDefault.
void set_worker_dispositions();

// The name of any signal, for logs ("SIGSEGV"), or "an unknown signal".
std::string_view signal_name(int signo);

}  // namespace cppg::shared
