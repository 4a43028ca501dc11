// SPDX-License-Identifier: MIT
#include "http/parser.hpp"

#include "http/target.hpp"

namespace cppg::http {

namespace {

RequestParser* self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

bool exceeds(int64_t limit, size_t value) { return limit > 0 && value > static_cast<size_t>(limit); }

// Fields a sender must not put in trailers (RFC 9110 6.5.1): framing, routing, request
// modifiers, authentication, content format. Accepting them is how a trailer smuggles a
// second Content-Length or Host past a front end; they are refused, not ignored.
bool forbidden_in_trailers(std::string_view name) {
    for (std::string_view f : {"Content-Length", "Transfer-Encoding", "Host", "Connection",
                               "Keep-Alive", "Upgrade", "TE", "Trailer", "Expect",
                               "Cache-Control", "Max-Forwards", "Pragma", "Range",
                               "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
                               "Content-Encoding", "Content-Type", "Content-Range"})
        if (iequals(name, f)) return true;
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits, ParserEvents& events)
    : limits_(limits), events_(events) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = on_message_begin;
    settings_.on_method = on_method;
    settings_.on_url = on_url;
    settings_.on_header_field = on_header_field;
    settings_.on_header_value = on_header_value;
    settings_.on_header_value_complete = on_header_value_complete;
    settings_.on_headers_complete = on_headers_complete;
    settings_.on_body = on_body;
    settings_.on_message_complete = on_message_complete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
}

RequestParser::Result RequestParser::feed(const char* data, size_t len) {
    size_t used = 0;
    while (used < len) {
        if (chunk_lines_.active()) {
            // Size lines of a chunked body are read there; llhttp sees the sizes alone.
            std::string filtered;
            size_t n = chunk_lines_.take({data + used, len - used}, filtered);
            if (n == ChunkLineFilter::kRefused) {
                fail(400, std::string(chunk_lines_.error()));
                return {Status::kError, 0};
            }
            used += n;
            if (filtered.empty()) continue;
            llhttp_errno_t err = llhttp_execute(&parser_, filtered.data(), filtered.size());
            if (err != HPE_OK) return failed();  // it cannot pause inside the chunks
            continue;
        }
        if (reading_head()) {
            llhttp_errno_t err = execute_head({data + used, len - used}, used);
            if (err == HPE_OK) continue;
            if (err != HPE_PAUSED) return failed();
        } else {
            llhttp_errno_t err = llhttp_execute(&parser_, data + used, len - used);
            if (err == HPE_OK) return {Status::kNeedMore, len};
            if (err != HPE_PAUSED) return failed();
            used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
        }
        if (!in_message_) return {Status::kPaused, used};  // a whole request: one at a time
        llhttp_resume(&parser_);  // paused after a chunked head, for the filter to take over
    }
    return {Status::kNeedMore, len};
}

// Head lines go to llhttp through the field line filter; `used` grows by what it took.
llhttp_errno_t RequestParser::execute_head(std::string_view in, size_t& used) {
    size_t n = 0;
    std::string_view lines = field_lines_.take(in, n);
    used += n;
    if (lines.empty()) return HPE_OK;
    llhttp_errno_t err = llhttp_execute(&parser_, lines.data(), lines.size());
    // What llhttp left of `lines` when it paused is their end: a view of the input, or a
    // changed line whose head ended with it (then nothing is left).
    if (err == HPE_PAUSED) used -= static_cast<size_t>(lines.data() + lines.size() - llhttp_get_error_pos(&parser_));
    return err;
}

RequestParser::Result RequestParser::failed() {
    if (error_status_ == 0) {
        // llhttp's own rejections: malformed syntax, CL+TE, duplicate Content-Length, bad
        // chunk sizes, control characters. All are client errors that end the connection.
        error_status_ = 400;
        error_reason_ = llhttp_get_error_reason(&parser_);
    }
    return {Status::kError, 0};
}

void RequestParser::resume() { llhttp_resume(&parser_); }

int RequestParser::fail(int status, std::string reason) {
    error_status_ = status;
    error_reason_ = std::move(reason);
    return -1;
}

int RequestParser::on_message_begin(llhttp_t* p) {
    auto* s = self(p);
    s->request_.clear();
    s->in_message_ = true;
    s->head_done_ = false;
    s->expect_new_header_ = true;
    s->header_line_bytes_ = 0;
    s->head_bytes_ = 0;
    s->trailer_count_ = 0;
    s->trailer_name_.clear();
    s->body_bytes_ = 0;
    s->saw_host_ = false;
    return 0;
}

int RequestParser::on_method(llhttp_t* p, const char* at, size_t len) {
    auto* s = self(p);
    s->request_.bytes_.append(at, len);
    s->request_.method_.length += static_cast<uint32_t>(len);
    return s->check_request_line();
}

int RequestParser::on_url(llhttp_t* p, const char* at, size_t len) {
    auto* s = self(p);
    Request& r = s->request_;
    if (r.target_.length == 0) r.target_.offset = static_cast<uint32_t>(r.bytes_.size());
    r.bytes_.append(at, len);
    r.target_.length += static_cast<uint32_t>(len);
    return s->check_request_line();
}

int RequestParser::check_request_line() {
    // method SP target SP HTTP/x.y, counted while the target is still arriving.
    constexpr size_t kVersionBytes = 8;
    size_t line = request_.method_.length + 1 + request_.target_.length + 1 + kVersionBytes;
    if (exceeds(limits_.request_line, line))
        return fail(414, "request line is longer than limit_request_line (" +
                             std::to_string(limits_.request_line) + " bytes)");
    if (line > kMaxHeadBytes) return fail(414, "request line is too long");
    return 0;
}

int RequestParser::extend_header(bool is_value, const char* at, size_t len) {
    head_bytes_ += len;
    // A value with no name before it (": value"): nothing to attach it to.
    if (is_value && expect_new_header_) return fail(400, "a header field without a name");
    if (!is_value && expect_new_header_) {
        expect_new_header_ = false;
        // The whole line counts, as gunicorn counts it: name + ": " + value + CRLF. llhttp
        // reports only the name and value, so the usual 4 separator bytes are added here.
        header_line_bytes_ = 4;
        size_t count = head_done_ ? ++trailer_count_ : request_.headers_.size() + 1;
        if (exceeds(limits_.fields, count))
            return fail(431, "more header fields than limit_request_fields (" +
                                 std::to_string(limits_.fields) + ")");
        if (!head_done_) request_.headers_.push_back(HeaderSpan{});
    }
    header_line_bytes_ += len;
    if (exceeds(limits_.field_size, header_line_bytes_))
        return fail(431, "a header field is larger than limit_request_field_size (" +
                             std::to_string(limits_.field_size) + " bytes)");
    if (head_bytes_ > kMaxHeadBytes) return fail(431, "request head is larger than 1 MiB");
    if (head_done_) {  // trailers are bounded, checked by name, not kept: the app has the head
        if (!is_value) trailer_name_.append(at, len);
        return 0;
    }
    HeaderSpan& h = request_.headers_.back();
    Span& span = is_value ? h.value : h.name;
    if (span.length == 0) span.offset = static_cast<uint32_t>(request_.bytes_.size());
    request_.bytes_.append(at, len);
    span.length += static_cast<uint32_t>(len);
    return 0;
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, size_t len) {
    return self(p)->extend_header(false, at, len);
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, size_t len) {
    return self(p)->extend_header(true, at, len);
}

int RequestParser::on_header_value_complete(llhttp_t* p) {
    auto* s = self(p);
    if (s->expect_new_header_) return s->fail(400, "a header field without a name");
    s->expect_new_header_ = true;
    if (s->head_done_) {
        std::string name = std::move(s->trailer_name_);
        s->trailer_name_.clear();
        if (name.empty()) return s->fail(400, "a trailer field without a name");
        if (forbidden_in_trailers(name))
            return s->fail(400, "'" + name + "' is not allowed in trailers");
        return 0;
    }
    Request& r = s->request_;
    if (r.headers_.empty()) return 0;
    HeaderSpan& h = r.headers_.back();
    if (h.name.length == 0) return s->fail(400, "a header field without a name");
    // A header with an empty value gets no value callback; keep its span well-formed.
    if (h.value.length == 0) h.value.offset = static_cast<uint32_t>(r.bytes_.size());
    std::string_view value = trim(r.view(h.value));
    h.value.offset = static_cast<uint32_t>(value.data() - r.bytes_.data());
    h.value.length = static_cast<uint32_t>(value.size());
    std::string_view name = r.view(h.name);
    if (iequals(name, "Transfer-Encoding")) return s->check_transfer_encoding(value);
    if (iequals(name, "Host")) {
        if (s->saw_host_) return s->fail(400, "more than one Host header");
        s->saw_host_ = true;
    }
    return 0;
}

// Only "chunked" is understood; anything else would leave the body length unknown, which is
// how request smuggling starts. gunicorn answers 501 for unknown codings too.
int RequestParser::check_transfer_encoding(std::string_view value) {
    while (!value.empty()) {
        auto comma = value.find(',');
        std::string_view coding = trim(value.substr(0, comma));
        if (!iequals(coding, "chunked"))
            return fail(501, "unsupported transfer coding '" + std::string(coding) + "'");
        if (request_.chunked_) return fail(400, "chunked given more than once in Transfer-Encoding");
        request_.chunked_ = true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return 0;
}

// Not origin-form ("/p"), asterisk-form or CONNECT's authority-form (RFC 9112 3.2).
bool RequestParser::absolute_form() const {
    std::string_view target = request_.target();
    return !target.starts_with('/') && target != "*" && request_.method() != "CONNECT";
}

int RequestParser::split_target() {
    Request& r = request_;
    std::string_view target = r.target();
    size_t path_start = 0;
    if (absolute_form()) {
        auto parts = split_absolute_form(target);
        if (!parts) return fail(400, "invalid absolute-form target (RFC 9112 3.2.2)");
        // RFC 9112 3.2.2: the authority replaces the Host header.
        r.host_ = Span{r.target_.offset + static_cast<uint32_t>(parts->authority.data() - target.data()),
                       static_cast<uint32_t>(parts->authority.size())};
        path_start = target.size() - parts->rest.size();
    }
    std::string_view rest = target.substr(path_start);
    size_t q = rest.find('?');
    std::string_view raw_path = rest.substr(0, q);
    if (q != std::string_view::npos)
        r.query_ = Span{r.target_.offset + static_cast<uint32_t>(path_start + q + 1),
                        static_cast<uint32_t>(rest.size() - q - 1)};
    if (raw_path.find('%') == std::string_view::npos) {
        r.path_ = Span{r.target_.offset + static_cast<uint32_t>(path_start),
                       static_cast<uint32_t>(raw_path.size())};
    } else {
        r.path_ = r.append(percent_decode(raw_path));
    }
    if (raw_path.empty()) r.path_ = r.append("/");
    return 0;
}

int RequestParser::validate_head() {
    Request& r = request_;
    if (parser_.http_major != 1) return fail(505, "only HTTP/1.x is supported");
    r.minor_ = parser_.http_minor;
    r.keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
    if (r.minor_ >= 1 && !saw_host_ && !absolute_form())
        return fail(400, "HTTP/1.1 request without a Host header");
    // RFC 9112 6.1: Transfer-Encoding came with HTTP/1.1; in a 1.0 request the framing is
    // faulty, whatever Content-Length says.
    if (r.minor_ == 0 && r.chunked_) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    // The asterisk form names the server as a whole, for OPTIONS only (RFC 9112 3.2.4).
    if (r.target() == "*" && r.method() != "OPTIONS")
        return fail(400, "the target * is for OPTIONS only");
    if (int rc = split_target(); rc != 0) return rc;
    if (r.host_.length == 0) {
        std::string_view host = r.header("Host");
        r.host_ = Span{static_cast<uint32_t>(host.data() - r.bytes_.data()),
                       static_cast<uint32_t>(host.size())};
    }
    if (parser_.flags & F_CONTENT_LENGTH) r.content_length_ = static_cast<int64_t>(parser_.content_length);
    if (exceeds(limits_.body, static_cast<size_t>(std::max<int64_t>(r.content_length_, 0))))
        return fail(413, "Content-Length is larger than limit_request_body (" +
                             std::to_string(limits_.body) + " bytes)");
    std::string_view expect = r.header("Expect");
    if (!expect.empty()) {
        if (!iequals(expect, "100-continue")) return fail(417, "unsupported expectation '" + std::string(expect) + "'");
        r.expect_continue_ = r.minor_ >= 1;
    }
    return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
    auto* s = self(p);
    if (int rc = s->validate_head(); rc != 0) return rc;
    s->head_done_ = true;
    s->expect_new_header_ = true;
    s->events_.on_request_head(s->request_);
    if (!s->request_.chunked()) return 0;
    // Pause so that feed() passes the chunked body through the size-line filter.
    s->chunk_lines_.start();
    return HPE_PAUSED;
}

int RequestParser::on_body(llhttp_t* p, const char* at, size_t len) {
    auto* s = self(p);
    s->body_bytes_ += static_cast<int64_t>(len);
    if (s->limits_.body > 0 && s->body_bytes_ > s->limits_.body)
        return s->fail(413, "request body is larger than limit_request_body (" +
                                std::to_string(s->limits_.body) + " bytes)");
    s->events_.on_request_body(std::string_view(at, len));
    return 0;
}

int RequestParser::on_message_complete(llhttp_t* p) {
    auto* s = self(p);
    s->in_message_ = false;
    s->field_lines_.start();
    s->events_.on_request_complete();
    return HPE_PAUSED;
}

}  // namespace cppg::http
