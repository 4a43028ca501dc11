// SPDX-License-Identifier: MIT
// Chunk extensions with optional whitespace, as RFC 9112 7.1.1 allows them:
//     chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
// llhttp 8 refuses the whitespace ("5 ;a=b") that recipients must accept. This sits in front
// of llhttp for a chunked body: it follows the chunk framing only to know where each size
// line is, and passes those lines on without the BWS. Everything else, and all validation,
// is llhttp's. Pure: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cppg::http {

class ChunkLineFilter {
public:
    // A size line, extensions included, longer than this is refused.
    static constexpr size_t kMaxLine = 4096;

    // The chunked body of a request starts with the next byte.
    void start();
    // Filtering ends with the last chunk's size line: the trailers pass as they are.
    bool active() const { return state_ != State::kOff; }

    // Takes input up to the end of `in` or the end of the filtered part, whichever comes
    // first; appends what llhttp should see to `out`. Returns the bytes of `in` used, or
    // kTooLong when a size line exceeds kMaxLine.
    static constexpr size_t kTooLong = static_cast<size_t>(-1);
    size_t take(std::string_view in, std::string& out);

private:
    enum class State { kOff, kSizeLine, kData };
    void finish_line(std::string& out);

    State state_ = State::kOff;
    std::string line_;        // the size line so far
    uint64_t data_left_ = 0;  // chunk data and its CRLF still to pass through
};

// A size line without its BWS: "5 ; a = b\r\n" -> "5;a=b\r\n". Blanks elsewhere, and in
// quoted strings, stay. Exposed for the unit tests.
std::string strip_chunk_line_bws(std::string_view line);

}  // namespace cppg::http
