// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "http/proxy_protocol.hpp"

using cppg::http::parse_proxy_v1;
using cppg::http::ProxyHeader;
using cppg::http::ProxyParse;

TEST_CASE("a PROXY v1 line gives the client's address and port") {
    ProxyHeader h;
    size_t used = 0;
    std::string input = "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\nGET / HTTP/1.1\r\n";
    CHECK(parse_proxy_v1(input, h, used) == ProxyParse::kDone);
    CHECK(h.source_addr == "203.0.113.7");
    CHECK(h.source_port == "51234");
    CHECK(input.substr(used) == "GET / HTTP/1.1\r\n");
    CHECK(parse_proxy_v1("PROXY TCP6 2001:db8::1 ::1 1 2\r\n", h, used) == ProxyParse::kDone);
    CHECK(h.source_addr == "2001:db8::1");
}

TEST_CASE("UNKNOWN keeps the connection's own address") {
    ProxyHeader h{"x", "y"};
    size_t used = 0;
    CHECK(parse_proxy_v1("PROXY UNKNOWN\r\n", h, used) == ProxyParse::kDone);
    CHECK(h.source_addr.empty());
    CHECK(used == 15);
}

TEST_CASE("partial lines wait, and malformed or oversized lines are refused") {
    ProxyHeader h;
    size_t used = 0;
    CHECK(parse_proxy_v1("PRO", h, used) == ProxyParse::kNeedMore);
    CHECK(parse_proxy_v1("PROXY TCP4 1.2.3.4", h, used) == ProxyParse::kNeedMore);
    CHECK(parse_proxy_v1("GET / HTTP/1.1\r\n", h, used) == ProxyParse::kInvalid);
    CHECK(parse_proxy_v1("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", h, used) == ProxyParse::kInvalid);
    CHECK(parse_proxy_v1("PROXY TCP4 1.2.3.4 4.5.6.7 1 99999\r\n", h, used) == ProxyParse::kInvalid);
    CHECK(parse_proxy_v1("PROXY TCP6 1.2.3.4 4.5.6.7 1 2\r\n", h, used) == ProxyParse::kInvalid);
    CHECK(parse_proxy_v1("PROXY " + std::string(120, 'x'), h, used) == ProxyParse::kInvalid);
}
