// SPDX-License-Identifier: MIT
// A file sink that can reopen its file (SIGUSR1, after logrotate has moved it away).
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

namespace cppg::log {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // Opens `path` for appending; throws spdlog::spdlog_ex naming the errno on failure.
    explicit ReopenableFileSink(std::string path);
    ~ReopenableFileSink() override;

    // Closes and opens the path again, under the sink's lock, so no line is torn. On failure
    // the old file stays in use and the error is returned.
    std::string reopen();

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;

private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

}  // namespace cppg::log
