// SPDX-License-Identifier: MIT
// Parsing of --bind addresses.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace cppg::config {

struct TcpAddress {
    std::string host;  // numeric IPv4 or IPv6 address, without brackets
    uint16_t port = 0;
    bool ipv6 = false;
};

struct UnixAddress {
    std::string path;
};

struct FdAddress {
    int fd = -1;  // an inherited listening socket
};

using BindAddress = std::variant<TcpAddress, UnixAddress, FdAddress>;

// The socket address of a TCP or unix address, in `out`; returns its length (0 for fd://).
socklen_t to_sockaddr(const BindAddress& address, sockaddr_storage& out);

// Parses "HOST:PORT", "[IPV6]:PORT", "unix:PATH" or "fd://N". HOST must be numeric or
// "localhost". Returns the address or an error text saying what is allowed.
std::variant<BindAddress, std::string> parse_bind_address(std::string_view text);

}  // namespace cppg::config
