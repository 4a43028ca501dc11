#include "worker/connection.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "http/proxy_protocol.hpp"
#include "worker/worker.hpp"

namespace cppg::worker {

namespace {

// After answering and shutting down our side, keep reading (and dropping) for this long so a
// client still sending does not get a RST that destroys the response it has not read yet.
constexpr uint64_t kLingerMs = 2000;
// The status a request is counted with when its client went away before the answer (nginx's).
constexpr int kClientClosedRequest = 499;
// How long a stopping worker keeps an idle keep-alive connection open for a request that may
// already be on its way (at most keepalive).
constexpr uint64_t kStopGraceMs = 1000;
// How often a busy connection checks body_timeout and send_timeout.
constexpr uint64_t kActivityTickMs = 1000;

// Pipelined bytes held while a request runs, before the connection stops reading.
constexpr size_t kMaxHeldInput = 64 << 10;

// A timer that finds unread input gives the loop this long to read it.
constexpr uint64_t kUnreadInputGraceMs = 1000;

// With --threads 1: body bytes buffered before the app starts on the loop thread.
constexpr size_t kAppStartBytes = 64 << 10;

constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

Connection* of(uv_handle_t* h) { return static_cast<Connection*>(h->data); }

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

struct Connection::WriteReq {
    uv_write_t req;
    Connection* connection;
    std::string bytes;
    bool from_app;
};

Connection::Connection(Worker& worker)
    : worker_(worker), parser_(worker.limits(), *this), exchange_(worker, this) {}

void Connection::open(const Accepted& accepted) {
    int fd = accepted.fd;
    bool unix_socket = accepted.unix_socket;
    int rc;
    if (unix_socket) {
        uv_pipe_init(worker_.loop(), &client_handle_.pipe, 0);
        rc = uv_pipe_open(&client_handle_.pipe, fd);
    } else {
        uv_tcp_init(worker_.loop(), &client_handle_.tcp);
        rc = uv_tcp_open(&client_handle_.tcp, fd);
    }
    uv_timer_init(worker_.loop(), &timer_handle_);
    stream()->data = timer_handle_.data = this;
    open_handles_ = 2;
    if (rc != 0) {
        spdlog::warn("cannot use an accepted connection ({}: {})", -rc, uv_strerror(rc));
        ::close(fd);  // libuv did not take it
        close();
        return;
    }
    if (unix_socket) {
        describe_unix_peer();
        peer_.trusted_proxy = true;  // only local processes with file access reach it
    } else {
        describe_tcp_peer(accepted);  // TCP_NODELAY is inherited from the listener
        peer_.trusted_proxy = worker_.trusts_proxy(peer_.remote_addr);
        expect_proxy_line_ = worker_.expects_proxy_line(peer_.remote_addr);
    }
    last_read_ms_ = uv_now(worker_.loop());
    arm_timer(TimerMode::kHead, worker_.settings().header_timeout * 1000);
    start_reading();
}

// From what accept4 and the listener already know: two syscalls fewer per connection.
void Connection::describe_tcp_peer(const Accepted& accepted) {
    format_address(*accepted.peer, peer_.remote_addr, peer_.remote_port);
    if (accepted.local_name) {
        peer_.server_name = *accepted.local_name;
        peer_.server_port = *accepted.local_port;
        return;
    }
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getsockname(&client_handle_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        format_address(ss, peer_.server_name, peer_.server_port);
}

// Unix-domain clients have no address; SERVER_NAME is the socket's path, as gunicorn does.
void Connection::describe_unix_peer() {
    char path[256];
    size_t size = sizeof path;
    if (uv_pipe_getsockname(&client_handle_.pipe, path, &size) == 0)
        peer_.server_name.assign(path, size);
}

// ---- reading and parsing ----

void Connection::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    // One buffer per worker: every read is parsed (or copied) before the next one starts.
    auto* self = of(handle);
    *buf = uv_buf_init(self->worker_.read_buffer(), Worker::kReadBufferSize);
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = of(reinterpret_cast<uv_handle_t*>(stream));
    if (nread == 0) return;
    if (nread < 0) {
        self->on_peer_eof();
        self->start_app_when_ready();
        return;
    }
    self->last_read_ms_ = uv_now(self->worker_.loop());
    if (self->timer_mode_ == TimerMode::kLinger) return;  // draining after our answer
    if (self->app_running_ && self->message_complete_) {
        // The next pipelined request waits for this response; keep it unparsed.
        self->hold_input(buf->base, static_cast<size_t>(nread));
        return;
    }
    if (self->timer_mode_ == TimerMode::kKeepAlive || self->timer_mode_ == TimerMode::kStopGrace)
        self->arm_timer(TimerMode::kHead, self->worker_.settings().header_timeout * 1000);  // from here
    const char* data = buf->base;
    size_t len = static_cast<size_t>(nread);
    if (self->expect_proxy_line_ && !self->take_proxy_line(data, len)) return;
    self->feed(data, len);
    self->start_app_when_ready();
}

// Consumes the PROXY line in front of the first request; false while it is incomplete or
// when it was refused (then a 400 is on its way).
bool Connection::take_proxy_line(const char*& data, size_t& len) {
    size_t room = http::kMaxProxyLine - proxy_line_.size();
    size_t taken = std::min(len, room);
    proxy_line_.append(data, taken);
    http::ProxyHeader header;
    size_t used = 0;
    auto result = http::parse_proxy_v1(proxy_line_, header, used);
    if (result == http::ProxyParse::kNeedMore) return false;
    if (result == http::ProxyParse::kInvalid) {
        spdlog::info("bad request from {}:{}: missing or malformed PROXY protocol line",
                     peer_.remote_addr, peer_.remote_port);
        stop_reading();
        send(http::simple_response(400, "Bad Request: missing or malformed PROXY protocol line\n", true), false);
        close_gracefully();
        return false;
    }
    expect_proxy_line_ = false;
    if (!header.source_addr.empty()) {
        peer_.remote_addr = header.source_addr;
        peer_.remote_port = header.source_port;
    }
    // What followed the line in this read: the part of proxy_line_ past it, then the rest.
    size_t from_buffer = used - (proxy_line_.size() - taken);
    data += from_buffer;
    len -= from_buffer;
    proxy_line_.clear();
    proxy_line_.shrink_to_fit();
    return true;
}

void Connection::feed(const char* data, size_t len) {
    while (len > 0 && !closing_) {
        auto result = parser_.feed(data, len);
        if (result.status == http::RequestParser::Status::kNeedMore) break;
        if (result.status == http::RequestParser::Status::kError) {
            on_parse_error();
            return;
        }
        // A whole request was received. One request at a time: keep the rest for later.
        data += result.consumed;
        len -= result.consumed;
        if (app_running_) {
            hold_input(data, len);
            return;
        }
        // The app already answered (it did not read the whole body); move on.
        if (close_after_response_) {
            close_gracefully();
            return;
        }
        parser_.resume();
        arm_timer(TimerMode::kHead, worker_.settings().header_timeout * 1000);
    }
    // An inline request pulls its body itself once it runs; until then (kAppStartBytes,
    // see inline_ready) its body is buffered, as for a pool thread.
    if (app_running_ && !inline_request_ && exchange_.should_pause_reading()) stop_reading();
}

// Keeps bytes of requests that must wait for the current one. Reading goes on (stopping and
// restarting it for every request costs two epoll_ctl calls) until a bound is reached.
void Connection::hold_input(const char* data, size_t len) {
    pending_input_.append(data, len);
    if (pending_input_.size() >= kMaxHeldInput) stop_reading();
}

void Connection::on_request_head(const http::Request& request) {
    ++requests_seen_;
    message_complete_ = false;
    continue_sent_ = false;
    app_running_ = true;
    client_closes_ = !request.keep_alive();
    bool keep_alive = request.keep_alive() && worker_.settings().keepalive > 0 &&
                      !worker_.shutting_down() && !stop_requested_;
    if (!keep_alive) close_after_response_ = true;
    log::AccessLog* access = worker_.access_log();
    inline_request_ = worker_.pool().runs_inline();
    exchange_.begin(&request, &peer_, access && access->uses_response_headers(), keep_alive,
                    inline_request_ ? this : nullptr);
    if (access) {
        request_started_ = std::chrono::system_clock::now();
        request_started_steady_ = std::chrono::steady_clock::now();
    }
    request_open_ = true;
    if (auto* counters = worker_.counters()) counters->in_flight.fetch_add(1, std::memory_order_relaxed);
    arm_timer(TimerMode::kActivity, kActivityTickMs, kActivityTickMs);
    // The app call starts once the body is buffered (start_app_when_ready), not now: a slow
    // client must not hold an app thread while it sends a small body.
    app_pending_ = true;
}

void Connection::on_request_body(std::string_view data) { exchange_.push_body(data); }

void Connection::on_request_complete() {
    message_complete_ = true;
    exchange_.end_body(0);
}

void Connection::on_parse_error() {
    int status = parser_.error_status();
    spdlog::info("bad request from {}:{}: {} ({})", peer_.remote_addr, peer_.remote_port,
                 status, parser_.error_reason());
    close_after_response_ = true;
    stop_reading();
    if (parser_.head_complete()) {
        // The app owns this request's response; tell it the body broke off.
        if (app_running_)
            exchange_.end_body(status == 413 ? CPPG_ETOOLARGE : CPPG_EBODY, status);
        else
            close_gracefully();
        return;
    }
    send(http::simple_response(status, std::string(http::reason_phrase(status)) + ": " +
                                           parser_.error_reason() + "\n",
                               true),
         false);
    close_gracefully();
}

void Connection::on_peer_eof() {
    peer_eof_ = true;
    stop_reading();
    if (timer_mode_ == TimerMode::kLinger) {
        close();
        return;
    }
    if (app_running_) {
        if (!message_complete_) {  // the body can never be completed now
            exchange_.end_body(CPPG_EBODY, 400);
            close_after_response_ = true;
        }
        // Otherwise the response, and those of requests already received (pipelined),
        // still go out to the half-closed client; start_next_request closes after them.
        return;
    }
    close_gracefully();
}

// ---- the app's side ----

void Connection::on_exchange_update() {
    ExchangeUpdate update = exchange_.take_update();
    if (closing_) {
        if (update.app_done) {
            app_running_ = false;
            count_request_done(kClientClosedRequest);
            maybe_destroy();
        }
        return;
    }
    if (update.send_continue && !continue_sent_ && update.output.empty()) {
        continue_sent_ = true;
        send(std::string(kContinueResponse), false);
    }
    if (!update.output.empty()) send(std::move(update.output), true);
    if (update.resume_reading && !peer_eof_ && !closing_gracefully_) start_reading();
    if (update.app_done) on_app_done(update);
}

void Connection::on_app_done(const ExchangeUpdate& update) {
    app_running_ = false;
    count_request_done(update.status);
    worker_.on_request_done();
    if (worker_.access_log()) log_access(update);
    if (closing_gracefully_) {
        finish_graceful_close();
        return;
    }
    if (update.close_after) close_after_response_ = true;
    if (message_complete_) {
        start_next_request();
        return;
    }
    // The app answered before the body ended. Drop the rest of the body and go on, unless
    // the client is still waiting for a 100 Continue it will never get, or we must close.
    if (close_after_response_ || peer_eof_ ||
        (exchange_.request().expect_continue() && !continue_sent_)) {
        close_gracefully();
        return;
    }
    arm_timer(TimerMode::kActivity, kActivityTickMs, kActivityTickMs);
    if (!peer_eof_) start_reading();
}

void Connection::start_next_request() {
    if (close_after_response_) {
        close_gracefully();
        return;
    }
    parser_.resume();
    std::string input;
    input.swap(pending_input_);
    if (!input.empty())
        arm_timer(TimerMode::kHead, worker_.settings().header_timeout * 1000);
    else if (stop_requested_)  // the answer promised keep-alive; the client may be sending
        wait_out_stop_grace();
    else
        arm_timer(TimerMode::kKeepAlive, worker_.settings().keepalive * 1000);
    if (!input.empty()) feed(input.data(), input.size());
    start_app_when_ready();
    if (closing_ || closing_gracefully_) return;
    if (!app_running_ && peer_eof_) {
        close_gracefully();
        return;
    }
    if (pending_input_.size() < kMaxHeldInput && !peer_eof_) start_reading();
}

Connection::~Connection() { count_request_done(kClientClosedRequest); }

// A request ends once: in the counters (by status and method, with its duration), out of the
// in-flight gauge, and in the slow log when it took too long.
void Connection::count_request_done(int status) {
    if (!request_open_) return;
    request_open_ = false;
    uint64_t duration_us = exchange_.since_head_us();
    int64_t threshold_ms = worker_.settings().slow_request_threshold;
    bool slow = threshold_ms > 0 && duration_us > static_cast<uint64_t>(threshold_ms) * 1000;
    if (slow)
        spdlog::warn("slow request: \"{} {}\" from {}:{} took {:.3f} s (status {})",
                     exchange_.request().method(), exchange_.request().target(), peer_.remote_addr,
                     peer_.remote_port, static_cast<double>(duration_us) / 1e6, status);
    auto* counters = worker_.counters();
    if (counters == nullptr) return;
    counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
    counters->count_response(status, shared::method_of(exchange_.request().method()), duration_us);
    if (slow) counters->slow.fetch_add(1, std::memory_order_relaxed);
}

void Connection::log_access(const ExchangeUpdate& update) {
    const http::Request& r = exchange_.request();
    log::HeaderList request_headers, response_headers;
    for (size_t i = 0; i < r.header_count(); ++i)
        request_headers.emplace_back(r.header_name(i), r.header_value(i));
    for (const auto& [name, value] : update.response_headers)
        response_headers.emplace_back(name, value);
    log::AccessRecord record;
    record.remote_addr = peer_.remote_addr;
    record.method = r.method();
    record.target = r.target();
    record.path = r.path();
    record.query = r.query();
    record.protocol = r.protocol();
    record.status = update.status;
    record.body_bytes = update.body_bytes;
    record.started = request_started_;
    record.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - request_started_steady_)
                             .count();
    record.request_headers = &request_headers;
    record.response_headers = &response_headers;
    worker_.access_log()->write(record);
}

// ---- writing ----

void Connection::send(std::string bytes, bool from_app) {
    if (closing_) return;
    uv_stream_t* stream = this->stream();
    if (writes_in_flight_ == 0) {
        last_write_ms_ = uv_now(worker_.loop());
        uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        int n = uv_try_write(stream, &buf, 1);
        if (n == static_cast<int>(bytes.size())) {
            if (from_app) exchange_.on_output_sent(bytes.size());
            return;
        }
        if (n < 0 && n != UV_EAGAIN) {
            spdlog::debug("write to {}:{} failed ({})", peer_.remote_addr, peer_.remote_port,
                          uv_strerror(n));
            close();
            return;
        }
        if (n > 0) {
            if (from_app) exchange_.on_output_sent(static_cast<size_t>(n));
            bytes.erase(0, static_cast<size_t>(n));
        }
    }
    auto* w = new WriteReq{{}, this, std::move(bytes), from_app};
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    w->req.data = w;
    uv_write(&w->req, stream, &buf, 1, on_write);
    ++writes_in_flight_;
}

void Connection::on_write(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    Connection* self = w->connection;
    --self->writes_in_flight_;
    self->last_write_ms_ = uv_now(self->worker_.loop());
    if (w->from_app) self->exchange_.on_output_sent(w->bytes.size());
    delete w;
    if (status < 0) {
        self->close();
        return;
    }
    self->finish_graceful_close();
    self->start_app_when_ready();
}

// ---- closing ----

// Half-close after the last byte is written, then linger briefly before closing.
void Connection::close_gracefully() {
    if (closing_) return;
    closing_gracefully_ = true;
    close_after_response_ = true;
    stop_reading();
    finish_graceful_close();
}

// Runs whenever a write or the app finishes: the shutdown waits for both.
void Connection::finish_graceful_close() {
    if (!closing_gracefully_ || shutdown_started_ || closing_ || app_running_ ||
        writes_in_flight_ > 0)
        return;
    // Lingering protects a response from the reset that unread input would cause. A client
    // that said Connection: close, with all it sent read, has nothing more to send (nginx
    // skips lingering then too): closing now saves a shutdown, a wake-up and a read.
    if (client_closes_ && !parser_.in_message() && pending_input_.empty() && !peer_eof_) {
        close();
        return;
    }
    shutdown_started_ = true;
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) {
        close();
        return;
    }
    ++writes_in_flight_;  // the shutdown request holds the handle like a write does
}

