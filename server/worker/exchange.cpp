// SPDX-License-Identifier: MIT
#include "worker/exchange.hpp"

#include <cstring>
#include <random>

#include <spdlog/spdlog.h>

namespace cppg::worker {

namespace {

cppg_str_t to_str(std::string_view s) { return cppg_str_t{s.data(), s.size()}; }

}  // namespace

void Exchange::begin(const http::Request* request, const PeerInfo* peer,
                     bool keep_response_headers, bool keep_alive, Transport* transport) {
    request_ = request;
    peer_ = peer;
    transport_ = transport;
    keep_response_headers_ = keep_response_headers;
    aborted_.store(false, std::memory_order_relaxed);
    keep_alive_refused_.store(false, std::memory_order_relaxed);
    head_received_us_ = shared::monotonic_us();
    body_.clear();
    body_pos_ = 0;
    body_done_ = false;
    body_error_ = 0;
    body_error_status_ = 0;
    continue_requested_ = false;
    writer_ = http::ResponseWriter({request->is_head(), request->version_minor(), keep_alive});
    out_.clear();
    invalid_response_ = false;
    final_status_ = 0;
    final_close_ = false;
    response_headers_.clear();
    environ_scratch_.clear();
    request_id_.clear();
}

void Exchange::push_body(std::string_view data) {
    if (body_done_) return;
    if (body_pos_ == body_.size()) {
        body_.clear();
        body_pos_ = 0;
    } else if (body_pos_ > kBodyCompactAfter) {
        body_.erase(0, body_pos_);
        body_pos_ = 0;
    }
    body_.append(data);
}

void Exchange::end_body(int error, int error_status) {
    if (body_done_) return;
    body_done_ = true;
    body_error_ = error;
    body_error_status_ = error_status;
}

// ---- the app's thread ----

namespace {
// 64 random bits from a per-thread generator seeded with 128 bits, so no two threads (or
// workers) share a sequence.
uint64_t random_id() {
    thread_local std::mt19937_64 rng = [] {
        std::random_device rd;
        std::seed_seq seed{rd(), rd(), rd(), rd()};
        return std::mt19937_64(seed);
    }();
    return rng();
}
}  // namespace

std::string_view Exchange::request_id() {
    if (request_id_.empty()) {
        std::string_view sent = request_->header("X-Request-Id");
        bool valid = !sent.empty() && sent.size() <= 200 &&
                     sent.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
                         std::string_view::npos;
        if (valid) {
            request_id_ = sent;
        } else {
            request_id_ = fmt::format("{:016x}", random_id());
        }
    }
    return request_id_;
}

int Exchange::environ_get(const char* key, cppg_str_t* out) {
    if (std::string_view(key) == "REQUEST_ID") {
        *out = to_str(request_id());
        return CPPG_OK;
    }
    auto value = http::environ_value(*request_, *peer_, key, environ_scratch_);
    *out = value ? to_str(*value) : cppg_str_t{nullptr, 0};
    return value ? CPPG_OK : CPPG_EINVAL;
}

int Exchange::header_at(size_t index, cppg_header_t* out) const {
    if (index >= request_->header_count()) return CPPG_EINVAL;
    out->name = to_str(request_->header_name(index));
    out->value = to_str(request_->header_value(index));
    return CPPG_OK;
}

ptrdiff_t Exchange::read(void* buf, size_t len) {
    if (request_->expect_continue() && !continue_requested_ && !writer_.started() && !body_done_) {
        continue_requested_ = true;
        transport_->send_continue();
    }
    while (body_pos_ == body_.size() && !body_done_ && !aborted()) transport_->pull_body(*this);
    if (aborted()) return CPPG_ECLOSED;
    size_t available = body_.size() - body_pos_;
    if (available == 0) return body_error_;
    size_t n = std::min(len, available);
    std::memcpy(buf, body_.data() + body_pos_, n);
    body_pos_ += n;
    return static_cast<ptrdiff_t>(n);
}

int Exchange::start_response(const char* status, const cppg_header_t* headers, size_t n) {
    if (status == nullptr || (headers == nullptr && n > 0)) return CPPG_EINVAL;
    std::vector<http::HeaderField> fields;
    fields.reserve(n);
    for (size_t i = 0; i < n; ++i)
        fields.push_back({{headers[i].name.ptr, headers[i].name.len},
                          {headers[i].value.ptr, headers[i].value.len}});
    std::string why;
    if (keep_alive_refused_.load(std::memory_order_acquire)) writer_.refuse_keep_alive();
    // Answered before the body the client holds back for a 100 Continue that never came: the
    // connection ends after this response (its unsent body cannot be told from the next
    // request), and RFC 9110 10.1.1 wants the response to say so. While the app runs, its
    // thread alone reads the body, so body_done_ is this thread's to read.
    if (request_->expect_continue() && !continue_requested_ && !body_done_) writer_.refuse_keep_alive();
    auto err = writer_.start(status, fields, out_, why);
    if (err == http::ResponseWriter::Error::kState) return CPPG_ESTATE;
    if (err == http::ResponseWriter::Error::kInvalid) {
        spdlog::error("app error on \"{} {}\": {}; answering 500", request_->method(),
                      request_->target(), why);
        invalid_response_ = true;
        return CPPG_EINVAL;
    }
    if (keep_response_headers_)
        for (const auto& f : fields) response_headers_.emplace_back(f.name, f.value);
    return CPPG_OK;
}

int Exchange::write(const void* data, size_t len) {
    if (!writer_.started()) return CPPG_ESTATE;
    auto err = writer_.write({static_cast<const char*>(data), len}, out_);
    int rc = CPPG_OK;
    if (err == http::ResponseWriter::Error::kTooLong) {
        spdlog::error("app error on \"{} {}\": wrote more than its Content-Length; extra bytes dropped",
                      request_->method(), request_->target());
        rc = CPPG_EINVAL;
    }
    if (out_.size() >= kOutputBatch) flush();
    return aborted() ? CPPG_ECLOSED : rc;
}

int Exchange::send_file(int fd, uint64_t offset, uint64_t len) {
    bool send = false;
    auto err = writer_.reserve(len, send);
    if (err == http::ResponseWriter::Error::kState) return CPPG_ESTATE;
    if (err == http::ResponseWriter::Error::kTooLong) {
        spdlog::error("app error on \"{} {}\": send_file of {} bytes goes past its Content-Length",
                      request_->method(), request_->target(), len);
        return CPPG_EINVAL;
    }
    if (!send || aborted()) return aborted() ? CPPG_ECLOSED : CPPG_OK;
    flush();  // the head, and anything written before, go first
    if (aborted()) return CPPG_ECLOSED;
    if (!transport_->send_file(fd, offset, len)) {
        abort();
        return CPPG_ECLOSED;
    }
    return CPPG_OK;
}

int Exchange::flush_now() {
    if (!writer_.started()) return CPPG_ESTATE;
    flush();
    return aborted() ? CPPG_ECLOSED : CPPG_OK;
}

void Exchange::flush() {
    if (out_.empty()) return;
    if (!aborted() && !transport_->write_all(out_)) abort();
    out_.clear();  // keeps its capacity for the next response
}

int Exchange::conclude(int rc, bool threw) {
    final_close_ = writer_.close_after();
    if (!writer_.started()) {
        // Nothing reached the client yet, so an honest error status can still be sent.
        int status = body_error_status_ ? body_error_status_ : 500;
        if (!invalid_response_ && !threw && status == 500)
            spdlog::error("app error on \"{} {}\": returned {} without starting a response; "
                          "answering 500", request_->method(), request_->target(), rc);
        out_ = http::simple_response(status, std::string(http::reason_phrase(status)) + "\n", true,
                                     !request_->is_head());
        final_status_ = status;
        final_close_ = true;
    } else if (rc != 0) {
        // The app failed mid-response: no chunked terminator, so that the client sees an
        // incomplete body instead of a shorter one that looks whole.
        final_close_ = true;
    } else if (writer_.finish(out_) == http::ResponseWriter::Error::kInvalid) {
        spdlog::error("app error on \"{} {}\": wrote {} bytes, fewer than its Content-Length; "
                      "closing the connection", request_->method(), request_->target(),
                      writer_.body_bytes());
        final_close_ = true;
    }
    if (writer_.started()) final_status_ = writer_.status();
    return final_status_;
}

void Exchange::finish() {
    flush();
    if (aborted()) final_close_ = true;
}

}  // namespace cppg::worker
