// Binding the listening sockets. The master does this before any worker exists, so that
// workers inherit the sockets and a restart never closes them.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace cppg::master {

struct Listener {
    int fd = -1;
    std::string url;  // "http://127.0.0.1:8000", for logs
};

// Binds and listens on every address; an error names the address and the failed call.
std::variant<std::vector<Listener>, std::string> bind_listeners(
    const std::vector<std::string>& addresses, int backlog);

}  // namespace cppg::master
