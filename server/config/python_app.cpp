// SPDX-License-Identifier: MIT
#include "config/python_app.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>

namespace cppg::config {

namespace {

bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// "a.b_c.d": dotted identifiers, none starting with a digit.
bool is_dotted_name(std::string_view name) {
    if (name.empty()) return false;
    bool at_start = true;
    for (char c : name) {
        if (c == '.') {
            if (at_start) return false;
            at_start = true;
        } else if (!is_identifier_char(c) || (at_start && std::isdigit(static_cast<unsigned char>(c)))) {
            return false;
        } else {
            at_start = false;
        }
    }
    return !at_start;
}

}  // namespace

bool is_python_app(std::string_view app) {
    if (app.find('/') != std::string_view::npos || app.ends_with(".so")) return false;
    std::string_view module = app.substr(0, app.find(':'));
    return is_dotted_name(module) && (app.find(':') == std::string_view::npos || app.size() > module.size() + 1);
}

std::optional<std::string> find_wsgi_bridge() {
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return std::nullopt;
    for (const char* relative : {"plugins/wsgi/wsgi.so", "../lib/cppgunicorn/wsgi.so"}) {
        std::filesystem::path candidate = (exe.parent_path() / relative).lexically_normal();
        if (access(candidate.c_str(), R_OK) == 0) return candidate.string();
    }
    return std::nullopt;
}

std::vector<std::string> wsgi_bridge_args(const std::string& app, const Settings& s) {
    std::vector<std::string> args;
    if (!s.pythonpath.empty()) args.insert(args.end(), {"--pythonpath", s.pythonpath});
    if (!s.virtualenv.empty()) args.insert(args.end(), {"--virtualenv", s.virtualenv});
    args.insert(args.end(), {"--threads", std::to_string(s.threads), "--workers", std::to_string(s.workers), app});
    if (!s.app_args.empty()) {
        args.emplace_back("--");
        args.insert(args.end(), s.app_args.begin(), s.app_args.end());
    }
    return args;
}

}  // namespace cppg::config
