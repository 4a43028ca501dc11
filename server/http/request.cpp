// SPDX-License-Identifier: MIT
#include "http/request.hpp"

#include <strings.h>

namespace cppg::http {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Request::header(std::string_view name) const {
    for (const auto& h : headers_)
        if (iequals(view(h.name), name)) return view(h.value);
    return {};
}

std::string Request::joined_header(std::string_view name) const {
    std::string out;
    bool first = true;
    for (const auto& h : headers_) {
        if (!iequals(view(h.name), name)) continue;
        if (!first) out += ", ";
        out += view(h.value);
        first = false;
    }
    return out;
}

void Request::clear() {
    bytes_.clear();
    headers_.clear();
    method_ = target_ = path_ = query_ = host_ = Span{};
    minor_ = 1;
    keep_alive_ = true;
    expect_continue_ = false;
    chunked_ = false;
    content_length_ = -1;
}

Span Request::append(std::string_view text) {
    Span s{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(text.size())};
    bytes_.append(text);
    return s;
}

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

}  // namespace cppg::http
