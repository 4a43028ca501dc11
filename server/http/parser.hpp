// SPDX-License-Identifier: MIT
// Request parsing on top of llhttp: limits, request-smuggling defenses and the request head.
// Knows nothing about sockets or apps: bytes in, events out.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "http/chunk_line_filter.hpp"
#include "http/field_line_filter.hpp"
#include "http/request.hpp"

namespace cppg::http {

struct ParserLimits {
    int64_t request_line = 4094;   // 0 = unlimited
    int64_t fields = 100;          // 0 = unlimited
    int64_t field_size = 8190;     // 0 = unlimited
    int64_t body = 0;              // 0 = unlimited
};

// Hard cap on a whole request head whatever the limits say, so that "unlimited" settings
// still bound the memory one connection can pin.
constexpr size_t kMaxHeadBytes = 1 << 20;

class ParserEvents {
public:
    virtual ~ParserEvents() = default;
    // A complete, validated request head. Request stays unchanged until the message ends.
    virtual void on_request_head(const Request& request) = 0;
    // A piece of the de-chunked body.
    virtual void on_request_body(std::string_view data) = 0;
    // The whole request, body included, has been received.
    virtual void on_request_complete() = 0;
};

class RequestParser {
public:
    enum class Status { kNeedMore, kPaused, kError };
    struct Result {
        Status status;
        size_t consumed;  // bytes of the input used; the rest belongs to the next request
    };

    RequestParser(const ParserLimits& limits, ParserEvents& events);
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses bytes. Stops (kPaused) after each complete request so that pipelined requests
    // are handled one at a time; call resume() before feeding the rest.
    Result feed(const char* data, size_t len);
    void resume();

    // After kError: the status to answer with (400, 413, 414, 431, 501, 505) and why.
    int error_status() const { return error_status_; }
    const std::string& error_reason() const { return error_reason_; }

    // True from the first byte of a request until its end.
    bool in_message() const { return in_message_; }
    bool head_complete() const { return head_done_; }
    const Request& request() const { return request_; }

private:
    static int on_message_begin(llhttp_t* p);
    static int on_method(llhttp_t* p, const char* at, size_t len);
    static int on_url(llhttp_t* p, const char* at, size_t len);
    static int on_header_field(llhttp_t* p, const char* at, size_t len);
    static int on_header_value(llhttp_t* p, const char* at, size_t len);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, size_t len);
    static int on_message_complete(llhttp_t* p);

    llhttp_errno_t execute_head(std::string_view in, size_t& used);
    int fail(int status, std::string reason);
    Result failed();
    int check_request_line();
    int extend_header(bool is_value, const char* at, size_t len);
    int validate_head();
    bool absolute_form() const;
    int split_target();
    int check_transfer_encoding(std::string_view value);

    // Between requests, or in a head: the bytes go through field_lines_.
    bool reading_head() const { return !in_message_ || !head_done_; }

    llhttp_t parser_;
    FieldLineFilter field_lines_;
    ChunkLineFilter chunk_lines_;
    llhttp_settings_t settings_;
    ParserLimits limits_;
    ParserEvents& events_;
    Request request_;
    int error_status_ = 0;
    std::string error_reason_;
    bool in_message_ = false;
    bool head_done_ = false;
    bool expect_new_header_ = true;  // the next header-field bytes start a new header
    size_t header_line_bytes_ = 0;
    size_t head_bytes_ = 0;
    size_t trailer_count_ = 0;
    std::string trailer_name_;  // the trailer field being read, for the forbidden-name check
    int64_t body_bytes_ = 0;
    bool saw_host_ = false;
};

}  // namespace cppg::http
