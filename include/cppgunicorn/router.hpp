// SPDX-License-Identifier: MIT
// Flask-like routing for cppgunicorn apps, on top of sdk.hpp:
//
//   struct Api : cppg::Router {
//       explicit Api(const cppg::Args&) {
//           get("/", [] { return cppg::Response::text("Hello, World!\n"); });
//           get("/users/<int:id>", [](const cppg::Params& p) {
//               return cppg::Response::json({{"id", p.get<int>("id")}});
//           }).name("user");
//       }
//   };
//   CPPG_APP(Api, "api")
//
// Patterns: literal segments and <name> (one segment), <int:name>, <float:name>,
// <uuid:name>, <path:name> (the rest). A value a converter refuses (letters for <int:>, a
// number that overflows) is no match: 404. Slashes are strict as in Werkzeug: a route that
// ends in "/" answers its path without the slash with a 308 redirect to it; a route without
// one does not answer the path with it (404); repeated slashes redirect to the single-slash
// path. An unknown path is HttpError 404, a known path with another method 405 (with
// Allow), and both go through before_request, error handlers and after_request like any
// error. Every 405 goes out with Allow, whoever made it: one without gets the path's
// methods. Hooks: before_request (may answer early), after_request (may change the
// response), teardown (always runs, with the exception if there was one). Error handlers
// by status (error_handler(404, ...)) come first, then by exception type, most derived type
// first whatever the registration order; anything else is logged and becomes a 500.
// mount(prefix, router, name) adds another router's routes under a prefix (a blueprint):
// its own hooks and error handlers apply to its routes, inside the app's.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppgunicorn/response.hpp"
#include "cppgunicorn/sdk.hpp"

namespace cppg {

// Percent-decoding as in a query string ("+" is a space).
inline std::string url_decode(std::string_view text) { return detail::percent_decode(text, true); }

// "a=1&b=x+y&a=2" -> {a: [1, 2], b: ["x y"]}: query strings and urlencoded forms.
using MultiDict = std::multimap<std::string, std::string>;

inline MultiDict parse_urlencoded(std::string_view text) {
    MultiDict out;
    while (!text.empty()) {
        std::string_view pair = text.substr(0, text.find('&'));
        text.remove_prefix(std::min(text.size(), pair.size() + 1));
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        out.emplace(url_decode(pair.substr(0, eq)),
                    eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1)));
    }
    return out;
}

// The first value of a key, or nullopt.
inline std::optional<std::string> first(const MultiDict& dict, const std::string& key) {
    auto it = dict.find(key);
    if (it == dict.end()) return std::nullopt;
    return it->second;
}

// "a=1; b=2" (the Cookie header) -> {a: 1, b: 2}.
inline std::map<std::string, std::string> parse_cookies(std::string_view header) {
    std::map<std::string, std::string> out;
    while (!header.empty()) {
        std::string_view item = header.substr(0, header.find(';'));
        header.remove_prefix(std::min(header.size(), item.size() + 1));
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        std::string_view value = item.substr(eq + 1);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        out.emplace(std::string(item.substr(0, eq)), std::string(value));
    }
    return out;
}

namespace detail {
// The whole request body, read once and kept in the request context, so form() and
// json_body() can be called more than once (a before_request hook and the handler).
inline const std::string& body_text() {
    Request& req = request();
    Scratch& scratch = request_context().scratch;
    if (auto* kept = scratch.get_optional<std::string>("cppg.body")) return *kept;
    scratch.set("cppg.body", req.read_all());
    return scratch.get<std::string>("cppg.body");
}
}  // namespace detail

// The current request's query string, form body and cookies, parsed.
inline MultiDict args() { return parse_urlencoded(request().query()); }
inline MultiDict form() {
    auto type = request().env("CONTENT_TYPE").value_or("");
    if (type.substr(0, type.find(';')) != "application/x-www-form-urlencoded") return {};
    return parse_urlencoded(detail::body_text());
}
inline std::map<std::string, std::string> cookies() {
    return parse_cookies(request().header("Cookie").value_or(""));
}

