// SPDX-License-Identifier: MIT
// What a router app's route returns, and the standard ways to build it:
//
//   Response::text("hi")                 Response::json({{"id", 1}}, 201)
//   Response::redirect("/login")         Response::no_content()
//   Response::file("/srv/report.pdf")    Response::streamed(writer, "text/csv")
//
// File responses honour Range (one range), If-None-Match / ETag and If-Modified-Since, and
// go out through the server's sendfile when it has one. Statuses without a body (1xx, 204,
// 304) are sent without one, and without Content-Type or Content-Length.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppgunicorn/sdk.hpp"

namespace cppg {

// The standard reason phrase of a status (RFC 9110 and the IANA registry), or "Unknown".
inline std::string_view reason_for(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 102: return "Processing";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 207: return "Multi-Status";
        case 208: return "Already Reported";
        case 226: return "IM Used";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 305: return "Use Proxy";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 418: return "I'm a teapot";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 423: return "Locked";
        case 424: return "Failed Dependency";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        case 506: return "Variant Also Negotiates";
        case 507: return "Insufficient Storage";
        case 508: return "Loop Detected";
        case 510: return "Not Extended";
        case 511: return "Network Authentication Required";
        default: return "Unknown";
    }
}

// Statuses whose responses never have a body.
inline bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

