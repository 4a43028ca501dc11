// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "http/chunk_line_filter.hpp"
#include "http/parser.hpp"

using cppg::http::ChunkLineFilter;
using cppg::http::RequestParser;
using cppg::http::strip_chunk_line_bws;

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

TEST_CASE("chunk size lines lose their BWS, quoted extension values keep their blanks") {
    CHECK(strip_chunk_line_bws("5 ;a=b\r\n") == "5;a=b\r\n");
    CHECK(strip_chunk_line_bws("5\t; a = b ;c\r\n") == "5;a=b;c\r\n");
    CHECK(strip_chunk_line_bws("a;n=\"x y\\\" z\"\r\n") == "a;n=\"x y\\\" z\"\r\n");
    CHECK(strip_chunk_line_bws("5 \r\n") == "5 \r\n");          // not BWS: refused later
    CHECK(strip_chunk_line_bws("5;a=b c\r\n") == "5;a=b c\r\n");
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