// An exception that is an HTTP answer (Flask's abort()), with headers for it if needed.
class HttpError : public std::runtime_error {
public:
    HttpError(int status, std::string message = {},
              std::vector<std::pair<std::string, std::string>> headers = {})
        : std::runtime_error(message.empty() ? std::string(reason_for(status)) : std::move(message)),
          status_(status),
          headers_(std::move(headers)) {}
    int status() const { return status_; }
    const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

private:
    int status_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

namespace detail {

// application/json, or any type with a +json suffix (application/problem+json).
inline bool is_json_type(std::string_view type) {
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    if (iequals(type, "application/json")) return true;
    return type.size() > 5 && iequals(type.substr(type.size() - 5), "+json") && type.find('/') != std::string_view::npos;
}

}  // namespace detail

// The body parsed as JSON. A body that is not declared JSON is HttpError 415; malformed
// JSON is HttpError 400 (Flask's behaviour).
inline nlohmann::json json_body() {
    auto type = request().env("CONTENT_TYPE");
    if (!type || !detail::is_json_type(*type))
        throw HttpError(415, "expected a JSON body (Content-Type: application/json)");
    try {
        return nlohmann::json::parse(detail::body_text());
    } catch (const nlohmann::json::parse_error& e) {
        throw HttpError(400, std::string("malformed JSON: ") + e.what());
    }
}
// The body parsed as JSON, or nullopt when it is not JSON or not declared so (Flask's
// get_json(silent=True)).
inline std::optional<nlohmann::json> json_body_silent() {
    auto type = request().env("CONTENT_TYPE");
    if (!type || !detail::is_json_type(*type)) return std::nullopt;
    auto doc = nlohmann::json::parse(detail::body_text(), nullptr, false);
    if (doc.is_discarded()) return std::nullopt;
    return doc;
}
// A member of a JSON object as T, or HttpError 400 naming the field when it is missing or
// of another type.
template <typename T>
T field(const nlohmann::json& doc, const std::string& name) {
    if (!doc.is_object() || !doc.contains(name)) throw HttpError(400, "missing field '" + name + "'");
    try {
        return doc.at(name).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw HttpError(400, "field '" + name + "' has the wrong type");
    }
}

// Path parameters of the matched route, typed on access.
class Params {
public:
    void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
    bool contains(const std::string& name) const { return values_.count(name) != 0; }
    // The value as T (a string, an integer or a floating-point type). A value that does not
    // fit T is HttpError 404: the URL names nothing.
    template <typename T = std::string>
    T get(const std::string& name) const {
        auto it = values_.find(name);
        if (it == values_.end()) throw std::logic_error("no path parameter '" + name + "'");
        const std::string& v = it->second;
        if constexpr (std::is_same_v<T, std::string>) {
            return v;
        } else if constexpr (std::is_integral_v<T>) {
            T out{};
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
            if (ec != std::errc() || end != v.data() + v.size()) throw HttpError(404);
            return out;
        } else if constexpr (std::is_floating_point_v<T>) {
            char* end = nullptr;
            double d = std::strtod(v.c_str(), &end);
            if (end != v.c_str() + v.size() || !std::isfinite(d)) throw HttpError(404);
            return static_cast<T>(d);
        } else {
            static_assert(sizeof(T) == 0, "path parameters are strings, integers or floating point");
        }
    }

private:
    std::map<std::string, std::string> values_;
};

class Router;
namespace detail {
inline thread_local const Router* current_router = nullptr;
}

class Router {
public:
    using Handler = std::function<Response(const Params&)>;
    using ErrorHandler = std::function<std::optional<Response>(std::exception_ptr)>;

    Router() : hooks_(std::make_shared<Hooks>()) {}

    Router& route(std::string pattern, std::vector<std::string> methods, Handler handler) {
        Route r;
        r.pattern = parse_pattern(pattern);
        r.methods = std::move(methods);
        r.handler = std::make_shared<Handler>(std::move(handler));
        routes_.push_back(std::move(r));
        return *this;
    }
    template <typename F>
    Router& get(std::string pattern, F f) { return route(std::move(pattern), {"GET", "HEAD"}, wrap(std::move(f))); }
    template <typename F>
    Router& post(std::string pattern, F f) { return route(std::move(pattern), {"POST"}, wrap(std::move(f))); }
    template <typename F>
    Router& put(std::string pattern, F f) { return route(std::move(pattern), {"PUT"}, wrap(std::move(f))); }
    template <typename F>
    Router& patch(std::string pattern, F f) { return route(std::move(pattern), {"PATCH"}, wrap(std::move(f))); }
    template <typename F>
    Router& del(std::string pattern, F f) { return route(std::move(pattern), {"DELETE"}, wrap(std::move(f))); }
    // Names the route added last, for url_for.
    Router& name(std::string route_name) {
        if (routes_.empty()) throw std::logic_error("name() before any route");
        routes_.back().name = std::move(route_name);
        return *this;
    }

