// SPDX-License-Identifier: MIT
// One client connection as an explicit state machine, with no socket in it: bytes, EOF,
// timer and "sent" events come in, and the connection answers through ConnectionIo (libuv in
// a worker, a fake in the unit tests). While a thread runs the app the connection belongs to
// that thread: the app's reads and writes go through this class's Transport side, straight
// to the socket (AppSocket), and the loop only keeps what arrives until it is handed back.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "config/settings.hpp"
#include "http/parser.hpp"
#include "log/logging.hpp"
#include "shared/counters.hpp"
#include "shared/scoreboard.hpp"
#include "worker/exchange.hpp"
#include "worker/leader_followers.hpp"
#include "worker/transport.hpp"

namespace cppg::worker {

class Connection;

// What the connection asks of its socket and timer, on the loop.
class ConnectionIo {
public:
    virtual ~ConnectionIo() = default;
    virtual void start_reading() = 0;
    virtual void stop_reading() = 0;
    // Queues bytes behind those not yet written; Connection::on_sent once all are out.
    virtual void send(std::string bytes) = 0;
    virtual bool sending() const = 0;
    // Half-closes after the queued bytes; Connection::on_shutdown with the outcome.
    virtual void shutdown_write() = 0;
    // Closes the socket and the timer; Connection::on_closed once they are gone.
    virtual void close() = 0;
    // The connection's one timer: Connection::on_timer after `ms`, then every `repeat_ms`.
    virtual void arm_timer(uint64_t ms, uint64_t repeat_ms) = 0;
    virtual void stop_timer() = 0;
    virtual uint64_t now_ms() = 0;
    // Bytes or EOF in the socket that have not been read yet.
    virtual bool input_waiting() = 0;
    // Any thread: wakes an app thread blocked on this socket (the connection is being cut).
    virtual void interrupt_app_io() = 0;
    virtual AppSocket& app_socket() = 0;
};

// How many of a worker's app threads may wait for slow clients at once (room to write): a
// thread beyond the budget is not allowed to wait, so clients that do not read can never
// hold every thread of a worker.
class ClientWaitBudget {
public:
    explicit ClientWaitBudget(int threads) : cap_(threads > 1 ? threads / 2 : 1) {}
    bool try_acquire() {
        int n = waiting_.load(std::memory_order_relaxed);
        while (n < cap_)
            if (waiting_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
        return false;
    }
    void release() { waiting_.fetch_sub(1, std::memory_order_acq_rel); }
    int cap() const { return cap_; }

private:
    const int cap_;
    std::atomic<int> waiting_{0};
};

// What a connection needs of its worker.
class ConnectionOwner {
public:
    virtual ~ConnectionOwner() = default;
    virtual const config::Settings& settings() const = 0;
    virtual const http::ParserLimits& limits() const = 0;
    virtual log::AccessLog* access_log() = 0;            // any thread
    virtual shared::RequestCounters* counters() = 0;     // any thread; null: not counted
    virtual ClientWaitBudget& wait_budget() = 0;         // any thread
    virtual shared::ThreadSlot* thread_slot(size_t thread) = 0;  // any thread; may be null
    virtual char* read_buffer() = 0;                     // the calling thread's
    // Runs the app for `exchange` on the calling thread: hooks, scoreboard, context stacks,
    // then conclude(); the exchange's last bytes are not yet flushed.
    virtual void run_app(size_t thread, Exchange& exchange) = 0;
    // Loop side.
    virtual bool shutting_down() const = 0;
    virtual void dispatch(Connection& connection) = 0;  // run its request on some thread
    virtual void on_request_done() = 0;                 // counts toward max_requests
    virtual void on_closed(Connection& connection) = 0;  // the connection may be deleted
};

class Connection final : public http::ParserEvents, public LeaderFollowers::Job, private Transport {
public:
    // What the connection is waiting for. The timer follows from it (arm_state_timer).
    enum class State {
        kIdle,       // the next request; nothing of it yet     timer: keepalive / stop grace
        kHead,       // the rest of a request head               timer: header_timeout
        kBody,       // the body, before the app starts          timer: activity (body_timeout)
        kApp,        // a thread runs the app; the loop keeps what arrives   no timer
        kDrainBody,  // the rest of a body the app did not read  timer: activity (body_timeout)
        kClosing,    // no more requests: the last bytes go out  timer: activity (send_timeout)
        kLinger,     // our side shut down: dropping input until the client closes   timer: linger
        kClosed,     // the handles are closing
    };

