// SPDX-License-Identifier: MIT
#include "worker/connection.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "http/proxy_protocol.hpp"

namespace cppg::worker {

namespace {

// The status a request is counted with when its client went away before the answer (nginx's).
constexpr int kClientClosedRequest = 499;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

Connection::Connection(ConnectionOwner& owner, ConnectionIo& io, PeerInfo peer,
                       bool expect_proxy_line)
    : owner_(owner),
      io_(io),
      parser_(owner.limits(), *this),
      peer_(std::move(peer)),
      expect_proxy_line_(expect_proxy_line) {}

Connection::~Connection() { count_request_done(kClientClosedRequest); }

// ---- states and timers ----

void Connection::enter(State state) {
    if (state_ == State::kClosed) return;  // closed for good: nothing may reopen it
    state_ = state;
    arm_state_timer();
}

// One timer per connection; what it measures follows from the state. Output still queued
// for a slow reader turns any state's timer into the activity tick (send_timeout).
void Connection::arm_state_timer() {
    const auto& s = owner_.settings();
    if (state_ == State::kClosed) return;
    if (io_.sending() && state_ != State::kApp && state_ != State::kLinger)
        return io_.arm_timer(kActivityTickMs, kActivityTickMs);
    switch (state_) {
        case State::kIdle:
            if (stop_requested_)
                return io_.arm_timer(std::min<uint64_t>(kStopGraceMs, static_cast<uint64_t>(s.keepalive) * 1000), 0);
            return io_.arm_timer(static_cast<uint64_t>(s.keepalive) * 1000, 0);
        case State::kHead: return io_.arm_timer(static_cast<uint64_t>(s.header_timeout) * 1000, 0);
        case State::kBody:
        case State::kDrainBody:
        case State::kClosing: return io_.arm_timer(kActivityTickMs, kActivityTickMs);
        case State::kLinger: return io_.arm_timer(kLingerMs, 0);
        case State::kApp:
        case State::kClosed: return io_.stop_timer();
    }
}

void Connection::open() {
    last_read_ms_ = io_.now_ms();
    enter(State::kHead);  // the first request: header_timeout from the accept
    io_.start_reading();
}

void Connection::on_timer() {
    switch (state_) {
        case State::kIdle:
        case State::kHead:
            if (io_.sending()) return on_activity_tick();
            return on_head_or_idle_timeout();
        case State::kBody:
        case State::kDrainBody:
        case State::kClosing: return on_activity_tick();
        case State::kLinger: return close();
        case State::kApp:
        case State::kClosed: return;
    }
}

void Connection::on_head_or_idle_timeout() {
    if (io_.input_waiting()) {
        // It came while every thread was busy, and timers run before the loop reads: read it.
        io_.arm_timer(kUnreadInputGraceMs, 0);
        return;
    }
    if (state_ == State::kHead && parser_.in_message()) {
        spdlog::info("request head from {}:{} not complete within header_timeout ({} s); "
                     "answering 408", peer_.remote_addr, peer_.remote_port,
                     owner_.settings().header_timeout);
        io_.stop_reading();
        send(http::simple_response(408, "Request Timeout\n", true));
        close_gracefully();
        return;
    }
    close();  // idle for keepalive (or the stop grace, or header_timeout before any byte)
}

void Connection::on_activity_tick() {
    uint64_t now = io_.now_ms();
    const auto& s = owner_.settings();
    if (io_.sending() && now - last_write_ms_ > static_cast<uint64_t>(s.send_timeout) * 1000)
        return on_send_timeout();
    bool body_wanted = state_ == State::kBody || state_ == State::kDrainBody;
    if (body_wanted && now - last_read_ms_ > static_cast<uint64_t>(s.body_timeout) * 1000 &&
        !io_.input_waiting())
        return on_body_timeout();
}

// The body stopped arriving. Before the app started, its read fails with CPPG_ETIMEDOUT (the
// server answers 408 if the app has not started a response); either way the connection
// closes after the answer.
void Connection::on_body_timeout() {
    spdlog::info("client {}:{} sent no body bytes for body_timeout ({} s); closing",
                 peer_.remote_addr, peer_.remote_port, owner_.settings().body_timeout);
    io_.stop_reading();
    close_after_ = true;
    if (state_ != State::kBody) return close();
    exchange_.end_body(CPPG_ETIMEDOUT, 408);
    dispatch_when_ready();
}

void Connection::on_send_timeout() {
    spdlog::info("client {}:{} read nothing for send_timeout ({} s); closing",
                 peer_.remote_addr, peer_.remote_port, owner_.settings().send_timeout);
    close();
}

// ---- input ----

void Connection::on_input(const char* data, size_t len) {
    last_read_ms_ = io_.now_ms();
    switch (state_) {
        case State::kLinger:
        case State::kClosing:
        case State::kClosed: return;  // draining after our answer
        case State::kApp: return hold_input(data, len);
        case State::kIdle: enter(State::kHead); break;  // header_timeout from the first byte
        case State::kHead:
        case State::kBody:
        case State::kDrainBody: break;
    }
    if (expect_proxy_line_ && !take_proxy_line(data, len)) return;
    feed(data, len);
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
        io_.stop_reading();
        send(http::simple_response(400, "Bad Request: missing or malformed PROXY protocol line\n", true));
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

// Parses on the loop. One request at a time: once one is complete, what follows is held.
void Connection::feed(const char* data, size_t len) {
    auto result = parser_.feed(data, len);
    if (result.status == http::RequestParser::Status::kError) return on_parse_error();
    if (result.status == http::RequestParser::Status::kPaused) {
        hold_input(data + result.consumed, len - result.consumed);
        if (state_ == State::kDrainBody) return start_next_request();
    }
    if (state_ == State::kBody) dispatch_when_ready();
}

// Keeps bytes of requests that must wait for the current one. Reading goes on (stopping and
// restarting it for every request costs two epoll_ctl calls) until a bound is reached.
void Connection::hold_input(const char* data, size_t len) {
    pending_input_.append(data, len);
    if (state_ == State::kApp) input_held_.store(true, std::memory_order_release);
    if (pending_input_.size() >= kMaxHeldInput) io_.stop_reading();
}

void Connection::on_request_head(const http::Request& request) {
    message_complete_ = false;
    continue_sent_ = false;
    client_closes_ = !request.keep_alive();
    bool keep_alive = request.keep_alive() && owner_.settings().keepalive > 0 &&
                      !owner_.shutting_down() && !stop_requested_;
    if (!keep_alive) close_after_ = true;
    log::AccessLog* access = owner_.access_log();
    exchange_.begin(&request, &peer_, access && access->uses_response_headers(), keep_alive, this);
    if (access) request_started_ = std::chrono::system_clock::now();
    request_open_ = true;
    if (auto* counters = owner_.counters()) counters->in_flight.fetch_add(1, std::memory_order_relaxed);
    enter(State::kBody);
}

void Connection::on_request_body(std::string_view data) {
    if (state_ != State::kDrainBody) exchange_.push_body(data);
}

void Connection::on_request_complete() {
    message_complete_ = true;
    if (state_ != State::kDrainBody) exchange_.end_body(0);
}

void Connection::on_parse_error() {
    int status = parser_.error_status();
    spdlog::info("bad request from {}:{}: {} ({})", peer_.remote_addr, peer_.remote_port, status,
                 parser_.error_reason());
    close_after_ = true;
    io_.stop_reading();
    if (parser_.head_complete()) {
        // The app owns this request's response; tell it the body broke off.
        if (state_ != State::kBody) return close_gracefully();
        exchange_.end_body(status == 413 ? CPPG_ETOOLARGE : CPPG_EBODY, status);
        return dispatch_when_ready();
    }
    send(http::simple_response(status, std::string(http::reason_phrase(status)) + ": " +
                                           parser_.error_reason() + "\n", true));
    close_gracefully();
}

void Connection::on_eof() {
    input_ended_ = true;
    io_.stop_reading();
    switch (state_) {
        case State::kLinger: return close();
        case State::kApp: input_held_.store(true, std::memory_order_release); return;
        case State::kClosing:
        case State::kClosed: return;
        case State::kBody:
            if (!message_complete_) {  // the body can never be completed now
                exchange_.end_body(CPPG_EBODY, 400);
                close_after_ = true;
            }
            // Otherwise the response, and those of requests already received (pipelined),
            // still go out to the half-closed client; start_next_request closes after them.
            return dispatch_when_ready();
        case State::kDrainBody:
        case State::kIdle:
        case State::kHead: return close_gracefully();
    }
}

// ---- the app ----

// The app starts once its body is complete or kAppStartBytes of it are buffered, and after
// the previous response has gone: the app's thread writes to the socket itself.
bool Connection::body_ready() const {
    return exchange_.body_complete() || exchange_.request().expect_continue() ||
           exchange_.body_buffered() >= kAppStartBytes;
}

void Connection::dispatch_when_ready() {
    if (state_ != State::kBody || !body_ready() || io_.sending()) return;
    // The app's thread reads the rest of the body itself: the loop must not read meanwhile,
    // and must take the connection back at once after the call, to read again.
    reading_left_to_app_ = !message_complete_;
    if (reading_left_to_app_) io_.stop_reading();
    enter(State::kApp);
    owner_.dispatch(*this);
}

void Connection::run(size_t thread) {
    app_thread_ = thread;
    app_close_ = app_socket_failed_ = output_refused_ = false;
    if (exchange_.aborted()) return;  // cut before it started (a quick stop): never call the app
    owner_.run_app(thread, exchange_);
    // Counted before the last bytes go: a client that has its answer finds it in /metrics.
    count_request_done(exchange_.status());
    exchange_.finish();
    if (exchange_.close_after()) app_close_ = true;
    if (owner_.access_log()) log_access();
}

bool Connection::needs_loop_now() const {
    return !backlog_.empty() || app_close_ || app_socket_failed_ || reading_left_to_app_ ||
           !app_input_.empty() || input_held_.load(std::memory_order_acquire);
}

void Connection::back_on_loop() {
    state_ = State::kIdle;  // the loop's again; each path below picks the state it needs
    input_held_.store(false, std::memory_order_relaxed);
    reading_left_to_app_ = false;
    owner_.on_request_done();
    if (close_when_back_ || app_socket_failed_) return close();
    if (!app_input_.empty()) {
        pending_input_.insert(0, app_input_);
        app_input_.clear();
    }
    if (!backlog_.empty()) {
        std::string rest;
        rest.swap(backlog_);
        send(std::move(rest));
        if (state_ == State::kClosed) return;  // the client is gone (the write failed)
    }
    if (app_close_) close_after_ = true;
    if (message_complete_) return start_next_request();
    // The app answered before the body ended. Drop the rest of the body and go on, unless
    // the client is still waiting for a 100 Continue it will never get, or we must close.
    if (close_after_ || input_ended_ || (exchange_.request().expect_continue() && !continue_sent_))
        return close_gracefully();
    last_read_ms_ = io_.now_ms();  // body_timeout counts from here, not from before the call
    enter(State::kDrainBody);
    take_pending_input();
}

void Connection::start_next_request() {
    if (state_ == State::kClosed) return;
    if (close_after_) return close_gracefully();
    parser_.resume();
    enter(State::kIdle);
    take_pending_input();
    if (state_ != State::kIdle) return;
    if (input_ended_) return close_gracefully();
}

// Parses what arrived while the last request ran, then reads on if the state wants input.
void Connection::take_pending_input() {
    if (!pending_input_.empty()) {
        std::string input;
        input.swap(pending_input_);
        on_input(input.data(), input.size());
    }
    resume_reading();
}

void Connection::resume_reading() {
    if (input_ended_ || pending_input_.size() >= kMaxHeldInput) return;
    switch (state_) {
        case State::kApp:
            if (message_complete_) io_.start_reading();  // else the app's thread reads
            return;
        case State::kIdle:
        case State::kHead:
        case State::kBody:
        case State::kDrainBody: return io_.start_reading();
        case State::kClosing:
        case State::kLinger:
        case State::kClosed: return;
    }
}

// A request ends once: in the counters (by status and method, with its duration), out of the
// in-flight gauge, and in the slow log when it took too long.
void Connection::count_request_done(int status) {
    if (!request_open_) return;
    request_open_ = false;
    uint64_t duration_us = exchange_.since_head_us();
    int64_t threshold_ms = owner_.settings().slow_request_threshold;
    bool slow = threshold_ms > 0 && duration_us > static_cast<uint64_t>(threshold_ms) * 1000;
    if (slow)
        spdlog::warn("slow request: \"{} {}\" from {}:{} took {:.3f} s (status {})",
                     exchange_.request().method(), exchange_.request().target(), peer_.remote_addr,
                     peer_.remote_port, static_cast<double>(duration_us) / 1e6, status);
    auto* counters = owner_.counters();
    if (counters == nullptr) return;
    counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
    counters->count_response(status, shared::method_of(exchange_.request().method()), duration_us);
    if (slow) counters->slow.fetch_add(1, std::memory_order_relaxed);
}

void Connection::log_access() {
    const http::Request& r = exchange_.request();
    http::HeaderList request_headers, response_headers;
    for (size_t i = 0; i < r.header_count(); ++i)
        request_headers.emplace_back(r.header_name(i), r.header_value(i));
    for (const auto& [name, value] : exchange_.response_headers())
        response_headers.emplace_back(name, value);
    http::AccessRecord record;
    record.remote_addr = peer_.remote_addr;
    record.method = r.method();
    record.target = r.target();
    record.path = r.path();
    record.query = r.query();
    record.protocol = r.protocol();
    if (owner_.access_log()->uses_request_id()) record.request_id = exchange_.request_id();
    record.status = exchange_.status();
    record.body_bytes = exchange_.body_bytes();
    record.started = request_started_;
    record.duration_us = static_cast<int64_t>(exchange_.since_head_us());
    record.request_headers = &request_headers;
    record.response_headers = &response_headers;
    owner_.access_log()->write(record);
}

// ---- the app's I/O, on its thread ----

void Connection::pull_body(Exchange& exchange) {
    AppSocket& socket = io_.app_socket();
    char* buf = owner_.read_buffer();
    for (;;) {
        if (exchange.aborted()) return;
        ssize_t n = socket.read(buf, kReadBufferSize);
        if (n > 0) return feed_from_app(buf, static_cast<size_t>(n));
        if (n == 0) {
            exchange.end_body(CPPG_EBODY, 400);
            app_close_ = true;
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            spdlog::debug("read from {}:{} failed ({})", peer_.remote_addr, peer_.remote_port,
                          strerror(errno));
            app_socket_failed_ = true;
            return exchange.abort();
        }
        shared::ClientWait waiting(owner_.thread_slot(app_thread_));
        int64_t timeout_ms = owner_.settings().body_timeout * 1000;
        if (socket.wait(POLLIN, timeout_ms) == AppSocket::Wait::kTimeout) {
            spdlog::info("client {}:{} sent no body bytes for body_timeout ({} s); closing",
                         peer_.remote_addr, peer_.remote_port, owner_.settings().body_timeout);
            exchange.end_body(CPPG_ETIMEDOUT, 408);
            app_close_ = true;
            return;
        }
    }
}

void Connection::feed_from_app(const char* data, size_t len) {
    auto result = parser_.feed(data, len);
    if (result.status == http::RequestParser::Status::kPaused)
        app_input_.append(data + result.consumed, len - result.consumed);
    if (result.status != http::RequestParser::Status::kError) return;
    int status = parser_.error_status();
    spdlog::info("bad request from {}:{}: {} ({})", peer_.remote_addr, peer_.remote_port, status,
                 parser_.error_reason());
    exchange_.end_body(status == 413 ? CPPG_ETOOLARGE : CPPG_EBODY, status);
    app_close_ = true;
}

// Sends what the socket takes now; false when it failed.
bool Connection::send_now(std::string_view bytes, size_t& sent) {
    AppSocket& socket = io_.app_socket();
    sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = socket.send(bytes.data() + sent, bytes.size() - sent);
        if (n >= 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        spdlog::debug("write to {}:{} failed ({})", peer_.remote_addr, peer_.remote_port,
                      strerror(errno));
        app_socket_failed_ = true;
        return false;
    }
    return true;
}

// What the socket does not take at once waits in backlog_, which the loop sends after the
// app returns; the app waits for the client only beyond kOutputHighWater. (Waiting sooner
// would let any client that reads slowly hold a thread.)
bool Connection::write_all(std::string_view bytes) {
    if (output_refused_ || app_socket_failed_) return false;
    if (backlog_.empty()) {
        size_t sent = 0;
        if (!send_now(bytes, sent)) return false;
        bytes.remove_prefix(sent);
    }
    backlog_.append(bytes);
    if (backlog_.size() <= kOutputHighWater) return true;
    ClientWaitBudget& budget = owner_.wait_budget();
    if (!budget.try_acquire()) {
        // Every thread this worker lets wait for a client already does: this call may not
        // join them. The client has its first MiB; the rest of the response is dropped and
        // the connection ends once that is sent, or at send_timeout.
        output_refused_ = app_close_ = true;
        spdlog::warn("client {}:{} reads \"{} {}\" too slowly while {} app thread(s) already wait "
                     "for clients; the rest of the response is dropped", peer_.remote_addr,
                     peer_.remote_port, exchange_.request().method(), exchange_.request().target(),
                     budget.cap());
        return false;
    }
    bool ok = wait_for_room();
    budget.release();
    return ok;
}

bool Connection::wait_for_room() {
    shared::ClientWait waiting(owner_.thread_slot(app_thread_));
    int64_t timeout_ms = owner_.settings().send_timeout * 1000;
    while (backlog_.size() > kOutputHighWater) {
        if (io_.app_socket().wait(POLLOUT, timeout_ms) == AppSocket::Wait::kTimeout) {
            spdlog::info("client {}:{} read nothing for send_timeout ({} s); closing",
                         peer_.remote_addr, peer_.remote_port, owner_.settings().send_timeout);
            app_socket_failed_ = true;
            return false;
        }
        if (exchange_.aborted()) return false;
        size_t sent = 0;
        if (!send_now(backlog_, sent)) return false;
        backlog_.erase(0, sent);
    }
    return true;
}

// sendfile straight from the file to the socket while nothing else waits to go out before
// it; otherwise, and for a client too slow to wait for, the bytes go the way of write_all.
bool Connection::send_file(int fd, uint64_t offset, uint64_t len) {
    if (output_refused_ || app_socket_failed_) return false;
    if (!backlog_.empty()) return copy_file(fd, offset, len);
    AppSocket& socket = io_.app_socket();
    auto pos = static_cast<off_t>(offset);
    while (len > 0) {
        ssize_t n = socket.send_file(fd, &pos, static_cast<size_t>(std::min<uint64_t>(len, 1 << 30)));
        if (n > 0) {
            len -= static_cast<uint64_t>(n);
            continue;
        }
        if (n == 0) return false;  // the file is shorter than promised
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            spdlog::debug("sendfile to {}:{} failed ({})", peer_.remote_addr, peer_.remote_port, strerror(errno));
            app_socket_failed_ = true;
            return false;
        }
        // The socket is full: the rest goes through the backlog, which waits for the client
        // only beyond kOutputHighWater and within the worker's budget of waiting threads.
        return copy_file(fd, static_cast<uint64_t>(pos), len);
    }
    return true;
}

bool Connection::copy_file(int fd, uint64_t offset, uint64_t len) {
    std::string chunk;
    while (len > 0) {
        chunk.resize(static_cast<size_t>(std::min<uint64_t>(len, 256 << 10)));
        ssize_t n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        if (!write_all(std::string_view(chunk.data(), static_cast<size_t>(n)))) return false;
        offset += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return true;
}

void Connection::send_continue() {
    if (continue_sent_) return;
    continue_sent_ = true;
    write_all(kContinueResponse);
}

// ---- output and closing, on the loop ----

void Connection::send(std::string bytes) {
    if (state_ == State::kClosed) return;
    last_write_ms_ = io_.now_ms();
    io_.send(std::move(bytes));
    if (io_.sending()) arm_state_timer();
}

void Connection::on_sent() {
    last_write_ms_ = io_.now_ms();
    if (state_ == State::kClosing) return finish_closing();
    if (state_ == State::kBody) dispatch_when_ready();
    if (state_ != State::kApp) arm_state_timer();
}

void Connection::on_write_error() { close(); }

// Half-close after the last byte is written, then linger briefly before closing.
void Connection::close_gracefully() {
    if (state_ == State::kClosing || state_ == State::kLinger || state_ == State::kClosed) return;
    close_after_ = true;
    io_.stop_reading();
    enter(State::kClosing);
    finish_closing();
}

void Connection::finish_closing() {
    if (state_ != State::kClosing || io_.sending()) return;
    // Lingering protects a response from the reset that unread input would cause. A client
    // that said Connection: close, with all it sent read, has nothing more to send (nginx
    // skips lingering then too): closing now saves a shutdown, a wake-up and a read.
    if (client_closes_ && !parser_.in_message() && pending_input_.empty() && !input_ended_)
        return close();
    state_ = State::kLinger;
    io_.stop_timer();
    io_.shutdown_write();
}

void Connection::on_shutdown(bool ok) {
    if (state_ == State::kClosed) return;
    if (!ok || input_ended_) return close();
    enter(State::kLinger);
    io_.start_reading();
}

void Connection::close() {
    if (state_ == State::kClosed) return;
    if (state_ == State::kApp) {
        // The app's thread owns the socket: cut its I/O short; the loop closes once the
        // call is back (a quick stop does not wait for it).
        close_when_back_ = true;
        exchange_.abort();
        io_.interrupt_app_io();
        return;
    }
    count_request_done(kClientClosedRequest);  // a request whose app call never started
    state_ = State::kClosed;
    io_.stop_reading();
    io_.close();
}

void Connection::on_closed() { owner_.on_closed(*this); }

void Connection::stop_when_idle() {
    if (stop_requested_) return;
    stop_requested_ = true;
    switch (state_) {
        case State::kApp:
        case State::kBody: return exchange_.refuse_keep_alive();  // decided when it is back
        case State::kIdle: return arm_state_timer();  // the stop grace
        case State::kHead:
            // Nothing of a request yet (a new connection): the stop grace, not header_timeout.
            if (!parser_.in_message() && pending_input_.empty()) return enter(State::kIdle);
            return;  // a request is arriving: it is answered with Connection: close
        case State::kDrainBody:
        case State::kClosing:
        case State::kLinger:
        case State::kClosed: return;
    }
}

}  // namespace cppg::worker