    // Files under `directory` at `prefix`/<path>: never outside the directory (no "..", no
    // symbolic link out of it), 404 for anything else; Range and conditional GET as
    // Response::file.
    Router& static_files(std::string prefix, std::string directory) {
        while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
        return get(prefix + "/<path:file>", [directory](const Params& p) { return static_file(directory, p.get("file")); });
    }

    // Adds `child`'s routes under `prefix` ("/api"; the child's "/" becomes "/api/"); their
    // names become "name.route". The
    // child's hooks and error handlers apply to them, inside the app's. Routes the child
    // gains later are not added; hooks it gains later are.
    Router& mount(const std::string& prefix, const Router& child, const std::string& blueprint_name = {}) {
        Pattern base = parse_pattern(prefix);
        for (const Route& r : child.routes_) {
            Route copy = r;
            copy.pattern.segments.insert(copy.pattern.segments.begin(), base.segments.begin(), base.segments.end());
            // The child's "/" is the prefix with a slash ("/todos/"), as in Flask's blueprints.
            if (r.pattern.segments.empty() && !base.segments.empty()) copy.pattern.trailing_slash = true;
            copy.scopes.insert(copy.scopes.begin(), child.hooks_);
            if (!copy.name.empty() && !blueprint_name.empty()) copy.name = blueprint_name + "." + copy.name;
            routes_.push_back(std::move(copy));
        }
        return *this;
    }

    void before_request(std::function<std::optional<Response>()> hook) { hooks_->before.push_back(std::move(hook)); }
    void after_request(std::function<void(Response&)> hook) { hooks_->after.push_back(std::move(hook)); }
    void teardown(std::function<void(std::exception_ptr)> hook) { hooks_->teardown.push_back(std::move(hook)); }

    // A handler for exceptions of type E (and types derived from it). The most derived
    // matching type wins, whatever the order of registration.
    template <typename E>
    void error_handler(std::function<Response(const E&)> handler) {
        TypedHandler entry;
        entry.handle = [handler](std::exception_ptr e) -> std::optional<Response> {
            try {
                std::rethrow_exception(e);
            } catch (const E& typed) {
                return handler(typed);
            } catch (...) {
                return std::nullopt;
            }
        };
        entry.throw_pointer = [] { throw static_cast<const E*>(nullptr); };
        entry.derives_from_me = [](const std::function<void()>& thrower) {
            try {
                thrower();
            } catch (const E*) {
                return true;
            } catch (...) {
            }
            return false;
        };
        auto& list = hooks_->by_type;
        auto pos = list.begin();  // before the first handler of a base of E
        while (pos != list.end() && !pos->derives_from_me(entry.throw_pointer)) ++pos;
        list.insert(pos, std::move(entry));
    }
    template <typename F>
    void error_handler(F handler) {
        error_handler(std::function(std::move(handler)));
    }
    // A handler for an HTTP status: HttpErrors with that status, and for 500 any exception no
    // type handler took.
    void error_handler(int status, std::function<Response(const HttpError&)> handler) {
        hooks_->by_status[status] = std::move(handler);
    }

private:
    struct Route;

public:
    struct Match {
        const Handler* handler = nullptr;  // null: no route for this method
        const Route* route = nullptr;      // the route of `handler`
        Params params;
        std::vector<std::string> allowed;  // methods of the routes matching the path
        std::optional<std::string> redirect;  // the canonical path, when the slashes differ
    };

