// SPDX-License-Identifier: MIT
// The SDK as an app author uses it, driven in-process through cppg::testing::Client (the
// real ABI, the SDK's context stacks, no server): JSON errors, routing rules, blueprints,
// url_for, responses, files, g(), logging, and the client itself.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cppgunicorn/router.hpp>
#include <cppgunicorn/testing.hpp>

#include "worker/host_api.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>

using cppg::Params;
using cppg::Response;
using cppg::testing::Client;

namespace {

struct NotFoundInStore : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct StoreError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Missing : StoreError {
    using StoreError::StoreError;
};

// A blueprint: its own routes, hooks and error handlers.
cppg::Router admin_blueprint() {
    cppg::Router admin;
    admin.get("/stats", [] { return Response::json({{"ok", true}}); }).name("stats");
    admin.get("/users/<int:id>", [](const Params& p) { return Response::text(p.get("id")); }).name("user");
    admin.before_request([]() -> std::optional<Response> {
        if (!cppg::request().header("X-Admin")) throw cppg::HttpError(403, "admins only");
        return std::nullopt;
    });
    admin.error_handler(403, [](const cppg::HttpError& e) { return Response::json({{"admin_error", e.what()}}, 403); });
    return admin;
}

struct Api : cppg::Router {
    mutable std::mutex mu;
    mutable int created = 0;

    explicit Api(const cppg::Args& args) {
        std::string files = args.empty() ? "/tmp" : args[0];
        post("/echo", [] { return Response::json(cppg::json_body(), 201); });
        post("/maybe", [] {
            auto doc = cppg::json_body_silent();
            return Response::text(doc ? "json" : "not json");
        });
        post("/typed", [] {
            auto doc = cppg::json_body();
            return Response::text(cppg::field<std::string>(doc, "title"));
        });
        post("/raw-typed", [] { return Response::text(cppg::json_body().at("n").get<std::string>()); });
        patch("/items/<int:id>", [this](const Params& p) {
            std::lock_guard lock(mu);
            ++created;
            return Response::json({{"patched", p.get<int64_t>("id")}});
        }).name("item");
        get("/small/<int:n>", [](const Params& p) { return Response::text(std::to_string(p.get<int8_t>("n"))); });
        get("/ratio/<float:x>", [](const Params& p) { return Response::text(std::to_string(p.get<double>("x") * 2)); });
        get("/objects/<uuid:id>", [](const Params& p) { return Response::text(p.get("id")); }).name("object");
        get("/docs/<path:rest>", [](const Params& p) { return Response::text(p.get("rest")); }).name("doc");
        get("/dir/", [] { return Response::text("dir"); });
        get("/file", [] { return Response::text("file"); });
        get("/gone", []() -> Response { throw Missing("no such row"); });
        get("/store", []() -> Response { throw StoreError("store down"); });
        get("/plain-fail", []() -> Response { throw std::runtime_error("disk on fire"); });
        get("/teapot", [] { return Response::text("short and stout", 418); });
        get("/accepted", [] { return Response::text("queued", 202); });
        get("/nothing", [] { return Response::no_content(); });
        get("/empty-text-204", [] { return Response::text("", 204); });
        get("/go", [] { return Response::redirect(cppg::url_for("item", {{"id", "7"}, {"v", "a b"}})); });
        get("/bad-header", [] { return Response::text("x").header("X-Evil", "a\r\nSet-Cookie: pwned=1"); });
        get("/g", [] {
            cppg::g().set("who", "literal");
            return Response::text(cppg::g().get<std::string>("who"));
        });
        get("/log", [] {
            cppg::log_info("made {} of {} {{braces}}", 3, "things");
            return Response::text(std::string(cppg::request_id()));
        });
        get("/g-id", [] { return Response::text(cppg::g().get<std::string>("request_id")); });
        get("/login", [] { return Response::text("hi").set_cookie("session", "s1"); });
        get("/logout", [] { return Response::text("bye").set_cookie("session", "", "Max-Age=0"); });
        get("/whoami", [] { return Response::text(cppg::cookies().count("session") ? cppg::cookies().at("session") : "anon"); });
        post("/upload", [] {
            std::string pieces;
            char buf[64];
            size_t n;
            while ((n = cppg::request().read(buf, sizeof buf)) > 0) pieces += std::to_string(n) + ",";
            return Response::text(pieces + std::string(cppg::request().env_or("CONTENT_LENGTH", "none")));
        });
        get("/fanout", [] {
            auto a = cppg::submit([] { return std::string(cppg::request().path()) + "@" + std::string(cppg::request_id()); });
            return Response::text(a.get());
        });
        get("/files/report.txt", [files] { return Response::file(files + "/report.txt"); });
        static_files("/static", files + "/public");
        mount("/admin", admin_blueprint(), "admin");

        before_request([]() -> std::optional<Response> {
            cppg::g().set("seen", true);
            return std::nullopt;
        });
        after_request([](Response& r) {
            r.header("X-Request-Id", std::string(cppg::request_id()));
            r.header("X-Saw-Before", cppg::g().contains("seen") ? "yes" : "no");
        });
        error_handler(404, [](const cppg::HttpError& e) { return Response::json({{"error", e.what()}}, 404); });
        error_handler(405, [](const cppg::HttpError& e) {
            Response r = Response::json({{"error", "method"}}, 405);
            for (const auto& [n, v] : e.headers()) r.header(n, v);
            return r;
        });
        // Registered base first: the derived handler must still win for a Missing.
        error_handler<StoreError>([](const StoreError& e) { return Response::json({{"store", e.what()}}, 503); });
        error_handler<Missing>([](const Missing& e) { return Response::json({{"missing", e.what()}}, 404); });
    }
};

// Hooks and failures around the handler, in an app of their own.
struct Hooked : cppg::Router {
    mutable std::mutex mu;
    mutable int befores = 0;
    mutable std::vector<std::string> teardowns;  // the failure each teardown saw, or "-"

