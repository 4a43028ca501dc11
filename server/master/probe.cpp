// SPDX-License-Identifier: MIT
#include "master/probe.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <variant>

#include "config/address.hpp"
#include "shared/clock.hpp"

namespace cppg::master {

namespace {

constexpr int64_t kProbeTimeoutMs = 3000;
constexpr size_t kMaxAnswerBytes = 64 << 10;

// A listener on every interface is probed on loopback.
config::TcpAddress probe_target(config::TcpAddress a) {
    if (a.host.empty() || a.host == "0.0.0.0") a.host = "127.0.0.1";
    if (a.host == "::") a.host = "::1";
    return a;
}

int connect_to(const config::BindAddress& address, int64_t deadline, std::string& error) {
    if (std::holds_alternative<config::FdAddress>(address)) {
        error = "an fd:// admin address cannot be probed; probe the address it listens on";
        return -1;
    }
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (const auto* tcp = std::get_if<config::TcpAddress>(&address))
        len = config::to_sockaddr(probe_target(*tcp), ss);
    else
        len = config::to_sockaddr(address, ss);
    // Non-blocking, so that an address that drops packets costs the probe's deadline, not
    // the kernel's SYN retries.
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = std::string("socket failed: ") + std::strerror(errno);
        return -1;
    }
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int64_t left = deadline - shared::monotonic_ms();
        int err = ETIMEDOUT;
        socklen_t err_len = sizeof err;
        if (left > 0 && poll(&p, 1, static_cast<int>(left)) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
        errno = err;
        rc = err == 0 ? 0 : -1;
    }
    if (rc != 0) {
        error = std::string("connect failed: ") + std::strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

// Reads until the server closes (it always does after one answer) or the deadline.
bool read_answer(int fd, int64_t deadline, std::string& answer) {
    char buf[4096];
    while (answer.size() < kMaxAnswerBytes) {
        int64_t left = deadline - shared::monotonic_ms();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0;
        answer.append(buf, static_cast<size_t>(n));
    }
    return true;
}

}  // namespace

int run_probe(const std::string& admin_address, const std::string& path) {
    if (admin_address.empty()) {
        std::fprintf(stderr, "cppgunicorn --probe: admin_bind is not set; nothing to probe\n");
        return 1;
    }
    auto parsed = config::parse_bind_address(admin_address);
    std::string error;
    int fd = -1;
    int64_t deadline = shared::monotonic_ms() + kProbeTimeoutMs;
    if (auto* err = std::get_if<std::string>(&parsed)) error = *err;
    else fd = connect_to(std::get<config::BindAddress>(parsed), deadline, error);
    if (fd < 0) {
        std::fprintf(stderr, "cppgunicorn --probe %s: %s: %s\n", path.c_str(), admin_address.c_str(),
                     error.c_str());
        return 1;
    }
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: cppgunicorn\r\nConnection: close\r\n\r\n";
    std::string answer;
    bool complete = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                        static_cast<ssize_t>(request.size()) &&
                    read_answer(fd, deadline, answer);
    close(fd);
    if (!complete) {
        std::fprintf(stderr, "cppgunicorn --probe %s: no answer from %s within %lld ms\n",
                     path.c_str(), admin_address.c_str(), static_cast<long long>(kProbeTimeoutMs));
        return 1;
    }
    auto head_end = answer.find("\r\n\r\n");
    std::string status_line = answer.substr(0, answer.find("\r\n"));
    std::string body = head_end == std::string::npos ? "" : answer.substr(head_end + 4);
    std::printf("%s\n%s", status_line.c_str(), body.c_str());
    return status_line.starts_with("HTTP/1.1 200 ") ? 0 : 1;
}

}  // namespace cppg::master
