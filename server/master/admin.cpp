// SPDX-License-Identifier: MIT
#include "master/admin.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/parser.hpp"
#include "http/response.hpp"
#include "shared/clock.hpp"

namespace cppg::master {

namespace {

// Probes send a line and a few headers; anything larger is not a probe.
constexpr http::ParserLimits kAdminLimits{1024, 32, 1024, 0};
constexpr size_t kReadChunk = 4096;

}  // namespace

struct AdminServer::Connection final : http::ParserEvents {
    int fd;
    int64_t deadline_ms;
    http::RequestParser parser{kAdminLimits, *this};
    bool head_seen = false;
    std::string method, target;
    std::string out;     // the answer, once known
    size_t sent = 0;
    bool done = false;   // answered and flushed, or failed: close it

    Connection(int f, int64_t deadline) : fd(f), deadline_ms(deadline) {}
    ~Connection() override {
        // Unread request bytes (a body we ignored) would turn close() into a reset that can
        // destroy the answer still in flight: end our side, drain a little, then close.
        shutdown(fd, SHUT_WR);
        char sink[1024];
        for (int i = 0; i < 16 && read(fd, sink, sizeof sink) > 0; ++i) {
        }
        close(fd);
    }

    void on_request_head(const http::Request& r) override {
        head_seen = true;
        method = r.method();
        target = r.target();
    }
    void on_request_body(std::string_view) override {}
    void on_request_complete() override {}
};

AdminServer::AdminServer() = default;

AdminServer::~AdminServer() {
    connections_.clear();
    for (int fd : listen_fds_) close(fd);
}

void AdminServer::listen_on(int fd) {
    // Sockets passed in (systemd, fd://) may be blocking; an accept that blocks would stall
    // the master's whole loop.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    listen_fds_.push_back(fd);
}

void AdminServer::route(std::string path, Handler handler) {
    routes_.emplace_back(std::move(path), std::move(handler));
}

void AdminServer::collect_pollfds(std::vector<pollfd>& out) const {
    bool accepting = !paused_ && shared::monotonic_ms() >= accept_resume_ms_;
    for (int fd : listen_fds_) out.push_back({fd, static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const auto& c : connections_)
        out.push_back({c->fd, static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
}

void AdminServer::on_poll(const pollfd* fds, size_t count) {
    // Entries are in collect_pollfds' order: the listeners, then the connections.
    size_t listeners = std::min(count, listen_fds_.size());
    size_t known = std::min(count - listeners, connections_.size());
    for (size_t i = 0; i < known; ++i)
        if (fds[listeners + i].revents) serve(*connections_[i]);
    int64_t now = shared::monotonic_ms();
    for (size_t i = 0; i < listeners; ++i)
        if (fds[i].revents & POLLIN) accept_clients(fds[i].fd, now);
    expire(now);
}

int64_t AdminServer::next_deadline_ms() const {
    int64_t next = accept_resume_ms_ > shared::monotonic_ms() ? accept_resume_ms_ : 0;
    for (const auto& c : connections_)
        if (next == 0 || c->deadline_ms < next) next = c->deadline_ms;
    return next;
}

void AdminServer::close_in_child() const {
    for (const auto& c : connections_) close(c->fd);
    for (int fd : listen_fds_) close(fd);
}

// Frees a slot by dropping the oldest connection that has not sent its head yet; false when
// every connection is being answered (then new clients wait in the backlog).
bool AdminServer::make_room() {
    if (connections_.size() < kMaxConnections) return true;
    auto victim = std::find_if(connections_.begin(), connections_.end(),
                               [](const auto& c) { return c->out.empty(); });
    if (victim == connections_.end()) return false;
    connections_.erase(victim);
    return true;
}

void AdminServer::accept_clients(int listen_fd, int64_t now_ms) {
    while (make_room()) {
        int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_resume_ms_ = now_ms + kAcceptPauseMs;
            return;  // EAGAIN, or a client that went away: nothing to do
        }
        connections_.push_back(std::make_unique<Connection>(fd, now_ms + kHeadDeadlineMs));
        serve(*connections_.back());  // a probe's request is usually there already
    }
}

void AdminServer::serve(Connection& c) {
    if (c.out.empty()) {
        if (!read_request(c)) return;
        c.deadline_ms = shared::monotonic_ms() + kWriteDeadlineMs;
    }
    while (c.sent < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) c.done = true;
            return;
        }
        c.sent += static_cast<size_t>(n);
    }
    c.done = true;
}

// Reads what the client sent; true once the answer is in c.out.
bool AdminServer::read_request(Connection& c) const {
    char buf[kReadChunk];
    ssize_t n = read(c.fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) c.done = true;
    if (n <= 0) return false;
    auto result = c.parser.feed(buf, static_cast<size_t>(n));
    if (result.status == http::RequestParser::Status::kError) {
        c.out = http::simple_response(c.parser.error_status(), c.parser.error_reason() + "\n", true);
        return true;
    }
    if (!c.head_seen) return false;
    c.out = render(answer(c.method, c.target), c.method == "HEAD");
    return true;
}

std::string AdminServer::render(const AdminReply& reply, bool head) {
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                      std::string(http::reason_phrase(reply.status)) + "\r\n";
    out += http::kServerHeaderLine;
    out += http::date_header_line();
    out += "Content-Type: " + reply.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    if (reply.status == 405) out += "Allow: GET, HEAD\r\n";
    out += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    if (!head) out += reply.body;
    return out;
}

AdminReply AdminServer::answer(std::string_view method, std::string_view target) const {
    if (method != "GET" && method != "HEAD") return {405, "method not allowed\n"};
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query = path.size() < target.size() ? target.substr(path.size() + 1) : "";
    for (const auto& [route, handler] : routes_)
        if (route == path) return handler(query);
    return {404, "not found\n"};
}

void AdminServer::expire(int64_t now_ms) {
    std::erase_if(connections_, [now_ms](const std::unique_ptr<Connection>& c) {
        return c->done || now_ms >= c->deadline_ms;
    });
}

}  // namespace cppg::master
