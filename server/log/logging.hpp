// SPDX-License-Identifier: MIT
// The two loggers: "error" (levels, gunicorn's line format, stderr or a file) and "access"
// (one line per request, asynchronous so that a slow disk never stalls a request).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <spdlog/logger.h>

#include "config/settings.hpp"
#include "http/access_format.hpp"

namespace cppg::log {

using http::AccessFormat;
using http::AccessRecord;

class AccessLog {
public:
    AccessLog(AccessFormat format, std::shared_ptr<spdlog::logger> logger)
        : format_(std::move(format)), logger_(std::move(logger)) {}
    bool uses_response_headers() const { return format_.uses_response_headers(); }
    bool uses_request_id() const { return format_.uses_request_id(); }
    void write(const AccessRecord& record);

private:
    AccessFormat format_;
    std::shared_ptr<spdlog::logger> logger_;
};

// Makes the error log the default spdlog logger. Returns an error message if the file
// cannot be opened.
std::optional<std::string> setup_error_log(const config::Settings& settings);

// The access log, or nullptr when it is disabled (the default, as in gunicorn).
std::variant<std::unique_ptr<AccessLog>, std::string> open_access_log(
    const config::Settings& settings);

// Points standard output and error at `path` (--capture-output).
std::optional<std::string> capture_output(const std::string& path);

// Reopens every log file (SIGUSR1), so that rotated files are let go.
void reopen_files();

// The master, before it passes SIGUSR1 on: creates the log files that rotation moved away
// and gives them to the workers' user and group, which could not create them in a
// root-owned log directory themselves (nginx's master does the same). -1 leaves an id as is.
void prepare_files_for_workers(const config::Settings& settings, uid_t uid, gid_t gid);

}  // namespace cppg::log
