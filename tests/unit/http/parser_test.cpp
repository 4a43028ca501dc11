// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/parser.hpp"

using cppg::http::ParserLimits;
using cppg::http::Request;
using cppg::http::RequestParser;

namespace {

// Records what the parser reports, as the connection would see it.
struct Recorder final : cppg::http::ParserEvents {
    std::vector<std::string> targets;
    std::vector<std::vector<std::pair<std::string, std::string>>> headers;
    std::string body;
    int completed = 0;
    bool keep_alive = false;
    bool expect_continue = false;
    std::string path, query, host;

    void on_request_head(const Request& r) override {
        targets.emplace_back(r.target());
        std::vector<std::pair<std::string, std::string>> h;
        for (size_t i = 0; i < r.header_count(); ++i)
            h.emplace_back(r.header_name(i), r.header_value(i));
        headers.push_back(h);
        keep_alive = r.keep_alive();
        expect_continue = r.expect_continue();
        path = r.path();
        query = r.query();
        host = r.host();
    }
    void on_request_body(std::string_view d) override { body += d; }
    void on_request_complete() override { ++completed; }
};

struct Fixture {
    Recorder events;
    RequestParser parser;
    explicit Fixture(ParserLimits limits = {}) : parser(limits, events) {}

    // Feeds everything, resuming after each complete request; returns the final status.
    RequestParser::Status feed_all(std::string_view input) {
        while (true) {
            auto r = parser.feed(input.data(), input.size());
            if (r.status != RequestParser::Status::kPaused) return r.status;
            input.remove_prefix(r.consumed);
            parser.resume();
            if (input.empty()) return RequestParser::Status::kNeedMore;
        }
    }
    int reject(std::string_view input) {
        REQUIRE(feed_all(input) == RequestParser::Status::kError);
        return parser.error_status();
    }
};

}  // namespace

TEST_CASE("a simple GET yields its target, headers in order and case, and completes") {
    Fixture f;
    auto st = f.feed_all("GET /p?q=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    CHECK(st == RequestParser::Status::kNeedMore);
    REQUIRE(f.events.targets.size() == 1);
    CHECK(f.events.targets[0] == "/p?q=1");
    CHECK(f.events.path == "/p");
    CHECK(f.events.query == "q=1");
    CHECK(f.events.host == "x");
    REQUIRE(f.events.headers[0].size() == 3);
    CHECK(f.events.headers[0][1] == std::pair<std::string, std::string>{"X-A", "1"});
    CHECK(f.events.headers[0][2] == std::pair<std::string, std::string>{"x-a", "2"});
    CHECK(f.events.completed == 1);
    CHECK(f.events.keep_alive);
}

TEST_CASE("the parser pauses after each pipelined request so they are served one by one") {
    Fixture f;
    std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    auto r = f.parser.feed(two.data(), two.size());
    CHECK(r.status == RequestParser::Status::kPaused);
    CHECK(r.consumed == two.size() / 2);
    CHECK(f.events.targets.size() == 1);
    f.parser.resume();
    r = f.parser.feed(two.data() + r.consumed, two.size() - r.consumed);
    CHECK(r.status == RequestParser::Status::kPaused);
    CHECK(f.events.targets.back() == "/b");
}

TEST_CASE("a head split into single bytes parses the same as in one piece") {
    Fixture f;
    std::string req = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Empty:\r\nX-Long: abc def\r\n\r\nhello";
    for (size_t i = 0; i < req.size(); ++i) {
        auto r = f.parser.feed(req.data() + i, 1);
        REQUIRE(r.status != RequestParser::Status::kError);
    }
    REQUIRE(f.events.headers.size() == 1);
    auto& h = f.events.headers[0];
    REQUIRE(h.size() == 4);
    CHECK(h[2] == std::pair<std::string, std::string>{"X-Empty", ""});
    CHECK(h[3] == std::pair<std::string, std::string>{"X-Long", "abc def"});
    CHECK(f.events.body == "hello");
}

TEST_CASE("chunked bodies are de-chunked and trailers are not added to the headers") {
    Fixture f;
    f.feed_all("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    CHECK(f.events.body == "hello world");
    CHECK(f.events.completed == 1);
    CHECK(f.events.headers[0].size() == 2);
}

TEST_CASE("absolute-form targets give the authority as host and split path and query") {
    Fixture f;
    f.feed_all("GET http://example.com:8080/a%20b?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n");
    CHECK(f.events.host == "example.com:8080");
    CHECK(f.events.path == "/a b");
    CHECK(f.events.query == "x=1");
}

TEST_CASE("HTTP/1.0 is keep-alive only when it asks for it") {
    Fixture a;
    a.feed_all("GET / HTTP/1.0\r\n\r\n");
    CHECK_FALSE(a.events.keep_alive);
    Fixture b;
    b.feed_all("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(b.events.keep_alive);
}

TEST_CASE("Expect: 100-continue is recognised and other expectations get 417") {
    Fixture a;
    a.feed_all("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    CHECK(a.events.expect_continue);
    Fixture b;
    CHECK(b.reject("POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n") == 417);
}

TEST_CASE("limits: request line 414, field count 431, field size 431, body 413") {
    ParserLimits limits{100, 3, 50, 10};
    CHECK(Fixture(limits).reject("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n") == 414);
    CHECK(Fixture(limits).reject("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n") == 431);
    CHECK(Fixture(limits).reject("GET / HTTP/1.1\r\nHost: " + std::string(60, 'x') + "\r\n\r\n") == 431);
    CHECK(Fixture(limits).reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n") == 413);
    CHECK(Fixture(limits).reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "b\r\nhello world\r\n0\r\n\r\n") == 413);
}

TEST_CASE("a request line exactly at the limit is accepted") {
    // "GET " + target + " HTTP/1.1" is 4 + n + 9 bytes.
    ParserLimits limits{30, 0, 0, 0};
    Fixture f(limits);
    std::string target = "/" + std::string(16, 'a');  // 17 bytes -> 30 total
    CHECK(f.feed_all("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n") == RequestParser::Status::kNeedMore);
    CHECK(Fixture(limits).reject("GET " + target + "a HTTP/1.1\r\nHost: x\r\n\r\n") == 414);
}

TEST_CASE("request smuggling vectors are rejected") {
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 400);
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400);
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
    CHECK(Fixture().reject("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == 400);
    CHECK(Fixture().reject("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n") == 400);
    CHECK(Fixture().reject("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(Fixture().reject("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(Fixture().reject("GET / HTTP/2.0\r\nHost: a\r\n\r\n") >= 400);
}
