// One client connection, owned by the worker's loop thread: the uv_tcp_t, the parser, the
// timers, and the exchange that carries the current request to the app threads.
#pragma once

#include <uv.h>

#include <sys/socket.h>

#include <chrono>
#include <string>

#include "http/parser.hpp"
#include "worker/exchange.hpp"

namespace cppg::worker {

class Worker;

// A socket address as the environ shows it: "127.0.0.1" and "8000".
void format_address(const sockaddr_storage& ss, std::string& addr, std::string& port);

class Connection final : public http::ParserEvents, private InlineIo {
public:
    explicit Connection(Worker& worker);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // What the worker knows of an accepted socket when it hands it over.
    struct Accepted {
        int fd;
        bool unix_socket;
        const sockaddr_storage* peer;      // from accept4; TCP only
        const std::string* local_name;     // the listener's own address, when it is not a
        const std::string* local_port;     // wildcard one (else null: getsockname tells)
    };
    // Takes an accepted socket. On failure it closes, and deletes itself through the worker.
    void open(const Accepted& accepted);
    // The exchange has output or news for the loop (called from the worker's async handler).
    void on_exchange_update();
    // Graceful stop: the response in progress, and a request that arrives within a short
    // grace, are answered with Connection: close; then the connection closes. A client that
    // sends back to back never finds its next request dropped.
    void stop_when_idle();
    // Quick stop: close now, abandoning any request in progress.
    void close();

    Exchange& exchange() { return exchange_; }
    bool app_running() const { return app_running_; }

private:
    // kStopGrace: the worker is stopping and this connection is between requests; a request
    // that arrives within the grace is answered (with Connection: close), then it closes.
    enum class TimerMode { kNone, kHead, kKeepAlive, kActivity, kLinger, kStopGrace };
    struct WriteReq;

    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_timer(uv_timer_t* timer);
    static void on_close(uv_handle_t* handle);

    // http::ParserEvents
    void on_request_head(const http::Request& request) override;
    void on_request_body(std::string_view data) override;
    void on_request_complete() override;

    // InlineIo: the app's socket I/O when it runs on the loop thread (--threads 1).
    void pull_body() override;
    bool write_all(std::string_view bytes) override;
    bool send_now(int fd, std::string_view bytes, size_t& sent);
    bool input_waiting();
    void send_continue() override;
    // Starts the current request's app call once its body is ready: on an app thread, or on
    // the loop thread (--threads 1), then the requests pipelined after it.
    void start_app_when_ready();
    bool body_ready();
    int socket_fd();

    void describe_tcp_peer(const Accepted& accepted);
    void describe_unix_peer();
    bool take_proxy_line(const char*& data, size_t& len);
    void feed(const char* data, size_t len);
    void hold_input(const char* data, size_t len);
    void on_parse_error();
    void on_peer_eof();
    void on_app_done(const ExchangeUpdate& update);
    void start_next_request();
    void log_access(const ExchangeUpdate& update);
    void count_request_done(int status);

    void send(std::string bytes, bool from_app);
    void close_gracefully();
    void finish_graceful_close();
    void start_reading();
    void stop_reading();
    void arm_timer(TimerMode mode, uint64_t timeout_ms, uint64_t repeat_ms = 0);
    void on_activity_tick();
    void on_body_timeout();
    void on_send_timeout();
    void wait_out_stop_grace();
    void maybe_destroy();

    Worker& worker_;
    // A TCP or a unix-domain client, whichever the listener accepted.
    union ClientHandle {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } client_handle_;
    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&client_handle_); }
    uv_timer_t timer_handle_;
    uv_shutdown_t shutdown_req_;
    http::RequestParser parser_;
    Exchange exchange_;
    PeerInfo peer_;
    std::string pending_input_;  // bytes that arrived after a request that is still running
    std::string proxy_line_;     // --proxy-protocol: the PROXY line, while it arrives
    std::string inline_backlog_;  // --threads 1: response bytes the socket has not taken yet
    bool expect_proxy_line_ = false;

    TimerMode timer_mode_ = TimerMode::kNone;
    int open_handles_ = 0;
    uint64_t requests_seen_ = 0;
    size_t writes_in_flight_ = 0;
    uint64_t last_read_ms_ = 0;
    uint64_t last_write_ms_ = 0;
    std::chrono::system_clock::time_point request_started_;
    std::chrono::steady_clock::time_point request_started_steady_;

    bool reading_ = false;
    bool app_running_ = false;
    bool message_complete_ = false;
    bool continue_sent_ = false;
    bool close_after_response_ = false;
    bool peer_eof_ = false;
    bool closing_gracefully_ = false;
    bool shutdown_started_ = false;
    bool closing_ = false;
    bool stop_requested_ = false;
    bool client_closes_ = false;   // the client said Connection: close (or spoke HTTP/1.0)
    bool inline_request_ = false;  // the current request's app call runs on the loop thread
    bool app_pending_ = false;     // the current request's app call has not started yet
    bool request_open_ = false;    // its head came; not yet counted as done
    bool in_inline_ = false;       // start_app_when_ready is on the stack
};

}  // namespace cppg::worker
