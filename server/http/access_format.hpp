// SPDX-License-Identifier: MIT
// gunicorn-compatible access log formats: "%(h)s %(l)s ..." compiled once into segments.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cppg::http {

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

// Everything an access log line may mention about one finished request.
struct AccessRecord {
    std::string_view remote_addr;
    std::string_view method;
    std::string_view target;    // as sent
    std::string_view path;      // decoded
    std::string_view query;
    std::string_view protocol;  // "HTTP/1.1"
    std::string_view request_id;  // X-Request-Id, or generated
    int status = 0;
    uint64_t body_bytes = 0;
    std::chrono::system_clock::time_point started;
    int64_t duration_us = 0;
    const HeaderList* request_headers = nullptr;
    const HeaderList* response_headers = nullptr;
};

class AccessFormat {
public:
    // Compiles a format; returns an error text on an unknown atom or bad syntax.
    static std::variant<AccessFormat, std::string> compile(std::string_view format);

    std::string render(const AccessRecord& record) const;
    // True when some atom reads response headers, so callers keep a copy only when needed.
    bool uses_response_headers() const { return uses_response_headers_; }
    // True when the format has %(I)s, the request id.
    bool uses_request_id() const { return uses_request_id_; }

private:
    struct Segment {
        char atom = 0;        // 0 for a literal
        std::string text;     // the literal, or the header/env name of {x}i / {x}o / {x}e
    };
    std::vector<Segment> segments_;
    bool uses_response_headers_ = false;
    bool uses_request_id_ = false;
};

}  // namespace cppg::http
