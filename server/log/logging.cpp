#include "log/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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
        if (settings.errorlog == "-" || settings.errorlog.empty())
            sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        else
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.errorlog);
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
        if (settings.accesslog == "-")
            sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
        else
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.accesslog);
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

}  // namespace cppg::log