    // The route for a method and path; `allowed` lists what the path accepts otherwise.
    Match match(std::string_view method, std::string_view path) const {
        Match out;
        PathShape shape = split_request_path(path);
        for (const auto& r : routes_) {
            Params params;
            if (!matches(r.pattern.segments, shape.segments, params)) continue;
            if (!r.pattern.trailing_slash && shape.trailing_slash && !shape.segments.empty()) continue;
            bool method_ok = false;
            for (const auto& m : r.methods) {
                if (std::find(out.allowed.begin(), out.allowed.end(), m) == out.allowed.end()) out.allowed.push_back(m);
                method_ok = method_ok || m == method;
            }
            if (!method_ok) continue;
            bool exact = r.pattern.trailing_slash == shape.trailing_slash && !shape.empty_segments;
            // The first exact match wins; a route reached only by adding a slash (a redirect)
            // is kept until an exact one turns up, as in Werkzeug.
            if (out.handler != nullptr && (!out.redirect || !exact)) continue;
            out.handler = r.handler.get();
            out.route = &r;
            out.params = std::move(params);
            out.redirect.reset();
            if (!exact) out.redirect = canonical(shape.segments, r.pattern.trailing_slash);
        }
        return out;
    }

    // The path of the route named `route_name` with `params` filled in; params the pattern
    // does not use go in the query string. Throws std::logic_error for an unknown name or a
    // missing or invalid parameter.
    std::string url_for(const std::string& route_name, const std::map<std::string, std::string>& params = {}) const {
        for (const auto& r : routes_) {
            if (r.name != route_name) continue;
            std::string out;
            std::map<std::string, std::string> unused = params;
            for (const auto& seg : r.pattern.segments) {
                out += "/";
                if (seg.kind == Segment::kLiteral) {
                    out += seg.text;
                    continue;
                }
                auto it = params.find(seg.text);
                if (it == params.end()) throw std::logic_error("url_for(" + route_name + "): no value for '" + seg.text + "'");
                if (!converts(seg.kind, it->second))
                    throw std::logic_error("url_for(" + route_name + "): '" + it->second + "' is not a valid " + seg.text);
                out += url_encode(it->second, seg.kind == Segment::kPath);
                unused.erase(seg.text);
            }
            if (out.empty() || r.pattern.trailing_slash) out += "/";
            char sep = '?';
            for (const auto& [k, v] : unused) {
                out += sep + url_encode(k, false) + "=" + url_encode(v, false);
                sep = '&';
            }
            return out;
        }
        throw std::logic_error("url_for: no route named '" + route_name + "'");
    }

    // CPPG_APP calls this for every request. Whatever fails on the way (a handler, a hook,
    // an error handler, sending), the teardown hooks run, with the first failure.
    void handle(Request& req) const {
        const Router* outer = detail::current_router;
        detail::current_router = this;
        struct Restore {
            const Router* r;
            ~Restore() { detail::current_router = r; }
        } restore{outer};
        if (RequestContext* ctx = request_context_stack().top()) ctx->router = this;
        Match m = match(req.method(), req.path());
        std::vector<const Hooks*> scopes = scope_chain(m);
        std::exception_ptr failure;
        try {
            Response response = respond(req, m, scopes, failure);
            ensure_allow(response, m);
            send(req, response);
        } catch (const HostError& e) {
            if (!failure) failure = std::current_exception();
            if (e.code() != CPPG_ECLOSED) {  // the client is gone: nothing to answer, nothing to log
                run_teardown(scopes, failure);
                throw;
            }
        } catch (...) {
            if (!failure) failure = std::current_exception();
            run_teardown(scopes, failure);
            throw;
        }
        run_teardown(scopes, failure);
    }

private:
    struct TypedHandler {
        ErrorHandler handle;
        std::function<void()> throw_pointer;                               // throws const E*
        std::function<bool(const std::function<void()>&)> derives_from_me;  // catches const E*
    };
    struct Hooks {
        std::vector<std::function<std::optional<Response>()>> before;
        std::vector<std::function<void(Response&)>> after;
        std::vector<std::function<void(std::exception_ptr)>> teardown;
        std::vector<TypedHandler> by_type;  // most derived first
        std::map<int, std::function<Response(const HttpError&)>> by_status;
    };
    struct Segment {
        enum Kind { kLiteral, kString, kInt, kFloat, kUuid, kPath } kind;
        std::string text;  // the literal, or the parameter's name
    };
    struct Pattern {
        std::vector<Segment> segments;
        bool trailing_slash = false;
    };
    struct Route {
        Pattern pattern;
        std::vector<std::string> methods;
        std::shared_ptr<Handler> handler;
        std::string name;
        std::vector<std::shared_ptr<const Hooks>> scopes;  // mounted routers' hooks, outermost first
    };
    struct PathShape {
        std::vector<std::string_view> segments;
        bool trailing_slash = false;
        bool empty_segments = false;  // "//" somewhere
    };

