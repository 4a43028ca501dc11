// SPDX-License-Identifier: MIT
// cppg::testing: run an app in your unit tests, without a server or a socket (Flask's
// app.test_client()).
//
//   cppg::testing::Client<TodoApp> c;                    // init, worker_start, thread_start
//   auto r = c.post("/todos", nlohmann::json{{"title", "milk"}});
//   CHECK(r.status() == 201);
//   CHECK(r.json()["title"] == "milk");
//   CHECK(c.get("/todos/1").header("Content-Type") == "application/json");
//
// The client drives the app through the real ABI: its descriptor's init, handle and
// shutdown with a host table of its own, on the calling thread, so the SDK pushes the
// context stacks exactly as in a worker (request(), g(), current_app() work) and submit()
// runs tasks on other threads. The host checks what the server checks: the status line,
// header names and values (no CR/LF/NUL), Content-Length against the bytes written; a
// response that breaks a rule becomes the 500 the server would send. Cookies set by
// responses are kept and sent back, as a browser would. log lines are kept in logs().
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppgunicorn/sdk.hpp"

namespace cppg::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One request to send.
struct RequestSpec {
    std::string method = "GET";
    std::string target = "/";            // path and query, percent-encoded as on the wire
    HeaderList headers;
    std::vector<std::string> body;       // each piece is what one read() gets at most: a streamed body
    bool chunked = false;                // sent without Content-Length (Transfer-Encoding: chunked)
};

// What the app answered.
class Response {
public:
    int status() const { return status_; }
    const std::string& status_line() const { return status_line_; }
    const HeaderList& headers() const { return headers_; }
    // The first value of a header (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [n, v] : headers_)
            if (cppg::detail::iequals(n, name)) return v;
        return std::nullopt;
    }
    const std::string& body() const { return body_; }
    const std::string& text() const { return body_; }
    // The body as JSON; throws std::runtime_error when it is not JSON.
    nlohmann::json json() const {
        auto doc = nlohmann::json::parse(body_, nullptr, false);
        if (doc.is_discarded())
            throw std::runtime_error("response body is not JSON (" + header("Content-Type").value_or("no Content-Type") +
                                     "): " + body_.substr(0, 200));
        return doc;
    }
    // The pieces the app wrote, in order (a streamed response's parts).
    const std::vector<std::string>& writes() const { return writes_; }
    // The server would close the connection after it (fewer bytes than Content-Length, or the
    // handler failed after starting the response).
    bool connection_closed() const { return closed_; }

    // Filled by the test host.
    int status_ = 0;
    std::string status_line_;
    HeaderList headers_;
    std::string body_;
    std::vector<std::string> writes_;
    bool closed_ = false;
};

// One request in flight: what the host table's functions see behind a cppg_request_t*.
struct Exchange {
    RequestSpec spec;
    std::string path, query, request_id;
    HeaderList env_headers;              // the request headers as the app sees them
    std::map<std::string, std::string> joined;
    size_t piece = 0, piece_offset = 0;
    Response response;
    bool started = false, invalid = false, head = false, body_allowed = true;
    std::optional<uint64_t> declared_length;
    uint64_t written = 0;

    static Exchange* of(const cppg_request_t* r) { return reinterpret_cast<Exchange*>(const_cast<cppg_request_t*>(r)); }
    cppg_request_t* raw() { return reinterpret_cast<cppg_request_t*>(this); }
};

namespace detail {

inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos))
            return false;
    return true;
}

