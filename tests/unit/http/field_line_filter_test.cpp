// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/field_line_filter.hpp"
#include "http/parser.hpp"

using cppg::http::FieldLineFilter;
using cppg::http::RequestParser;

namespace {

// What llhttp would see of `input` fed in pieces of `step` bytes (0: whole).
std::string filtered(std::string_view input, size_t step = 0) {
    FieldLineFilter filter;
    std::string out;
    while (!input.empty()) {
        std::string_view piece = input.substr(0, step == 0 ? input.size() : step);
        while (!piece.empty()) {
            size_t used = 0;
            out += filter.take(piece, used);
            piece.remove_prefix(used);
            input.remove_prefix(used);
        }
    }
    return out;
}

struct Head final : cppg::http::ParserEvents {
    std::vector<std::pair<std::string, std::string>> headers;
    bool keep_alive = true, chunked = false;
    int64_t length = -1;
    std::string body;
    int completed = 0;
    void on_request_head(const cppg::http::Request& r) override {
        for (size_t i = 0; i < r.header_count(); ++i) headers.emplace_back(r.header_name(i), r.header_value(i));
        keep_alive = r.keep_alive();
        chunked = r.chunked();
        length = r.content_length();
    }
    void on_request_body(std::string_view d) override { body += d; }
    void on_request_complete() override { ++completed; }
};

// Feeds `input` in pieces of `step` bytes, resuming after each request; false on an error.
bool parse(RequestParser& parser, std::string_view input, size_t step) {
    while (!input.empty()) {
        size_t n = std::min(step, input.size());
        auto r = parser.feed(input.data(), n);
        if (r.status == RequestParser::Status::kError) return false;
        input.remove_prefix(r.status == RequestParser::Status::kPaused ? r.consumed : n);
        if (r.status == RequestParser::Status::kPaused) parser.resume();
    }
    return true;
}

}  // namespace

TEST_CASE("blanks that end a field line reach llhttp as spaces, whole and in pieces") {
    std::string_view head = "GET / HTTP/1.1\r\nHost: x\t\r\nTransfer-Encoding: \tchunked \t\t\r\nX: a\tb\r\n\r\n";
    std::string_view want = "GET / HTTP/1.1\r\nHost: x \r\nTransfer-Encoding: \tchunked   \r\nX: a\tb\r\n\r\n";
    for (size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{5}}) {
        CAPTURE(step);
        CHECK(filtered(head, step) == want);
    }
}

TEST_CASE("the request line, and lines that start with a blank, pass as they are") {
    CHECK(filtered("GET / HTTP/1.1\t\r\nHost: x\r\n\r\n") == "GET / HTTP/1.1\t\r\nHost: x\r\n\r\n");
    CHECK(filtered("\r\nGET / HTTP/1.1\t\r\n") == "\r\nGET / HTTP/1.1\t\r\n");  // an empty line first
    CHECK(filtered("GET / HTTP/1.1\r\n\tHost: x\t\r\n") == "GET / HTTP/1.1\r\n\tHost: x\t\r\n");
    CHECK(filtered("GET / HTTP/1.1\r\nX: a\r\n \t\r\n") == "GET / HTTP/1.1\r\nX: a\r\n \t\r\n");  // obs-fold
    CHECK(filtered("GET / HTTP/1.1\r\nX\t: a\r\n") == "GET / HTTP/1.1\r\nX\t: a\r\n");  // not at the end
}

TEST_CASE("a blank run longer than the filter holds passes unchanged, however it arrives") {
    auto line = [](size_t blanks, char blank) {
        return "GET / HTTP/1.1\r\nX: a" + std::string(blanks, blank) + "\r\n";
    };
    size_t most = FieldLineFilter::kMaxHeld;
    for (size_t step : {size_t{0}, size_t{7}, size_t{most}}) {
        CAPTURE(step);
        CHECK(filtered(line(most, '\t'), step) == line(most, ' '));
        CHECK(filtered(line(most + 1, '\t'), step) == line(most + 1, '\t'));
    }
}

TEST_CASE("Transfer-Encoding, Content-Length and Connection are judged on trimmed values") {
    for (size_t step : {size_t{1}, size_t{3}, size_t{1000}}) {
        CAPTURE(step);
        Head close;
        RequestParser c({}, close);
        CHECK(parse(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n", step));
        CHECK(!close.keep_alive);
        CHECK(close.completed == 1);
        Head chunked;
        RequestParser a({}, chunked);
        CHECK(parse(a, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n", step));
        CHECK(chunked.chunked);
        CHECK(chunked.body == "hello");
        Head length;
        RequestParser b({}, length);
        CHECK(parse(b, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \t\r\nX: v\t\r\n\r\nhello", step));
        CHECK(length.length == 5);
        CHECK(length.body == "hello");
        REQUIRE(length.headers.size() == 3);
        CHECK(length.headers.back() == std::pair<std::string, std::string>("X", "v"));
    }
}

TEST_CASE("a pipelined request after a body keeps its bytes: the filter only sees heads") {
    Head events;
    RequestParser parser({}, events);
    std::string two = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab \t\r\n"
                      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nc\t\n";
    CHECK(parse(parser, two, two.size()));
    CHECK(events.body == "ab \t\r\nc\t\n");
    CHECK(events.completed == 2);
}

TEST_CASE("pipelined heads in one input: each request starts where the last one ended") {
    std::string three = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /2 HTTP/1.1\r\nHost: x\r\nX: a\t\r\n\r\n"
                        "POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n1\r\nz\r\n0\r\n\r\n";
    for (size_t step : {three.size(), size_t{1}, size_t{4}}) {
        CAPTURE(step);
        Head events;
        RequestParser parser({}, events);
        CHECK(parse(parser, three, step));
        CHECK(events.completed == 3);
        CHECK(events.body == "z");
        CHECK(events.headers[2] == std::pair<std::string, std::string>("X", "a"));
    }
}
