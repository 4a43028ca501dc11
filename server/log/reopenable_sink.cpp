// SPDX-License-Identifier: MIT
#include "log/reopenable_sink.hpp"

#include <cerrno>
#include <cstring>

#include <spdlog/common.h>

namespace cppg::log {

ReopenableFileSink::ReopenableFileSink(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) throw spdlog::spdlog_ex(std::strerror(errno));
}

ReopenableFileSink::~ReopenableFileSink() {
    if (file_) std::fclose(file_);
}

std::string ReopenableFileSink::reopen() {
    std::lock_guard lock(mutex_);
    std::FILE* fresh = std::fopen(path_.c_str(), "ae");
    if (fresh == nullptr) return "cannot reopen '" + path_ + "': " + std::strerror(errno);
    std::fclose(file_);
    file_ = fresh;
    return {};
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::fwrite(line.data(), 1, line.size(), file_);
}

void ReopenableFileSink::flush_() { std::fflush(file_); }

}  // namespace cppg::log
