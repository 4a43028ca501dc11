// SPDX-License-Identifier: MIT
// Fans a request out to the worker's shared executor: `calls` simulated I/O calls of `ms`
// milliseconds each run in parallel, so the answer takes about `ms`, not calls x ms, while
// the pool has room. GET /?calls=4&ms=50 -> {"calls":4,"ms":50,"elapsed_ms":51}
// When the executor's queue is full the request is answered 503 (load shedding).
#include <cppgunicorn/sdk.hpp>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

int query_int(std::string_view query, std::string_view key, int fallback) {
    size_t at = query.find(std::string(key) + "=");
    if (at == std::string_view::npos) return fallback;
    return std::atoi(std::string(query.substr(at + key.size() + 1)).c_str());
}

struct Fanout {
    explicit Fanout(const cppg::Args&) {}

    void handle(cppg::Request& req) const {
        int calls = query_int(req.query(), "calls", 4);
        int ms = query_int(req.query(), "ms", 50);
        auto started = std::chrono::steady_clock::now();
        std::vector<std::future<void>> pending;
        try {
            for (int i = 0; i < calls; ++i)
                pending.push_back(cppg::submit([ms] {  // a blocking call, e.g. to a database
                    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                }));
        } catch (const cppg::ExecutorFull&) {
            // The shared pool's queue is full: shed load instead of piling up.
            for (auto& f : pending) f.wait();
            return req.respond("503 Service Unavailable", {{"Retry-After", "1"}},
                               "executor queue full\n");
        }
        for (auto& f : pending) f.get();
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started).count();
        req.respond("200 OK", {{"Content-Type", "application/json"}},
                    "{\"calls\":" + std::to_string(calls) + ",\"ms\":" + std::to_string(ms) +
                        ",\"elapsed_ms\":" + std::to_string(elapsed) + "}");
    }
};

}  // namespace

CPPG_APP(Fanout, "fanout")
