// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "http/parser.hpp"
#include "http/target.hpp"

using cppg::http::split_absolute_form;
using cppg::http::valid_authority;
using cppg::http::valid_scheme;

namespace {

struct Host final : cppg::http::ParserEvents {
    std::string host, path;
    void on_request_head(const cppg::http::Request& r) override {
        host = r.host();
        path = r.path();
    }
    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}
};

// The status a one-request head gets: 0 when it parses.
int status_of(std::string_view head, Host& events) {
    cppg::http::RequestParser parser({}, events);
    auto r = parser.feed(head.data(), head.size());
    return r.status == cppg::http::RequestParser::Status::kError ? parser.error_status() : 0;
}

}  // namespace

TEST_CASE("authorities by RFC 3986: reg-name, IPv4, IP-literal, an optional port of digits") {
    for (std::string_view a : {"example.com", "example.com:8080", "EXAMPLE.com:", "127.0.0.1:80", "[::1]", "[::1]:443",
                               "[2001:db8::7]", "[::ffff:192.0.2.1]", "[v1.fe:x]", "a-b_c~d.e", "x%41y", "!$&'()*+,;="}) {
        CAPTURE(a);
        CHECK(valid_authority(a));
    }
    for (std::string_view a : {"", ":80", "]ufd", "u@example.com", "example.com:8a", "example.com:80:81", "[::1",
                               "[::1]x", "[::1]:8a", "[1:2:3:4:5:6:7:8:9]", "[fe80::1%25eth0]", "[v.x]", "[v1.]",
                               "ex ample", "x%4", "x%zz", "a\"b", "[]"}) {
        CAPTURE(a);
        CHECK_FALSE(valid_authority(a));
    }
}

TEST_CASE("schemes by RFC 3986: a letter, then letters, digits, + - .") {
    CHECK(valid_scheme("http"));
    CHECK(valid_scheme("s"));
    CHECK(valid_scheme("coap+tcp"));
    CHECK(valid_scheme("a1.b-c"));
    CHECK_FALSE(valid_scheme(""));
    CHECK_FALSE(valid_scheme("1http"));
    CHECK_FALSE(valid_scheme("ht_tp"));
}

TEST_CASE("an absolute-form target splits into scheme, authority and the rest") {
    auto t = split_absolute_form("http://example.com:8080/a/b?x=1");
    REQUIRE(t);
    CHECK(t->scheme == "http");
    CHECK(t->authority == "example.com:8080");
    CHECK(t->rest == "/a/b?x=1");
    auto bare = split_absolute_form("https://[::1]?q");
    REQUIRE(bare);
    CHECK(bare->authority == "[::1]");
    CHECK(bare->rest == "?q");
    for (std::string_view bad : {"s://]ufd/:", "http:///p", "http://", "http://u@h/", "http:/x", "://x/", "h_t://x/"}) {
        CAPTURE(bad);
        CHECK_FALSE(split_absolute_form(bad));
    }
}

TEST_CASE("the parser refuses an absolute-form target without a valid authority, and takes Host from a valid one") {
    Host events;
    CHECK(status_of("PUT s://]ufd/: HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", events) == 400);
    CHECK(status_of("GET http://user@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", events) == 400);
    CHECK(status_of("GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n", events) == 400);
    CHECK(status_of("GET http://x:8a/ HTTP/1.1\r\n\r\n", events) == 400);
    CHECK(status_of("GET http://[::1]:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n", events) == 0);
    CHECK(events.host == "[::1]:8080");
    CHECK(events.path == "/p");
    CHECK(status_of("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", events) == 0);
    CHECK(status_of("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", events) == 0);
}
