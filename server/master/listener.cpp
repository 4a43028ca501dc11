#include "master/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/address.hpp"

namespace cppg::master {

namespace {

std::string sys_error(const char* call, const std::string& what) {
    int err = errno;
    return std::string(call) + "(" + what + ") failed (" + std::to_string(err) + ": " +
           std::strerror(err) + ")";
}

std::variant<Listener, std::string> bind_one(const config::TcpAddress& a, int backlog) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    std::string display = a.ipv6 ? "[" + a.host + "]:" + std::to_string(a.port)
                                 : a.host + ":" + std::to_string(a.port);
    if (a.ipv6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a.port);
        inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr);
        len = sizeof *sin6;
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a.port);
        inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr);
        len = sizeof *sin;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("socket", display);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        std::string err = sys_error("bind", display);
        close(fd);
        return err;
    }
    if (listen(fd, backlog) != 0) {
        std::string err = sys_error("listen", display);
        close(fd);
        return err;
    }
    if (a.port == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        // Port 0 asks the kernel to choose; report the port it chose.
        uint16_t port = a.ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                               : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        display = a.ipv6 ? "[" + a.host + "]:" + std::to_string(port)
                         : a.host + ":" + std::to_string(port);
    }
    return Listener{fd, "http://" + display};
}

}  // namespace

std::variant<std::vector<Listener>, std::string> bind_listeners(
    const std::vector<std::string>& addresses, int backlog) {
    std::vector<Listener> out;
    for (const auto& text : addresses) {
        auto parsed = config::parse_bind_address(text);
        std::variant<Listener, std::string> bound =
            std::holds_alternative<std::string>(parsed)
                ? std::variant<Listener, std::string>(std::get<std::string>(parsed))
                : bind_one(std::get<config::TcpAddress>(parsed), backlog);
        if (auto* err = std::get_if<std::string>(&bound)) {
            for (auto& l : out) close(l.fd);
            return *err;
        }
        out.push_back(std::get<Listener>(bound));
    }
    return out;
}

}  // namespace cppg::master
