// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "http/environ.hpp"
#include "http/parser.hpp"

using cppg::http::EnvironScratch;
using cppg::http::PeerInfo;
using cppg::http::Request;
using cppg::http::RequestParser;

namespace {

// Parses one request head and answers environ lookups on it, as the worker does.
struct Environ final : cppg::http::ParserEvents {
    RequestParser parser{{}, *this};
    const Request* request = nullptr;
    PeerInfo peer{"10.0.0.7", "51234", "127.0.0.1", "8000", false};
    EnvironScratch scratch;

    explicit Environ(std::string_view head) {
        auto r = parser.feed(head.data(), head.size());
        REQUIRE(r.status == RequestParser::Status::kPaused);
        REQUIRE(request != nullptr);
    }
    void on_request_head(const Request& r) override { request = &r; }
    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}

    std::string get(std::string_view key) {
        auto v = cppg::http::environ_value(*request, peer, key, scratch);
        REQUIRE_MESSAGE(v.has_value(), key);
        return std::string(*v);
    }
    bool has(std::string_view key) { return environ_value(*request, peer, key, scratch).has_value(); }
};

}  // namespace

TEST_CASE("environ: the request line's variables") {
    Environ e("GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(e.get("REQUEST_METHOD") == "GET");
    CHECK(e.get("SCRIPT_NAME") == "");
    CHECK(e.get("PATH_INFO") == "/a b/c");
    CHECK(e.get("QUERY_STRING") == "x=1&y=%20");
    CHECK(e.get("RAW_URI") == "/a%20b/c?x=1&y=%20");
    CHECK(e.get("SERVER_PROTOCOL") == "HTTP/1.1");
    CHECK(e.get("REMOTE_ADDR") == "10.0.0.7");
    CHECK(e.get("REMOTE_PORT") == "51234");
    CHECK_FALSE(e.has("NOT_A_VARIABLE"));
}

TEST_CASE("environ: SERVER_NAME and SERVER_PORT come from Host, else the socket") {
    CHECK(Environ("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n").get("SERVER_PORT") == "8080");
    CHECK(Environ("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n").get("SERVER_NAME") == "example.com");
    CHECK(Environ("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").get("SERVER_PORT") == "80");
    CHECK(Environ("GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n").get("SERVER_NAME") == "[::1]");
    CHECK(Environ("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n").get("SERVER_PORT") == "80");
    Environ no_host("GET / HTTP/1.0\r\n\r\n");
    CHECK(no_host.get("SERVER_NAME") == "127.0.0.1");
    CHECK(no_host.get("SERVER_PORT") == "8000");
    CHECK(no_host.get("SERVER_PROTOCOL") == "HTTP/1.0");
}

TEST_CASE("environ: an absolute-form target's authority is the host, HTTP_HOST included (RFC 9112 3.2.2)") {
    Environ absolute("GET http://example.com:8080/p HTTP/1.1\r\nHost: ignored\r\n\r\n");
    CHECK(absolute.get("HTTP_HOST") == "example.com:8080");
    CHECK(absolute.get("SERVER_NAME") == "example.com");
    Environ no_header("GET http://example.com/p HTTP/1.1\r\n\r\n");
    CHECK(no_header.get("HTTP_HOST") == "example.com");
    CHECK(Environ("GET / HTTP/1.1\r\nHost: h:1\r\n\r\n").get("HTTP_HOST") == "h:1");
    CHECK(Environ("GET / HTTP/1.1\r\nHost:\r\n\r\n").get("HTTP_HOST") == "");
    CHECK_FALSE(Environ("GET / HTTP/1.0\r\n\r\n").has("HTTP_HOST"));
}

TEST_CASE("environ: headers as HTTP_*, repeats joined, underscores never exposed") {
    Environ e("GET / HTTP/1.1\r\nHost: x\r\nX-Trace-Id: a\r\nx-trace-id: b\r\nUser-Agent: t/1\r\n"
              "X_Smuggled: no\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
    CHECK(e.get("HTTP_USER_AGENT") == "t/1");
    CHECK(e.get("HTTP_X_TRACE_ID") == "a, b");
    CHECK(e.scratch.size() == 1);
    CHECK(e.get("HTTP_X_TRACE_ID") == "a, b");  // the joined value is reused, not rebuilt
    CHECK(e.scratch.size() == 1);
    CHECK_FALSE(e.has("HTTP_X_SMUGGLED"));
    CHECK(e.get("CONTENT_TYPE") == "text/plain");
    CHECK(e.get("CONTENT_LENGTH") == "0");
    CHECK_FALSE(e.has("HTTP_ACCEPT"));
}

TEST_CASE("environ: the scheme is https only when a trusted proxy says so") {
    Environ e("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: HTTPS\r\n\r\n");
    CHECK(e.get("wsgi.url_scheme") == "http");
    e.peer.trusted_proxy = true;
    CHECK(e.get("wsgi.url_scheme") == "https");
    CHECK(e.get("URL_SCHEME") == "https");
    Environ plain("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    plain.peer.trusted_proxy = true;
    CHECK(plain.get("URL_SCHEME") == "http");
}
