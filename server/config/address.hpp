// Parsing of --bind addresses.
#pragma once

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

// Parses "HOST:PORT" or "[IPV6]:PORT". HOST must be numeric or "localhost".
// Returns the address or an error text saying what is allowed.
std::variant<TcpAddress, std::string> parse_bind_address(std::string_view text);

}  // namespace cppg::config
