// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "http/chunk_line_filter.hpp"
#include "http/parser.hpp"

using cppg::http::ChunkLineFilter;
using cppg::http::RequestParser;
using cppg::http::parse_chunk_size_line;

namespace {

struct Body final : cppg::http::ParserEvents {
    std::string body;
    int completed = 0;
    void on_request_head(const cppg::http::Request&) override {}
    void on_request_body(std::string_view d) override { body += d; }
    void on_request_complete() override { ++completed; }
};

// Feeds `input` cut into pieces of `step` bytes (0: whole), resuming after each request.
// Returns the parser's final status; `events` has the bodies.
RequestParser::Status feed_in_steps(RequestParser& parser, std::string_view input, size_t step) {
    auto status = RequestParser::Status::kNeedMore;
    while (!input.empty()) {
        size_t n = step == 0 ? input.size() : std::min(step, input.size());
        auto r = parser.feed(input.data(), n);
        status = r.status;
        if (r.status == RequestParser::Status::kError) return r.status;
        if (r.status == RequestParser::Status::kPaused) {
            input.remove_prefix(r.consumed);
            parser.resume();
        } else {
            input.remove_prefix(n);
        }
    }
    return status;
}

constexpr std::string_view kHead =
    "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_CASE("every chunk-extension form of RFC 9112 7.1.1 is accepted and ignored") {
    for (std::string_view line : {"5\r\n", "5;a\r\n", "5;a=b\r\n", "5;a=1;b=2\r\n", "5 ;a=b\r\n",
                                  "5\t; a = b ;c\r\n", "5;n=\"x y\"\r\n", "5;n=\"a\\\"b\"\r\n",
                                  "5;n=\"\"\r\n", "5;n=\"tab\there\"\r\n", "5;n=\"\xe9\"\r\n",
                                  "5;!#$%&'*+-.^_`|~=x\r\n", "5 ; a = \"q\" ; b ; c = d\r\n"}) {
        CAPTURE(line);
        auto parsed = parse_chunk_size_line(line);
        CHECK(parsed.error.empty());
        CHECK(parsed.size == 5);
        CHECK(parsed.digits == "5");
    }
    CHECK(parse_chunk_size_line("0;ext=1\r\n").error.empty());
    CHECK(parse_chunk_size_line("00a\r\n").size == 10);
    CHECK(parse_chunk_size_line("3FFFFFFFFFFFFFFF\r\n").size == (uint64_t{1} << 62) - 1);
}

TEST_CASE("chunk size lines that break the grammar are refused, with the reason") {
    for (std::string_view line : {"5;\r\n", "5;a \r\n", "5;a=\r\n", "5;=b\r\n", "5;a=b c\r\n",
                                  "5;a=\"open\r\n", "5;a=\"x\\\r\n", "5;a=\x01\r\n", "5;a=\"\x01\"\r\n",
                                  "5;a@=1\r\n", "5;a=b;\r\n", "5;a=\"x\"y\r\n", "5;a=\"x\x7f\"\r\n"}) {
        CAPTURE(line);
        CHECK(parse_chunk_size_line(line).error == "invalid chunk extension");
    }
    CHECK(parse_chunk_size_line("5 \r\n").error == "invalid chunk size");  // blanks, no ';'
    CHECK(parse_chunk_size_line("5x\r\n").error == "invalid chunk size");
    CHECK(parse_chunk_size_line("5\n").error == "a chunk size line must end with CRLF");
    CHECK(parse_chunk_size_line("5;a=b\n").error == "a chunk size line must end with CRLF");
    CHECK(parse_chunk_size_line("5;a=\"\r\"\r\n").error == "invalid chunk extension");
    CHECK(parse_chunk_size_line("z\r\n").error == "invalid chunk size");
    CHECK(parse_chunk_size_line(";a\r\n").error == "invalid chunk size");
    CHECK(parse_chunk_size_line("4000000000000000\r\n").error == "chunk size is too large");
    CHECK(parse_chunk_size_line("FFFFFFFFFFFFFFFFF\r\n").error == "chunk size is too large");
}

TEST_CASE("chunk extensions with BWS are accepted, whole and byte by byte") {
    std::string input = std::string(kHead) +
                        "5 ;a=b\r\nhello\r\n6\t; c = \"d e\"\r\n world\r\n0 ; last\r\nX-Sum: 11\r\n\r\n" +
                        std::string(kHead) + "3\r\nabc\r\n0\r\n\r\n";
    for (size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{64}}) {
        CAPTURE(step);
        Body events;
        RequestParser parser({}, events);
        CHECK(feed_in_steps(parser, input, step) != RequestParser::Status::kError);
        CHECK(events.body == "hello worldabc");
        CHECK(events.completed == 2);
    }
}

TEST_CASE("several extensions, quoted-pairs and extensions on the last chunk pass the parser") {
    std::string input = std::string(kHead) + "5;a=1;b=\"x\\\"y z\"\r\nhello\r\n0 ; end = \"1\"\r\n\r\n";
    for (size_t step : {size_t{0}, size_t{1}, size_t{3}}) {
        CAPTURE(step);
        Body events;
        RequestParser parser({}, events);
        CHECK(feed_in_steps(parser, input, step) != RequestParser::Status::kError);
        CHECK(events.body == "hello");
        CHECK(events.completed == 1);
    }
}

TEST_CASE("what llhttp refuses in chunked framing is still refused behind the filter") {
    for (std::string_view chunks : {std::string_view("5x\r\nhello\r\n0\r\n\r\n"),        // bad size
                                    std::string_view("5\r\nhelloXX\r\n0\r\n\r\n"),        // data too long
                                    std::string_view("5 \r\nhello\r\n0\r\n\r\n"),         // Bws, no ext
                                    std::string_view("FFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n"),  // overflow
                                    std::string_view("5;\r\nhello\r\n0\r\n\r\n")}) {      // empty ext
        CAPTURE(chunks);
        Body events;
        RequestParser parser({}, events);
        auto status = feed_in_steps(parser, std::string(kHead) + std::string(chunks), 0);
        CHECK(status == RequestParser::Status::kError);
    }
}

TEST_CASE("a size line longer than the filter's bound is a 400") {
    Body events;
    RequestParser parser({}, events);
    std::string line = "5;" + std::string(ChunkLineFilter::kMaxLine, 'a');
    CHECK(feed_in_steps(parser, std::string(kHead) + line, 0) == RequestParser::Status::kError);
    CHECK(parser.error_status() == 400);
}
