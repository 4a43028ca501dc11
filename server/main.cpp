// cppgunicorn: wires the settings, logs, listeners, app plugin and worker together.
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "app/plugin.hpp"
#include "config/loader.hpp"
#include "log/logging.hpp"
#include "master/listener.hpp"
#include "version.hpp"
#include "worker/worker.hpp"

namespace {

// Exit codes, as gunicorn's: 2 for bad configuration, 3 when a worker cannot boot,
// 4 when the app cannot be loaded.
constexpr int kExitConfig = 2;
constexpr int kExitBindFailed = 1;
constexpr int kExitAppLoad = 4;

int fail(int code, const std::string& message) {
    spdlog::critical("{}", message);
    return code;
}

int check_config(const cppg::config::Config& config) {
    auto loaded = cppg::app::Plugin::load(config.app_path);
    if (auto* err = std::get_if<std::string>(&loaded)) {
        std::fprintf(stderr, "cppgunicorn: check failed: %s\n", err->c_str());
        return 1;
    }
    std::printf("configuration OK; app '%s' loads (%s, app ABI %d)\n", config.app_path.c_str(),
                std::get<std::unique_ptr<cppg::app::Plugin>>(loaded)->name().c_str(),
                CPPG_ABI_VERSION);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    using Action = cppg::config::Config::Action;
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
        case Action::CheckConfig: return check_config(cmd);
        case Action::Run: break;
    }
    const auto& settings = cmd.settings;
    if (auto err = cppg::log::setup_error_log(settings)) {
        std::fprintf(stderr, "cppgunicorn: error: %s\n", err->c_str());
        return kExitConfig;
    }
    auto access = cppg::log::open_access_log(settings);
    if (auto* err = std::get_if<std::string>(&access)) return fail(kExitConfig, *err);
    std::signal(SIGPIPE, SIG_IGN);
    // Stop signals stay blocked until the worker's loop handles them: one arriving while the
    // app loads is then served by the loop (a clean stop), not by the default action. Threads
    // started from here on inherit the mask, so the loop thread alone receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT}) sigaddset(&stop_signals, sig);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    spdlog::info("Starting cppgunicorn {}", cppg::kVersion);
    auto bound = cppg::master::bind_listeners(settings.bind, static_cast<int>(settings.backlog));
    if (auto* err = std::get_if<std::string>(&bound)) return fail(kExitBindFailed, *err);
    std::vector<int> fds;
    for (const auto& l : std::get<std::vector<cppg::master::Listener>>(bound)) {
        spdlog::info("Listening at: {} ({})", l.url, getpid());
        fds.push_back(l.fd);
    }

    auto loaded = cppg::app::Plugin::load(cmd.app_path);
    if (auto* err = std::get_if<std::string>(&loaded)) return fail(kExitAppLoad, *err);
    auto& plugin = *std::get<std::unique_ptr<cppg::app::Plugin>>(loaded);
    if (auto err = plugin.init(cmd.app_args)) return fail(kExitAppLoad, *err);
    spdlog::info("Booting worker with pid: {} (app '{}', {} thread(s))", getpid(), plugin.name(),
                 settings.threads);

    int rc = 0;
    {
        cppg::worker::Worker worker(settings, plugin, fds,
                                    std::get<std::unique_ptr<cppg::log::AccessLog>>(access).get());
        pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
        rc = worker.run();
    }
    plugin.shutdown();
    spdlog::info("Shutting down: master");
    spdlog::shutdown();
    return rc;
}
