// SPDX-License-Identifier: MIT
// The to-do API's unit tests: no server, no sockets; cppg::testing drives the app through
// the same ABI a worker uses. One file, main included: what an app's test program needs.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "todo.hpp"

using Client = cppg::testing::Client<todo::App>;

TEST_CASE("todo: create, read, update, list, delete") {
    Client c;
    auto created = c.post("/todos/", nlohmann::json{{"title", "buy milk"}});
    REQUIRE(created.status() == 201);
    CHECK(created.json() == nlohmann::json{{"id", 1}, {"title", "buy milk"}, {"done", false}});
    CHECK(created.header("Location") == "/todos/1");
    c.post("/todos/", nlohmann::json{{"title", "walk"}});

    CHECK(c.get("/todos/1").json()["title"] == "buy milk");
    auto done = c.patch("/todos/1", nlohmann::json{{"done", true}});
    CHECK(done.json()["done"] == true);
    CHECK(c.get("/todos/?done=true").json()["items"].size() == 1);
    CHECK(c.get("/todos/").json()["items"].size() == 2);

    auto removed = c.del("/todos/2");
    CHECK(removed.status() == 204);
    CHECK(removed.body().empty());
    CHECK(c.get("/todos/2").status() == 404);
}

TEST_CASE("todo: every error is JSON, with a request id") {
    Client c;
    auto missing = c.get("/todos/99");
    CHECK(missing.status() == 404);
    CHECK(missing.json()["error"] == "no to-do 99");
    CHECK(missing.header("X-Request-Id").has_value());
    CHECK(c.post("/todos/", "{\"title\":", "application/json").json()["status"] == 400);
    CHECK(c.post("/todos/", "title=x", "application/x-www-form-urlencoded").status() == 415);
    CHECK(c.post("/todos/", nlohmann::json{{"title", 7}}).status() == 400);
    CHECK(c.post("/todos/", nlohmann::json{{"title", ""}}).status() == 422);
    CHECK(c.get("/todos/99999999999999999999999").status() == 404);
    auto wrong_method = c.request({"PUT", "/todos/1", {}, {}, false});
    CHECK(wrong_method.status() == 405);
    CHECK(wrong_method.json()["status"] == 405);
    CHECK(wrong_method.header("Allow").has_value());
    CHECK(c.get("/nope").json()["error"] == "Not Found");
    CHECK(c.get("/todos").status() == 308);  // the blueprint's root has a slash
}

TEST_CASE("todo: fan-out on the executor keeps the request's context; ids from X-Request-Id") {
    Client c;
    c.post("/todos/", nlohmann::json{{"title", "a"}});
    c.post("/todos/", nlohmann::json{{"title", "b"}});
    c.patch("/todos/2", nlohmann::json{{"done", true}});
    auto summary = c.get("/todos/summary", {{"X-Request-Id", "trace-42"}});
    CHECK(summary.json() == nlohmann::json{{"open", 1}, {"done", 1}, {"request_id", "trace-42"}});
    CHECK(summary.header("X-Request-Id") == "trace-42");
    bool logged = false;
    for (const auto& line : c.logs()) logged |= line.find("\"POST /todos/\" created to-do 2") != std::string::npos;
    CHECK(logged);
}

TEST_CASE("todo: the index links with url_for") {
    Client c;
    CHECK(c.get("/").json() == nlohmann::json{{"todos", "/todos/"}, {"summary", "/todos/summary"}});
}