void Connection::on_shutdown(uv_shutdown_t* req, int status) {
    auto* self = static_cast<Connection*>(req->data);
    --self->writes_in_flight_;
    if (status < 0 || self->closing_ || self->peer_eof_) {
        self->close();
        return;
    }
    self->arm_timer(TimerMode::kLinger, kLingerMs);
    self->start_reading();
}

void Connection::close() {
    if (closing_) return;
    closing_ = true;
    inline_backlog_.clear();
    if (app_pending_) {  // its app call never started, so there is nothing to wait for
        app_pending_ = false;
        app_running_ = false;
        count_request_done(kClientClosedRequest);
    }
    if (app_running_) exchange_.abort();
    stop_reading();
    uv_close(reinterpret_cast<uv_handle_t*>(stream()), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_handle_), on_close);
}

void Connection::on_close(uv_handle_t* handle) {
    auto* self = of(handle);
    --self->open_handles_;
    self->maybe_destroy();
}

// Deletes this connection once libuv and the app threads are both done with it.
void Connection::maybe_destroy() {
    if (closing_ && open_handles_ == 0 && !app_running_ && writes_in_flight_ == 0)
        worker_.on_connection_closed(this);
}

void Connection::stop_when_idle() {
    if (stop_requested_ || closing_ || closing_gracefully_) return;
    stop_requested_ = true;
    if (app_running_) {
        exchange_.refuse_keep_alive();
        return;  // on_app_done / start_next_request decide once the answer is out
    }
    if (!parser_.in_message() && pending_input_.empty() && writes_in_flight_ == 0) wait_out_stop_grace();
}