// The Content-Type for a file name's extension; application/octet-stream when unknown.
inline std::string content_type_for(std::string_view path) {
    static const std::pair<std::string_view, std::string_view> kTypes[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"}, {"csv", "text/csv; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"}, {"xml", "application/xml"},
        {"svg", "image/svg+xml"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
        {"avif", "image/avif"}, {"ico", "image/vnd.microsoft.icon"}, {"pdf", "application/pdf"},
        {"zip", "application/zip"}, {"gz", "application/gzip"}, {"tar", "application/x-tar"},
        {"wasm", "application/wasm"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
        {"ttf", "font/ttf"}, {"otf", "font/otf"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"},
        {"wav", "audio/wav"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
    };
    auto dot = path.rfind('.');
    auto slash = path.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return "application/octet-stream";
    std::string ext;
    for (char c : path.substr(dot + 1)) ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (const auto& [e, type] : kTypes)
        if (e == ext) return std::string(type);
    return "application/octet-stream";
}

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), and back (nullopt when malformed).
inline std::string http_date(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}
inline std::optional<std::time_t> parse_http_date(std::string_view text) {
    std::tm tm{};
    std::string s(text);
    const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    return timegm(&tm);
}

// A file to send, decided when the response goes out (it depends on the request's
// conditional and Range headers).
struct FileSpec {
    std::string path;
    std::string content_type;          // empty: by extension
    std::optional<std::string> download_name;  // set: Content-Disposition: attachment
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::function<void(Request&)> stream;  // set: the body is written by this, chunked
    std::shared_ptr<const FileSpec> file_body;  // set: the body is this file

    static Response text(std::string body, int status = 200) {
        return Response{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body), {}, {}};
    }
    static Response json(const nlohmann::json& doc, int status = 200) {
        return Response{status, {{"Content-Type", "application/json"}},
                        doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}, {}};
    }
    static Response html(std::string body, int status = 200) {
        return Response{status, {{"Content-Type", "text/html; charset=utf-8"}}, std::move(body), {}, {}};
    }
    static Response streamed(std::function<void(Request&)> writer, std::string content_type,
                             int status = 200) {
        return Response{status, {{"Content-Type", std::move(content_type)}}, {}, std::move(writer), {}};
    }
    // 302 Found by default; 301, 303, 307 and 308 are the others that make sense.
    static Response redirect(std::string location, int status = 302) {
        Response r{status, {{"Location", location}}, {}, {}, {}};
        r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
        r.body = std::string(reason_for(status)) + ": " + location + "\n";
        return r;
    }
    // 204: no body, no Content-Type.
    static Response no_content() { return Response{204, {}, {}, {}, {}}; }
    // The file at `path` (404 when it cannot be opened), with Content-Type by extension.
    static Response file(std::string path, std::string content_type = {},
                         std::optional<std::string> download_name = std::nullopt) {
        Response r;
        r.file_body = std::make_shared<FileSpec>(FileSpec{std::move(path), std::move(content_type), std::move(download_name)});
        return r;
    }

    Response& header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    // The first value of a header (case-insensitive), or nullopt.
    std::optional<std::string> header_value(std::string_view name) const {
        for (const auto& [n, v] : headers)
            if (detail::iequals(n, name)) return v;
        return std::nullopt;
    }
    Response& set_cookie(const std::string& name, const std::string& value,
                         const std::string& attributes = "Path=/; HttpOnly; SameSite=Lax") {
        return header("Set-Cookie", name + "=" + value + (attributes.empty() ? "" : "; " + attributes));
    }
};

namespace detail {


inline std::string status_line(int status) {
    return std::to_string(status) + " " + std::string(reason_for(status));
}

// One byte range of a file of `size` bytes from a Range header ("bytes=0-99", "bytes=-500",
// "bytes=100-"); nullopt when absent, not a single bytes range (then the whole file goes),
// and {size, 0} when unsatisfiable.
struct ByteRange {
    uint64_t offset, length;
};
inline std::optional<ByteRange> parse_range(std::string_view header, uint64_t size) {
    if (!header.starts_with("bytes=") || header.find(',') != std::string_view::npos) return std::nullopt;
    std::string_view spec = header.substr(6);
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto number = [](std::string_view s, uint64_t& out) {
        if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
        out = std::stoull(std::string(s));
        return true;
    };
    uint64_t first = 0, last = 0;
    std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
    if (a.empty()) {  // the last b bytes
        if (!number(b, last)) return std::nullopt;
        if (last == 0) return ByteRange{size, 0};
        uint64_t n = std::min(last, size);
        return ByteRange{size - n, n};
    }
    if (!number(a, first)) return std::nullopt;
    if (first >= size) return ByteRange{size, 0};
    if (b.empty()) return ByteRange{first, size - first};
    if (!number(b, last) || last < first) return std::nullopt;
    return ByteRange{first, std::min(last, size - 1) - first + 1};
}

// A regular file this process can open (Response::file answers 404 otherwise).
inline bool readable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}

inline std::string quote_filename(std::string_view name) {
    std::string out;
    for (char c : name) out += (c == '"' || c == '\\' || c == '\r' || c == '\n') ? '_' : c;
    return out;
}

// Sends a file response: conditional requests, one range, sendfile. `r` carries the status
// and headers the app set; they are sent along.
inline void send_file(Request& req, const Response& r) {
    const FileSpec& spec = *r.file_body;
    int fd = ::open(spec.path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) ::close(fd);
        // Gone since the router checked it (respond() turns a missing file into an HttpError
        // the app's handlers answer): the plain answer.
        req.respond("404 Not Found", {{"Content-Type", "text/plain; charset=utf-8"}}, "Not Found\n");
        return;
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    uint64_t size = static_cast<uint64_t>(st.st_size);
    char etag_buf[64];
    std::snprintf(etag_buf, sizeof etag_buf, "\"%llx-%llx\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                      static_cast<unsigned long long>(st.st_mtim.tv_nsec));
    std::string etag = etag_buf, modified = http_date(st.st_mtim.tv_sec);
    std::vector<std::pair<std::string, std::string>> headers = r.headers;
    headers.emplace_back("ETag", etag);
    headers.emplace_back("Last-Modified", modified);
    headers.emplace_back("Accept-Ranges", "bytes");
    auto send_headers = [&](int status, std::vector<std::pair<std::string, std::string>> extra) {
        std::vector<Header> h;
        for (const auto& [n, v] : headers) h.emplace_back(n, v);
        for (const auto& [n, v] : extra) h.emplace_back(n, v);
        req.start_response(status_line(status), h);
    };
    // Validators and ranges apply to a 200 for GET or HEAD only: a file sent as an error
    // page (404.html with status 404) goes whole, and a POST never gets a 304 or a 206.
    bool conditional = r.status == 200 && (req.method() == "GET" || req.method() == "HEAD");
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); a weak comparison.
    auto inm = req.header("If-None-Match");
    auto ims = req.header("If-Modified-Since");
    auto since = ims ? parse_http_date(*ims) : std::nullopt;
    bool not_modified = inm ? (*inm == "*" || inm->find(etag) != std::string_view::npos)
                            : since && *since >= st.st_mtim.tv_sec;
    if (conditional && not_modified) return send_headers(304, {});
    std::string type = spec.content_type.empty() ? content_type_for(spec.path) : spec.content_type;
    headers.emplace_back("Content-Type", type);
    if (spec.download_name)
        headers.emplace_back("Content-Disposition", "attachment; filename=\"" + quote_filename(*spec.download_name) + "\"");
    std::optional<ByteRange> range;
    auto range_header = req.header("Range");
    auto if_range = req.header("If-Range");
    // If-Range: the range only while the file is the one the client has part of (an exact
    // ETag, or the exact Last-Modified date).
    if (conditional && range_header && (!if_range || *if_range == etag || *if_range == modified))
        range = parse_range(*range_header, size);
    if (range && range->length == 0)
        return send_headers(416, {{"Content-Range", "bytes */" + std::to_string(size)}, {"Content-Length", "0"}});
    uint64_t offset = range ? range->offset : 0, length = range ? range->length : size;
    std::vector<std::pair<std::string, std::string>> extra = {{"Content-Length", std::to_string(length)}};
    if (range)
        extra.emplace_back("Content-Range", "bytes " + std::to_string(offset) + "-" +
                                                std::to_string(offset + length - 1) + "/" + std::to_string(size));
    send_headers(range ? 206 : r.status, std::move(extra));
    if (req.method() != "HEAD") req.send_file(fd, offset, length);
}

}  // namespace detail

}  // namespace cppg
