// SPDX-License-Identifier: MIT
// The PROXY protocol, version 1 (text), as HAProxy, nginx and AWS load balancers send it:
//   "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n" before the first request.
#pragma once

#include <string>
#include <string_view>

namespace cppg::http {

struct ProxyHeader {
    std::string source_addr;  // empty for "PROXY UNKNOWN"
    std::string source_port;
};

enum class ProxyParse { kNeedMore, kDone, kInvalid };

// The longest v1 line, CRLF included (the specification's 107 bytes).
constexpr size_t kMaxProxyLine = 107;

// Parses a v1 line at the start of `input`. On kDone, `consumed` is the line's length.
ProxyParse parse_proxy_v1(std::string_view input, ProxyHeader& out, size_t& consumed);

}  // namespace cppg::http
