// SPDX-License-Identifier: MIT
// A parsed request head. Filled by http::RequestParser on the loop thread, then read-only
// while the app runs on a pool thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cppg::http {

// A slice of Request::bytes_. Offsets, not pointers, because bytes_ grows while parsing.
struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
};

struct HeaderSpan {
    Span name;
    Span value;
};

class Request {
public:
    std::string_view view(Span s) const { return {bytes_.data() + s.offset, s.length}; }

    std::string_view method() const { return view(method_); }
    std::string_view target() const { return view(target_); }
    std::string_view path() const { return view(path_); }    // percent-decoded
    std::string_view query() const { return view(query_); }
    std::string_view host() const { return view(host_); }    // Host header or absolute-form authority
    std::string_view protocol() const { return minor_ == 0 ? "HTTP/1.0" : "HTTP/1.1"; }
    int version_minor() const { return minor_; }

    size_t header_count() const { return headers_.size(); }
    std::string_view header_name(size_t i) const { return view(headers_[i].name); }
    std::string_view header_value(size_t i) const { return view(headers_[i].value); }
    // First header with this name (case-insensitive), or empty.
    std::string_view header(std::string_view name) const;
    // All values of a header joined with ", " (CGI's rule for repeats); empty if absent.
    std::string joined_header(std::string_view name) const;

    bool keep_alive() const { return keep_alive_; }
    bool expect_continue() const { return expect_continue_; }
    bool has_body() const { return chunked_ || content_length_ > 0; }
    bool chunked() const { return chunked_; }
    int64_t content_length() const { return content_length_; }  // -1 when absent
    bool is_head() const { return method() == "HEAD"; }

private:
    friend class RequestParser;
    void clear();
    Span append(std::string_view text);

    std::string bytes_;
    Span method_, target_, path_, query_, host_;
    std::vector<HeaderSpan> headers_;
    int minor_ = 1;
    bool keep_alive_ = true;
    bool expect_continue_ = false;
    bool chunked_ = false;
    int64_t content_length_ = -1;
};

bool iequals(std::string_view a, std::string_view b);

// Percent-decodes a URL path; invalid escapes are kept as they are.
std::string percent_decode(std::string_view text);

}  // namespace cppg::http
