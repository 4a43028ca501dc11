// SPDX-License-Identifier: MIT
// cppgunicorn C++ SDK: a thin, header-only layer over the C ABI in app.h.
//
//   struct Hello {
//       explicit Hello(const cppg::Args&) {}
//       void handle(cppg::Request& req) const {
//           req.respond("200 OK", {{"Content-Type", "text/plain"}}, "Hello, World!\n");
//       }
//   };
//   CPPG_APP(Hello, "hello")
//
// The app class is constructed once per worker process (init) with the app's arguments and
// destroyed at shutdown. handle() runs on many threads at once, so it is const: per-request
// state belongs on the stack, not in the object. An exception escaping handle() becomes a
// 500 response (if the response had not started) and an error-log line; it never crosses
// the C ABI.
#pragma once

#include <cxxabi.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cppgunicorn/app.h"
#include "cppgunicorn/context.hpp"

namespace cppg {

using Args = std::vector<std::string>;
using Header = std::pair<std::string_view, std::string_view>;

// The host table, set once in init; the SDK needs it to reach the server.
inline const cppg_host_t*& host() {
    static const cppg_host_t* table = nullptr;
    return table;
}

// Raised by Request methods when the host reports an error.
class HostError : public std::runtime_error {
public:
    explicit HostError(int code)
        : std::runtime_error(host() ? host()->strerror(code) : "cppgunicorn host error"),
          code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

namespace detail {

// ASCII case-insensitive equality: header names, media types.
inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// %XX sequences decoded (malformed ones kept as they are); with plus_is_space, "+" is a
// space too, as in query strings and urlencoded forms.
inline std::string percent_decode(std::string_view text, bool plus_is_space) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (plus_is_space && text[i] == '+') {
            out.push_back(' ');
        } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

// Appends `text` with "{{" and "}}" turned into single braces.
inline void append_literal(std::string& out, std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
        out.push_back(text[i]);
        if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() && text[i + 1] == text[i]) ++i;
    }
}
// The first "{}" that is not an escaped brace, or npos.
inline size_t find_placeholder(std::string_view fmt) {
    for (size_t i = 0; i + 1 < fmt.size(); ++i) {
        if ((fmt[i] == '{' || fmt[i] == '}') && fmt[i + 1] == fmt[i]) {
            ++i;
            continue;
        }
        if (fmt[i] == '{' && fmt[i + 1] == '}') return i;
    }
    return std::string_view::npos;
}
template <typename T>
void append_value(std::string& out, const T& value) {
    if constexpr (std::is_pointer_v<T> && std::is_convertible_v<const T&, const char*>) {
        out += value ? std::string_view(value) : std::string_view("(null)");
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        out += std::string_view(value);
    } else if constexpr (std::is_same_v<T, bool>) {
        out += value ? "true" : "false";
    } else if constexpr (std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>) {
        out += std::to_string(static_cast<int>(value));  // int8_t and uint8_t are numbers
    } else {
        std::ostringstream s;
        s << value;
        out += s.str();
    }
}
inline void format_into(std::string& out, std::string_view fmt) { append_literal(out, fmt); }
template <typename T, typename... Rest>
void format_into(std::string& out, std::string_view fmt, const T& value, const Rest&... rest) {
    size_t at = find_placeholder(fmt);
    if (at == std::string_view::npos) return append_literal(out, fmt);  // extra arguments are ignored
    append_literal(out, fmt.substr(0, at));
    append_value(out, value);
    format_into(out, fmt.substr(at + 2), rest...);
}

// "std::runtime_error" for the exception being handled now (in a catch block).
inline std::string current_exception_type() {
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (type == nullptr) return "unknown exception";
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), std::free);
    return status == 0 && name ? name.get() : type->name();
}

}  // namespace detail

// "{} placeholders" formatting, as fmt and std::format spell it (no format specs; "{{" and
// "}}" for braces). Values are written with operator<<.
template <typename... Args>
std::string format(std::string_view fmt, const Args&... args) {
    std::string out;
    detail::format_into(out, fmt, args...);
    return out;
}

