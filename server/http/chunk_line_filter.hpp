// SPDX-License-Identifier: MIT
// Chunk size lines, read here by RFC 9112 7.1 and 7.1.1 rather than by llhttp:
//     chunk-size [ chunk-ext ] CRLF
//     chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
// llhttp 8 refuses forms that recipients must accept (BWS, quoted-pairs, several
// extensions). So this sits in front of llhttp for a chunked body: it follows the chunk
// framing only to find each size line, checks the whole line by the grammar above, and
// passes llhttp the size alone ("5;a=b\r\n" -> "5\r\n"). Extensions are ignored, as RFC
// 9112 7.1.1 lets a recipient do. Chunk data, its CRLF and the trailers are llhttp's.
// Pure: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cppg::http {

// One size line read: the size, or why the line is refused.
struct ChunkSizeLine {
    uint64_t size = 0;
    std::string_view digits;  // the size as sent, for llhttp
    std::string_view error;   // empty: a valid line
};

// Reads a whole size line, its CRLF included. Sizes from 2^62 up are refused: no body has
// them, and the filter's count of data still to come must not overflow.
ChunkSizeLine parse_chunk_size_line(std::string_view line);

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
    // kRefused when a size line is invalid or longer than kMaxLine; error() says why.
    static constexpr size_t kRefused = static_cast<size_t>(-1);
    size_t take(std::string_view in, std::string& out);
    std::string_view error() const { return error_; }

private:
    enum class State { kOff, kSizeLine, kData };
    bool finish_line(std::string& out);

    State state_ = State::kOff;
    std::string line_;        // the size line so far
    uint64_t data_left_ = 0;  // chunk data and its CRLF still to pass through
    std::string_view error_;
};

}  // namespace cppg::http
