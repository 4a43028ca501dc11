// SPDX-License-Identifier: MIT
#include "worker/uv_connection.hpp"

#include <arpa/inet.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <spdlog/spdlog.h>


namespace cppg::worker {

namespace {

UvConnection* of(uv_handle_t* h) { return static_cast<UvConnection*>(h->data); }

}  // namespace

void format_address(const sockaddr_storage& ss, std::string& addr, std::string& port) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        port = std::to_string(ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        port = std::to_string(ntohs(sin6->sin6_port));
    }
    addr = buf;
}

struct UvConnection::WriteReq {
    uv_write_t req;
    UvConnection* owner;
    std::string bytes;
};

UvConnection* UvConnection::open(UvConnectionOwner& worker, const Accepted& accepted) {
    auto* self = new UvConnection(worker);
    if (!self->init(accepted)) return nullptr;  // it closes, and deletes itself, on its own
    PeerInfo peer = self->describe_peer(accepted);
    bool proxy_line = !accepted.unix_socket && worker.expects_proxy_line(peer.remote_addr);
    self->connection_.emplace(worker, *self, std::move(peer), proxy_line);
    return self;
}

bool UvConnection::init(const Accepted& accepted) {
    fd_ = accepted.fd;
    int rc;
    if (accepted.unix_socket) {
        uv_pipe_init(worker_.loop(), &client_handle_.pipe, 0);
        rc = uv_pipe_open(&client_handle_.pipe, fd_);
    } else {
        uv_tcp_init(worker_.loop(), &client_handle_.tcp);
        rc = uv_tcp_open(&client_handle_.tcp, fd_);
    }
    uv_timer_init(worker_.loop(), &timer_handle_);
    stream()->data = timer_handle_.data = this;
    open_handles_ = 2;
    if (rc == 0) return true;
    spdlog::warn("cannot use an accepted connection ({}: {})", -rc, uv_strerror(rc));
    ::close(fd_);  // libuv did not take it
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(stream()), [](uv_handle_t* h) {
        if (--of(h)->open_handles_ == 0) delete of(h);
    });
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_handle_), [](uv_handle_t* h) {
        if (--of(h)->open_handles_ == 0) delete of(h);
    });
    return false;
}

// From what accept4 and the listener already know: two syscalls fewer per connection.
// Unix-domain clients have no address; SERVER_NAME is the socket's path, as gunicorn does.
PeerInfo UvConnection::describe_peer(const Accepted& accepted) {
    PeerInfo peer;
    if (accepted.unix_socket) {
        char path[256];
        size_t size = sizeof path;
        if (uv_pipe_getsockname(&client_handle_.pipe, path, &size) == 0) peer.server_name.assign(path, size);
        peer.trusted_proxy = true;  // only local processes with file access reach it
        return peer;
    }
    format_address(*accepted.peer, peer.remote_addr, peer.remote_port);
    if (accepted.local_name) {
        peer.server_name = *accepted.local_name;
        peer.server_port = *accepted.local_port;
    } else {
        sockaddr_storage ss{};
        int len = sizeof ss;
        if (uv_tcp_getsockname(&client_handle_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            format_address(ss, peer.server_name, peer.server_port);
    }
    peer.trusted_proxy = worker_.trusts_proxy(peer.remote_addr);
    return peer;
}

// ---- the loop's side ----

void UvConnection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    // One buffer per thread: every read is parsed (or copied) before the next one starts.
    *buf = uv_buf_init(of(handle)->worker_.read_buffer(), Connection::kReadBufferSize);
}

void UvConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = of(reinterpret_cast<uv_handle_t*>(stream));
    if (nread > 0) return self->connection_->on_input(buf->base, static_cast<size_t>(nread));
    if (nread < 0) self->connection_->on_eof();
}

void UvConnection::start_reading() {
    if (reading_ || closing_) return;
    reading_ = true;
    uv_read_start(stream(), on_alloc, on_read);
}

void UvConnection::stop_reading() {
    if (!reading_) return;
    reading_ = false;
    uv_read_stop(stream());
}

void UvConnection::send(std::string bytes) {
    if (closing_) return;
    if (writes_in_flight_ == 0) {
        uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        int n = uv_try_write(stream(), &buf, 1);
        if (n == static_cast<int>(bytes.size())) return;
        if (n < 0 && n != UV_EAGAIN) {
            spdlog::debug("write to {}:{} failed ({})", connection_->peer().remote_addr,
                          connection_->peer().remote_port, uv_strerror(n));
            return connection_->on_write_error();
        }
        if (n > 0) bytes.erase(0, static_cast<size_t>(n));
    }
    auto* w = new WriteReq{{}, this, std::move(bytes)};
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    w->req.data = w;
    uv_write(&w->req, stream(), &buf, 1, on_write);
    ++writes_in_flight_;
}

void UvConnection::on_write(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    UvConnection* self = w->owner;
    delete w;
    --self->writes_in_flight_;
    if (status < 0) return self->connection_->on_write_error();
    if (self->writes_in_flight_ == 0) self->connection_->on_sent();
}

void UvConnection::shutdown_write() {
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) connection_->on_shutdown(false);
}

void UvConnection::on_shutdown(uv_shutdown_t* req, int status) {
    static_cast<UvConnection*>(req->data)->connection_->on_shutdown(status == 0);
}

void UvConnection::close() {
    if (closing_) return;
    closing_ = true;
    reading_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(stream()), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_handle_), on_close);
}

void UvConnection::on_close(uv_handle_t* handle) {
    auto* self = of(handle);
    if (--self->open_handles_ == 0) self->connection_->on_closed();
}

void UvConnection::arm_timer(uint64_t ms, uint64_t repeat_ms) {
    if (!closing_) uv_timer_start(&timer_handle_, on_timer, ms, repeat_ms);
}

void UvConnection::stop_timer() { uv_timer_stop(&timer_handle_); }

void UvConnection::on_timer(uv_timer_t* timer) { of(reinterpret_cast<uv_handle_t*>(timer))->connection_->on_timer(); }

uint64_t UvConnection::now_ms() { return uv_now(worker_.loop()); }

bool UvConnection::input_waiting() {
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

void UvConnection::interrupt_app_io() { ::shutdown(fd_, SHUT_RDWR); }

// ---- the app's thread: the raw socket, never libuv ----

ssize_t UvConnection::read(char* buf, size_t len) { return ::read(fd_, buf, len); }

ssize_t UvConnection::send(const char* data, size_t len) { return ::send(fd_, data, len, MSG_NOSIGNAL); }

ssize_t UvConnection::send_file(int fd, off_t* offset, size_t len) { return ::sendfile(fd_, fd, offset, len); }

AppSocket::Wait UvConnection::wait(short events, int64_t timeout_ms) {
    return worker_.wait_for_socket(fd_, events, timeout_ms);
}

}  // namespace cppg::worker