// A line in the server's error log, as is.
inline void log(cppg_log_level_t level, std::string_view message) {
    if (host()) host()->log(level, message.data(), message.size());
}

// The current request's id: the server's (its X-Request-Id when the client or a proxy sent a
// valid one, else generated; the access log's %(I)s), also in g() as "request_id". Empty
// outside a request.
std::string_view request_id();

// Log lines from app code: "{}" formatting, and inside a request each line starts with the
// request's id and request line:  [3f2a9c01d4e6b7a8] "GET /todos/7" todo 7 not found
template <typename... Args>
void log_debug(std::string_view fmt, const Args&... args);
template <typename... Args>
void log_info(std::string_view fmt, const Args&... args);
template <typename... Args>
void log_warning(std::string_view fmt, const Args&... args);
template <typename... Args>
void log_error(std::string_view fmt, const Args&... args);

// One request in flight. Valid only inside handle().
class Request {
public:
    explicit Request(cppg_request_t* raw) : raw_(raw) {}
    cppg_request_t* raw() const { return raw_; }

    // An environ variable (REQUEST_METHOD, PATH_INFO, HTTP_HOST, ...), or nullopt.
    std::optional<std::string_view> env(const char* key) const {
        cppg_str_t out{};
        if (host()->environ_get(raw_, key, &out) != CPPG_OK) return std::nullopt;
        return std::string_view(out.ptr ? out.ptr : "", out.len);
    }
    std::string_view env_or(const char* key, std::string_view fallback = {}) const {
        return env(key).value_or(fallback);
    }
    std::string_view method() const { return env_or("REQUEST_METHOD"); }
    // A request header by name (first of repeats), through its CGI name; nullopt if absent.
    std::optional<std::string_view> header(std::string_view name) const {
        std::string key = "HTTP_";
        for (char c : name) key.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        return env(key.c_str());
    }
    std::string_view path() const { return env_or("PATH_INFO"); }
    std::string_view query() const { return env_or("QUERY_STRING"); }

    // Headers in the order received, names as sent, repeats kept.
    std::vector<Header> headers() const {
        std::vector<Header> out;
        size_t n = host()->header_count(raw_);
        out.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            cppg_header_t h{};
            host()->header_at(raw_, i, &h);
            out.emplace_back(std::string_view(h.name.ptr, h.name.len),
                             std::string_view(h.value.ptr, h.value.len));
        }
        return out;
    }

    // Reads up to len body bytes; 0 at the end. Throws HostError on a broken body.
    size_t read(void* buf, size_t len) {
        ptrdiff_t n = host()->read(raw_, buf, len);
        if (n < 0) throw HostError(static_cast<int>(n));
        return static_cast<size_t>(n);
    }
    // The whole body. Prefer read() for large uploads.
    std::string read_all() {
        std::string body;
        char buf[16384];
        while (size_t n = read(buf, sizeof buf)) body.append(buf, n);
        return body;
    }

    void start_response(const std::string& status, std::initializer_list<Header> headers) {
        start_response(status, std::vector<Header>(headers));
    }
    void start_response(const std::string& status, const std::vector<Header>& headers) {
        std::vector<cppg_header_t> raw;
        raw.reserve(headers.size());
        for (const auto& [name, value] : headers)
            raw.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
        int rc = host()->start_response(raw_, status.c_str(), raw.data(), raw.size());
        if (rc != CPPG_OK) throw HostError(rc);
        started_ = true;
    }
    void write(std::string_view data) {
        int rc = host()->write(raw_, data.data(), data.size());
        if (rc != CPPG_OK) throw HostError(rc);
    }
    // A whole response with a Content-Length.
    void respond(const std::string& status, std::vector<Header> headers, std::string_view body) {
        std::string length = std::to_string(body.size());
        headers.emplace_back("Content-Length", length);
        start_response(status, headers);
        write(body);
    }
    // Sends `len` bytes of file `fd` from `offset` as (part of) the body: the server's
    // sendfile when it has one, else read and written here. The response must have been
    // started with a Content-Length. Throws HostError as write() does.
    void send_file(int fd, uint64_t offset, uint64_t len) {
        if (host()->struct_size >= offsetof(cppg_host_t, send_file) + sizeof(void*) && host()->send_file) {
            int rc = host()->send_file(raw_, fd, offset, len);
            if (rc != CPPG_OK) throw HostError(rc);
            return;
        }
        std::string buf(std::min<uint64_t>(len, 64 << 10), '\0');
        while (len > 0) {
            ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(len, buf.size()), static_cast<off_t>(offset));
            if (n <= 0) throw HostError(CPPG_EINVAL);  // the file is shorter than promised
            write(std::string_view(buf.data(), static_cast<size_t>(n)));
            offset += static_cast<uint64_t>(n);
            len -= static_cast<uint64_t>(n);
        }
    }
    bool started() const { return started_; }
    // "GET /todos?done=1": the method and the target as sent.
    std::string request_line() const { return std::string(method()) + " " + std::string(env_or("RAW_URI", path())); }