    explicit Hooked(const cppg::Args& args) {
        std::string dir = args.empty() ? "/tmp" : args[0];
        cppg::Router bp;
        bp.get("/x", [] { return Response::text("x"); }).name("x");
        bp.before_request([this]() -> std::optional<Response> {
            std::lock_guard lock(mu);
            ++befores;
            return std::nullopt;
        });
        mount("/v1", bp, "v1");
        mount("/v2", bp, "v2");
        get("/after-throws", [] { return Response::text("fine"); });
        get("/bad-header", [] { return Response::text("x").header("X-Evil", "a\r\nb"); });
        get("/bad-length", [] { return Response::text("x").header("Content-Length", "zz"); });
        post("/twice", [] {
            auto first = cppg::json_body();
            auto again = cppg::json_body();
            return Response::json({{"same", first == again}, {"form", cppg::form().size()}});
        });
        get("/dir/", [] { return Response::text("with slash"); });
        get("/dir", [] { return Response::text("exact"); });
        get("/error-page", [dir] {
            Response r = Response::file(dir + "/404.html");
            r.status = 404;
            return r;
        });
        get("/missing-file", [] { return Response::file("/nonexistent/x.txt"); });
        get("/task-log", [] {
            cppg::submit([] { cppg::log_info("from a task: {}", cppg::url_for("v2.x")); });
            return Response::text("queued");
        });
        after_request([](Response& r) {
            if (cppg::request().path() == "/after-throws") throw std::runtime_error("after hook broke");
            r.header("X-After", "1");
        });
        teardown([this](std::exception_ptr failure) {
            std::string what = "-";
            if (failure) {
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& e) {
                    what = e.what();
                }
            }
            std::lock_guard lock(mu);
            teardowns.push_back(what);
        });
        error_handler(404, [](const cppg::HttpError& e) { return Response::json({{"error", e.what()}}, 404); });
    }
};

// 405s made in every way an app can: an error handler that builds a fresh response, a
// handler that answers 405 itself, a hook that turns a path off.
struct Disabled : cppg::Router {
    explicit Disabled(const cppg::Args&) {
        get("/read-only", [] { return Response::text("ok"); });
        route("/frozen", {"GET", "PUT"}, [](const Params&) { return Response::text("frozen", 405); });
        before_request([]() -> std::optional<Response> {
            if (cppg::request().path() == "/off") return Response::text("off", 405);
            return std::nullopt;
        });
        error_handler(405, [](const cppg::HttpError&) { return Response::json({{"error", "method"}}, 405); });
    }
};