inline bool has_line_break(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// The CGI name of a header (HTTP_USER_AGENT), or "" for one with '_' (never exposed).
inline std::string cgi_name(std::string_view name) {
    if (name.find('_') != std::string_view::npos) return {};
    std::string out = "HTTP_";
    for (char c : name) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

// Everything the host table needs that is not per request.
struct HostState {
    std::mutex mu;
    std::vector<std::string> logs;
    std::vector<std::thread> tasks;
    std::atomic<uint64_t> next_id{1};
    bool echo_logs = false;
    bool booting = true;        // until the constructor has run thread_start
    std::string boot_failure;   // what the app passed to fail_boot
    std::vector<std::string> watched_files;  // what the app passed to watch_file
};

inline HostState*& host_state() {
    static HostState* state = nullptr;
    return state;
}

inline thread_local cppg_request_t* current = nullptr;

inline cppg_str_t str(std::string_view s) { return cppg_str_t{s.data(), s.size()}; }

inline void log(int level, const char* msg, size_t len) {
    static const char* kLevels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    std::string line = std::string("[") + kLevels[std::clamp(level, 0, 4)] + "] " + std::string(msg ? msg : "", msg ? len : 0);
    if (HostState* s = host_state()) {
        std::lock_guard lock(s->mu);
        if (s->echo_logs) std::fprintf(stderr, "%s\n", line.c_str());
        s->logs.push_back(std::move(line));
    }
}

inline int environ_get(const cppg_request_t* r, const char* key_c, cppg_str_t* out) {
    if (r == nullptr || key_c == nullptr || out == nullptr) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    std::string_view key = key_c;
    auto found = [&](std::string_view v) { *out = str(v); return CPPG_OK; };
    static const std::string kEmpty, kProtocol = "HTTP/1.1", kAddr = "127.0.0.1", kPort = "50000",
                             kServer = "localhost", kServerPort = "80", kScheme = "http";
    if (key == "REQUEST_METHOD") return found(x.spec.method);
    if (key == "SCRIPT_NAME") return found(kEmpty);
    if (key == "PATH_INFO") return found(x.path);
    if (key == "QUERY_STRING") return found(x.query);
    if (key == "RAW_URI") return found(x.spec.target);
    if (key == "SERVER_PROTOCOL") return found(kProtocol);
    if (key == "REMOTE_ADDR") return found(kAddr);
    if (key == "REMOTE_PORT") return found(kPort);
    if (key == "SERVER_NAME") return found(kServer);
    if (key == "SERVER_PORT") return found(kServerPort);
    if (key == "URL_SCHEME" || key == "wsgi.url_scheme") return found(kScheme);
    if (key == "REQUEST_ID") return found(x.request_id);
    std::string name(key);
    if (key == "CONTENT_TYPE" || key == "CONTENT_LENGTH") name = "HTTP_" + name;
    auto it = x.joined.find(name);
    if (it == x.joined.end()) {
        *out = cppg_str_t{nullptr, 0};
        return CPPG_EINVAL;
    }
    return found(it->second);
}

inline size_t header_count(const cppg_request_t* r) { return r ? Exchange::of(r)->env_headers.size() : 0; }

inline int header_at(const cppg_request_t* r, size_t i, cppg_header_t* out) {
    if (r == nullptr || out == nullptr) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    if (i >= x.env_headers.size()) return CPPG_EINVAL;
    *out = cppg_header_t{str(x.env_headers[i].first), str(x.env_headers[i].second)};
    return CPPG_OK;
}

inline ptrdiff_t read(cppg_request_t* r, void* buf, size_t len) {
    if (r == nullptr || (buf == nullptr && len > 0)) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    while (x.piece < x.spec.body.size() && x.piece_offset == x.spec.body[x.piece].size()) {
        ++x.piece;
        x.piece_offset = 0;
    }
    if (x.piece == x.spec.body.size() || len == 0) return 0;
    const std::string& p = x.spec.body[x.piece];
    size_t n = std::min(len, p.size() - x.piece_offset);
    std::memcpy(buf, p.data() + x.piece_offset, n);
    x.piece_offset += n;
    return static_cast<ptrdiff_t>(n);
}

inline int start_response(cppg_request_t* r, const char* status, const cppg_header_t* headers, size_t n) {
    if (r == nullptr || status == nullptr || (headers == nullptr && n > 0)) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    if (x.started) return CPPG_ESTATE;
    std::string_view line = status;
    int code = 0;
    bool ok = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
              std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2])) &&
              (line.size() == 3 || line[3] == ' ') && !has_line_break(line);
    if (ok) code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    ok = ok && code >= 200 && code <= 599;
    HeaderList kept;
    bool seen_length = false;
    for (size_t i = 0; ok && i < n; ++i) {
        std::string_view name(headers[i].name.ptr, headers[i].name.len), value(headers[i].value.ptr, headers[i].value.len);
        if (!is_token(name) || has_line_break(value)) ok = false;
        bool length = cppg::detail::iequals(name, "Content-Length");
        if (length && (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string_view::npos ||
                       seen_length))
            ok = false;  // the server refuses it too: invalid or repeated Content-Length
        seen_length = seen_length || length;
        kept.emplace_back(name, value);
    }
    if (!ok) {
        x.invalid = true;
        std::string_view msg = "[test host] invalid status line or header; the server answers 500";
        log(CPPG_LOG_ERROR, msg.data(), msg.size());
        return CPPG_EINVAL;
    }
    x.started = true;
    x.response.status_ = code;
    x.response.status_line_ = std::string(line);
    for (auto& [name, value] : kept) {
        if (cppg::detail::iequals(name, "Content-Length")) x.declared_length = std::stoull(value);
        x.response.headers_.emplace_back(std::move(name), std::move(value));
    }
    x.body_allowed = !x.head && code != 204 && code != 304;
    return CPPG_OK;
}