private:
    cppg_request_t* raw_;
    bool started_ = false;
};

namespace detail {

// A client's X-Request-Id is used when it is 1 to 200 of [A-Za-z0-9._:-].
inline bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
    return true;
}
inline std::string new_request_id() {
    thread_local std::mt19937_64 rng = [] {  // seeded with 128 bits: threads never share a sequence
        std::random_device rd;
        std::seed_seq seed{rd(), rd(), rd(), rd()};
        return std::mt19937_64(seed);
    }();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

// The request line kept in the context, filled from the request on the handler's thread
// (the first log line, or submit(), whichever comes first); tasks find it filled.
inline const std::string& request_line_of(RequestContext& ctx) {
    if (ctx.request_line.empty() && !ctx.ended && ctx.request) ctx.request_line = ctx.request->request_line();
    return ctx.request_line;
}

inline void log_in_context(cppg_log_level_t level, std::string message) {
    RequestContext* ctx = request_context_stack().top();
    if (ctx == nullptr) return log(level, message);
    std::string line = "[" + std::string(request_id()) + "] ";
    if (const std::string& request_line = request_line_of(*ctx); !request_line.empty())
        line += "\"" + request_line + "\" ";
    log(level, line + message);
}

}  // namespace detail

inline std::string_view request_id() {
    RequestContext* ctx = request_context_stack().top();
    if (ctx == nullptr) return {};
    if (ctx->request_id.empty()) {
        std::optional<std::string_view> from_server;
        if (!ctx->ended && ctx->request) from_server = ctx->request->env("REQUEST_ID");
        if (from_server && !from_server->empty()) {
            ctx->request_id = *from_server;
        } else {  // a host without ids (an old server): the client's, or a new one
            auto sent = !ctx->ended && ctx->request ? ctx->request->header("X-Request-Id") : std::nullopt;
            ctx->request_id = sent && detail::valid_request_id(*sent) ? std::string(*sent) : detail::new_request_id();
        }
        if (AppContext* app = app_context_stack().top()) app->g.set("request_id", ctx->request_id);
    }
    return ctx->request_id;
}

template <typename... Args>
void log_debug(std::string_view fmt, const Args&... args) { detail::log_in_context(CPPG_LOG_DEBUG, format(fmt, args...)); }
template <typename... Args>
void log_info(std::string_view fmt, const Args&... args) { detail::log_in_context(CPPG_LOG_INFO, format(fmt, args...)); }
template <typename... Args>
void log_warning(std::string_view fmt, const Args&... args) { detail::log_in_context(CPPG_LOG_WARNING, format(fmt, args...)); }
template <typename... Args>
void log_error(std::string_view fmt, const Args&... args) { detail::log_in_context(CPPG_LOG_ERROR, format(fmt, args...)); }

namespace detail {

// Logs the exception being handled (call in a catch block): its type, its message, and
// the request it broke.
inline void log_unhandled(std::string_view where, std::string_view what) {
    log_in_context(CPPG_LOG_ERROR, format("unhandled exception in {}: {}: {}", where, current_exception_type(), what));
}

}  // namespace detail