std::string temp_dir() {
    char pattern[] = "/tmp/cppg-sdk-XXXXXX";
    return mkdtemp(pattern);
}

}  // namespace

TEST_CASE("json_body: 415 for a body not declared JSON, 400 for malformed JSON, silent variant") {
    Client<Api> c;
    auto ok = c.post("/echo", nlohmann::json{{"a", 1}});
    CHECK(ok.status() == 201);
    CHECK(ok.json()["a"] == 1);
    auto malformed = c.post("/echo", "{\"a\":", "application/json");
    CHECK(malformed.status() == 400);
    CHECK(c.post("/echo", "{}", "text/plain").status() == 415);
    CHECK(c.post("/echo", "{}", "application/problem+json; charset=utf-8").status() == 201);
    CHECK(c.post("/maybe", "{oops", "application/json").text() == "not json");
    CHECK(c.post("/maybe", "{}", "application/json").text() == "json");
    CHECK(c.post("/typed", nlohmann::json{{"title", 5}}).status() == 400);
    CHECK(c.post("/typed", nlohmann::json{{"other", 1}}).status() == 400);
    CHECK(c.post("/typed", nlohmann::json{{"title", "t"}}).text() == "t");
    CHECK(c.post("/raw-typed", nlohmann::json{{"n", 1}}).status() == 400);  // a json type_error
    for (const auto& line : c.logs()) CHECK(line.find("[ERROR]") == std::string::npos);
}

TEST_CASE("404 and 405 go through before_request, error handlers and after_request") {
    Client<Api> c;
    auto missing = c.get("/nowhere");
    CHECK(missing.status() == 404);
    CHECK(missing.header("Content-Type") == "application/json");
    CHECK(missing.json()["error"] == "Not Found");
    CHECK(missing.header("X-Saw-Before") == "yes");
    CHECK(missing.header("X-Request-Id").has_value());
    auto method = c.del("/file");
    CHECK(method.status() == 405);
    CHECK(method.header("Allow") == "GET, HEAD, OPTIONS");
    CHECK(method.json()["error"] == "method");
}

TEST_CASE("every 405 carries Allow, whoever made it (RFC 9110 15.5.6)") {
    {
        Client<Api> api;  // its error handler copies the router's Allow: not doubled
        size_t allows = 0;
        auto answer = api.del("/file");
        for (const auto& [name, value] : answer.headers()) allows += name == "Allow";
        CHECK(allows == 1);
    }
    Client<Disabled> c;
    auto replaced = c.del("/read-only");  // the error handler's response has no Allow of its own
    CHECK(replaced.status() == 405);
    CHECK(replaced.json()["error"] == "method");
    CHECK(replaced.header("Allow") == "GET, HEAD, OPTIONS");
    auto itself = c.request({"PUT", "/frozen", {}, {}, false});
    CHECK(itself.status() == 405);
    CHECK(itself.header("Allow") == "GET, PUT, OPTIONS");
    auto off = c.get("/off");  // no route: the resource allows no methods
    CHECK(off.status() == 405);
    CHECK(off.header("Allow") == "");
}

TEST_CASE("error handlers: by status, then by type, the most derived type first") {
    Client<Api> c;
    auto gone = c.get("/gone");
    CHECK(gone.status() == 404);
    CHECK(gone.json()["missing"] == "no such row");
    CHECK(c.get("/store").json()["store"] == "store down");
    auto fail = c.get("/plain-fail");
    CHECK(fail.status() == 500);
    bool logged = false;
    for (const auto& line : c.logs())
        logged |= line.find("[ERROR]") != std::string::npos && line.find("\"GET /plain-fail\"") != std::string::npos &&
                  line.find("std::runtime_error: disk on fire") != std::string::npos;
    CHECK_MESSAGE(logged, "the unhandled exception is logged with the request line, type and message");
}

