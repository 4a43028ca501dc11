// SPDX-License-Identifier: MIT
// Character classes and small productions of RFC 9110 5.6 (tokens, whitespace, quoted
// strings), shared by everything in http/ that reads or checks protocol text.
#pragma once

#include <cstddef>
#include <string_view>

namespace cppg::http {

// tchar: what a token (a field name, a method, a coding) is made of.
inline bool is_tchar(unsigned char c) {
    static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

// OWS and BWS are runs of these.
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

// A quoted-string starting at s[0] (a DQUOTE): its length, closing DQUOTE included, or 0
// when it is not one (unterminated, or a control character inside).
inline size_t quoted_string_length(std::string_view s) {
    auto qdtext = [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f); };
    auto escapable = [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); };
    if (s.empty() || s[0] != '"') return 0;
    for (size_t i = 1; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i == s.size() || !escapable(static_cast<unsigned char>(s[i]))) return 0;
        } else if (!qdtext(c)) {
            return 0;
        }
    }
    return 0;
}

}  // namespace cppg::http
