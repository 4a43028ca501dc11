// SPDX-License-Identifier: MIT
// One request and its response, as the app sees them through the ABI: the parsed head, the
// body, and the response writer. Used by one thread at a time: the loop fills it until the
// request is dispatched, then the thread running the app owns it until the call is over.
// Its I/O goes through a Transport, so the same code serves every thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cppgunicorn/app.h"
#include "http/environ.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "shared/clock.hpp"
#include "worker/transport.hpp"

// Completes the ABI's opaque handle type: an app's cppg_request_t* is an Exchange.
struct cppg_request {};

namespace cppg::worker {

using http::PeerInfo;

class Exchange : public cppg_request {
public:
    // The body is compacted once this much of it has been read by the app.
    static constexpr size_t kBodyCompactAfter = 256 << 10;
    // The app's writes are gathered up to this size before they go to the transport.
    static constexpr size_t kOutputBatch = 64 << 10;

    // ---- while the loop owns it ----
    // Prepares for a new request; its I/O will go through `transport`.
    void begin(const http::Request* request, const PeerInfo* peer, bool keep_response_headers,
               bool keep_alive, Transport* transport);
    void push_body(std::string_view data);
    // Marks the end of the body: 0 when complete, or a CPPG_E* error for the app's read;
    // error_status is what the server answers if the app has not started a response.
    void end_body(int error, int error_status = 0);
    bool body_complete() const { return body_done_; }
    size_t body_buffered() const { return body_.size() - body_pos_; }
    // Microseconds since the request's head was complete (begin()).
    uint64_t since_head_us() const { return static_cast<uint64_t>(shared::monotonic_us() - head_received_us_); }

    // ---- any thread ----
    // The client is gone or the worker is quitting: the app's reads and writes fail from now.
    void abort() { aborted_.store(true, std::memory_order_release); }
    bool aborted() const { return aborted_.load(std::memory_order_acquire); }
    // The worker is stopping: the response, unless its head is already out, says
    // Connection: close.
    void refuse_keep_alive() { keep_alive_refused_.store(true, std::memory_order_release); }

    // ---- the app's thread, through the ABI ----
    int environ_get(const char* key, cppg_str_t* out);
    size_t header_count() const { return request_->header_count(); }
    int header_at(size_t index, cppg_header_t* out) const;
    ptrdiff_t read(void* buf, size_t len);
    int start_response(const char* status, const cppg_header_t* headers, size_t n);
    int write(const void* data, size_t len);
    int send_file(int fd, uint64_t offset, uint64_t len);
    // host->flush: hands what was written so far to the transport now.
    int flush_now();
    // After the app's handle returned `rc`: settles the response (an error status if none
    // started) and returns its status. finish() then hands the last bytes to the transport.
    int conclude(int rc, bool threw);
    void finish();

    // ---- after finish() ----
    int status() const { return final_status_; }
    bool close_after() const { return final_close_; }
    uint64_t body_bytes() const { return writer_.body_bytes(); }
    std::vector<std::pair<std::string, std::string>>& response_headers() { return response_headers_; }
    const http::Request& request() const { return *request_; }
    // The request's id: its X-Request-Id when that is 1 to 200 of [A-Za-z0-9._:-], else 16
    // random hex digits; made on first use (the environ's REQUEST_ID, the access log's %(I)s).
    std::string_view request_id();

private:
    void flush();

    const http::Request* request_ = nullptr;
    const PeerInfo* peer_ = nullptr;
    Transport* transport_ = nullptr;
    bool keep_response_headers_ = false;
    std::atomic<bool> aborted_{false};
    std::atomic<bool> keep_alive_refused_{false};
    int64_t head_received_us_ = 0;

    std::string body_;
    size_t body_pos_ = 0;
    bool body_done_ = false;
    int body_error_ = 0;
    int body_error_status_ = 0;
    bool continue_requested_ = false;

    http::ResponseWriter writer_{{}};
    std::string out_;  // response bytes not yet handed to the transport
    bool invalid_response_ = false;
    int final_status_ = 0;
    bool final_close_ = false;
    std::vector<std::pair<std::string, std::string>> response_headers_;  // for the access log
    http::EnvironScratch environ_scratch_;
    std::string request_id_;
};

}  // namespace cppg::worker