TEST_CASE("blueprints: mounted routes, their own hooks and handlers, names for url_for") {
    Client<Api> c;
    auto denied = c.get("/admin/stats");
    CHECK(denied.status() == 403);
    CHECK(denied.json()["admin_error"] == "admins only");
    auto stats = c.get("/admin/stats", {{"X-Admin", "1"}});
    CHECK(stats.status() == 200);
    CHECK(stats.header("X-Saw-Before") == "yes");  // the app's hooks run around the blueprint's
    CHECK(c.get("/file").status() == 200);         // the blueprint's before_request is not the app's
    Api& app = c.app();
    CHECK(app.url_for("admin.user", {{"id", "4"}}) == "/admin/users/4");
    CHECK(app.url_for("item", {{"id", "3"}, {"q", "a&b"}}) == "/items/3?q=a%26b");
    CHECK(app.url_for("doc", {{"rest", "a/b c"}}) == "/docs/a/b%20c");
    CHECK_THROWS_AS(app.url_for("item"), std::logic_error);
    CHECK_THROWS_AS(app.url_for("item", {{"id", "x"}}), std::logic_error);
    CHECK_THROWS_AS(app.url_for("nope"), std::logic_error);
    auto go = c.get("/go");
    CHECK(go.status() == 302);
    CHECK(go.header("Location") == "/items/7?v=a%20b");
}

TEST_CASE("converters: int overflow, float, uuid and path; PATCH") {
    Client<Api> c;
    CHECK(c.get("/small/100").text() == "100");
    CHECK(c.get("/small/300").status() == 404);                  // does not fit the handler's int8_t
    CHECK(c.get("/small/99999999999999999999").status() == 404);  // does not fit 64 bits
    CHECK(c.get("/small/-1").status() == 404);
    CHECK(c.get("/ratio/1.5").text() == "3.000000");
    CHECK(c.get("/ratio/15").status() == 404);
    CHECK(c.get("/objects/8E3A1C9B-0F2D-4C5E-9A7B-1D2E3F4A5B6C").text() == "8e3a1c9b-0f2d-4c5e-9a7b-1d2e3f4a5b6c");
    CHECK(c.get("/objects/not-a-uuid").status() == 404);
    CHECK(c.get("/docs/a/b/c.md").text() == "a/b/c.md");
    CHECK(c.patch("/items/5", nlohmann::json::object()).json()["patched"] == 5);
    CHECK(c.app().created == 1);
}

TEST_CASE("strict slashes: a redirect to the slash, a 404 without a route for it") {
    Client<Api> c;
    auto to_dir = c.get("/dir?x=1");
    CHECK(to_dir.status() == 308);
    CHECK(to_dir.header("Location") == "/dir/?x=1");
    CHECK(c.get("/dir/").text() == "dir");
    CHECK(c.get("/file/").status() == 404);
    auto doubled = c.get("//file");
    CHECK(doubled.status() == 308);
    CHECK(doubled.header("Location") == "/file");
}

TEST_CASE("responses: reason phrases, no_content, redirects, and headers that cannot be sent") {
    Client<Api> c;
    CHECK(c.get("/teapot").status_line() == "418 I'm a teapot");
    CHECK(c.get("/accepted").status_line() == "202 Accepted");
    for (const char* path : {"/nothing", "/empty-text-204"}) {
        auto r = c.get(path);
        CHECK(r.status() == 204);
        CHECK_FALSE(r.header("Content-Type").has_value());
        CHECK_FALSE(r.header("Content-Length").has_value());
        CHECK(r.body().empty());
    }
    auto evil = c.get("/bad-header");
    CHECK(evil.status() == 500);  // what the server answers: no CR/LF ever reaches the wire
    CHECK_FALSE(evil.header("Set-Cookie").has_value());
}