    template <typename F>
    static Handler wrap(F f) {
        if constexpr (std::is_invocable_v<F, const Params&>) return Handler(std::move(f));
        else return [f = std::move(f)](const Params&) { return f(); };
    }

    static PathShape split_request_path(std::string_view path) {
        PathShape out;
        if (path.empty()) return out;
        out.trailing_slash = path.size() > 1 && path.back() == '/';
        std::string_view rest = path.substr(1);
        while (!rest.empty()) {
            auto end = rest.find('/');
            std::string_view seg = rest.substr(0, end);
            if (seg.empty() && end != std::string_view::npos) out.empty_segments = true;
            else if (!seg.empty()) out.segments.push_back(seg);
            rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        }
        if (out.trailing_slash && path.size() >= 2 && path[path.size() - 2] == '/') out.empty_segments = true;
        return out;
    }

    static Pattern parse_pattern(const std::string& pattern) {
        Pattern out;
        const std::string rooted = pattern.empty() || pattern.front() != '/' ? "/" + pattern : pattern;
        PathShape shape = split_request_path(rooted);  // views into `rooted`
        out.trailing_slash = shape.trailing_slash;
        for (auto part : shape.segments) {
            if (part.size() > 2 && part.front() == '<' && part.back() == '>') {
                std::string_view inner = part.substr(1, part.size() - 2);
                auto colon = inner.find(':');
                std::string_view type = colon == std::string_view::npos ? "string" : inner.substr(0, colon);
                std::string name(colon == std::string_view::npos ? inner : inner.substr(colon + 1));
                Segment::Kind kind = type == "int"    ? Segment::kInt
                                     : type == "float" ? Segment::kFloat
                                     : type == "uuid"  ? Segment::kUuid
                                     : type == "path"  ? Segment::kPath
                                     : type == "string" ? Segment::kString
                                                        : throw std::logic_error("unknown converter '" + std::string(type) + "' in " + pattern);
                out.segments.push_back(Segment{kind, std::move(name)});
            } else {
                out.segments.push_back(Segment{Segment::kLiteral, std::string(part)});
            }
        }
        return out;
    }

    // Does a path segment convert? <int:> is digits that fit a signed 64-bit integer, <float:>
    // digits with one dot, <uuid:> 8-4-4-4-12 hex digits.
    static bool converts(Segment::Kind kind, std::string_view v) {
        switch (kind) {
            case Segment::kLiteral:
            case Segment::kString: return !v.empty() && v.find('/') == std::string_view::npos;
            case Segment::kPath: return !v.empty();
            case Segment::kInt: {
                if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) return false;
                int64_t n = 0;
                auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                return ec == std::errc() && end == v.data() + v.size();
            }
            case Segment::kFloat: {
                auto dot = v.find('.');
                if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
                if (v.find_first_not_of("0123456789.") != std::string_view::npos || v.find('.', dot + 1) != std::string_view::npos)
                    return false;
                return std::isfinite(std::strtod(std::string(v).c_str(), nullptr));
            }
            case Segment::kUuid: {
                if (v.size() != 36) return false;
                for (size_t i = 0; i < v.size(); ++i) {
                    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                    if (dash ? v[i] != '-' : !std::isxdigit(static_cast<unsigned char>(v[i]))) return false;
                }
                return true;
            }
        }
        return false;
    }

    static bool matches(const std::vector<Segment>& pattern, const std::vector<std::string_view>& path,
                        Params& params) {
        size_t i = 0;
        for (; i < pattern.size(); ++i) {
            const Segment& s = pattern[i];
            if (s.kind == Segment::kPath) {
                if (i >= path.size()) return false;
                std::string rest;
                for (size_t j = i; j < path.size(); ++j) rest += (j > i ? "/" : "") + std::string(path[j]);
                params.set(s.text, rest);
                return true;
            }
            if (i >= path.size()) return false;
            if (s.kind == Segment::kLiteral) {
                if (path[i] != s.text) return false;
                continue;
            }
            if (!converts(s.kind, path[i])) return false;
            std::string value(path[i]);
            if (s.kind == Segment::kUuid)
                for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            params.set(s.text, std::move(value));
        }
        return i == path.size();
    }