inline int write(cppg_request_t* r, const void* data, size_t len) {
    if (r == nullptr || (data == nullptr && len > 0)) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    if (!x.started) return CPPG_ESTATE;
    if (!x.body_allowed) return CPPG_OK;
    int rc = CPPG_OK;
    if (x.declared_length && x.written + len > *x.declared_length) {
        len = static_cast<size_t>(*x.declared_length - x.written);
        rc = CPPG_EINVAL;
    }
    x.written += len;
    x.response.body_.append(static_cast<const char*>(data), len);
    x.response.writes_.emplace_back(static_cast<const char*>(data), len);
    return rc;
}

inline int send_file(cppg_request_t* r, int fd, uint64_t offset, uint64_t len) {
    if (r == nullptr) return CPPG_EINVAL;
    Exchange& x = *Exchange::of(r);
    if (!x.started) return CPPG_ESTATE;
    if (!x.body_allowed) return CPPG_OK;  // HEAD, 204, 304: nothing is sent, as on the server
    if (!x.declared_length) return CPPG_ESTATE;
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return CPPG_EINVAL;
    auto size = static_cast<uint64_t>(st.st_size);
    if (offset > size || len > size - offset || len > *x.declared_length - x.written) return CPPG_EINVAL;
    std::string buf;
    while (len > 0) {  // in pieces, as the server's copy fallback reads it
        buf.resize(static_cast<size_t>(std::min<uint64_t>(len, 256 << 10)));
        ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n <= 0) return CPPG_ECLOSED;  // shrank under us: the server aborts the connection
        if (int rc = write(r, buf.data(), static_cast<size_t>(n)); rc != CPPG_OK) return rc;
        offset += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return CPPG_OK;
}

inline const char* strerror(int err) {
    switch (err) {
        case CPPG_OK: return "success";
        case CPPG_EINVAL: return "invalid argument";
        case CPPG_ESTATE: return "call out of order";
        case CPPG_ECLOSED: return "client connection closed";
        case CPPG_EBODY: return "malformed or truncated request body";
        case CPPG_ETOOLARGE: return "request body too large";
        case CPPG_ETIMEDOUT: return "timed out waiting for the request body";
        case CPPG_EBUSY: return "the shared executor's queue is full";
        default: return "unknown error";
    }
}

inline int preloaded() { return 0; }

// Tasks run on threads of their own, joined when the client goes.
inline int submit(void (*fn)(void*), void* arg) {
    HostState* s = host_state();
    if (fn == nullptr) return CPPG_EINVAL;
    if (s == nullptr) return CPPG_ESTATE;
    std::lock_guard lock(s->mu);
    s->tasks.emplace_back([fn, arg] { fn(arg); });
    return CPPG_OK;
}

inline cppg_request_t* current_request() { return current; }

// Each write reaches the response at once here: flushing only checks the order of calls.
inline int flush(cppg_request_t* r) {
    if (r == nullptr) return CPPG_EINVAL;
    return Exchange::of(r)->started ? CPPG_OK : CPPG_ESTATE;
}

// Nothing reloads a test: the files are noted, for a test that wants to see them.
inline int watch_file(const char* path) {
    HostState* s = host_state();
    if (s == nullptr || path == nullptr) return CPPG_ESTATE;
    std::lock_guard lock(s->mu);
    s->watched_files.emplace_back(path);
    return CPPG_ESTATE;
}

inline int fail_boot(const char* reason) {
    HostState* s = host_state();
    if (s == nullptr) return CPPG_ESTATE;
    std::lock_guard lock(s->mu);
    if (!s->booting) return CPPG_ESTATE;
    if (s->boot_failure.empty()) s->boot_failure = reason && *reason ? reason : "(no reason given)";
    return CPPG_OK;
}

inline const cppg_host_t kHost = {
    sizeof(cppg_host_t), CPPG_ABI_VERSION, environ_get, header_count, header_at, read, start_response, write,
    log, strerror, preloaded, submit, current_request, send_file, fail_boot, watch_file, flush,
};

}  // namespace detail