// Between requests of a stopping worker: the client may be sending its next request right
// now (a connection pool sends back to back). Keep reading for a short grace: a request that
// comes is answered with Connection: close; silence closes the connection.
void Connection::wait_out_stop_grace() {
    uint64_t grace = std::min<uint64_t>(kStopGraceMs, static_cast<uint64_t>(worker_.settings().keepalive) * 1000);
    if (grace == 0) {
        close_gracefully();
        return;
    }
    arm_timer(TimerMode::kStopGrace, grace);
    if (!peer_eof_) start_reading();
}

// ---- timers ----

void Connection::start_reading() {
    if (reading_ || closing_) return;
    reading_ = true;
    uv_read_start(stream(), on_alloc, on_read);
}

void Connection::stop_reading() {
    if (!reading_) return;
    reading_ = false;
    uv_read_stop(stream());
}

void Connection::arm_timer(TimerMode mode, uint64_t timeout_ms, uint64_t repeat_ms) {
    if (closing_) return;
    timer_mode_ = mode;
    uv_timer_start(&timer_handle_, on_timer, timeout_ms, repeat_ms);
}

void Connection::on_timer(uv_timer_t* timer) {
    auto* self = of(reinterpret_cast<uv_handle_t*>(timer));
    switch (self->timer_mode_) {
        case TimerMode::kActivity: self->on_activity_tick(); return;
        case TimerMode::kLinger: self->close(); return;
        case TimerMode::kNone: return;
        case TimerMode::kStopGrace:
            if (!self->parser_.in_message()) return self->close();  // silent for the grace
            self->arm_timer(TimerMode::kHead, self->worker_.settings().header_timeout * 1000);
            return;
        case TimerMode::kHead:
        case TimerMode::kKeepAlive: break;
    }
    if (self->writes_in_flight_ > 0) {
        // Still sending the previous response: that is send_timeout's business.
        self->arm_timer(TimerMode::kActivity, kActivityTickMs, kActivityTickMs);
        return;
    }
    if (self->input_waiting()) {
        // It came while the loop was inside an app call (--threads 1), and timers run before
        // the loop reads: read it first.
        self->arm_timer(TimerMode::kHead, kUnreadInputGraceMs);
        return;
    }
    if (self->timer_mode_ == TimerMode::kHead && self->parser_.in_message()) {
        spdlog::info("request head from {}:{} not complete within header_timeout ({} s); "
                     "answering 408", self->peer_.remote_addr, self->peer_.remote_port,
                     self->worker_.settings().header_timeout);
        self->stop_reading();
        self->send(http::simple_response(408, "Request Timeout\n", true), false);
        self->close_gracefully();
        return;
    }
    self->close();  // idle: nothing to answer
}

