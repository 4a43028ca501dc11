#include "worker/exchange.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

namespace cppg::worker {

namespace {

cppg_str_t to_str(std::string_view s) { return cppg_str_t{s.data(), s.size()}; }

}  // namespace

void Exchange::begin(const http::Request* request, const PeerInfo* peer,
                     bool keep_response_headers, bool keep_alive, InlineIo* inline_io) {
    std::lock_guard lock(mu_);
    request_ = request;
    inline_io_ = inline_io;
    peer_ = peer;
    keep_response_headers_ = keep_response_headers;
    body_.clear();
    body_pos_ = 0;
    body_done_ = false;
    body_error_ = 0;
    body_error_status_ = 0;
    app_waiting_body_ = reading_paused_ = resume_requested_ = false;
    continue_requested_ = continue_pending_ = false;
    app_waiting_drain_ = app_done_ = aborted_ = output_refused_ = false;
    writer_ = http::ResponseWriter({request->is_head(), request->version_minor(), keep_alive});
    keep_alive_refused_.store(false, std::memory_order_relaxed);
    head_received_us_ = shared::monotonic_us();
    local_out_.clear();
    invalid_response_ = false;
    final_status_ = 0;
    final_close_ = false;
    response_headers_.clear();
    environ_scratch_.clear();
}

void Exchange::post_locked() {
    if (notify_posted_ || inline_io_) return;  // inline: the loop reads the update itself
    notify_posted_ = true;
    notifier_.notify(this);
}

// ---- loop thread ----

void Exchange::push_body(std::string_view data) {
    std::lock_guard lock(mu_);
    if (aborted_ || app_done_) return;
    if (body_pos_ == body_.size()) {
        body_.clear();
        body_pos_ = 0;
    } else if (body_pos_ > kBodyLowWater) {
        body_.erase(0, body_pos_);
        body_pos_ = 0;
    }
    body_.append(data);
    if (app_waiting_body_) cv_.notify_all();
}

void Exchange::end_body(int error, int error_status) {
    std::lock_guard lock(mu_);
    body_done_ = true;
    body_error_ = error;
    body_error_status_ = error_status;
    if (app_waiting_body_) cv_.notify_all();
}

void Exchange::abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    cv_.notify_all();
}

void Exchange::refuse_keep_alive() { keep_alive_refused_.store(true, std::memory_order_release); }

bool Exchange::should_pause_reading() {
    std::lock_guard lock(mu_);
    if (body_done_ || app_done_ || body_.size() - body_pos_ < kBodyHighWater) return false;
    reading_paused_ = true;
    return true;
}

bool Exchange::app_waiting_for_body() {
    std::lock_guard lock(mu_);
    return app_waiting_body_;
}

bool Exchange::body_complete() {
    std::lock_guard lock(mu_);
    return body_done_;
}

size_t Exchange::body_buffered() {
    std::lock_guard lock(mu_);
    return body_.size() - body_pos_;
}

int Exchange::body_error_status() {
    std::lock_guard lock(mu_);
    return body_error_status_;
}

ExchangeUpdate Exchange::take_update() {
    ExchangeUpdate u;
    std::lock_guard lock(mu_);
    notify_posted_ = false;
    u.output.swap(shared_out_);
    u.send_continue = continue_pending_;
    continue_pending_ = false;
    if (resume_requested_) {
        u.resume_reading = true;
        resume_requested_ = reading_paused_ = false;
    }
    if (app_done_) {
        u.app_done = true;
        u.close_after = final_close_;
        u.status = final_status_;
        u.body_bytes = writer_.body_bytes();
        u.response_headers = std::move(response_headers_);
    }
    return u;
}

void Exchange::on_output_sent(size_t bytes) {
    std::lock_guard lock(mu_);
    unsent_bytes_ -= std::min(bytes, unsent_bytes_);
    if (app_waiting_drain_ && unsent_bytes_ <= kOutputLowWater) cv_.notify_all();
}

// ---- app thread ----

int Exchange::environ_get(const char* key, cppg_str_t* out) {
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
    std::unique_lock lock(mu_);
    if (request_->expect_continue() && !continue_requested_ && !writer_.started()) {
        continue_requested_ = true;
        if (inline_io_) {
            lock.unlock();
            inline_io_->send_continue();
            lock.lock();
        } else {
            continue_pending_ = true;
            post_locked();
        }
    }
    while (body_pos_ == body_.size() && !body_done_ && !aborted_) {
        if (inline_io_) {
            lock.unlock();
            inline_io_->pull_body();
            lock.lock();
            continue;
        }
        app_waiting_body_ = true;
        shared::ClientWait waiting(thread_slot_);
        cv_.wait(lock);
        app_waiting_body_ = false;
    }
    if (aborted_) return CPPG_ECLOSED;
    size_t available = body_.size() - body_pos_;
    if (available > 0) {
        size_t n = std::min(len, available);
        std::memcpy(buf, body_.data() + body_pos_, n);
        body_pos_ += n;
        if (reading_paused_ && !resume_requested_ && available - n <= kBodyLowWater) {
            resume_requested_ = true;
            post_locked();
        }
        return static_cast<ptrdiff_t>(n);
    }
    return body_error_;
}

