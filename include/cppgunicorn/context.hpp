// SPDX-License-Identifier: MIT
// Flask's application and request contexts for cppgunicorn apps.
//
// For every request the SDK pushes an AppContext and a RequestContext on the handling
// thread's stacks before calling the handler and pops them afterwards, on every path. Code
// anywhere below the handler then reaches them without being passed anything:
//
//   cppg::request()       the request being handled on this thread
//   cppg::g()             the app context's scratch space (Flask's g), fresh per request
//   cppg::current_app()   the app object serving it
//
// Each thread has its own stacks (cppg::LocalStack), so no thread ever sees another's
// request. Outside a context the accessors throw std::logic_error, never undefined
// behaviour. Contexts can also be pushed by hand (AppContextGuard, RequestContextGuard) for
// background jobs and tests, and they nest.
#pragma once

#include <any>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "cppgunicorn/local.hpp"

namespace cppg {

class Request;

// A bag of named values with typed access, for g() and per-request scratch.
class Scratch {
public:
    template <typename T>
    void set(const std::string& name, T value) {
        values_[name] = std::move(value);
    }
    // A string literal is stored as a std::string (get<std::string> finds it), never as a
    // pointer to characters.
    void set(const std::string& name, const char* value) { values_[name] = std::string(value); }
    // The value, which must exist and have type T; throws std::logic_error otherwise.
    template <typename T>
    T& get(const std::string& name) {
        T* value = get_optional<T>(name);
        if (value == nullptr)
            throw std::logic_error("no value '" + name + "' of type " + typeid(T).name());
        return *value;
    }
    // The value, or nullptr when it is missing or of another type.
    template <typename T>
    T* get_optional(const std::string& name) {
        auto it = values_.find(name);
        return it == values_.end() ? nullptr : std::any_cast<T>(&it->second);
    }
    bool contains(const std::string& name) const { return values_.count(name) != 0; }
    void erase(const std::string& name) { values_.erase(name); }

private:
    std::unordered_map<std::string, std::any> values_;
};

struct AppContext {
    const void* app = nullptr;          // the app object (see current_app<T>())
    const std::type_info* app_type = nullptr;
    Scratch g;                          // Flask's g
};

struct RequestContext {
    Request* request = nullptr;
    Scratch scratch;                    // per-request values for the app's own use
    std::atomic<bool> ended = false;    // set when the handler has returned (tasks may outlive it)
    // Copied from the request on first use, and before any task is submitted, so log lines
    // from a task that outlives the handler never touch the request itself.
    std::string request_id;             // cppg::request_id()
    std::string request_line;           // "GET /path?q"
    const void* router = nullptr;       // the cppg::Router handling it, for url_for in tasks
};

inline LocalStack<AppContext>& app_context_stack() {
    static LocalStack<AppContext> stack;
    return stack;
}

inline LocalStack<RequestContext>& request_context_stack() {
    static LocalStack<RequestContext> stack;
    return stack;
}

// The request being handled on this thread.
inline Request& request() {
    RequestContext* ctx = request_context_stack().top();
    if (ctx == nullptr)
        throw std::logic_error("working outside of request context: request() is only "
                               "available while a request is handled (or in a task submitted "
                               "from one)");
    if (ctx->ended || ctx->request == nullptr)
        throw std::logic_error("the request has ended: its handler returned before this task "
                               "used it");
    return *ctx->request;
}

// The current request context (for its scratch space).
inline RequestContext& request_context() {
    RequestContext* ctx = request_context_stack().top();
    if (ctx == nullptr) throw std::logic_error("working outside of request context");
    return *ctx;
}

// The app context's g.
inline Scratch& g() {
    AppContext* ctx = app_context_stack().top();
    if (ctx == nullptr)
        throw std::logic_error("working outside of application context: g() needs an app "
                               "context (push one with cppg::AppContextGuard)");
    return ctx->g;
}

// The app object serving the current app context, as its own type.
template <typename App>
const App& current_app() {
    AppContext* ctx = app_context_stack().top();
    if (ctx == nullptr) throw std::logic_error("working outside of application context");
    if (ctx->app_type == nullptr || *ctx->app_type != typeid(App))
        throw std::logic_error(std::string("current_app is not a ") + typeid(App).name());
    return *static_cast<const App*>(ctx->app);
}

// Pushes a context for its lifetime; pops it on every path, exceptions included.
template <typename Context, LocalStack<Context>& (*Stack)()>
class ContextGuard {
public:
    explicit ContextGuard(std::shared_ptr<Context> ctx) : ctx_(std::move(ctx)) {
        Stack().push(ctx_);
    }
    ~ContextGuard() { Stack().pop(); }
    ContextGuard(const ContextGuard&) = delete;
    ContextGuard& operator=(const ContextGuard&) = delete;
    Context& context() { return *ctx_; }

private:
    std::shared_ptr<Context> ctx_;
};

using AppContextGuard = ContextGuard<AppContext, app_context_stack>;
using RequestContextGuard = ContextGuard<RequestContext, request_context_stack>;

// An app context for an app object outside any request (background jobs, tests).
template <typename App>
std::shared_ptr<AppContext> make_app_context(const App& app) {
    auto ctx = std::make_shared<AppContext>();
    ctx->app = &app;
    ctx->app_type = &typeid(App);
    return ctx;
}

}  // namespace cppg
