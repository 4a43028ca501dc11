// SPDX-License-Identifier: MIT
// libFuzzer target for the HTTP input path: arbitrary bytes, cut at arbitrary points, must
// never crash the parser, and every request it accepts must be internally consistent.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/parser.hpp"

namespace {

struct Checker final : cppg::http::ParserEvents {
    void on_request_head(const cppg::http::Request& r) override {
        // Touch every view so ASan sees any span pointing outside the buffer.
        volatile size_t sink = r.method().size() + r.target().size() + r.path().size() +
                               r.query().size() + r.host().size();
        for (size_t i = 0; i < r.header_count(); ++i)
            sink = sink + r.header_name(i).size() + r.header_value(i).size();
        if (r.chunked() && r.content_length() >= 0) std::abort();  // CL+TE must never pass
    }
    void on_request_body(std::string_view data) override { body_bytes += data.size(); }
    void on_request_complete() override {}
    size_t body_bytes = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks where the input is split, as a socket would.
    size_t split = data[0] % size;
    const char* bytes = reinterpret_cast<const char*>(data + 1);
    size_t len = size - 1;
    Checker checker;
    cppg::http::RequestParser parser(cppg::http::ParserLimits{200, 10, 100, 1000}, checker);
    size_t pieces[2] = {std::min(split, len), len - std::min(split, len)};
    for (size_t piece : pieces) {
        while (piece > 0) {
            auto r = parser.feed(bytes, piece);
            if (r.status == cppg::http::RequestParser::Status::kError) return 0;
            if (r.status == cppg::http::RequestParser::Status::kNeedMore) {
                bytes += piece;
                break;
            }
            bytes += r.consumed;
            piece -= r.consumed;
            parser.resume();
        }
    }
    return 0;
}
