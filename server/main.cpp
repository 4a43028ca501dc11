// SPDX-License-Identifier: MIT
// cppgunicorn: wires the settings, logs, listeners, app plugin and worker together.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "app/plugin.hpp"
#include "config/loader.hpp"
#include "log/logging.hpp"
#include "master/listener.hpp"
#include "version.hpp"
#include "master/arbiter.hpp"
#include "shared/signals.hpp"
#include "master/probe.hpp"
#include "worker/check.hpp"
#include "worker/host_api.hpp"
#include "shared/process.hpp"

namespace {

// Exit codes, as gunicorn's: 1 when a socket cannot be bound, 2 for bad configuration,
// 4 when a preloaded app cannot be loaded; the arbiter returns 3 when a worker cannot boot.
constexpr int kExitConfig = 2;
constexpr int kExitBindFailed = 1;
constexpr int kExitAppLoad = 4;

int fail(int code, const std::string& message) {
    spdlog::critical("{}", message);
    return code;
}

// --preload: the app is loaded and initialised here, once, before any worker exists.
std::variant<std::unique_ptr<cppg::app::Plugin>, std::string> preload_app(
    const cppg::config::Config& config, const cppg::app::AppImage& image) {
    auto loaded = cppg::app::Plugin::load(image);
    if (std::holds_alternative<std::string>(loaded)) return loaded;
    auto& plugin = std::get<std::unique_ptr<cppg::app::Plugin>>(loaded);
    cppg::worker::set_preloaded(true);
    auto err = plugin->init(config.app_args, cppg::worker::host_table());
    cppg::worker::set_preloaded(false);
    if (err) return *err;
    return loaded;
}

// The sockets to serve: handed over by an old master (USR2), passed by systemd, or bound
// here. The admin listener comes from the same place when it can, else it is bound here.
std::variant<std::vector<cppg::master::Listener>, std::string> open_listeners(
    const cppg::config::Settings& settings, bool& upgraded) {
    using cppg::master::Listener;
    auto listeners = cppg::master::inherited_listeners();
    upgraded = !listeners.empty();
    if (listeners.empty()) listeners = cppg::master::systemd_listeners();
    auto has = [&](Listener::Role role) {
        return std::any_of(listeners.begin(), listeners.end(), [&](auto& l) { return l.role == role; });
    };
    int backlog = static_cast<int>(settings.backlog);
    unsigned socket_umask = cppg::config::parse_octal(settings.umask);
    std::vector<Listener> bound_here;
    if (!has(Listener::Role::kHttp)) {
        auto bound = cppg::master::bind_listeners(settings.bind, backlog, socket_umask);
        if (auto* err = std::get_if<std::string>(&bound)) return *err;
        bound_here = std::get<std::vector<Listener>>(bound);
        listeners.insert(listeners.end(), bound_here.begin(), bound_here.end());
    }
    if (!has(Listener::Role::kAdmin) && !settings.admin_bind.empty()) {
        auto bound = cppg::master::bind_listeners({settings.admin_bind}, backlog, socket_umask);
        if (auto* err = std::get_if<std::string>(&bound)) {
            // Only the files bound here: inherited ones are still another master's.
            cppg::master::remove_socket_files(bound_here);
            return "admin listener: " + *err;
        }
        for (auto& l : std::get<std::vector<Listener>>(bound))
            listeners.push_back(Listener{l.fd, l.url, l.unix_path, Listener::Role::kAdmin});
    }
    return listeners;
}

}  // namespace

int main(int argc, char** argv) {
    using Action = cppg::config::Config::Action;
    // The master's signals wait, blocked, until its loop reads them from a signalfd: one
    // arriving during start-up is then handled, not fatal.
    sigset_t handled = cppg::shared::master_signals();
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    cppg::shared::init_process_title(argc, argv);
    auto config = cppg::config::load_config(std::vector<std::string>(argv + 1, argv + argc),
                                            cppg::config::process_environment());
    if (auto* err = std::get_if<cppg::config::ConfigError>(&config)) {
        std::fprintf(stderr, "cppgunicorn: error: %s\n", err->message.c_str());
        return err->check_config ? 1 : kExitConfig;
    }
    auto& cmd = std::get<cppg::config::Config>(config);
    switch (cmd.action) {
        case Action::Help: std::fputs(cppg::config::render_help().c_str(), stdout); return 0;
        case Action::Version:
            std::printf("cppgunicorn %s (app ABI %d)\n", cppg::kVersion, CPPG_ABI_VERSION);
            return 0;
        case Action::PrintConfig:
            std::fputs(cppg::config::render_effective_config(cmd).c_str(), stdout);
            return 0;
        case Action::CheckConfig: return cppg::worker::check_app(cmd);
        case Action::Probe: return cppg::master::run_probe(cmd.settings.admin_bind, cmd.settings.probe);
        case Action::Run: break;
    }
    const auto& settings = cmd.settings;
    // First, so that log files and the app path are relative to --chdir.
    if (auto err = cppg::shared::apply_process_settings(cppg::config::process_settings(cmd))) {
        std::fprintf(stderr, "cppgunicorn: error: %s\n", err->c_str());
        return kExitConfig;
    }
    if (auto err = cppg::log::setup_error_log(settings)) {
        std::fprintf(stderr, "cppgunicorn: error: %s\n", err->c_str());
        return kExitConfig;
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (settings.capture_output && settings.errorlog != "-" && !settings.errorlog.empty()) {
        if (auto err = cppg::log::capture_output(settings.errorlog)) return fail(kExitConfig, *err);
    }

    spdlog::info("Starting cppgunicorn {}", cppg::kVersion);
    // Before binding: a broken preloaded app then leaves no socket behind.
    cppg::app::AppImage image = cppg::master::capture_app(cmd.app_path);
    std::unique_ptr<cppg::app::Plugin> preloaded;
    if (settings.preload_app) {
        auto loaded = preload_app(cmd, image);
        if (auto* err = std::get_if<std::string>(&loaded)) return fail(kExitAppLoad, *err);
        preloaded = std::move(std::get<std::unique_ptr<cppg::app::Plugin>>(loaded));
    }
    bool upgraded = false;  // started by an old master's USR2
    auto opened = open_listeners(settings, upgraded);
    if (auto* err = std::get_if<std::string>(&opened)) return fail(kExitBindFailed, *err);
    auto listeners = std::move(std::get<std::vector<cppg::master::Listener>>(opened));
    pid_t old_master = cppg::master::upgrading_master();
    if (settings.daemon && !upgraded) {  // the old master already detached; its child stays put
        // A preloaded runtime (CPython) must see the fork that makes the daemon, as it sees a
        // worker's; the processes in between only fork again and exit.
        if (preloaded) preloaded->fork_event(CPPG_FORK_BEFORE);
        if (auto err = cppg::shared::daemonize()) return fail(kExitBindFailed, *err);
        if (preloaded) preloaded->fork_event(CPPG_FORK_CHILD);
    }
    for (const auto& l : listeners) {
        bool admin = l.role == cppg::master::Listener::Role::kAdmin;
        spdlog::info("{}: {} ({})", admin ? "Admin listener at" : "Listening at", l.url, getpid());
    }
    cppg::shared::set_process_title("cppgunicorn: master [" + cppg::config::process_name(cmd) + "]");

    cppg::master::Arbiter arbiter(std::move(cmd), std::move(listeners), std::move(image),
                                  std::move(preloaded));
    if (old_master) arbiter.started_by_upgrade(old_master);
    int rc = arbiter.run();
    spdlog::shutdown();
    return rc;
}