template <typename App>
class Client {
public:
    // Loads the app as a worker would: init with `args`, worker_start, thread_start(0). Throws
    // std::runtime_error, with the app's last log line, when one of them fails (as the
    // worker's boot would).
    explicit Client(Args args = {}) {
        if (detail::host_state() != nullptr) throw std::logic_error("one cppg::testing::Client at a time");
        detail::host_state() = &state_;
        std::vector<const char*> argv;
        for (const auto& a : args) argv.push_back(a.c_str());
        if (app_.init(&detail::kHost, static_cast<int>(argv.size()), argv.data(), &app_state_) != 0 ||
            !state_.boot_failure.empty()) {
            detail::host_state() = nullptr;
            throw std::runtime_error("the app's init failed: " + last_log());
        }
        if (app_.worker_start && app_.worker_start(app_state_) != 0) boot_failed("worker_start");
        if (!state_.boot_failure.empty()) boot_failed("worker_start");
        if (app_.thread_start) app_.thread_start(app_state_, 0);
        if (!state_.boot_failure.empty()) {
            if (app_.worker_exit) app_.worker_exit(app_state_);  // no thread_stop: its start failed
            boot_failed("thread_start");
        }
        state_.booting = false;
    }
    ~Client() {
        join_tasks();
        if (app_.thread_stop) app_.thread_stop(app_state_, 0);
        if (app_.worker_exit) app_.worker_exit(app_state_);
        app_.shutdown(app_state_);
        join_tasks();
        detail::host_state() = nullptr;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Response get(std::string target, HeaderList headers = {}) { return request({"GET", std::move(target), std::move(headers), {}, false}); }
    Response head(std::string target, HeaderList headers = {}) { return request({"HEAD", std::move(target), std::move(headers), {}, false}); }
    Response del(std::string target, HeaderList headers = {}) { return request({"DELETE", std::move(target), std::move(headers), {}, false}); }
    Response post(std::string target, std::string body, std::string content_type, HeaderList headers = {}) {
        return with_body("POST", std::move(target), std::move(body), std::move(content_type), std::move(headers));
    }
    Response put(std::string target, std::string body, std::string content_type, HeaderList headers = {}) {
        return with_body("PUT", std::move(target), std::move(body), std::move(content_type), std::move(headers));
    }
    Response patch(std::string target, std::string body, std::string content_type, HeaderList headers = {}) {
        return with_body("PATCH", std::move(target), std::move(body), std::move(content_type), std::move(headers));
    }
    // JSON bodies (Content-Type: application/json).
    Response post(std::string target, const nlohmann::json& doc, HeaderList headers = {}) {
        return post(std::move(target), doc.dump(), "application/json", std::move(headers));
    }
    Response put(std::string target, const nlohmann::json& doc, HeaderList headers = {}) {
        return put(std::move(target), doc.dump(), "application/json", std::move(headers));
    }
    Response patch(std::string target, const nlohmann::json& doc, HeaderList headers = {}) {
        return patch(std::move(target), doc.dump(), "application/json", std::move(headers));
    }

    // Any request: methods, headers, a body in pieces, chunked or with a length.
    Response request(RequestSpec spec) {
        Exchange x;
        x.spec = std::move(spec);
        prepare(x);
        cppg_request_t* raw = x.raw();
        detail::current = raw;
        if (app_.pre_request) app_.pre_request(app_state_, raw);
        int rc = app_.handle(app_state_, raw);
        finish(x, rc);
        if (app_.post_request) app_.post_request(app_state_, raw, x.response.status_);
        detail::current = nullptr;
        keep_cookies(x.response);
        return std::move(x.response);
    }

    // The app object, as init made it.
    App& app() { return *static_cast<App*>(app_state_); }
    // Cookies kept from Set-Cookie headers, sent back on every request.
    std::map<std::string, std::string>& cookies() { return cookies_; }
    // Lines the app (and the SDK) logged, oldest first: "[ERROR] ...".
    std::vector<std::string> logs() {
        std::lock_guard lock(state_.mu);
        return state_.logs;
    }
    // Also print log lines on stderr as they come.
    void echo_logs(bool on) { state_.echo_logs = on; }
    // Waits for the tasks the app submitted so far.
    void join_tasks() {
        for (;;) {
            std::vector<std::thread> tasks;
            {
                std::lock_guard lock(state_.mu);
                tasks.swap(state_.tasks);
            }
            if (tasks.empty()) return;
            for (auto& t : tasks) t.join();
        }
    }

private:
    Response with_body(std::string method, std::string target, std::string body, std::string content_type,
                       HeaderList headers) {
        headers.emplace_back("Content-Type", std::move(content_type));
        RequestSpec spec{std::move(method), std::move(target), std::move(headers), {std::move(body)}, false};
        return request(std::move(spec));
    }

    void prepare(Exchange& x) {
        auto q = x.spec.target.find('?');
        x.path = cppg::detail::percent_decode(x.spec.target.substr(0, q), false);
        x.query = q == std::string::npos ? "" : x.spec.target.substr(q + 1);
        x.head = x.spec.method == "HEAD";
        bool has_host = false, has_cookie = false, has_length = false;
        for (const auto& [n, v] : x.spec.headers) {
            has_host |= cppg::detail::iequals(n, "Host");
            has_cookie |= cppg::detail::iequals(n, "Cookie");
            has_length |= cppg::detail::iequals(n, "Content-Length");
        }
        x.env_headers = x.spec.headers;
        if (!has_host) x.env_headers.insert(x.env_headers.begin(), {"Host", "localhost"});
        if (!has_cookie && !cookies_.empty()) {
            std::string jar;
            for (const auto& [n, v] : cookies_) jar += (jar.empty() ? "" : "; ") + n + "=" + v;
            x.env_headers.emplace_back("Cookie", jar);
        }
        size_t body_size = 0;
        for (const auto& p : x.spec.body) body_size += p.size();
        if (x.spec.chunked) x.env_headers.emplace_back("Transfer-Encoding", "chunked");
        else if (!has_length && (body_size > 0 || x.spec.method == "POST" || x.spec.method == "PUT" || x.spec.method == "PATCH"))
            x.env_headers.emplace_back("Content-Length", std::to_string(body_size));
        for (const auto& [n, v] : x.env_headers) {
            std::string key = detail::cgi_name(n);
            if (key.empty()) continue;
            auto [it, fresh] = x.joined.emplace(key, v);
            if (!fresh) it->second += ", " + v;
        }
        auto sent_id = x.joined.find("HTTP_X_REQUEST_ID");
        x.request_id = sent_id != x.joined.end() && cppg::detail::valid_request_id(sent_id->second)
                           ? sent_id->second
                           : "test-" + std::to_string(state_.next_id++);
    }

    // What the server does when the handler returns: a 500 if nothing valid was started,
    // the connection closed if the body fell short of its length or the handler failed late.
    void finish(Exchange& x, int rc) {
        if (!x.started) {
            x.response = Response();
            x.response.status_ = 500;
            x.response.status_line_ = "500 Internal Server Error";
            x.response.headers_ = {{"Content-Type", "text/plain"}, {"Connection", "close"}};
            x.response.body_ = x.head ? "" : "Internal Server Error\n";
            x.response.closed_ = true;
            return;
        }
        if (rc != 0 || (x.declared_length && x.written < *x.declared_length && x.body_allowed)) x.response.closed_ = true;
    }

    void keep_cookies(const Response& r) {
        for (const auto& [n, v] : r.headers()) {
            if (!cppg::detail::iequals(n, "Set-Cookie")) continue;
            std::string_view pair = std::string_view(v).substr(0, v.find(';'));
            auto eq = pair.find('=');
            if (eq == std::string_view::npos || eq == 0) continue;
            std::string name(pair.substr(0, eq)), value(pair.substr(eq + 1));
            std::string lower;
            for (char c : v) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
            if (lower.find("max-age=0") != std::string::npos || value.empty()) cookies_.erase(name);
            else cookies_[name] = value;
        }
    }

    [[noreturn]] void boot_failed(const char* hook) {
        std::string why = state_.boot_failure.empty() ? last_log() : state_.boot_failure;
        app_.shutdown(app_state_);
        join_tasks();
        detail::host_state() = nullptr;
        throw std::runtime_error(std::string("the app's ") + hook + " failed: " + why);
    }
    std::string last_log() {
        std::lock_guard lock(state_.mu);
        return state_.logs.empty() ? "(nothing logged)" : state_.logs.back();
    }

    detail::HostState state_;
    cppg_app_t app_ = cppg::detail::Adapter<App>::descriptor("test");
    void* app_state_ = nullptr;
    std::map<std::string, std::string> cookies_;
};

}  // namespace cppg::testing
