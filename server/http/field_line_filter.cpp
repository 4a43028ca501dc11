// SPDX-License-Identifier: MIT
#include "http/field_line_filter.hpp"

#include "http/syntax.hpp"

namespace cppg::http {

namespace {

// Does the piece end in a blank that may end its line: one before its final CR (CRLF), or
// its last byte when the line goes on in the next input. A CR anywhere else, or a bare LF,
// is refused by llhttp whatever the blanks.
bool ends_in_blank(std::string_view piece, bool line_ends) {
    if (line_ends) piece.remove_suffix(1);
    if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
    else if (line_ends) return false;
    return !piece.empty() && is_blank(piece.back());
}

size_t trailing_blanks(std::string_view s) {
    size_t n = 0;
    while (n < s.size() && is_blank(s[s.size() - 1 - n])) ++n;
    return n;
}

}  // namespace

void FieldLineFilter::start() {
    request_line_done_ = false;
    at_line_start_ = true;
    line_has_text_ = false;
    line_ = Line::kRequest;
    held_.clear();
}

// Whole lines that need no change go out together, as a view of `in`, up to the empty line
// that ends a head; a line that changes goes out alone, from the filter's buffer.
std::string_view FieldLineFilter::take(std::string_view in, size_t& used) {
    used = 0;
    while (used < in.size()) {
        size_t lf = in.find('\n', used);
        bool line_ends = lf != std::string_view::npos;
        std::string_view piece = in.substr(used, (line_ends ? lf + 1 : in.size()) - used);
        if (at_line_start_) begin_line(piece.front());
        if (line_ == Line::kField && changes(piece, line_ends)) {
            if (used > 0) {
                at_line_start_ = true;  // this line again, alone, on the next call
                return in.substr(0, used);
            }
            used = piece.size();
            std::string_view out = convert(piece, line_ends);
            end_piece(piece, line_ends);
            return out;
        }
        used += piece.size();
        bool head_ends = line_ == Line::kField && (piece == "\r\n" || piece == "\n");
        end_piece(piece, line_ends);
        if (head_ends) break;  // what follows is a body, or the next request
    }
    return in.substr(0, used);
}

bool FieldLineFilter::changes(std::string_view piece, bool line_ends) const {
    return !held_.empty() || ends_in_blank(piece, line_ends);
}

void FieldLineFilter::end_piece(std::string_view piece, bool line_ends) {
    if (line_ == Line::kRequest)
        line_has_text_ = line_has_text_ || piece.find_first_not_of("\r\n") != std::string_view::npos;
    if (!line_ends) return;
    at_line_start_ = true;
    // Empty lines before the request line are skipped, by llhttp too (RFC 9112 2.2).
    if (line_ == Line::kRequest && line_has_text_) request_line_done_ = true;
}

// The request line is passed as it is; so is a line that starts with a blank (obs-fold,
// which llhttp folds into the value before, or blanks before the first field, refused).
void FieldLineFilter::begin_line(char first) {
    at_line_start_ = false;
    line_has_text_ = false;
    if (!request_line_done_) line_ = Line::kRequest;
    else line_ = is_blank(first) ? Line::kAsIs : Line::kField;
}

std::string_view FieldLineFilter::convert(std::string_view piece, bool line_ends) {
    buffer_.assign(held_).append(piece);
    held_.clear();
    for (size_t cr = buffer_.find('\r'); cr != std::string::npos; cr = buffer_.find('\r', cr + 1)) {
        size_t run = trailing_blanks(std::string_view(buffer_).substr(0, cr));
        if (run <= kMaxHeld) buffer_.replace(cr - run, run, run, ' ');
    }
    if (line_ends) return buffer_;
    size_t blanks = trailing_blanks(buffer_);
    if (blanks > kMaxHeld) {
        line_ = Line::kAsIs;  // too many to hold: the rest of the line passes unchanged
        return buffer_;
    }
    held_.assign(buffer_, buffer_.size() - blanks, blanks);
    buffer_.resize(buffer_.size() - blanks);
    return buffer_;
}

}  // namespace cppg::http
