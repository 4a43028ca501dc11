// SPDX-License-Identifier: MIT
#include "http/chunk_line_filter.hpp"

#include <algorithm>

#include "http/syntax.hpp"

namespace cppg::http {

namespace {

constexpr uint64_t kMaxChunkSize = uint64_t{1} << 62;

size_t skip_blanks(std::string_view s, size_t i) {
    while (i < s.size() && is_blank(s[i])) ++i;
    return i;
}

size_t skip_token(std::string_view s, size_t i) {
    while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i]))) ++i;
    return i;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One extension from its ';' on: ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ].
// Returns the index after it, or npos when it breaks the grammar.
size_t skip_extension(std::string_view line, size_t semicolon) {
    size_t name = skip_blanks(line, semicolon + 1);
    size_t end = skip_token(line, name);
    if (end == name) return std::string_view::npos;
    size_t eq = skip_blanks(line, end);
    if (eq == line.size() || line[eq] != '=') return end;  // no value: blanks are not its
    size_t value = skip_blanks(line, eq + 1);
    if (value < line.size() && line[value] == '"') {
        size_t quoted = quoted_string_length(line.substr(value));
        return quoted == 0 ? std::string_view::npos : value + quoted;
    }
    end = skip_token(line, value);
    return end == value ? std::string_view::npos : end;
}

}  // namespace

ChunkSizeLine parse_chunk_size_line(std::string_view line) {
    if (!line.ends_with("\r\n")) return {0, {}, "a chunk size line must end with CRLF"};
    line.remove_suffix(2);
    ChunkSizeLine out;
    size_t i = 0;
    for (int digit; i < line.size() && (digit = hex_value(line[i])) >= 0; ++i) {
        if (out.size >= kMaxChunkSize >> 4) return {0, {}, "chunk size is too large"};
        out.size = out.size << 4 | static_cast<uint64_t>(digit);
    }
    if (i == 0) return {0, {}, "invalid chunk size"};
    out.digits = line.substr(0, i);
    // BWS belongs to an extension: blanks not followed by ';' end the loop and are refused.
    for (size_t next; (next = skip_blanks(line, i)) < line.size() && line[next] == ';';) {
        i = skip_extension(line, next);
        if (i == std::string_view::npos) return {0, {}, "invalid chunk extension"};
    }
    if (i == line.size()) return out;
    return {0, {}, i > out.digits.size() ? "invalid chunk extension" : "invalid chunk size"};
}

void ChunkLineFilter::start() {
    state_ = State::kSizeLine;
    line_.clear();
    data_left_ = 0;
    error_ = {};
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
        if (line_.size() + (end - used) > kMaxLine) {
            error_ = "a chunk size line is longer than 4096 bytes";
            return kRefused;
        }
        line_.append(in.substr(used, end - used));
        used = end;
        if (lf != std::string_view::npos && !finish_line(out)) return kRefused;
    }
    return used;
}

// A whole size line: pass llhttp the size alone, and follow the framing it announces.
bool ChunkLineFilter::finish_line(std::string& out) {
    ChunkSizeLine line = parse_chunk_size_line(line_);
    if (!line.error.empty()) {
        error_ = line.error;
        return false;
    }
    out.append(line.digits).append("\r\n");
    line_.clear();
    if (line.size == 0) {
        state_ = State::kOff;  // the last chunk: trailers follow
        return true;
    }
    state_ = State::kData;
    data_left_ = line.size + 2;  // the data, then its CRLF (llhttp checks that it is one)
    return true;
}

}  // namespace cppg::http
