// SPDX-License-Identifier: MIT
// Field lines of a request head reach llhttp with the blanks that end a value as spaces.
// RFC 9110 5.5: whitespace around a field value is not part of it. llhttp 8 reads a
// trailing SP as such, but not a trailing HTAB, in the fields it judges itself
// (Content-Length, Transfer-Encoding, Connection): "chunked\t" would be refused and
// "close\t" not seen. So each HTAB of a blank run that ends a field line becomes a SP
// before llhttp sees it. Nothing changes length: llhttp's positions stay the input's, and
// the parser's size limits count the same bytes. Pure: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cppg::http {

class FieldLineFilter {
public:
    // Blanks are held back until the next byte shows whether they end the line. A run
    // longer than this passes as it is, however it arrives (then llhttp and the parser's
    // limits judge it).
    static constexpr size_t kMaxHeld = 1024;

    // A request head (or the empty lines before one) starts with the next byte.
    void start();

    // Takes input from `in`, at most up to the empty line that ends a head, and sets `used`
    // to the bytes taken. Returns what llhttp should see: a view of `in` (whole lines, and
    // the start of the next), or of the filter's own buffer (valid until the next call) for
    // one line whose blanks changed or were held. A line that changes is never passed with
    // the lines before it, so llhttp has read those before the filter changes anything.
    std::string_view take(std::string_view in, size_t& used);

private:
    enum class Line { kRequest, kField, kAsIs };
    void begin_line(char first);
    bool changes(std::string_view piece, bool line_ends) const;
    std::string_view convert(std::string_view piece, bool line_ends);
    void end_piece(std::string_view piece, bool line_ends);

    bool request_line_done_ = false;
    bool at_line_start_ = true;
    bool line_has_text_ = false;  // the request line so far is more than an empty line
    Line line_ = Line::kRequest;
    std::string held_;    // blanks that may end the line
    std::string buffer_;  // the last changed output
};

}  // namespace cppg::http