    static std::string canonical(const std::vector<std::string_view>& segments, bool trailing_slash) {
        std::string out;
        for (auto s : segments) out += "/" + url_encode(s, false);
        if (out.empty() || trailing_slash) out += "/";
        return out;
    }

    static std::string url_encode(std::string_view text, bool keep_slashes) {
        static const char* hex = "0123456789ABCDEF";
        std::string out;
        for (unsigned char c : text) {
            if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slashes && c == '/')) {
                out.push_back(static_cast<char>(c));
            } else {
                out.push_back('%');
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            }
        }
        return out;
    }

    static Response static_file(const std::string& directory, const std::string& relative) {
        // Reject what could leave the directory before touching the file system, then make
        // sure the resolved file (links followed) is still inside it.
        if (relative.find('\0') != std::string::npos) throw HttpError(404);
        for (std::string_view rest = relative; !rest.empty();) {
            auto seg = rest.substr(0, rest.find('/'));
            if (seg == ".." || seg == ".") throw HttpError(404);
            rest.remove_prefix(std::min(rest.size(), seg.size() + 1));
        }
        char root_buf[PATH_MAX], file_buf[PATH_MAX];
        if (!realpath(directory.c_str(), root_buf)) throw HttpError(404);
        std::string full = std::string(root_buf) + "/" + relative;
        if (!realpath(full.c_str(), file_buf)) throw HttpError(404);
        std::string_view root(root_buf), file(file_buf);
        if (!file.starts_with(root) || file.size() <= root.size() || file[root.size()] != '/') throw HttpError(404);
        return Response::file(std::string(file));
    }

    // The hooks that apply to a match: the app's, then each mounted router's, outermost first.
    std::vector<const Hooks*> scope_chain(const Match& m) const {
        std::vector<const Hooks*> out{hooks_.get()};
        if (m.route == nullptr) return out;
        for (const auto& s : m.route->scopes) out.push_back(s.get());
        return out;
    }

    // The answer, after-request hooks applied; errors on the way go through the handlers.
    Response respond(Request& req, Match& m, const std::vector<const Hooks*>& scopes, std::exception_ptr& failure) const {
        Response response;
        try {
            response = dispatch(req, m, scopes);
            if (response.file_body && status_has_body(response.status) && !detail::readable_file(response.file_body->path))
                throw HttpError(404);  // before the hooks, so the app's 404 handler answers it
        } catch (...) {
            failure = std::current_exception();
            response = handle_error(failure, scopes);
        }
        try {
            run_after(response, scopes);
        } catch (...) {  // an after-request hook failed: answer that error, without the hooks again
            if (!failure) failure = std::current_exception();
            response = handle_error(std::current_exception(), scopes);
        }
        return response;
    }

    static void run_after(Response& response, const std::vector<const Hooks*>& scopes) {
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
            for (const auto& hook : (*it)->after) hook(response);
    }

    // Teardown hooks must all run: one that throws is logged and the rest still run.
    static void run_teardown(const std::vector<const Hooks*>& scopes, std::exception_ptr failure) {
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
            for (const auto& hook : (*it)->teardown) {
                try {
                    hook(failure);
                } catch (const std::exception& e) {
                    detail::log_unhandled("teardown", e.what());
                } catch (...) {
                    detail::log_unhandled("teardown", "(not a std::exception)");
                }
            }
    }

    Response dispatch(Request& req, Match& m, const std::vector<const Hooks*>& scopes) const {
        for (const Hooks* scope : scopes)
            for (const auto& hook : scope->before)
                if (auto early = hook()) return *early;
        if (m.handler == nullptr) {
            if (m.allowed.empty()) throw HttpError(404);
            if (req.method() == "OPTIONS") {  // answered for every path that has routes, as Flask does
                Response options{200, {{"Allow", allow_value(m)}}, {}, {}, {}};
                return options;
            }
            throw HttpError(405, {}, {{"Allow", allow_value(m)}});
        }
        if (m.redirect) {
            std::string location = *m.redirect;
            if (!req.query().empty()) location += "?" + std::string(req.query());
            return Response::redirect(location, 308);
        }
        return (*m.handler)(m.params);
    }

    // The methods the path answers, OPTIONS included; "" for a path no route matches (RFC
    // 9110 10.2.1: the resource allows no methods).
    static std::string allow_value(const Match& m) {
        if (m.allowed.empty()) return {};
        std::string allow;
        for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
        if (std::find(m.allowed.begin(), m.allowed.end(), "OPTIONS") == m.allowed.end()) allow += ", OPTIONS";
        return allow;
    }

    // RFC 9110 15.5.6: every 405 carries Allow. An error handler's replacement, an
    // after_request hook or a handler that answers 405 itself need not remember it.
    static void ensure_allow(Response& response, const Match& m) {
        if (response.status == 405 && !response.header_value("Allow")) response.header("Allow", allow_value(m));
    }

    // Innermost scope first: a blueprint's handlers before the app's.
    Response handle_error(std::exception_ptr failure, const std::vector<const Hooks*>& scopes) const {
        if (auto as_http = from_host_error(failure)) return handle_error(*as_http, scopes);
        const HttpError* http = nullptr;
        try {
            std::rethrow_exception(failure);
        } catch (const HttpError& e) {
            http = &e;
            for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
                if (auto found = (*it)->by_status.find(e.status()); found != (*it)->by_status.end())
                    return found->second(e);
        } catch (...) {
        }
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
            for (const auto& handler : (*it)->by_type)
                if (auto response = handler.handle(failure)) return *response;
        if (http) {
            Response r = Response::text(std::string(http->what()) + "\n", http->status());
            for (const auto& [n, v] : http->headers()) r.header(n, v);
            return r;
        }
        try {
            std::rethrow_exception(failure);
        } catch (const nlohmann::json::type_error& e) {
            // Almost always a request's JSON read as the wrong type: the client's mistake.
            return Response::text(std::string("Bad Request: ") + e.what() + "\n", 400);
        } catch (const std::exception& e) {
            detail::log_unhandled("route", e.what());
        } catch (...) {
            detail::log_unhandled("route", "(not a std::exception)");
        }
        HttpError internal(500);
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
            if (auto found = (*it)->by_status.find(500); found != (*it)->by_status.end()) return found->second(internal);
        return Response::text("Internal Server Error\n", 500);
    }

    // A failed body read (too large, malformed, timed out) as the HttpError the server would
    // answer; a client that went away is rethrown: there is no one to answer.
    static std::optional<std::exception_ptr> from_host_error(std::exception_ptr failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const HostError& e) {
            switch (e.code()) {
                case CPPG_ETOOLARGE: return std::make_exception_ptr(HttpError(413, "request body too large"));
                case CPPG_EBODY: return std::make_exception_ptr(HttpError(400, "malformed request body"));
                case CPPG_ETIMEDOUT: return std::make_exception_ptr(HttpError(408, "request body timed out"));
                case CPPG_ECLOSED: throw;
                default: return std::nullopt;
            }
        } catch (...) {
            return std::nullopt;
        }
    }

    static void send(Request& req, const Response& r) {
        if (r.file_body && status_has_body(r.status)) return detail::send_file(req, r);
        std::string status = detail::status_line(r.status);
        std::vector<Header> headers;
        bool body = status_has_body(r.status);
        for (const auto& [name, value] : r.headers)
            if (body || !detail::iequals(name, "Content-Type")) headers.emplace_back(name, value);
        if (!body) {
            req.start_response(status, headers);
            return;
        }
        if (r.stream) {
            req.start_response(status, headers);  // no length: the server chunks it
            r.stream(req);
            return;
        }
        std::string length = std::to_string(r.body.size());
        headers.emplace_back("Content-Length", length);
        req.start_response(status, headers);
        req.write(r.body);
    }

    std::vector<Route> routes_;
    std::shared_ptr<Hooks> hooks_;
};

// url_for on the router handling the current request (also in a task it submitted).
inline std::string url_for(const std::string& route_name, const std::map<std::string, std::string>& params = {}) {
    const Router* router = detail::current_router;
    if (router == nullptr)
        if (RequestContext* ctx = request_context_stack().top()) router = static_cast<const Router*>(ctx->router);
    if (router == nullptr) throw std::logic_error("url_for outside a request");
    return router->url_for(route_name, params);
}

}  // namespace cppg
