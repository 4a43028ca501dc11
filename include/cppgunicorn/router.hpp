// Flask-like routing for cppgunicorn apps, on top of sdk.hpp:
//
//   struct Api : cppg::Router {
//       explicit Api(const cppg::Args&) {
//           get("/", [] { return cppg::Response::text("Hello, World!\n"); });
//           get("/users/<int:id>", [](const cppg::Params& p) {
//               return cppg::Response::json({{"id", p.get<int>("id")}});
//           });
//       }
//   };
//   CPPG_APP(Api, "api")
//
// Patterns: literal segments and <name> (a segment), <int:name>, <path:name> (the rest).
// Unknown paths get 404, known paths with another method 405 with Allow. Hooks:
// before_request (may answer early), after_request (may change the response), teardown
// (always runs, with the exception if there was one). error_handler<E> maps an exception
// type to a response; anything else becomes a 500 (logged by the SDK).
#pragma once

#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppgunicorn/sdk.hpp"

namespace cppg {

// Percent-decoding as in a query string ("+" is a space).
inline std::string url_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
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

// The current request's query string, form body and cookies, parsed.
inline MultiDict args() { return parse_urlencoded(request().query()); }
inline MultiDict form() {
    auto type = request().env("CONTENT_TYPE").value_or("");
    if (type.substr(0, type.find(';')) != "application/x-www-form-urlencoded") return {};
    return parse_urlencoded(request().read_all());
}
inline std::map<std::string, std::string> cookies() {
    return parse_cookies(request().header("Cookie").value_or(""));
}
// The body parsed as JSON; throws nlohmann::json::parse_error on bad input.
inline nlohmann::json json_body() { return nlohmann::json::parse(request().read_all()); }

// What a route returns: a status, headers and a body, or a streaming writer.
struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::function<void(Request&)> stream;  // set: the body is written by this, chunked

    static Response text(std::string body, int status = 200) {
        return Response{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body), {}};
    }
    static Response json(const nlohmann::json& doc, int status = 200) {
        return Response{status, {{"Content-Type", "application/json"}},
                        doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
    }
    static Response streamed(std::function<void(Request&)> writer, std::string content_type,
                             int status = 200) {
        return Response{status, {{"Content-Type", std::move(content_type)}}, {}, std::move(writer)};
    }
    Response& header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    Response& set_cookie(const std::string& name, const std::string& value,
                         const std::string& attributes = "Path=/; HttpOnly; SameSite=Lax") {
        return header("Set-Cookie", name + "=" + value + (attributes.empty() ? "" : "; " + attributes));
    }
};

// An exception that is an HTTP answer (Flask's abort()).
class HttpError : public std::runtime_error {
public:
    HttpError(int status, std::string message) : std::runtime_error(std::move(message)), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

// Path parameters of the matched route, typed on access.
class Params {
public:
    void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
    template <typename T = std::string>
    T get(const std::string& name) const {
        auto it = values_.find(name);
        if (it == values_.end()) throw std::logic_error("no path parameter '" + name + "'");
        if constexpr (std::is_same_v<T, std::string>) return it->second;
        else if constexpr (std::is_integral_v<T>) return static_cast<T>(std::stoll(it->second));
        else static_assert(sizeof(T) == 0, "path parameters are strings or integers");
    }

private:
    std::map<std::string, std::string> values_;
};

inline std::string_view reason_for(int status);

class Router {
public:
    using Handler = std::function<Response(const Params&)>;

    Router& route(std::string pattern, std::vector<std::string> methods, Handler handler) {
        routes_.push_back(Route{split_pattern(pattern), std::move(methods), std::move(handler)});
        return *this;
    }
    template <typename F>
    Router& get(std::string pattern, F f) { return route(std::move(pattern), {"GET", "HEAD"}, wrap(std::move(f))); }
    template <typename F>
    Router& post(std::string pattern, F f) { return route(std::move(pattern), {"POST"}, wrap(std::move(f))); }
    template <typename F>
    Router& put(std::string pattern, F f) { return route(std::move(pattern), {"PUT"}, wrap(std::move(f))); }
    template <typename F>
    Router& del(std::string pattern, F f) { return route(std::move(pattern), {"DELETE"}, wrap(std::move(f))); }

    void before_request(std::function<std::optional<Response>()> hook) { before_.push_back(std::move(hook)); }
    void after_request(std::function<void(Response&)> hook) { after_.push_back(std::move(hook)); }
    void teardown(std::function<void(std::exception_ptr)> hook) { teardown_.push_back(std::move(hook)); }
    template <typename E>
    void error_handler(std::function<Response(const E&)> handler) {
        errors_.push_back([handler](std::exception_ptr e) -> std::optional<Response> {
            try {
                std::rethrow_exception(e);
            } catch (const E& typed) {
                return handler(typed);
            } catch (...) {
                return std::nullopt;
            }
        });
    }

