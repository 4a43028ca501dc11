// SPDX-License-Identifier: MIT
// A JSON to-do API on the SDK: CRUD under a blueprint, per-worker state behind its own lock,
// error handlers that answer JSON, fan-out to the shared executor, and request ids in logs
// and responses. Served as todo.so (todo.cpp); unit-tested in-process with cppg::testing
// (todo_test.cpp). docs/plugin-guide.md walks through it.
#pragma once

#include <cppgunicorn/router.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace todo {

struct Todo {
    int64_t id = 0;
    std::string title;
    bool done = false;
};

inline nlohmann::json to_json(const Todo& t) { return {{"id", t.id}, {"title", t.title}, {"done", t.done}}; }

// Thrown by handlers for a missing to-do; the app answers it with a JSON 404.
struct NotFound : std::runtime_error {
    explicit NotFound(int64_t id) : std::runtime_error("no to-do " + std::to_string(id)) {}
};

// The to-dos of one worker process. Each worker has its own app object, so with --workers N
// there are N stores that never see each other: fine for a demo or a cache, wrong for data
// that matters (keep that in a database). Handlers run on --threads threads at once, so every
// access takes the lock: shared for reads, exclusive for writes.
class Store {
public:
    Todo add(std::string title) {
        std::unique_lock lock(mu_);
        Todo t{next_id_++, std::move(title), false};
        items_[t.id] = t;
        return t;
    }
    Todo get(int64_t id) const {
        std::shared_lock lock(mu_);
        auto it = items_.find(id);
        if (it == items_.end()) throw NotFound(id);
        return it->second;
    }
    std::vector<Todo> list(std::optional<bool> done) const {
        std::shared_lock lock(mu_);
        std::vector<Todo> out;
        for (const auto& [id, t] : items_)
            if (!done || t.done == *done) out.push_back(t);
        return out;
    }
    Todo update(int64_t id, std::optional<std::string> title, std::optional<bool> done) {
        std::unique_lock lock(mu_);
        auto it = items_.find(id);
        if (it == items_.end()) throw NotFound(id);
        if (title) it->second.title = std::move(*title);
        if (done) it->second.done = *done;
        return it->second;
    }
    void remove(int64_t id) {
        std::unique_lock lock(mu_);
        if (items_.erase(id) == 0) throw NotFound(id);
    }

private:
    mutable std::shared_mutex mu_;
    std::map<int64_t, Todo> items_;
    int64_t next_id_ = 1;
};

// A title from a JSON body: a non-empty string of at most 200 characters, else 422.
inline std::string valid_title(const nlohmann::json& body) {
    auto title = cppg::field<std::string>(body, "title");  // missing or not a string: 400
    if (title.empty() || title.size() > 200) throw cppg::HttpError(422, "title must be 1 to 200 characters");
    return title;
}

// The /todos blueprint.
inline cppg::Router todo_routes(Store& store) {
    cppg::Router r;
    r.get("/", [&store] {
        auto done = cppg::first(cppg::args(), "done");
        std::optional<bool> filter;
        if (done) filter = *done == "true" || *done == "1";
        nlohmann::json items = nlohmann::json::array();
        for (const auto& t : store.list(filter)) items.push_back(to_json(t));
        return cppg::Response::json({{"items", items}});
    }).name("list");
    r.post("/", [&store] {
        Todo t = store.add(valid_title(cppg::json_body()));
        cppg::log_info("created to-do {}", t.id);
        return cppg::Response::json(to_json(t), 201).header("Location", cppg::url_for("todos.detail", {{"id", std::to_string(t.id)}}));
    }).name("create");
    r.get("/<int:id>", [&store](const cppg::Params& p) { return cppg::Response::json(to_json(store.get(p.get<int64_t>("id")))); })
        .name("detail");
    r.patch("/<int:id>", [&store](const cppg::Params& p) {
        auto body = cppg::json_body();
        std::optional<std::string> title;
        std::optional<bool> done;
        if (body.contains("title")) title = valid_title(body);
        if (body.contains("done")) done = cppg::field<bool>(body, "done");
        return cppg::Response::json(to_json(store.update(p.get<int64_t>("id"), title, done)));
    });
    r.del("/<int:id>", [&store](const cppg::Params& p) {
        store.remove(p.get<int64_t>("id"));
        return cppg::Response::no_content();
    });
    // Fan-out: two counts computed at once on the worker's shared executor (where a real
    // app would call two back ends), joined before answering.
    r.get("/summary", [&store] {
        auto open = cppg::submit([&store] { return store.list(false).size(); });
        auto done = cppg::submit([&store] { return store.list(true).size(); });
        return cppg::Response::json({{"open", open.get()}, {"done", done.get()}, {"request_id", cppg::request_id()}});
    }).name("summary");
    return r;
}

struct App : cppg::Router {
    Store store;  // per worker; see Store

    explicit App(const cppg::Args&) {
        get("/", [] {
            return cppg::Response::json({{"todos", cppg::url_for("todos.list")}, {"summary", cppg::url_for("todos.summary")}});
        });
        mount("/todos", todo_routes(store), "todos");
        // Every error in JSON, with the request id a client can quote.
        error_handler<cppg::HttpError>([](const cppg::HttpError& e) {
            cppg::Response r = cppg::Response::json({{"error", e.what()}, {"status", e.status()}}, e.status());
            for (const auto& [name, value] : e.headers()) r.header(name, value);
            return r;
        });
        error_handler<NotFound>([](const NotFound& e) { return cppg::Response::json({{"error", e.what()}, {"status", 404}}, 404); });
        error_handler(500, [](const cppg::HttpError&) {
            return cppg::Response::json({{"error", "internal error"}, {"status", 500}}, 500);
        });
        after_request([](cppg::Response& r) { r.header("X-Request-Id", std::string(cppg::request_id())); });
    }
};

}  // namespace todo
