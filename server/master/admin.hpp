// SPDX-License-Identifier: MIT
// The master's admin listener (--admin-bind): a tiny HTTP/1.1 server for probes (/livez,
// /readyz, and later metrics), run inside the master's own poll loop so that it answers
// whatever the workers and the app are doing. One request per connection, then close;
// every socket is non-blocking and every connection has a deadline, so a client can never
// stall the master.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cppg::master {

struct AdminReply {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

class AdminServer {
public:
    // Answers a GET or HEAD of a path; `query` is what follows '?', without it.
    using Handler = std::function<AdminReply(std::string_view query)>;

    // A client has this long to send its request head (probes send it at once)...
    static constexpr int64_t kHeadDeadlineMs = 1000;
    // ...and this long to take the answer.
    static constexpr int64_t kWriteDeadlineMs = 5000;
    // Connections held at once. When all are taken, a new client replaces the oldest one
    // still waiting for its head, so idle connections cannot lock probes out.
    static constexpr size_t kMaxConnections = 64;
    // After accept() fails for want of file descriptors, the listener rests this long
    // instead of waking the loop over and over.
    static constexpr int64_t kAcceptPauseMs = 100;

    AdminServer();
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Serves on this listening socket (owned from now on).
    void listen_on(int fd);
    void route(std::string path, Handler handler);
    bool active() const { return !listen_fds_.empty(); }

    // While paused (a new master from USR2 answers on the shared socket) no client is
    // accepted; connections already accepted are still answered.
    void pause(bool paused) { paused_ = paused; }

    // The master's loop: add these to poll(), then hand the same entries back.
    void collect_pollfds(std::vector<pollfd>& out) const;
    void on_poll(const pollfd* fds, size_t count);
    // The earliest connection deadline, or 0 when none is pending.
    int64_t next_deadline_ms() const;

    // In a freshly forked worker: close its copies of the master's admin sockets.
    void close_in_child() const;

private:
    struct Connection;

    void accept_clients(int listen_fd, int64_t now_ms);
    bool make_room();
    void serve(Connection& c);
    bool read_request(Connection& c) const;
    static std::string render(const AdminReply& reply, bool head);
    AdminReply answer(std::string_view method, std::string_view target) const;
    void expire(int64_t now_ms);

    std::vector<int> listen_fds_;
    std::vector<std::unique_ptr<Connection>> connections_;
    std::vector<std::pair<std::string, Handler>> routes_;
    bool paused_ = false;
    int64_t accept_resume_ms_ = 0;  // accept() ran out of descriptors: rest until then
};

}  // namespace cppg::master
