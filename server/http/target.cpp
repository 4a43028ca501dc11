// SPDX-License-Identifier: MIT
#include "http/target.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

namespace cppg::http {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_unreserved(char c) { return is_alpha(c) || is_digit(c) || std::string_view("-._~").find(c) != std::string_view::npos; }
bool is_sub_delim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }

bool all_digits(std::string_view s) {
    for (char c : s)
        if (!is_digit(c)) return false;
    return true;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ), here not empty.
bool valid_reg_name(std::string_view name) {
    if (name.empty()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c == '%') {
            if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
            i += 2;
        } else if (!is_unreserved(c) && !is_sub_delim(c)) {
            return false;
        }
    }
    return true;
}

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool valid_ipvfuture(std::string_view s) {
    if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
    size_t dot = s.find('.');
    if (dot == std::string_view::npos || dot == 1 || dot + 1 == s.size()) return false;
    for (char c : s.substr(1, dot - 1))
        if (!is_hex(c)) return false;
    for (char c : s.substr(dot + 1))
        if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
    return true;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]", brackets excluded here. inet_pton takes
// exactly RFC 4291's text forms, which are RFC 3986's IPv6address.
bool valid_ip_literal(std::string_view inside) {
    if (valid_ipvfuture(inside)) return true;
    if (inside.size() > 45) return false;  // the longest IPv6 text form
    in6_addr addr{};
    return inet_pton(AF_INET6, std::string(inside).c_str(), &addr) == 1;
}

}  // namespace

bool valid_scheme(std::string_view scheme) {
    if (scheme.empty() || !is_alpha(scheme[0])) return false;
    for (char c : scheme)
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
    return true;
}

bool valid_authority(std::string_view authority) {
    size_t host_end = 0;
    if (!authority.empty() && authority[0] == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos || !valid_ip_literal(authority.substr(1, close - 1))) return false;
        host_end = close + 1;
    } else {
        host_end = std::min(authority.find(':'), authority.size());  // a reg-name has no ':'
        if (!valid_reg_name(authority.substr(0, host_end))) return false;
    }
    std::string_view port = authority.substr(host_end);
    return port.empty() || (port[0] == ':' && all_digits(port.substr(1)));
}

std::optional<AbsoluteTarget> split_absolute_form(std::string_view target) {
    size_t colon = target.find(':');
    if (colon == std::string_view::npos || target.substr(colon, 3) != "://") return std::nullopt;
    AbsoluteTarget out;
    out.scheme = target.substr(0, colon);
    size_t start = colon + 3;
    size_t end = target.find_first_of("/?#", start);
    if (end == std::string_view::npos) end = target.size();
    out.authority = target.substr(start, end - start);
    out.rest = target.substr(end);
    if (!valid_scheme(out.scheme) || !valid_authority(out.authority)) return std::nullopt;
    return out;
}

}  // namespace cppg::http
