// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "shared/signals.hpp"

using namespace cppg::shared;

TEST_CASE("signals: each is declared once, and workers read only what they act on") {
    std::set<int> seen;
    for (const auto& s : signal_table()) {
        CHECK_MESSAGE(seen.insert(s.signo).second, s.name);
        CHECK(signal_name(s.signo) == "SIG" + std::string(s.name));
        CHECK(find_signal(s.signo) == &s);
        CHECK_FALSE(s.master_doc.empty());
        CHECK_FALSE(s.worker_doc.empty());
    }
    sigset_t master = master_signals(), worker = worker_signals();
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGUSR1}) CHECK(sigismember(&worker, sig) == 1);
    for (int sig : {SIGHUP, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU, SIGCHLD}) CHECK(sigismember(&worker, sig) == 0);
    for (int sig = 1; sig < NSIG; ++sig)
        if (sigismember(&worker, sig) == 1) CHECK(sigismember(&master, sig) == 1);
    CHECK(find_signal(SIGSEGV) == nullptr);
    CHECK(signal_name(SIGSEGV) == "SIGSEGV");
}
