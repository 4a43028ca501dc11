// SPDX-License-Identifier: MIT
#include "log/logging.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "log/reopenable_sink.hpp"

namespace cppg::log {

namespace {

// Queue depth of the access log's background thread. When full, the oldest lines are
// dropped rather than blocking the request path.
constexpr size_t kAccessQueue = 8192;

// %* prints the level as gunicorn does: [INFO], [WARNING], [ERROR].
class UpperLevelFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr std::string_view kNames[] = {"TRACE", "DEBUG", "INFO", "WARNING",
                                                      "ERROR", "CRITICAL", "OFF"};
        auto name = kNames[static_cast<int>(msg.level)];
        dest.append(name.data(), name.data() + name.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<UpperLevelFlag>();
    }
};

// Every file sink, for reopen_files(). Sinks live as long as their loggers: the process.
std::mutex file_sinks_mu;
std::vector<std::shared_ptr<ReopenableFileSink>> file_sinks;

// "-" is the given standard stream; anything else a file that SIGUSR1 can reopen.
spdlog::sink_ptr make_sink(const std::string& path, bool to_stdout) {
    if (path == "-" || path.empty()) {
        if (to_stdout) return std::make_shared<spdlog::sinks::stdout_sink_mt>();
        return std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    auto sink = std::make_shared<ReopenableFileSink>(path);
    std::lock_guard lock(file_sinks_mu);
    file_sinks.push_back(sink);
    return sink;
}

spdlog::level::level_enum level_from(const std::string& name) {
    if (name == "debug") return spdlog::level::debug;
    if (name == "warning") return spdlog::level::warn;
    if (name == "error") return spdlog::level::err;
    if (name == "critical") return spdlog::level::critical;
    return spdlog::level::info;
}

}  // namespace

void AccessLog::write(const AccessRecord& record) {
    logger_->info("{}", format_.render(record));
}

std::optional<std::string> setup_error_log(const config::Settings& settings) {
    spdlog::sink_ptr sink;
    try {
        sink = make_sink(settings.errorlog, false);
    } catch (const spdlog::spdlog_ex& e) {
        return "setting 'errorlog': cannot open '" + settings.errorlog + "': " + e.what();
    }
    auto logger = std::make_shared<spdlog::logger>("error", sink);
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<UpperLevelFlag>('*').set_pattern("[%Y-%m-%d %H:%M:%S %z] [%P] [%*] %v");
    logger->set_formatter(std::move(formatter));
    logger->set_level(level_from(settings.loglevel));
    logger->flush_on(spdlog::level::debug);
    spdlog::set_default_logger(logger);
    return std::nullopt;
}

std::variant<std::unique_ptr<AccessLog>, std::string> open_access_log(
    const config::Settings& settings) {
    if (settings.accesslog.empty()) return std::unique_ptr<AccessLog>();
    auto compiled = AccessFormat::compile(settings.access_log_format);
    if (auto* err = std::get_if<std::string>(&compiled)) return "setting 'access_log_format': " + *err;
    spdlog::sink_ptr sink;
    try {
        sink = make_sink(settings.accesslog, true);
    } catch (const spdlog::spdlog_ex& e) {
        return "setting 'accesslog': cannot open '" + settings.accesslog + "': " + e.what();
    }
    spdlog::init_thread_pool(kAccessQueue, 1);
    auto logger = std::make_shared<spdlog::async_logger>(
        "access", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    logger->set_pattern("%v");
    logger->flush_on(spdlog::level::info);  // on the background thread, so it costs requests nothing
    return std::make_unique<AccessLog>(std::move(std::get<AccessFormat>(compiled)), logger);
}

namespace {
std::string captured_path;  // --capture-output target, reopened with the logs
}  // namespace

std::optional<std::string> capture_output(const std::string& path) {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return "cannot open '" + path + "' for --capture-output: " + std::strerror(errno);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    captured_path = path;
    return std::nullopt;
}

void prepare_files_for_workers(const config::Settings& settings, uid_t uid, gid_t gid) {
    for (const std::string& path : {settings.accesslog, settings.errorlog}) {
        if (path.empty() || path == "-") continue;
        int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            spdlog::error("cannot create '{}' for the workers: {}", path, std::strerror(errno));
            continue;
        }
        if (fchown(fd, uid, gid) != 0)
            spdlog::error("cannot give '{}' to the workers' user: {}", path, std::strerror(errno));
        close(fd);
    }
}

void reopen_files() {
    std::lock_guard lock(file_sinks_mu);
    for (auto& sink : file_sinks) {
        std::string err = sink->reopen();
        if (!err.empty()) spdlog::error("{}", err);
    }
    if (!captured_path.empty()) {
        if (auto err = capture_output(captured_path)) spdlog::error("{}", *err);
    }
}

}  // namespace cppg::log
