// SPDX-License-Identifier: MIT
#include "http/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <vector>

#include "util/split.hpp"

namespace cppg::http {

namespace {

bool valid_port(std::string_view text) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && end == text.data() + text.size() && port <= 65535 && !text.empty();
}

bool valid_address(std::string_view text, int family) {
    unsigned char buf[16];
    return inet_pton(family, std::string(text).c_str(), buf) == 1;
}

}  // namespace

ProxyParse parse_proxy_v1(std::string_view input, ProxyHeader& out, size_t& consumed) {
    constexpr std::string_view kPrefix = "PROXY ";
    size_t compare = std::min(input.size(), kPrefix.size());
    if (input.substr(0, compare) != kPrefix.substr(0, compare)) return ProxyParse::kInvalid;
    auto end = input.find("\r\n");
    if (end == std::string_view::npos)
        return input.size() >= kMaxProxyLine ? ProxyParse::kInvalid : ProxyParse::kNeedMore;
    if (end + 2 > kMaxProxyLine) return ProxyParse::kInvalid;
    auto fields = util::split(input.substr(0, end), ' ');
    consumed = end + 2;
    if (fields.size() >= 2 && fields[1] == "UNKNOWN") {
        out = ProxyHeader{};
        return ProxyParse::kDone;
    }
    if (fields.size() != 6) return ProxyParse::kInvalid;
    int family = fields[1] == "TCP4" ? AF_INET : fields[1] == "TCP6" ? AF_INET6 : -1;
    if (family < 0 || !valid_address(fields[2], family) || !valid_address(fields[3], family) ||
        !valid_port(fields[4]) || !valid_port(fields[5]))
        return ProxyParse::kInvalid;
    out = ProxyHeader{std::string(fields[2]), std::string(fields[4])};
    return ProxyParse::kDone;
}

}  // namespace cppg::http
