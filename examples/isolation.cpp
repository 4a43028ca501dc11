// SPDX-License-Identifier: MIT
// The LocalStack demo as an app: each request stores its own id in g() and in the request
// context, sleeps, then checks from deep in its call stack, and from a task on the shared
// executor, that it still sees its own request and nobody else's.
//   GET /check?id=N&sleep_ms=M  -> {"id":"N","ok":true,"problems":[]}
//   GET /depth                  -> the context stack depths seen by the handler
//   GET /throw                  -> 500; the next request on that thread sees clean stacks
#include <cppgunicorn/sdk.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

std::string query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        std::string_view pair = query.substr(0, query.find('&'));
        if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=')
            return std::string(pair.substr(key.size() + 1));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
    }
    return {};
}

// Called far from the handler: it gets everything from the contexts, nothing by argument.
void check_still_mine(const std::string& id, std::vector<std::string>& problems,
                      const char* where) {
    if (query_value(cppg::request().query(), "id") != id)
        problems.push_back(std::string(where) + ": request() is another request's");
    if (cppg::g().get<std::string>("id") != id)
        problems.push_back(std::string(where) + ": g() holds another request's id");
    if (cppg::request_context().scratch.get<std::string>("id") != id)
        problems.push_back(std::string(where) + ": request scratch holds another id");
    if (cppg::app_context_stack().size() != 1 || cppg::request_context_stack().size() != 1)
        problems.push_back(std::string(where) + ": context stacks are not exactly one deep");
}

struct Isolation {
    explicit Isolation(const cppg::Args&) {}

    void handle(cppg::Request& req) const {
        std::string_view path = req.path();
        if (path == "/depth") {
            nlohmann::json doc = {{"app", cppg::app_context_stack().size()},
                                  {"request", cppg::request_context_stack().size()}};
            return req.respond("200 OK", {{"Content-Type", "application/json"}}, doc.dump());
        }
        if (path == "/throw") throw std::runtime_error("deliberate failure inside the contexts");
        std::string id = query_value(req.query(), "id");
        int sleep_ms = std::atoi(query_value(req.query(), "sleep_ms").c_str());
        cppg::g().set("id", id);
        cppg::request_context().scratch.set("id", id);
        std::vector<std::string> problems;
        check_still_mine(id, problems, "before sleeping");
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        check_still_mine(id, problems, "after sleeping");
        auto task = cppg::submit([id] {
            std::vector<std::string> seen;
            check_still_mine(id, seen, "in an executor task");
            return seen;
        });
        for (auto& p : task.get()) problems.push_back(p);
        nlohmann::json doc = {{"id", id}, {"ok", problems.empty()}, {"problems", problems}};
        req.respond("200 OK", {{"Content-Type", "application/json"}}, doc.dump());
    }
};

}  // namespace

CPPG_APP(Isolation, "isolation")
