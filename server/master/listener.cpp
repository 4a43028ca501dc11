// SPDX-License-Identifier: MIT
#include "master/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

#include <cerrno>
#include <cstring>
#include <optional>

#include "config/address.hpp"
#include "util/split.hpp"

namespace cppg::master {

namespace {

std::string sys_error(const char* call, const std::string& what) {
    int err = errno;
    return std::string(call) + "(" + what + ") failed (" + std::to_string(err) + ": " +
           std::strerror(err) + ")";
}

std::variant<Listener, std::string> bind_one(const config::TcpAddress& a, int backlog) {
    sockaddr_storage ss{};
    socklen_t len = config::to_sockaddr(a, ss);
    std::string display = a.ipv6 ? "[" + a.host + "]:" + std::to_string(a.port)
                                 : a.host + ":" + std::to_string(a.port);
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
    return Listener{fd, "http://" + display, ""};
}

// A socket file nobody listens on any more (its server died) is replaced; one that still
// answers belongs to a live server, and taking it over would steal its clients.
std::optional<std::string> clear_stale_socket(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return std::nullopt;
    if (!S_ISSOCK(st.st_mode)) return "bind(unix:" + path + ") refused: the path exists and is not a socket";
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len = config::to_sockaddr(config::UnixAddress{path}, ss);
    bool live = connect(probe, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    close(probe);
    if (live) return "bind(unix:" + path + ") refused: another server is listening on it";
    unlink(path.c_str());
    return std::nullopt;
}

std::variant<Listener, std::string> bind_unix(const config::UnixAddress& a, int backlog,
                                              unsigned socket_umask) {
    if (auto err = clear_stale_socket(a.path)) return *err;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("socket", "unix:" + a.path);
    sockaddr_storage ss{};
    socklen_t len = config::to_sockaddr(a, ss);
    // The socket file's mode is 0777 minus --umask (gunicorn's rule): clients need write
    // permission to connect, whatever umask the server itself runs with.
    mode_t process_umask = ::umask(static_cast<mode_t>(socket_umask));
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
    ::umask(process_umask);
    if (rc != 0 || listen(fd, backlog) != 0) {
        std::string err = sys_error("bind", "unix:" + a.path);
        close(fd);
        return err;
    }
    return Listener{fd, "unix:" + a.path, a.path};
}

std::variant<Listener, std::string> adopt_fd(const config::FdAddress& a) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(a.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
        return "fd://" + std::to_string(a.fd) + " is not a listening socket";
    fcntl(a.fd, F_SETFD, FD_CLOEXEC);
    return Listener{a.fd, "fd://" + std::to_string(a.fd), ""};
}

}  // namespace

// A unix socket keeps its path so that the last master to exit can remove the file.
std::string unix_path_of(int fd) {
    sockaddr_un sun{};
    socklen_t len = sizeof sun;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&sun), &len) == 0 && sun.sun_family == AF_UNIX)
        return sun.sun_path;
    return "";
}

std::vector<Listener> systemd_listeners() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    const char* names = std::getenv("LISTEN_FDNAMES");
    std::vector<Listener> out;
    if (pid && fds && std::atoi(pid) == getpid()) {
        constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START
        auto fd_names = util::split(names ? names : "", ':');
        for (int i = 0; i < std::atoi(fds); ++i) {
            int fd = kFirstFd + i;
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            std::string_view name = static_cast<size_t>(i) < fd_names.size() ? fd_names[i] : "";
            auto role = name == "admin" ? Listener::Role::kAdmin : Listener::Role::kHttp;
            out.push_back(Listener{fd,
                                   "systemd socket fd " + std::to_string(fd) +
                                       (name.empty() ? "" : " (" + std::string(name) + ")"),
                                   "", role});
        }
    }
    for (const char* var : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) unsetenv(var);
    return out;
}

std::string inherited_fds_value(const std::vector<Listener>& listeners) {
    std::string out;
    for (const auto& l : listeners) {
        if (l.fd < 0) continue;  // closed (the master is stopping)
        if (!out.empty()) out += ',';
        if (l.role == Listener::Role::kAdmin) out += "admin:";
        out += std::to_string(l.fd);
    }
    return out;
}

std::vector<Listener> inherited_listeners() {
    std::vector<Listener> out;
    const char* list = std::getenv(kInheritedFdsVar);
    if (list == nullptr) return out;
    for (std::string_view item : util::split(list, ',')) {
        auto role = Listener::Role::kHttp;
        if (item.starts_with("admin:")) {
            role = Listener::Role::kAdmin;
            item.remove_prefix(6);
        }
        int fd = std::atoi(std::string(item).c_str());
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        out.push_back(Listener{fd, "inherited fd " + std::to_string(fd), unix_path_of(fd), role});
    }
    unsetenv(kInheritedFdsVar);
    return out;
}

pid_t upgrading_master() {
    const char* value = std::getenv(kOldMasterVar);
    pid_t pid = value ? static_cast<pid_t>(std::atoi(value)) : 0;
    unsetenv(kOldMasterVar);
    return pid;
}

void remove_socket_files(const std::vector<Listener>& listeners) {
    for (const auto& l : listeners)
        if (!l.unix_path.empty()) unlink(l.unix_path.c_str());
}

std::variant<std::vector<Listener>, std::string> bind_listeners(
    const std::vector<std::string>& addresses, int backlog, unsigned socket_umask) {
    std::vector<Listener> out;
    for (const auto& text : addresses) {
        auto parsed = config::parse_bind_address(text);
        std::variant<Listener, std::string> bound = std::string();
        if (auto* err = std::get_if<std::string>(&parsed)) {
            bound = *err;
        } else {
            const auto& address = std::get<config::BindAddress>(parsed);
            if (auto* tcp = std::get_if<config::TcpAddress>(&address)) bound = bind_one(*tcp, backlog);
            else if (auto* unix_address = std::get_if<config::UnixAddress>(&address)) bound = bind_unix(*unix_address, backlog, socket_umask);
            else bound = adopt_fd(std::get<config::FdAddress>(address));
        }
        if (auto* err = std::get_if<std::string>(&bound)) {
            remove_socket_files(out);
            for (auto& l : out) close(l.fd);
            return *err;
        }
        out.push_back(std::get<Listener>(bound));
    }
    return out;
}

}  // namespace cppg::master