int Exchange::start_response(const char* status, const cppg_header_t* headers, size_t n) {
    if (status == nullptr || (headers == nullptr && n > 0)) return CPPG_EINVAL;
    std::vector<http::HeaderField> fields;
    fields.reserve(n);
    for (size_t i = 0; i < n; ++i)
        fields.push_back({{headers[i].name.ptr, headers[i].name.len},
                          {headers[i].value.ptr, headers[i].value.len}});
    std::string why;
    // The writer belongs to the app's thread while it runs; the loop only leaves a flag.
    if (keep_alive_refused_.load(std::memory_order_acquire)) writer_.refuse_keep_alive();
    auto err = writer_.start(status, fields, local_out_, why);
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
    auto err = writer_.write({static_cast<const char*>(data), len}, local_out_);
    int rc = CPPG_OK;
    if (err == http::ResponseWriter::Error::kTooLong) {
        spdlog::error("app error on \"{} {}\": wrote more than its Content-Length; extra bytes dropped",
                      request_->method(), request_->target());
        rc = CPPG_EINVAL;
    }
    if (local_out_.size() >= kOutputBatch) {
        std::unique_lock lock(mu_);
        flush_locked(lock);
        if (aborted_ || output_refused_) return CPPG_ECLOSED;
    }
    return rc;
}

void Exchange::flush_locked(std::unique_lock<std::mutex>& lock) {
    if (local_out_.empty()) return;
    if (aborted_ || output_refused_) {
        local_out_.clear();
        return;
    }
    if (inline_io_) {
        std::string out;
        out.swap(local_out_);
        lock.unlock();
        bool sent = inline_io_->write_all(out);
        lock.lock();
        if (!sent) aborted_ = true;
        out.clear();
        local_out_.swap(out);  // keeps the buffer's capacity for the next response
        return;
    }
    unsent_bytes_ += local_out_.size();
    if (shared_out_.empty()) shared_out_.swap(local_out_);
    else shared_out_.append(local_out_);
    local_out_.clear();
    post_locked();
    if (aborted_ || app_done_ || unsent_bytes_ <= kOutputHighWater) return;
    if (wait_budget_ && !wait_budget_->try_acquire()) {
        // Every thread this worker lets wait for a client already does: this call may not
        // join them. The client has its first MiB; the rest of the response is dropped and
        // the connection ends once that is sent, or at send_timeout.
        output_refused_ = true;
        spdlog::warn("client {}:{} reads \"{} {}\" too slowly while {} app thread(s) already wait "
                     "for clients; the rest of the response is dropped",
                     peer_->remote_addr, peer_->remote_port, request_->method(), request_->target(),
                     wait_budget_->cap());
        return;
    }
    while (!aborted_ && !app_done_ && unsent_bytes_ > kOutputHighWater) {
        app_waiting_drain_ = true;
        shared::ClientWait waiting(thread_slot_);
        cv_.wait(lock);
        app_waiting_drain_ = false;
    }
    if (wait_budget_) wait_budget_->release();
}

int Exchange::conclude(int rc, bool threw) {
    std::unique_lock lock(mu_);
    final_close_ = writer_.close_after();
    if (!writer_.started()) {
        // Nothing reached the client yet, so an honest error status can still be sent.
        int status = body_error_status_ ? body_error_status_ : 500;
        if (!invalid_response_ && !threw && status == 500)
            spdlog::error("app error on \"{} {}\": returned {} without starting a response; "
                          "answering 500", request_->method(), request_->target(), rc);
        local_out_ = http::simple_response(status, std::string(http::reason_phrase(status)) + "\n",
                                           true, !request_->is_head());
        final_status_ = status;
        final_close_ = true;
    } else if (writer_.finish(local_out_) == http::ResponseWriter::Error::kInvalid) {
        spdlog::error("app error on \"{} {}\": wrote {} bytes, fewer than its Content-Length; "
                      "closing the connection", request_->method(), request_->target(),
                      writer_.body_bytes());
        final_close_ = true;
    } else if (rc != 0) {
        final_close_ = true;
    }
    if (writer_.started()) final_status_ = writer_.status();
    return final_status_;
}

void Exchange::publish() {
    std::unique_lock lock(mu_);
    app_done_ = true;
    flush_locked(lock);
    post_locked();
}

}  // namespace cppg::worker
