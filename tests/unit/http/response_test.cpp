// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/response.hpp"

using cppg::http::Framing;
using cppg::http::HeaderField;
using cppg::http::RequestTraits;
using cppg::http::ResponseWriter;
using Error = ResponseWriter::Error;

namespace {

std::string start(ResponseWriter& w, std::string_view status, std::vector<HeaderField> headers,
                  Error expected = Error::kNone) {
    std::string out, why;
    CHECK(w.start(status, headers, out, why) == expected);
    return out;
}

}  // namespace

TEST_CASE("a response with Content-Length is sent as is, with Date and Server") {
    ResponseWriter w({false, 1, true});
    std::string out = start(w, "200 OK", {{"Content-Length", "5"}, {"X-A", "b"}});
    CHECK(out.starts_with("HTTP/1.1 200 OK\r\nServer: cppgunicorn\r\nDate: "));
    CHECK(out.find("Content-Length: 5\r\nX-A: b\r\n\r\n") != std::string::npos);
    CHECK(w.framing() == Framing::kLength);
    out.clear();
    CHECK(w.write("hello", out) == Error::kNone);
    CHECK(out == "hello");
    CHECK(w.finish(out) == Error::kNone);
    CHECK_FALSE(w.close_after());
}

TEST_CASE("without a length, HTTP/1.1 responses are chunked and end with the last chunk") {
    ResponseWriter w({false, 1, true});
    std::string out = start(w, "200 OK", {});
    CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    out.clear();
    w.write("hello", out);
    w.write(std::string(26, 'x'), out);
    w.finish(out);
    CHECK(out == "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n");
}

TEST_CASE("without a length, HTTP/1.0 responses end by closing") {
    ResponseWriter w({false, 0, true});
    std::string out = start(w, "200 OK", {});
    CHECK(out.starts_with("HTTP/1.0 200 OK\r\n"));
    CHECK(out.find("Connection: close\r\n") != std::string::npos);
    CHECK(w.framing() == Framing::kUntilClose);
    CHECK(w.close_after());
}

TEST_CASE("HEAD, 204 and 304 responses carry no body bytes") {
    for (auto [traits, status] : {std::pair{RequestTraits{true, 1, true}, "200 OK"},
                                  std::pair{RequestTraits{false, 1, true}, "204 No Content"},
                                  std::pair{RequestTraits{false, 1, true}, "304 Not Modified"}}) {
        ResponseWriter w(traits);
        start(w, status, {});
        std::string out;
        w.write("body", out);
        w.finish(out);
        CHECK(out.empty());
    }
}

TEST_CASE("CR, LF and NUL in app header names or values never reach the output") {
    for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"X-Bad", "a\r\nInjected: 1"}, {"X-Bad", std::string("a\0b", 3)},
             {"X-Bad", "a\nb"}, {"Bad Name", "v"}, {"X\r\nY", "v"}, {"", "v"}}) {
        ResponseWriter w({false, 1, true});
        std::string out = start(w, "200 OK", {{name, value}}, Error::kInvalid);
        CHECK(out.empty());
        CHECK_FALSE(w.started());
    }
}

TEST_CASE("status lines are validated") {
    CHECK(cppg::http::parse_status_line("200 OK") == 200);
    CHECK(cppg::http::parse_status_line("404") == 404);
    CHECK(cppg::http::parse_status_line("599 Whatever you like") == 599);
    CHECK(cppg::http::parse_status_line("OK 200") == 0);
    CHECK(cppg::http::parse_status_line("20 OK") == 0);
    CHECK(cppg::http::parse_status_line("200OK") == 0);
    CHECK(cppg::http::parse_status_line("100 Continue") == 0);
    CHECK(cppg::http::parse_status_line("200 OK\r\nX: y") == 0);
}

TEST_CASE("writing past Content-Length is cut off and forces a close") {
    ResponseWriter w({false, 1, true});
    start(w, "200 OK", {{"Content-Length", "3"}});
    std::string out;
    CHECK(w.write("abcdef", out) == Error::kTooLong);
    CHECK(out == "abc");
    CHECK(w.close_after());
}

TEST_CASE("finishing short of Content-Length is reported and forces a close") {
    ResponseWriter w({false, 1, true});
    start(w, "200 OK", {{"Content-Length", "10"}});
    std::string out;
    w.write("abc", out);
    CHECK(w.finish(out) == Error::kInvalid);
    CHECK(w.close_after());
}

TEST_CASE("hop-by-hop headers from the app are dropped but Connection: close is honoured") {
    ResponseWriter w({false, 1, true});
    std::string out = start(w, "200 OK", {{"Transfer-Encoding", "gzip"}, {"Connection", "close"},
                                          {"Content-Length", "0"}});
    CHECK(out.find("gzip") == std::string::npos);
    CHECK(out.find("Connection: close\r\n") != std::string::npos);
    CHECK(w.close_after());
}

TEST_CASE("a second start is refused") {
    ResponseWriter w({false, 1, true});
    start(w, "200 OK", {});
    start(w, "200 OK", {}, Error::kState);
}