// The body stopped arriving: the app's read fails with CPPG_ETIMEDOUT (the server answers 408
// if the app has not started a response), and the connection closes after it.
void Connection::on_body_timeout() {
    spdlog::info("client {}:{} sent no body bytes for body_timeout ({} s); closing",
                 peer_.remote_addr, peer_.remote_port, worker_.settings().body_timeout);
    stop_reading();
    close_after_response_ = true;
    if (app_running_) exchange_.end_body(CPPG_ETIMEDOUT, 408);
    else close();
}

void Connection::on_send_timeout() {
    spdlog::info("client {}:{} read nothing for send_timeout ({} s); closing",
                 peer_.remote_addr, peer_.remote_port, worker_.settings().send_timeout);
    close();
}

void Connection::on_activity_tick() {
    uint64_t now = uv_now(worker_.loop());
    const auto& s = worker_.settings();
    if (writes_in_flight_ > 0 && now - last_write_ms_ > static_cast<uint64_t>(s.send_timeout) * 1000)
        return on_send_timeout();
    bool body_wanted = reading_ && !message_complete_ && parser_.in_message();
    if (body_wanted && now - last_read_ms_ > static_cast<uint64_t>(s.body_timeout) * 1000 &&
        !input_waiting()) {
        on_body_timeout();
        start_app_when_ready();
        return;
    }
    if (!app_running_ && writes_in_flight_ == 0 && !parser_.in_message() && !closing_gracefully_) {
        if (stop_requested_) wait_out_stop_grace();
        else arm_timer(TimerMode::kKeepAlive, s.keepalive * 1000);
    }
}