TEST_CASE("files: type by extension, validators, conditional GET, one range, HEAD") {
    std::string dir = temp_dir();
    {
        std::ofstream(dir + "/report.txt") << "0123456789";
    }
    Client<Api> c({dir});
    auto full = c.get("/files/report.txt");
    CHECK(full.status() == 200);
    CHECK(full.text() == "0123456789");
    CHECK(full.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(full.header("Accept-Ranges") == "bytes");
    auto etag = full.header("ETag").value();
    auto modified = full.header("Last-Modified").value();
    CHECK(c.get("/files/report.txt", {{"If-None-Match", etag}}).status() == 304);
    CHECK(c.get("/files/report.txt", {{"If-Modified-Since", modified}}).status() == 304);
    CHECK(c.get("/files/report.txt", {{"If-None-Match", "\"other\""}}).status() == 200);
    auto part = c.get("/files/report.txt", {{"Range", "bytes=2-4"}});
    CHECK(part.status() == 206);
    CHECK(part.text() == "234");
    CHECK(part.header("Content-Range") == "bytes 2-4/10");
    CHECK(c.get("/files/report.txt", {{"Range", "bytes=-3"}}).text() == "789");
    auto beyond = c.get("/files/report.txt", {{"Range", "bytes=20-"}});
    CHECK(beyond.status() == 416);
    CHECK(beyond.header("Content-Range") == "bytes */10");
    CHECK(c.get("/files/report.txt", {{"Range", "bytes=0-1"}, {"If-Range", "\"stale\""}}).status() == 200);
    auto head = c.head("/files/report.txt");
    CHECK(head.status() == 200);
    CHECK(head.header("Content-Length") == "10");
    CHECK(head.body().empty());
    std::filesystem::remove_all(dir);
}

TEST_CASE("static files never leave their directory") {
    std::string dir = temp_dir();
    std::filesystem::create_directories(dir + "/public/css");
    std::ofstream(dir + "/public/css/site.css") << "body{}";
    std::ofstream(dir + "/secret.txt") << "no";
    std::filesystem::create_symlink(dir + "/secret.txt", dir + "/public/link.txt");
    Client<Api> c({dir});
    auto css = c.get("/static/css/site.css");
    CHECK(css.status() == 200);
    CHECK(css.header("Content-Type") == "text/css; charset=utf-8");
    CHECK(c.get("/static/../secret.txt").status() == 404);
    CHECK(c.get("/static/css/%2e%2e/%2e%2e/secret.txt").status() == 404);
    CHECK(c.get("/static/link.txt").status() == 404);  // a link out of the directory
    CHECK(c.get("/static/css").status() == 404);       // a directory is not a file
    CHECK(c.get("/static/nope.css").status() == 404);
    std::filesystem::remove_all(dir);
}

TEST_CASE("g().set with a string literal stores a std::string") {
    Client<Api> c;
    CHECK(c.get("/g").text() == "literal");
}

TEST_CASE("log lines carry the request id and line; X-Request-Id is used when valid") {
    Client<Api> c;
    auto r = c.get("/log", {{"X-Request-Id", "abc-123"}});
    CHECK(r.text() == "abc-123");
    bool found = false;
    for (const auto& line : c.logs())
        found |= line == "[INFO] [abc-123] \"GET /log\" made 3 of things {braces}";
    CHECK(found);
    auto generated = c.get("/log", {{"X-Request-Id", "bad id with spaces"}});
    CHECK(generated.text() != "bad id with spaces");
    CHECK_FALSE(generated.text().empty());
    CHECK(c.get("/g-id", {{"X-Request-Id", "from-g"}}).text() == "from-g");  // in g() before anyone asks
    CHECK(cppg::format("{} + {} = {}", 1, 2.5, std::string("x")) == "1 + 2.5 = x");
    CHECK(cppg::format("no args {}") == "no args {}");
    CHECK(cppg::format("{} {} {}", static_cast<const char*>(nullptr), int8_t{-5}, uint8_t{200}) == "(null) -5 200");
}

TEST_CASE("the test client: cookies kept, bodies streamed or chunked, tasks with the request's context") {
    Client<Api> c;
    CHECK(c.get("/whoami").text() == "anon");
    c.get("/login");
    CHECK(c.cookies().at("session") == "s1");
    CHECK(c.get("/whoami").text() == "s1");
    c.get("/logout");
    CHECK(c.get("/whoami").text() == "anon");

    cppg::testing::RequestSpec streamed{"POST", "/upload", {{"Content-Type", "application/octet-stream"}}, {"abc", "defgh", "i"}, false};
    CHECK(c.request(streamed).text() == "3,5,1,9");
    streamed.chunked = true;
    CHECK(c.request(streamed).text() == "3,5,1,none");

    auto fan = c.get("/fanout", {{"X-Request-Id", "fan-1"}});
    CHECK(fan.text() == "/fanout@fan-1");
}

TEST_CASE("teardown runs on every path: a failing after_request hook, a response the server refuses") {
    Client<Hooked> c;
    auto broken = c.get("/after-throws");
    CHECK(broken.status() == 500);
    CHECK(c.app().teardowns.back() == "after hook broke");
    CHECK(c.get("/bad-header").status() == 500);
    CHECK(c.app().teardowns.back() != "-");
    CHECK(c.get("/bad-length").status() == 500);  // the server refuses a Content-Length that is not a number
    CHECK(c.get("/v1/x").status() == 200);
    CHECK(c.app().teardowns.back() == "-");
    CHECK(c.app().teardowns.size() == 4);
}

TEST_CASE("a blueprint mounted twice runs its hooks once per request") {
    Client<Hooked> c;
    CHECK(c.get("/v1/x").text() == "x");
    CHECK(c.get("/v2/x").text() == "x");
    CHECK(c.app().befores == 2);
}

TEST_CASE("routing: an exact route beats a slash redirect; OPTIONS answered with Allow") {
    Client<Hooked> c;
    CHECK(c.get("/dir").text() == "exact");
    CHECK(c.get("/dir/").text() == "with slash");
    auto options = c.request({"OPTIONS", "/v1/x", {}, {}, false});
    CHECK(options.status() == 200);
    CHECK(options.header("Allow") == "GET, HEAD, OPTIONS");
    CHECK(options.body().empty());
    CHECK(c.request({"OPTIONS", "/nowhere", {}, {}, false}).status() == 404);
}

TEST_CASE("json_body and form can be read twice") {
    Client<Hooked> c;
    auto r = c.post("/twice", nlohmann::json{{"a", 1}});
    CHECK(r.json() == nlohmann::json{{"same", true}, {"form", 0}});
}

TEST_CASE("files: a missing file goes through the app's 404 handler; an error page is sent whole") {
    std::string dir = temp_dir();
    std::ofstream(dir + "/404.html") << "<h1>lost</h1>";
    Client<Hooked> c({dir});
    auto missing = c.get("/missing-file");
    CHECK(missing.status() == 404);
    CHECK(missing.json()["error"] == "Not Found");
    CHECK(missing.header("X-After") == "1");
    auto page = c.get("/error-page", {{"Range", "bytes=0-1"}});
    CHECK(page.status() == 404);
    CHECK(page.text() == "<h1>lost</h1>");
    auto etag = page.header("ETag").value();
    CHECK(c.get("/error-page", {{"If-None-Match", etag}}).status() == 404);
    std::filesystem::remove_all(dir);
}

TEST_CASE("files: a malformed If-Modified-Since is ignored, even for a file dated 1970") {
    std::string dir = temp_dir();
    std::ofstream(dir + "/report.txt") << "old";
    struct timespec times[2] = {{0, 0}, {0, 0}};
    REQUIRE(utimensat(AT_FDCWD, (dir + "/report.txt").c_str(), times, 0) == 0);
    Client<Api> c({dir});
    CHECK(c.get("/files/report.txt", {{"If-Modified-Since", "yesterday"}}).status() == 200);
    CHECK(c.get("/files/report.txt", {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"}}).status() == 304);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a task that outlives its handler logs with the request's line and id, and can use url_for") {
    Client<Hooked> c;
    CHECK(c.get("/task-log", {{"X-Request-Id", "late-1"}}).text() == "queued");
    c.join_tasks();
    bool found = false;
    for (const auto& line : c.logs()) found |= line == "[INFO] [late-1] \"GET /task-log\" from a task: /v2/x";
    CHECK(found);
}

TEST_CASE("the test host's error texts are the server's") {
    const cppg_host_t* server = cppg::worker::host_table();
    for (int code : {CPPG_OK, CPPG_EINVAL, CPPG_ESTATE, CPPG_ECLOSED, CPPG_EBODY, CPPG_ETOOLARGE, CPPG_ETIMEDOUT,
                     CPPG_EBUSY, -12345})
        CHECK(std::string(cppg::testing::detail::strerror(code)) == server->strerror(code));
}