namespace detail {

template <typename App>
struct Adapter {
    static int init(const cppg_host_t* h, int argc, const char* const* argv, void** state) {
        host() = h;
        try {
            *state = new App(Args(argv, argv + argc));
            return 0;
        } catch (const std::exception& e) {
            log(CPPG_LOG_ERROR, std::string("app init failed: ") + e.what());
        } catch (...) {
            log(CPPG_LOG_ERROR, "app init failed with an unknown exception");
        }
        return -1;
    }
    static int handle(void* state, cppg_request_t* raw) {
        Request request(raw);
        // The contexts are pushed here, around the handler, and popped on every path.
        auto app_ctx = std::make_shared<AppContext>();
        app_ctx->app = state;
        app_ctx->app_type = &typeid(App);
        auto req_ctx = std::make_shared<RequestContext>();
        req_ctx->request = &request;
        struct EndRequest {  // tasks still holding the context must see that it ended
            RequestContext& ctx;
            ~EndRequest() { ctx.ended = true; }
        } end{*req_ctx};
        AppContextGuard app_guard(app_ctx);
        RequestContextGuard request_guard(req_ctx);
        try {
            request_id();  // puts it in g() too, before any app code (or task) asks
            static_cast<const App*>(state)->handle(request);
            return 0;
        } catch (const std::exception& e) {
            log_unhandled("handler", e.what());
        } catch (...) {
            log_unhandled("handler", "(not a std::exception)");
        }
        return -1;  // the host answers 500, or closes if the response had started
    }
    static void shutdown(void* state) { delete static_cast<App*>(state); }

    // Optional hooks: an app class opts in by having the member function.
    static constexpr bool kWorkerStart = requires(App& a) { a.worker_start(); };
    static constexpr bool kThreadStart = requires(App& a) { a.thread_start(0u); };
    static constexpr bool kThreadStop = requires(App& a) { a.thread_stop(0u); };
    static constexpr bool kWorkerExit = requires(App& a) { a.worker_exit(); };
    static constexpr bool kPreRequest = requires(const App& a, Request& r) { a.pre_request(r); };
    static constexpr bool kPostRequest = requires(const App& a, Request& r) { a.post_request(r, 200); };

    // Runs a hook; what it throws is logged with its type and message, and described.
    template <typename F>
    static std::optional<std::string> contained(std::string_view hook, F&& f) {
        try {
            f();
            return std::nullopt;
        } catch (const std::exception& e) {
            log_unhandled(hook, e.what());
            return current_exception_type() + ": " + e.what();
        } catch (...) {
            log_unhandled(hook, "(not a std::exception)");
            return current_exception_type();
        }
    }
    // A hook that runs before the worker serves could not do its part: the worker's boot fails.
    static void fail_boot(std::string_view hook, const std::string& what) {
        std::string why = std::string(hook) + " threw " + what;
        if (host() && host()->struct_size >= offsetof(cppg_host_t, fail_boot) + sizeof(void*))
            host()->fail_boot(why.c_str());
    }

    static int worker_start(void* state) {
        if constexpr (kWorkerStart) {
            if (auto what = contained("worker_start", [&] { static_cast<App*>(state)->worker_start(); })) {
                fail_boot("worker_start", *what);
                return -1;
            }
        }
        return 0;
    }
    static void thread_start(void* state, unsigned index) {
        if constexpr (kThreadStart) {
            std::string hook = format("thread_start({})", index);
            if (auto what = contained(hook, [&] { static_cast<App*>(state)->thread_start(index); }))
                fail_boot(hook, *what);
        }
    }
    static void thread_stop(void* state, unsigned index) {
        if constexpr (kThreadStop)
            contained(format("thread_stop({})", index), [&] { static_cast<App*>(state)->thread_stop(index); });
    }
    static void worker_exit(void* state) {
        if constexpr (kWorkerExit) contained("worker_exit", [&] { static_cast<App*>(state)->worker_exit(); });
    }
    static void pre_request(void* state, cppg_request_t* raw) {
        if constexpr (kPreRequest) {
            Request request(raw);
            contained("pre_request", [&] { static_cast<const App*>(state)->pre_request(request); });
        }
    }
    static void post_request(void* state, cppg_request_t* raw, int status) {
        if constexpr (kPostRequest) {
            Request request(raw);
            contained("post_request", [&] { static_cast<const App*>(state)->post_request(request, status); });
        }
    }

