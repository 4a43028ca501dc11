#include "http/field_line_filter.hpp"

#include "http/syntax.hpp"

namespace cppg::http {

namespace {

// A blank right before a CR: the end of a run that ends the line (a CR anywhere else in a
// field line is refused by llhttp whatever its blanks).
bool blank_before_cr(std::string_view s) {
    for (size_t cr = s.find('\r'); cr != std::string_view::npos; cr = s.find('\r', cr + 1))
        if (cr > 0 && is_blank(s[cr - 1])) return true;
    return false;
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

std::string_view FieldLineFilter::take(std::string_view in, size_t& used) {
    size_t lf = in.find('\n');
    used = lf == std::string_view::npos ? in.size() : lf + 1;
    std::string_view piece = in.substr(0, used);
    if (piece.empty()) return piece;
    if (at_line_start_) begin_line(piece.front());
    bool line_ends = lf != std::string_view::npos;
    std::string_view out = piece;
    if (line_ == Line::kField) out = convert(piece, line_ends);
    if (line_ == Line::kRequest) line_has_text_ = line_has_text_ || piece.find_first_not_of("\r\n") != std::string_view::npos;
    if (line_ends) {
        at_line_start_ = true;
        // Empty lines before the request line are skipped, by llhttp too (RFC 9112 2.2).
        if (line_ == Line::kRequest && line_has_text_) request_line_done_ = true;
    }
    return out;
}

// The request line is passed as it is; so is a line that starts with a blank (obs-fold, or
// blanks before the first field: llhttp refuses both).
void FieldLineFilter::begin_line(char first) {
    at_line_start_ = false;
    line_has_text_ = false;
    if (!request_line_done_) line_ = Line::kRequest;
    else line_ = is_blank(first) ? Line::kAsIs : Line::kField;
}

std::string_view FieldLineFilter::convert(std::string_view piece, bool line_ends) {
    bool may_hold = !line_ends && is_blank(piece.back());
    if (held_.empty() && !may_hold && !blank_before_cr(piece)) return piece;
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
