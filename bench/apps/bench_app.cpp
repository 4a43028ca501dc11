// SPDX-License-Identifier: MIT
// The benchmark suite's app (bench/suite.py):
//   GET /            200 "Hello, World!\n"
//   GET /sleep?ms=N  blocks the app thread N ms, then 200 "slept\n"
//   POST /echo       streams the request body back while reading it, in 64 KiB chunks
#include <cppgunicorn/sdk.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

int query_int(std::string_view query, std::string_view key, int fallback) {
    std::string prefix = std::string(key) + "=";
    for (size_t at = 0; at < query.size();) {
        size_t end = query.find('&', at);
        if (end == std::string_view::npos) end = query.size();
        std::string_view pair = query.substr(at, end - at);
        if (pair.starts_with(prefix)) return std::atoi(std::string(pair.substr(prefix.size())).c_str());
        at = end + 1;
    }
    return fallback;
}

struct BenchApp {
    explicit BenchApp(const cppg::Args&) {}

    void handle(cppg::Request& req) const {
        std::string_view path = req.path();
        if (path == "/") return req.respond("200 OK", {{"Content-Type", "text/plain"}}, "Hello, World!\n");
        if (path == "/sleep") return sleep(req);
        if (path == "/echo") return echo(req);
        req.respond("404 Not Found", {{"Content-Type", "text/plain"}}, "not found\n");
    }

    static void sleep(cppg::Request& req) {
        std::this_thread::sleep_for(std::chrono::milliseconds(query_int(req.query(), "ms", 0)));
        req.respond("200 OK", {{"Content-Type", "text/plain"}}, "slept\n");
    }

    // Memory stays at one chunk whatever the body size. The request's Content-Length is
    // passed on so the response is not chunked and the connection stays reusable.
    static void echo(cppg::Request& req) {
        std::vector<cppg::Header> headers{{"Content-Type", "application/octet-stream"}};
        std::optional<std::string_view> length = req.env("CONTENT_LENGTH");
        if (length && !length->empty()) headers.emplace_back("Content-Length", *length);
        req.start_response("200 OK", headers);
        std::vector<char> chunk(64 * 1024);
        while (size_t n = req.read(chunk.data(), chunk.size())) req.write({chunk.data(), n});
    }
};

}  // namespace

CPPG_APP(BenchApp, "bench_app")