// ---- the app on the loop thread (--threads 1) ----

// The request starts once its body is complete or kAppStartBytes of it are buffered, so a
// slow client holds no app thread (nor, with --threads 1, the worker) while it sends a small
// body (a form, some JSON), and a large upload still streams to the app. A client that waits for "100 Continue" gets it from
// the app's first read.
bool Connection::body_ready() {
    return exchange_.body_complete() || exchange_.request().expect_continue() ||
           exchange_.body_buffered() >= kAppStartBytes;
}

void Connection::start_app_when_ready() {
    if (in_inline_) return;  // the loop below is on the stack and takes the next request
    in_inline_ = true;
    while (app_pending_ && !closing_ && body_ready()) {
        if (!inline_request_) {  // an app thread: the response queues behind any output
            app_pending_ = false;
            worker_.pool().submit(&exchange_);
            break;
        }
        if (writes_in_flight_ > 0) break;  // the app writes to the socket itself: after them
        app_pending_ = false;
        worker_.set_app_running_inline(true);
        worker_.pool().run_inline(&exchange_);
        worker_.set_app_running_inline(false);
        uv_update_time(worker_.loop());  // the app may have taken a while: timers count from now
        if (!inline_backlog_.empty() && !closing_) {  // the rest goes out as any response does
            std::string rest;
            rest.swap(inline_backlog_);
            send(std::move(rest), false);
        }
        on_exchange_update();  // may start the next pipelined request
    }
    in_inline_ = false;
}

