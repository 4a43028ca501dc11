// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <cppgunicorn/router.hpp>

namespace {

cppg::Router make_router() {
    cppg::Router r;
    r.get("/", [] { return cppg::Response::text("root"); });
    r.get("/users/<int:id>", [](const cppg::Params&) { return cppg::Response::text("user"); });
    r.post("/users/<int:id>", [](const cppg::Params&) { return cppg::Response::text("update"); });
    r.get("/files/<path:rest>", [](const cppg::Params&) { return cppg::Response::text("file"); });
    r.get("/hello/<name>", [](const cppg::Params&) { return cppg::Response::text("hi"); });
    return r;
}

}  // namespace

TEST_CASE("routes match literal, typed and path segments") {
    auto r = make_router();
    auto m = r.match("GET", "/users/42");
    REQUIRE(m.handler != nullptr);
    CHECK(m.params.get<int>("id") == 42);
    CHECK(r.match("GET", "/users/abc").handler == nullptr);      // <int:> wants digits
    CHECK(r.match("GET", "/users/42/x").handler == nullptr);     // no trailing extras
    CHECK(r.match("GET", "/files/a/b/c.txt").params.get("rest") == "a/b/c.txt");
    CHECK(r.match("GET", "/files").handler == nullptr);          // <path:> needs something
    CHECK(r.match("GET", "/hello/ada").params.get("name") == "ada");
    CHECK(r.match("GET", "/").handler != nullptr);
    auto doubled = r.match("GET", "//users//7");  // repeated slashes: a redirect, not an alias
    CHECK(doubled.params.get<long>("id") == 7);
    CHECK(doubled.redirect == std::optional<std::string>("/users/7"));
}

TEST_CASE("a path with other methods reports them for 405; an unknown path reports none") {
    auto r = make_router();
    auto m = r.match("DELETE", "/users/1");
    CHECK(m.handler == nullptr);
    CHECK(m.allowed == std::vector<std::string>{"GET", "HEAD", "POST"});
    CHECK(r.match("GET", "/nowhere").allowed.empty());
    CHECK(r.match("HEAD", "/").handler != nullptr);  // GET routes answer HEAD
}

TEST_CASE("query strings and forms decode, keep repeats, and tolerate junk") {
    auto q = cppg::parse_urlencoded("a=1&b=x+y%21&a=2&&flag&%zz=1");
    CHECK(q.count("a") == 2);
    CHECK(cppg::first(q, "b") == "x y!");
    CHECK(cppg::first(q, "flag") == "");
    CHECK(cppg::first(q, "%zz") == "1");
    CHECK_FALSE(cppg::first(q, "missing").has_value());
}

TEST_CASE("cookies parse from the Cookie header") {
    auto jar = cppg::parse_cookies("session=abc; theme=\"dark\";broken; =x; last=1");
    CHECK(jar.at("session") == "abc");
    CHECK(jar.at("theme") == "dark");
    CHECK(jar.at("last") == "1");
    CHECK(jar.count("broken") == 0);
}

TEST_CASE("responses carry their headers and cookies") {
    auto r = cppg::Response::json({{"a", 1}}, 201).set_cookie("s", "v", "Path=/");
    CHECK(r.status == 201);
    CHECK(r.body == "{\"a\":1}");
    CHECK(r.headers.back() == std::pair<std::string, std::string>{"Set-Cookie", "s=v; Path=/"});
}
