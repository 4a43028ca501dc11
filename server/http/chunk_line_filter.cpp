// SPDX-License-Identifier: MIT
#include "http/chunk_line_filter.hpp"

#include <algorithm>
#include <charconv>

namespace cppg::http {

// BWS is the whitespace next to ';' and '=' (outside quoted strings); any other blank is
// not the grammar's and stays, for llhttp to refuse ("5 \r\n", "a=b c").
std::string strip_chunk_line_bws(std::string_view line) {
    auto blank = [](char c) { return c == ' ' || c == '\t'; };
    auto separator = [](char c) { return c == ';' || c == '='; };
    std::string out;
    out.reserve(line.size());
    bool quoted = false, escaped = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            out.push_back(c);
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') quoted = false;
            continue;
        }
        if (blank(c)) {
            size_t next = i;
            while (next < line.size() && blank(line[next])) ++next;
            bool after_separator = !out.empty() && separator(out.back());
            bool before_separator = next < line.size() && separator(line[next]);
            if (!after_separator && !before_separator) out.append(line.substr(i, next - i));
            i = next - 1;
            continue;
        }
        if (c == '"') quoted = true;
        out.push_back(c);
    }
    return out;
}

void ChunkLineFilter::start() {
    state_ = State::kSizeLine;
    line_.clear();
    data_left_ = 0;
}

size_t ChunkLineFilter::take(std::string_view in, std::string& out) {
    size_t used = 0;
    while (used < in.size() && state_ != State::kOff) {
        if (state_ == State::kData) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(data_left_, in.size() - used));
            out.append(in.substr(used, n));
            used += n;
            data_left_ -= n;
            if (data_left_ == 0) state_ = State::kSizeLine;
            continue;
        }
        size_t lf = in.find('\n', used);
        size_t end = lf == std::string_view::npos ? in.size() : lf + 1;
        if (line_.size() + (end - used) > kMaxLine) return kTooLong;
        line_.append(in.substr(used, end - used));
        used = end;
        if (lf != std::string_view::npos) finish_line(out);
    }
    return used;
}

// A whole size line: pass it on without BWS, and follow the framing it announces. A line
// that does not start with a hex size is passed on as it came, for llhttp to refuse.
void ChunkLineFilter::finish_line(std::string& out) {
    uint64_t size = 0;
    auto [end, ec] = std::from_chars(line_.data(), line_.data() + line_.size(), size, 16);
    // No size, or one no body could have (llhttp refuses it as the line arrives).
    bool sized = ec == std::errc() && end != line_.data() && size < (uint64_t{1} << 62);
    out += sized ? strip_chunk_line_bws(line_) : line_;
    line_.clear();
    if (!sized || size == 0) {
        state_ = State::kOff;  // the last chunk: trailers follow, or an error
        return;
    }
    state_ = State::kData;
    data_left_ = size + 2;  // the data, then its CRLF (llhttp checks that it is one)
}

}  // namespace cppg::http
