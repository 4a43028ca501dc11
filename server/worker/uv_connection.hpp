// SPDX-License-Identifier: MIT
// A Connection on a real socket: the libuv handles (the stream and the timer) behind
// ConnectionIo, and the raw non-blocking fd behind AppSocket for the app's thread.
#pragma once

#include <uv.h>

#include <sys/socket.h>

#include <optional>
#include <string>

#include "worker/connection.hpp"

namespace cppg::worker {

// What a connection on a real socket needs from the worker that owns it, beside what every
// connection needs: the loop its handles live on, the proxy rules for its peer, and a way for
// an app thread to wait for the socket (which also keeps the worker's signals heard).
class UvConnectionOwner : public ConnectionOwner {
public:
    virtual uv_loop_t* loop() = 0;
    virtual bool trusts_proxy(const std::string& address) const = 0;       // forwarded_allow_ips
    virtual bool expects_proxy_line(const std::string& address) const = 0;  // proxy_protocol
    virtual AppSocket::Wait wait_for_socket(int fd, short events, int64_t timeout_ms) = 0;
};

// A socket address as the environ shows it: "127.0.0.1" and "8000".
void format_address(const sockaddr_storage& ss, std::string& addr, std::string& port);

class UvConnection final : public ConnectionIo, public AppSocket {
public:
    // What the worker knows of an accepted socket when it hands it over.
    struct Accepted {
        int fd;
        bool unix_socket;
        const sockaddr_storage* peer;      // from accept4; TCP only
        const std::string* local_name;     // the listener's own address, when it is not a
        const std::string* local_port;     // wildcard one (else null: getsockname tells)
    };
    // Takes an accepted socket; null (and the fd closed) if libuv cannot use it.
    static UvConnection* open(UvConnectionOwner& worker, const Accepted& accepted);
    ~UvConnection() override = default;

    Connection& connection() { return *connection_; }

    // ConnectionIo (loop)
    void start_reading() override;
    void stop_reading() override;
    void send(std::string bytes) override;
    bool sending() const override { return writes_in_flight_ > 0; }
    void shutdown_write() override;
    void close() override;
    void arm_timer(uint64_t ms, uint64_t repeat_ms) override;
    void stop_timer() override;
    uint64_t now_ms() override;
    bool input_waiting() override;
    void interrupt_app_io() override;
    AppSocket& app_socket() override { return *this; }

    // AppSocket (the app's thread)
    ssize_t read(char* buf, size_t len) override;
    ssize_t send(const char* data, size_t len) override;
    ssize_t send_file(int fd, off_t* offset, size_t len) override;
    Wait wait(short events, int64_t timeout_ms) override;

private:
    struct WriteReq;
    explicit UvConnection(UvConnectionOwner& worker) : worker_(worker) {}
    bool init(const Accepted& accepted);
    PeerInfo describe_peer(const Accepted& accepted);

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_timer(uv_timer_t* timer);
    static void on_close(uv_handle_t* handle);

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&client_handle_); }

    UvConnectionOwner& worker_;
    // A TCP or a unix-domain client, whichever the listener accepted.
    union ClientHandle {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } client_handle_;
    uv_timer_t timer_handle_;
    uv_shutdown_t shutdown_req_;
    int fd_ = -1;
    int open_handles_ = 0;
    size_t writes_in_flight_ = 0;
    bool reading_ = false;
    bool closing_ = false;
    std::optional<Connection> connection_;
};

}  // namespace cppg::worker
