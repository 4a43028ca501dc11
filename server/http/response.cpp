// SPDX-License-Identifier: MIT
#include "http/response.hpp"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "http/request.hpp"
#include "http/syntax.hpp"

namespace cppg::http {

namespace {

// CR, LF and NUL would let app data split or end the header block; other control characters
// except tab are refused as RFC 9110 allows.
bool valid_value(std::string_view value) {
    for (unsigned char c : value)
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

bool status_has_body(int status) { return status != 204 && status != 304 && status >= 200; }

std::string printable(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (c < 0x20 || c >= 0x7f) fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        else out.push_back(static_cast<char>(c));
    }
    return out;
}

}  // namespace

int parse_status_line(std::string_view status) {
    if (status.size() < 3) return 0;
    for (int i = 0; i < 3; ++i)
        if (status[i] < '0' || status[i] > '9') return 0;
    if (status.size() > 3 && status[3] != ' ') return 0;
    if (!valid_value(status)) return 0;
    int code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    return code >= 200 && code <= 599 ? code : 0;
}

ResponseWriter::Error ResponseWriter::start(std::string_view status,
                                            std::span<const HeaderField> headers,
                                            std::string& out, std::string& why) {
    if (started_) return Error::kState;
    int code = parse_status_line(status);
    if (code == 0) {
        why = "invalid status line '" + printable(status) + "' (expected e.g. \"200 OK\")";
        return Error::kInvalid;
    }
    bool has_length = false;
    bool close = !traits_.keep_alive;
    for (const auto& h : headers) {
        if (!is_token(h.name) || !valid_value(h.value)) {
            why = "invalid response header '" + printable(h.name) + ": " + printable(h.value) +
                  "' (CR, LF, NUL or a non-token name)";
            return Error::kInvalid;
        }
        if (iequals(h.name, "Content-Length")) {
            uint64_t n = 0;
            auto [end, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), n);
            if (ec != std::errc() || end != h.value.data() + h.value.size() || has_length) {
                why = "invalid or repeated Content-Length '" + printable(h.value) + "'";
                return Error::kInvalid;
            }
            has_length = true;
            declared_length_ = n;
        }
        if (iequals(h.name, "Connection") && iequals(h.value, "close")) close = true;
    }
    status_ = code;
    if (!status_has_body(code) || traits_.head) framing_ = Framing::kNone;
    else if (has_length) framing_ = Framing::kLength;
    else if (traits_.version_minor >= 1) framing_ = Framing::kChunked;
    else framing_ = Framing::kUntilClose, close = true;
    close_after_ = close;

    out += traits_.version_minor >= 1 ? "HTTP/1.1 " : "HTTP/1.0 ";
    out += status;
    out += "\r\n";
    out += kServerHeaderLine;
    out += date_header_line();
    for (const auto& h : headers) {
        // The server owns framing and connection management (hop-by-hop headers).
        if (iequals(h.name, "Transfer-Encoding") || iequals(h.name, "Connection")) continue;
        if (iequals(h.name, "Content-Length") && !status_has_body(code)) continue;
        out += h.name;
        out += ": ";
        out += h.value;
        out += "\r\n";
    }
    if (framing_ == Framing::kChunked) out += "Transfer-Encoding: chunked\r\n";
    if (close) out += "Connection: close\r\n";
    else if (traits_.version_minor == 0) out += "Connection: keep-alive\r\n";
    out += "\r\n";
    started_ = true;
    return Error::kNone;
}

ResponseWriter::Error ResponseWriter::write(std::string_view data, std::string& out) {
    if (!started_) return Error::kState;
    if (data.empty()) return Error::kNone;
    switch (framing_) {
        case Framing::kNone: return Error::kNone;
        case Framing::kLength:
            if (body_bytes_ + data.size() > declared_length_) {
                size_t room = declared_length_ - body_bytes_;
                out.append(data.substr(0, room));
                body_bytes_ += room;
                close_after_ = true;
                return Error::kTooLong;
            }
            out.append(data);
            break;
        case Framing::kChunked:
            fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
            out.append(data);
            out += "\r\n";
            break;
        case Framing::kUntilClose: out.append(data); break;
    }
    body_bytes_ += data.size();
    return Error::kNone;
}

ResponseWriter::Error ResponseWriter::reserve(uint64_t len, bool& send) {
    send = false;
    if (!started_) return Error::kState;
    if (framing_ == Framing::kNone) return Error::kNone;
    if (framing_ != Framing::kLength) return Error::kState;
    if (len > declared_length_ - body_bytes_) return Error::kTooLong;  // no overflow for a huge len
    body_bytes_ += len;
    send = len > 0;
    return Error::kNone;
}

ResponseWriter::Error ResponseWriter::finish(std::string& out) {
    if (!started_) return Error::kState;
    if (framing_ == Framing::kChunked) out += "0\r\n\r\n";
    if (framing_ == Framing::kLength && body_bytes_ < declared_length_) {
        close_after_ = true;
        return Error::kInvalid;
    }
    return Error::kNone;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 417: return "Expectation Failed";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string simple_response(int status, std::string_view body, bool close, bool include_body) {
    std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
    out += kServerHeaderLine;
    out += date_header_line();
    fmt::format_to(std::back_inserter(out),
                   "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
                   body.size());
    if (close) out += "Connection: close\r\n";
    out += "\r\n";
    if (include_body) out += body;
    return out;
}

std::string_view date_header_line() {
    thread_local std::time_t cached_second = 0;
    thread_local char line[64];
    thread_local size_t length = 0;
    std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        length = std::strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        cached_second = now;
    }
    return {line, length};
}

}  // namespace cppg::http
