// SPDX-License-Identifier: MIT
#include "config/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace cppg::config {

namespace {

constexpr std::string_view kAllowed =
    "HOST:PORT or [IPV6]:PORT with a numeric host or localhost, unix:PATH, or fd://N";

bool parse_port(std::string_view text, uint16_t& port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

}  // namespace

std::variant<BindAddress, std::string> parse_bind_address(std::string_view text) {
    if (text.starts_with("unix:")) {
        std::string path(text.substr(5));
        if (path.empty()) return std::string("unix: needs a path");
        if (path.size() >= 108) return std::string("unix socket path is longer than 107 bytes");
        return BindAddress(UnixAddress{path});
    }
    if (text.starts_with("fd://")) {
        int fd = -1;
        std::string_view digits = text.substr(5);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
        if (ec != std::errc() || end != digits.data() + digits.size() || fd < 0)
            return std::string("fd:// needs a file descriptor number");
        return BindAddress(FdAddress{fd});
    }
    TcpAddress addr;
    std::string_view port_text;
    if (text.starts_with("[")) {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::string("expected ") + std::string(kAllowed);
        addr.host = std::string(text.substr(1, close - 1));
        addr.ipv6 = true;
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::string("missing :PORT; expected ") + std::string(kAllowed);
        addr.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        if (addr.host == "localhost") addr.host = "127.0.0.1";
        if (addr.host.empty()) addr.host = "0.0.0.0";
    }
    if (!parse_port(port_text, addr.port)) return std::string("port must be a number 0..65535");
    unsigned char buf[16];
    int family = addr.ipv6 ? AF_INET6 : AF_INET;
    if (inet_pton(family, addr.host.c_str(), buf) != 1)
        return "'" + addr.host + "' is not a numeric " + (addr.ipv6 ? "IPv6" : "IPv4") +
               " address; expected " + std::string(kAllowed);
    return BindAddress(addr);
}

socklen_t to_sockaddr(const BindAddress& address, sockaddr_storage& out) {
    out = sockaddr_storage{};
    if (const auto* a = std::get_if<TcpAddress>(&address)) {
        if (a->ipv6) {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(a->port);
            inet_pton(AF_INET6, a->host.c_str(), &sin6->sin6_addr);
            return sizeof *sin6;
        }
        auto* sin = reinterpret_cast<sockaddr_in*>(&out);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        inet_pton(AF_INET, a->host.c_str(), &sin->sin_addr);
        return sizeof *sin;
    }
    if (const auto* u = std::get_if<UnixAddress>(&address)) {
        auto* sun = reinterpret_cast<sockaddr_un*>(&out);
        sun->sun_family = AF_UNIX;
        std::memcpy(sun->sun_path, u->path.data(), std::min(u->path.size(), sizeof sun->sun_path - 1));
        return sizeof *sun;
    }
    return 0;
}

}  // namespace cppg::config
