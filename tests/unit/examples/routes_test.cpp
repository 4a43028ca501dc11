// SPDX-License-Identifier: MIT
// examples/routes.cpp, unit-tested in-process with cppg::testing (no server, no socket).
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "../../../examples/routes.cpp"  // built with CPPG_NO_APP_EXPORT: the class, no entry point

using cppg::testing::Client;

TEST_CASE("routes example: typed parameters, query strings and JSON") {
    Client<Routes> c;
    CHECK(c.get("/").text() == "Hello, World!\n");
    CHECK(c.get("/users/42").json() == nlohmann::json{{"id", 42}, {"name", "user42"}});
    CHECK(c.get("/users/abc").status() == 404);
    CHECK(c.get("/files/a/b.txt").text() == "a/b.txt\n");
    CHECK(c.get("/search?q=tea&page=1&page=2").json() == nlohmann::json{{"q", "tea"}, {"pages", 2}});
    auto echoed = c.post("/echo-json", nlohmann::json{{"x", 1}});
    CHECK(echoed.status() == 201);
    CHECK(echoed.json() == nlohmann::json{{"x", 1}});
    CHECK(c.post("/echo-json", "{", "application/json").status() == 400);
}

TEST_CASE("routes example: a form login sets a cookie the client sends back") {
    Client<Routes> c;
    CHECK(c.get("/whoami").text() == "anonymous\n");
    CHECK(c.post("/login", "user=", "application/x-www-form-urlencoded").status() == 400);
    auto login = c.post("/login", "user=ada", "application/x-www-form-urlencoded");
    CHECK(login.text() == "welcome ada\n");
    CHECK(c.get("/whoami").text() == "ada\n");
}

TEST_CASE("routes example: streaming, hooks and error handlers") {
    Client<Routes> c;
    auto stream = c.get("/stream");
    CHECK(stream.body() == "part 0\npart 1\npart 2\n");
    CHECK(stream.writes().size() == 3);
    CHECK_FALSE(stream.header("Content-Length").has_value());
    CHECK(stream.header("X-Served-By") == "routes");
    auto blocked = c.get("/", {{"X-Block", "1"}});
    CHECK(blocked.status() == 403);
    CHECK(blocked.header("X-Served-By") == "routes");
    auto boom = c.get("/boom");
    CHECK(boom.status() == 422);
    CHECK(boom.json()["error"] == "bad input");
    CHECK(c.get("/crash").status() == 500);
    bool logged = false;
    for (const auto& line : c.logs()) logged |= line.find("\"GET /crash\" unhandled exception in route: std::runtime_error: unexpected") != std::string::npos;
    CHECK(logged);
}
