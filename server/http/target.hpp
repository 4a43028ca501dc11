// SPDX-License-Identifier: MIT
// The absolute-form of a request target (RFC 9112 3.2.2), by RFC 3986's grammar:
//     absolute-form = scheme "://" authority path-abempty [ "?" query ]
//     authority     = host [ ":" port ]           (no userinfo: RFC 9110 4.2.4)
//     host          = IP-literal / IPv4address / reg-name, not empty (RFC 9110 4.2.1)
// llhttp checks the characters of a target, not this grammar. Pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace cppg::http {

struct AbsoluteTarget {
    std::string_view scheme;
    std::string_view authority;  // host [":" port]: what replaces the Host header
    std::string_view rest;       // path-abempty [ "?" query ], maybe empty
};

// The parts of an absolute-form target, or nullopt when it breaks the grammar above.
std::optional<AbsoluteTarget> split_absolute_form(std::string_view target);

// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool valid_scheme(std::string_view scheme);

// host [ ":" port ], port = *DIGIT; the host an IP-literal ("[::1]", "[v1.x]"), or a
// reg-name (IPv4 addresses included) of unreserved, pct-encoded and sub-delims characters.
bool valid_authority(std::string_view authority);

}  // namespace cppg::http