    static constexpr cppg_app_t descriptor(const char* name) {
        return cppg_app_t{
            .abi_version = CPPG_ABI_VERSION,
            .struct_size = sizeof(cppg_app_t),
            .name = name,
            .init = &init,
            .handle = &handle,
            .shutdown = &shutdown,
            .worker_start = kWorkerStart ? &worker_start : nullptr,
            .thread_start = kThreadStart ? &thread_start : nullptr,
            .thread_stop = kThreadStop ? &thread_stop : nullptr,
            .pre_request = kPreRequest ? &pre_request : nullptr,
            .post_request = kPostRequest ? &post_request : nullptr,
            .worker_exit = kWorkerExit ? &worker_exit : nullptr,
            .fork_event = nullptr,
            .reserved = {},
        };
    }
};

}  // namespace detail

// Raised by submit() when the worker's executor queue is full (--executor-queue).
class ExecutorFull : public HostError {
public:
    ExecutorFull() : HostError(CPPG_EBUSY) {}
};

// Runs f() on the worker's shared executor and returns its future. The task sees the
// submitting thread's app and request contexts (Flask's copy_current_request_context):
// request(), g() and current_app() work inside it, and the contexts stay alive until it
// ends. Use request() in a task only while the handler waits for it. Throws ExecutorFull
// when the queue is full.
template <typename F>
auto submit(F&& f) -> std::future<std::invoke_result_t<std::decay_t<F>>> {
    using Result = std::invoke_result_t<std::decay_t<F>>;
    auto app_ctx = app_context_stack().top_shared();
    auto req_ctx = request_context_stack().top_shared();
    if (req_ctx) {  // what the task's log lines need, taken while the request is still there
        request_id();
        detail::request_line_of(*req_ctx);
    }
    auto task = std::make_shared<std::packaged_task<Result()>>(
        [fn = std::forward<F>(f), app_ctx, req_ctx]() mutable {
            std::optional<AppContextGuard> app_guard;
            std::optional<RequestContextGuard> request_guard;
            if (app_ctx) app_guard.emplace(app_ctx);
            if (req_ctx) request_guard.emplace(req_ctx);
            return fn();
        });
    auto future = task->get_future();
    if (host() == nullptr || host()->struct_size < offsetof(cppg_host_t, submit) + sizeof(void*))
        throw HostError(CPPG_ESTATE);  // a host without an executor
    auto* boxed = new std::function<void()>([task] { (*task)(); });
    int rc = host()->submit(
        [](void* arg) {
            std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
            (*fn)();
        },
        boxed);
    if (rc != CPPG_OK) {
        delete boxed;
        if (rc == CPPG_EBUSY) throw ExecutorFull();
        throw HostError(rc);
    }
    return future;
}

}  // namespace cppg

// Exports an app class as a cppgunicorn plugin. Use once per shared object.
// Optional member functions of the app class become the ABI's hooks:
//   void worker_start();              after fork, before serving (may throw: boot fails)
//   void thread_start(unsigned i);    on each app thread, before the worker serves (may throw:
//                                     the worker's boot fails, and the master backs off)
//   void thread_stop(unsigned i);     on each app thread whose thread_start succeeded, at exit
//   void pre_request(Request&) const; on the app thread, before handle (gunicorn's pre_request)
//   void post_request(Request&, int status) const;   after the response was handed over
//   void worker_exit();               after the last request
// What a hook throws is logged with its type and message; only worker_start and
// thread_start can make the boot fail.
//
// A test that includes an app's .cpp to run it with cppg::testing defines CPPG_NO_APP_EXPORT:
// the class is compiled, the entry point is not (several apps can share one test binary).
#ifdef CPPG_NO_APP_EXPORT
#define CPPG_APP(AppType, app_name)
#else
#define CPPG_APP(AppType, app_name)                                                        \
    extern "C" __attribute__((visibility("default"))) const cppg_app_t* cppg_app_on_load() { \
        static const cppg_app_t descriptor =                                               \
            ::cppg::detail::Adapter<AppType>::descriptor(app_name);                        \
        return &descriptor;                                                                \
    }
#endif
