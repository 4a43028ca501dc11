// SPDX-License-Identifier: MIT
#include "options.hpp"

#include <charconv>
#include <string_view>

namespace cppg::wsgi {

namespace {

constexpr const char* kUsage =
    "usage: ... wsgi.so -- [--pythonpath DIR[,DIR...]] [--virtualenv DIR] [--threads N] "
    "[--workers N] MODULE[:CALLABLE]";

std::vector<std::string> split_commas(std::string_view text) {
    std::vector<std::string> parts;
    while (!text.empty()) {
        size_t comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        if (!part.empty()) parts.emplace_back(part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return parts;
}

bool parse_count(std::string_view text, unsigned& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && out >= 1;
}

}  // namespace

std::variant<Options, std::string> parse_options(int argc, const char* const* argv) {
    Options options;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (!arg.starts_with("--")) {
            if (!options.app.empty()) return "more than one app given ('" + options.app + "', '" + std::string(arg) + "'); " + kUsage;
            options.app = arg;
            continue;
        }
        // --name value or --name=value
        std::string_view name = arg, value;
        bool inline_value = false;
        if (size_t eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            inline_value = true;
        }
        if (name != "--pythonpath" && name != "--virtualenv" && name != "--threads" && name != "--workers")
            return "unknown option '" + std::string(arg) + "'; " + kUsage;
        if (!inline_value) {
            if (i + 1 >= argc) return std::string(name) + " needs a value; " + kUsage;
            value = argv[++i];
        }
        if (name == "--pythonpath") {
            for (auto& dir : split_commas(value)) options.pythonpath.push_back(std::move(dir));
        } else if (name == "--virtualenv") {
            options.virtualenv = value;
        } else if (!parse_count(value, name == "--threads" ? options.threads : options.workers)) {
            return std::string(name) + " needs a positive whole number, not '" + std::string(value) + "'";
        }
    }
    if (options.app.empty()) return std::string("no app given; ") + kUsage;
    return options;
}

}  // namespace cppg::wsgi
