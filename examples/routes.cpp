// SPDX-License-Identifier: MIT
// A small API on the SDK's router: typed path parameters, methods, JSON, forms, cookies,
// streaming, hooks and error handlers, and the context accessors instead of arguments.
#include <cppgunicorn/router.hpp>

#include <stdexcept>
#include <string>

struct Routes : cppg::Router {
    // args: an optional directory served under /static (Range, ETag, sendfile).
    explicit Routes(const cppg::Args& args) {
        if (!args.empty()) static_files("/static", args[0]);
        get("/", [] { return cppg::Response::text("Hello, World!\n"); });
        get("/users/<int:id>", [](const cppg::Params& p) {
            return cppg::Response::json({{"id", p.get<int>("id")}, {"name", "user" + p.get("id")}});
        });
        get("/files/<path:rest>", [](const cppg::Params& p) { return cppg::Response::text(p.get("rest") + "\n"); });
        get("/search", [] {
            auto q = cppg::args();
            return cppg::Response::json({{"q", cppg::first(q, "q").value_or("")}, {"pages", q.count("page")}});
        });
        post("/echo-json", [] { return cppg::Response::json(cppg::json_body(), 201); });
        post("/login", [] {
            auto user = cppg::first(cppg::form(), "user").value_or("");
            if (user.empty()) throw cppg::HttpError(400, "user is required");
            return cppg::Response::text("welcome " + user + "\n").set_cookie("session", user);
        });
        get("/whoami", [] {
            auto jar = cppg::cookies();
            auto it = jar.find("session");
            return cppg::Response::text((it == jar.end() ? "anonymous" : it->second) + "\n");
        });
        get("/stream", [] {
            return cppg::Response::streamed([](cppg::Request& req) {
                for (int i = 0; i < 3; ++i) req.write("part " + std::to_string(i) + "\n");
            }, "text/plain");
        });
        get("/boom", []() -> cppg::Response { throw std::invalid_argument("bad input"); });
        get("/crash", []() -> cppg::Response { throw std::runtime_error("unexpected"); });

        before_request([]() -> std::optional<cppg::Response> {
            if (cppg::request().header("X-Block")) return cppg::Response::text("blocked\n", 403);
            cppg::g().set("seen", true);
            return std::nullopt;
        });
        after_request([](cppg::Response& r) { r.header("X-Served-By", "routes"); });
        // A 405 built afresh: the router adds its Allow header (RFC 9110 15.5.6).
        error_handler(405, [](const cppg::HttpError& e) { return cppg::Response::json({{"error", e.what()}}, 405); });
        error_handler<std::invalid_argument>([](const std::invalid_argument& e) {
            return cppg::Response::json({{"error", e.what()}}, 422);
        });
    }
};

CPPG_APP(Routes, "routes")
