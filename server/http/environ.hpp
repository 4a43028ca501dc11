// SPDX-License-Identifier: MIT
// The CGI/WSGI environ of a request: what an app reads through the ABI's environ_get. A pure
// function of the parsed request and what the server knows of the connection, so that the
// rules (PATH_INFO, SERVER_NAME from Host, HTTP_* names, joined repeats) are tested alone.
#pragma once

#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "http/request.hpp"

namespace cppg::http {

// Fixed facts about the connection a request came on.
struct PeerInfo {
    std::string remote_addr;   // "127.0.0.1"; from the PROXY line when there is one
    std::string remote_port;
    std::string server_name;   // the local address (or the unix socket's path)
    std::string server_port;
    bool trusted_proxy = false;  // may set X-Forwarded-Proto (forwarded_allow_ips)
};

// Storage for values that are not slices of the request (repeated headers joined with ", ").
// Addresses stay valid until it is cleared; a list, because an empty deque allocates.
using EnvironScratch = std::list<std::pair<std::string, std::string>>;

// The value of `key` (REQUEST_METHOD, PATH_INFO, HTTP_USER_AGENT, ...), or nullopt when the
// request has no such variable. Views point into `request`, `peer` or `scratch`.
std::optional<std::string_view> environ_value(const Request& request, const PeerInfo& peer,
                                              std::string_view key, EnvironScratch& scratch);

}  // namespace cppg::http