    struct Match {
        const Handler* handler = nullptr;  // null: no route for this method
        Params params;
        std::vector<std::string> allowed;  // methods of the routes matching the path
    };

    // The route for a method and path; `allowed` lists what the path accepts otherwise.
    Match match(std::string_view method, std::string_view path) const {
        Match out;
        auto segments = split_path(path);
        for (const auto& r : routes_) {
            Params params;
            if (!matches(r.segments, segments, params)) continue;
            bool method_ok = false;
            for (const auto& m : r.methods) {
                out.allowed.push_back(m);
                method_ok = method_ok || m == method;
            }
            if (method_ok && out.handler == nullptr) {
                out.handler = &r.handler;
                out.params = std::move(params);
            }
        }
        return out;
    }

    // CPPG_APP calls this for every request.
    void handle(Request& req) const {
        std::exception_ptr failure;
        Response response;
        try {
            response = dispatch(req);
        } catch (...) {
            failure = std::current_exception();
            response = handle_error(failure);
        }
        for (const auto& hook : after_) hook(response);
        send(req, response);
        for (const auto& hook : teardown_) hook(failure);
    }

private:
    struct Segment {
        enum Kind { kLiteral, kString, kInt, kPath } kind;
        std::string text;  // the literal, or the parameter's name
    };
    struct Route {
        std::vector<Segment> segments;
        std::vector<std::string> methods;
        Handler handler;
    };

    template <typename F>
    static Handler wrap(F f) {
        if constexpr (std::is_invocable_v<F, const Params&>) return Handler(std::move(f));
        else return [f = std::move(f)](const Params&) { return f(); };
    }

    static std::vector<std::string_view> split_path(std::string_view path) {
        std::vector<std::string_view> out;
        while (!path.empty()) {
            if (path.front() == '/') {
                path.remove_prefix(1);
                continue;
            }
            auto end = path.find('/');
            out.push_back(path.substr(0, end));
            path.remove_prefix(end == std::string_view::npos ? path.size() : end);
        }
        return out;
    }

    static std::vector<Segment> split_pattern(const std::string& pattern) {
        std::vector<Segment> out;
        for (auto part : split_path(pattern)) {
            if (part.size() > 2 && part.front() == '<' && part.back() == '>') {
                std::string_view inner = part.substr(1, part.size() - 2);
                auto colon = inner.find(':');
                std::string_view type = colon == std::string_view::npos ? "string" : inner.substr(0, colon);
                std::string name(colon == std::string_view::npos ? inner : inner.substr(colon + 1));
                Segment::Kind kind = type == "int" ? Segment::kInt : type == "path" ? Segment::kPath : Segment::kString;
                out.push_back(Segment{kind, std::move(name)});
            } else {
                out.push_back(Segment{Segment::kLiteral, std::string(part)});
            }
        }
        return out;
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
            if (s.kind == Segment::kLiteral && path[i] != s.text) return false;
            if (s.kind == Segment::kInt &&
                (path[i].empty() || path[i].find_first_not_of("0123456789") != std::string_view::npos ||
                 path[i].size() > 18))
                return false;
            if (s.kind != Segment::kLiteral) params.set(s.text, std::string(path[i]));
        }
        return i == path.size();
    }

    Response dispatch(Request& req) const {
        Match m = match(req.method(), req.path());
        if (m.handler == nullptr) {
            if (m.allowed.empty()) return Response::text("Not Found\n", 404);
            std::string allow;
            for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
            return Response::text("Method Not Allowed\n", 405).header("Allow", allow);
        }
        for (const auto& hook : before_)
            if (auto early = hook()) return *early;
        return (*m.handler)(m.params);
    }

    Response handle_error(std::exception_ptr failure) const {
        for (const auto& handler : errors_)
            if (auto response = handler(failure)) return *response;
        try {
            std::rethrow_exception(failure);
        } catch (const HttpError& e) {
            return Response::text(std::string(e.what()) + "\n", e.status());
        } catch (const std::exception& e) {
            log(CPPG_LOG_ERROR, std::string("unhandled exception in route: ") + e.what());
        } catch (...) {
            log(CPPG_LOG_ERROR, "unhandled non-standard exception in route");
        }
        return Response::text("Internal Server Error\n", 500);
    }

    static void send(Request& req, const Response& r) {
        std::string status = std::to_string(r.status) + " " + std::string(reason_for(r.status));
        std::vector<Header> headers;
        for (const auto& [name, value] : r.headers) headers.emplace_back(name, value);
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
    std::vector<std::function<std::optional<Response>()>> before_;
    std::vector<std::function<void(Response&)>> after_;
    std::vector<std::function<void(std::exception_ptr)>> teardown_;
    std::vector<std::function<std::optional<Response>(std::exception_ptr)>> errors_;
};

inline std::string_view reason_for(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

}  // namespace cppg
