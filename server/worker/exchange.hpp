// One request/response in flight between the loop thread (which owns the socket) and the
// pool thread running the app. Everything the two threads share lives here, behind one mutex;
// the loop learns of changes through Exchange::Notifier (a uv_async_t underneath).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cppgunicorn/app.h"
#include "http/environ.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "shared/scoreboard.hpp"

// Completes the ABI's opaque handle type: an app's cppg_request_t* is an Exchange.
struct cppg_request {};

namespace cppg::worker {

class Exchange;

// Wakes the loop thread for an exchange that has something new for it.
class Notifier {
public:
    virtual ~Notifier() = default;
    virtual void notify(Exchange* exchange) = 0;
};

using http::PeerInfo;

// Blocking socket I/O for an exchange whose app runs on the loop thread itself (--threads 1:
// gunicorn's sync worker). The loop is committed to the app until it returns, so instead of
// waiting for the loop the app's reads and writes do the socket I/O directly.
class InlineIo {
public:
    virtual ~InlineIo() = default;
    // Waits for more of the body and feeds it to the exchange (push_body or end_body), or
    // aborts the exchange; either way the exchange's state has changed when it returns.
    virtual void pull_body() = 0;
    // Writes all of `bytes` to the client; false if the client is gone (the exchange is
    // aborted then).
    virtual bool write_all(std::string_view bytes) = 0;
    // Sends "100 Continue" if it has not been sent yet.
    virtual void send_continue() = 0;
};

// What the loop takes from an exchange when notified.
struct ExchangeUpdate {
    std::string output;        // response bytes to send, in order
    bool send_continue = false;
    bool resume_reading = false;
    bool app_done = false;
    bool close_after = false;  // valid when app_done
    int status = 0;            // valid when app_done
    uint64_t body_bytes = 0;   // valid when app_done
    std::vector<std::pair<std::string, std::string>> response_headers;  // when kept for logs
};

// How many of a worker's app threads may wait for slow clients at once (room to write): a
// thread beyond the budget is not allowed to wait, so clients that do not read can never hold
// every thread of a worker.
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

class Exchange : public cppg_request {
public:
    // Body bytes buffered for the app before the loop stops reading the socket.
    static constexpr size_t kBodyHighWater = 1 << 20;
    static constexpr size_t kBodyLowWater = 256 << 10;
    // Response bytes accepted from the app before write() blocks on a slow client.
    static constexpr size_t kOutputHighWater = 1 << 20;
    static constexpr size_t kOutputLowWater = 256 << 10;
    // The app's own writes are gathered up to this size before they go to the loop.
    static constexpr size_t kOutputBatch = 64 << 10;

    Exchange(Notifier& notifier, void* owner) : notifier_(notifier), owner_(owner) {}
    void* owner() const { return owner_; }

    // ---- loop thread ----
    // Prepares for a new request. Only called while no app call is running on it.
    // With `inline_io` the app will run on the loop thread and do its own socket I/O.
    void begin(const http::Request* request, const PeerInfo* peer, bool keep_response_headers,
               bool keep_alive, InlineIo* inline_io = nullptr);
    void push_body(std::string_view data);
    // Marks the end of the body: 0 when complete, or a CPPG_E* error for the app's read;
    // error_status is what the server answers if the app has not started a response.
    void end_body(int error, int error_status = 0);
    // The scoreboard slot of the thread about to run the app on this exchange (null: none),
    // and the worker's budget of threads that may wait for clients.
    void set_thread_slot(shared::ThreadSlot* slot) { thread_slot_ = slot; }
    void set_wait_budget(ClientWaitBudget* budget) { wait_budget_ = budget; }
    // Microseconds since the request's head was complete (begin()).
    uint64_t since_head_us() const {
        return static_cast<uint64_t>(shared::monotonic_us() - head_received_us_);
    }
    // The client is gone or timed out: unblock the app and discard its output.
    void abort();
    // The worker is stopping: the response, unless its head is already out, says
    // Connection: close (and the connection then closes, through ExchangeUpdate::close_after).
    void refuse_keep_alive();
    // True when the loop should stop reading because the app is slow to consume the body.
    bool should_pause_reading();
    ExchangeUpdate take_update();
    void on_output_sent(size_t bytes);
    bool app_waiting_for_body();
    bool body_complete();
    // Body bytes received and not yet read by the app.
    size_t body_buffered();
    int body_error_status();

    // ---- app (pool) thread, through the ABI ----
    int environ_get(const char* key, cppg_str_t* out);
    size_t header_count() const { return request_->header_count(); }
    int header_at(size_t index, cppg_header_t* out) const;
    ptrdiff_t read(void* buf, size_t len);
    int start_response(const char* status, const cppg_header_t* headers, size_t n);
    int write(const void* data, size_t len);
    // After the app's handle returned `rc`: settles the response (500 if none started) and
    // returns its status, without telling the loop yet, so post_request can still read the
    // request. publish() then hands the rest to the loop; the exchange may be reused after.
    int conclude(int rc, bool threw);
    void publish();

    const http::Request& request() const { return *request_; }

private:
    void post_locked();
    void flush_locked(std::unique_lock<std::mutex>& lock);

    Notifier& notifier_;
    void* owner_;
    const http::Request* request_ = nullptr;
    const PeerInfo* peer_ = nullptr;
    bool keep_response_headers_ = false;
    InlineIo* inline_io_ = nullptr;
    std::atomic<bool> keep_alive_refused_{false};  // set by the loop, read by the app's thread
    shared::ThreadSlot* thread_slot_ = nullptr;  // the app thread's, while a call runs
    ClientWaitBudget* wait_budget_ = nullptr;
    int64_t head_received_us_ = 0;
    bool output_refused_ = false;  // the client would not read and no thread could wait for it

    std::mutex mu_;
    std::condition_variable cv_;
    // Body, loop -> app.
    std::string body_;
    size_t body_pos_ = 0;
    bool body_done_ = false;
    int body_error_ = 0;
    int body_error_status_ = 0;
    bool app_waiting_body_ = false;
    bool reading_paused_ = false;
    bool resume_requested_ = false;
    bool continue_requested_ = false;  // app thread asked once for this request
    bool continue_pending_ = false;    // ... and the loop has not sent it yet
    // Output, app -> loop.
    std::string shared_out_;
    size_t unsent_bytes_ = 0;  // handed to the loop and not yet on the wire
    bool app_waiting_drain_ = false;
    bool app_done_ = false;
    bool aborted_ = false;
    bool notify_posted_ = false;

    // App thread only.
    http::ResponseWriter writer_{{}};
    std::string local_out_;
    bool invalid_response_ = false;
    int final_status_ = 0;      // set by conclude(), read by take_update() under mu_
    bool final_close_ = false;
    std::vector<std::pair<std::string, std::string>> response_headers_;
    http::EnvironScratch environ_scratch_;
};

}  // namespace cppg::worker