    // Bytes of a request body buffered before the app starts: a slow client holds no thread
    // while it sends a small body, and a large upload still streams to the app.
    static constexpr size_t kAppStartBytes = 64 << 10;
    // Response bytes kept for a client that reads slowly before the app's write() waits.
    static constexpr size_t kOutputHighWater = 1 << 20;
    // Pipelined bytes held while a request runs, before the connection stops reading.
    static constexpr size_t kMaxHeldInput = 64 << 10;
    // After answering and shutting down our side, keep reading (and dropping) for this long so
    // a client still sending does not get a RST that destroys the response it has not read.
    static constexpr uint64_t kLingerMs = 2000;
    // How long a stopping worker keeps an idle keep-alive connection open for a request that
    // may already be on its way (at most keepalive).
    static constexpr uint64_t kStopGraceMs = 1000;
    // How often a connection waiting on a body or on a slow reader checks the timeouts.
    static constexpr uint64_t kActivityTickMs = 1000;
    // A timer that finds unread input gives the loop this long to read it.
    static constexpr uint64_t kUnreadInputGraceMs = 1000;
    static constexpr size_t kReadBufferSize = 64 << 10;

    Connection(ConnectionOwner& owner, ConnectionIo& io, PeerInfo peer, bool expect_proxy_line);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // ---- loop side: events ----
    void open();
    void on_input(const char* data, size_t len);
    void on_eof();  // EOF or a read error
    void on_sent();  // everything queued has been written
    void on_write_error();
    void on_shutdown(bool ok);
    void on_timer();
    void on_closed();
    // Graceful stop: the response in progress, and a request that arrives within a short
    // grace, are answered with Connection: close; then the connection closes.
    void stop_when_idle();
    // Quick stop: close now, abandoning any request in progress.
    void close();

    State state() const { return state_; }
    bool app_running() const { return state_ == State::kApp; }
    const PeerInfo& peer() const { return peer_; }
    ConnectionIo& io() { return io_; }

    // ---- LeaderFollowers::Job ----
    void run(size_t thread) override;
    bool needs_loop_now() const override;
    void back_on_loop() override;

private:
    // http::ParserEvents (whichever side owns the connection).
    void on_request_head(const http::Request& request) override;
    void on_request_body(std::string_view data) override;
    void on_request_complete() override;

    // Transport: the app's I/O, on its thread.
    void pull_body(Exchange& exchange) override;
    bool write_all(std::string_view bytes) override;
    void send_continue() override;
    bool send_file(int fd, uint64_t offset, uint64_t len) override;
    bool copy_file(int fd, uint64_t offset, uint64_t len);
    bool send_now(std::string_view bytes, size_t& sent);
    bool wait_for_room();
    void feed_from_app(const char* data, size_t len);

    // Loop side.
    void enter(State state);
    void arm_state_timer();
    bool take_proxy_line(const char*& data, size_t& len);
    void feed(const char* data, size_t len);
    void hold_input(const char* data, size_t len);
    void on_parse_error();
    bool body_ready() const;
    void dispatch_when_ready();
    void start_next_request();
    void take_pending_input();
    void resume_reading();
    void send(std::string bytes);
    void close_gracefully();
    void finish_closing();
    void on_activity_tick();
    void on_body_timeout();
    void on_send_timeout();
    void on_head_or_idle_timeout();
    void count_request_done(int status);
    void log_access();

    ConnectionOwner& owner_;
    ConnectionIo& io_;
    http::RequestParser parser_;
    Exchange exchange_;
    PeerInfo peer_;
    State state_ = State::kHead;

    // Loop side.
    std::string pending_input_;  // bytes that arrived after the current request
    std::string proxy_line_;     // --proxy-protocol: the PROXY line, while it arrives
    bool expect_proxy_line_;
    bool input_ended_ = false;   // the client sent EOF (or the socket failed)
    bool stop_requested_ = false;
    bool close_after_ = false;   // no request after this one
    bool close_when_back_ = false;  // close() came while a thread ran the app
    uint64_t last_read_ms_ = 0;
    uint64_t last_write_ms_ = 0;

    // The current request, handed between the loop and the app's thread.
    bool client_closes_ = false;      // it said Connection: close (or spoke HTTP/1.0)
    bool message_complete_ = false;   // its body has been received in full
    bool request_open_ = false;       // counted in flight, not yet done
    bool continue_sent_ = false;
    bool reading_left_to_app_ = false;  // the loop stopped reading for the app's thread
    // The loop kept input (or an EOF) that arrived during the call: the call's end must wake
    // the leader, which may already be waiting for events that will not come again.
    std::atomic<bool> input_held_{false};
    std::chrono::system_clock::time_point request_started_;

    // The app's side, while a thread runs it.
    size_t app_thread_ = 0;
    std::string backlog_;     // response bytes the socket did not take; the loop sends them
    std::string app_input_;   // bytes read past the body (the next request's)
    bool app_close_ = false;  // the app's side decided the connection must end
    bool app_socket_failed_ = false;  // ... at once: the socket failed or timed out
    bool output_refused_ = false;
};

}  // namespace cppg::worker