// Bytes (or EOF) in the socket that the loop has not read yet.
bool Connection::input_waiting() {
    char c;
    return ::recv(socket_fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

int Connection::socket_fd() {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(stream()), &fd);
    return fd;
}

void Connection::pull_body() {
    if (closing_) return exchange_.abort();
    int fd = socket_fd();
    for (;;) {
        ssize_t n = ::read(fd, worker_.read_buffer(), Worker::kReadBufferSize);
        if (n > 0) {
            last_read_ms_ = uv_now(worker_.loop());
            feed(worker_.read_buffer(), static_cast<size_t>(n));
            return;
        }
        if (n == 0) return on_peer_eof();
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            spdlog::debug("read from {}:{} failed ({})", peer_.remote_addr, peer_.remote_port,
                          strerror(errno));
            return close();
        }
        int64_t timeout_ms = worker_.settings().body_timeout * 1000;
        if (worker_.wait_for_socket(fd, POLLIN, timeout_ms) == Worker::Wait::kTimeout)
            return on_body_timeout();
        if (closing_) return exchange_.abort();  // a stop signal closed it meanwhile
    }
}

// Sends what the socket takes now; false (and the connection closed) on an error.
bool Connection::send_now(int fd, std::string_view bytes, size_t& sent) {
    sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        spdlog::debug("write to {}:{} failed ({})", peer_.remote_addr, peer_.remote_port,
                      strerror(errno));
        close();
        return false;
    }
    return true;
}

// What the socket does not take at once waits in inline_backlog_, which the loop sends after
// the app returns; the app waits for the client only beyond kOutputHighWater, as an app
// thread does. (Blocking sooner would let any client that reads slowly hold the worker.)
bool Connection::write_all(std::string_view bytes) {
    if (closing_) return false;
    int fd = socket_fd();
    if (inline_backlog_.empty()) {
        size_t sent = 0;
        if (!send_now(fd, bytes, sent)) return false;
        bytes.remove_prefix(sent);
    }
    inline_backlog_.append(bytes);
    const auto& s = worker_.settings();
    while (inline_backlog_.size() > Exchange::kOutputHighWater) {
        if (worker_.wait_for_socket(fd, POLLOUT, s.send_timeout * 1000) == Worker::Wait::kTimeout) {
            on_send_timeout();
            return false;
        }
        if (closing_) return false;  // a stop signal closed it meanwhile
        size_t sent = 0;
        if (!send_now(fd, inline_backlog_, sent)) return false;
        inline_backlog_.erase(0, sent);
    }
    return true;
}

void Connection::send_continue() {
    if (continue_sent_) return;
    continue_sent_ = true;
    write_all(kContinueResponse);
}

}  // namespace cppg::worker
