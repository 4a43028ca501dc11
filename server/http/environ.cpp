// SPDX-License-Identifier: MIT
#include "http/environ.hpp"

namespace cppg::http {

namespace {

// Does header `name` answer to CGI variable suffix `cgi` (upper-case, '_' for '-')?
bool cgi_name_matches(std::string_view name, std::string_view cgi) {
    if (name.size() != cgi.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c == '_') return false;  // ambiguous with '-': never exposed as HTTP_*
        char upper = c == '-' ? '_' : static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c);
        if (upper != cgi[i]) return false;
    }
    return true;
}

// Host header "name:port" / "[v6]:port" split into its parts.
std::pair<std::string_view, std::string_view> split_host(std::string_view host) {
    size_t colon = host.rfind(':');
    size_t bracket = host.rfind(']');
    if (colon == std::string_view::npos || (bracket != std::string_view::npos && bracket > colon))
        return {host, {}};
    return {host.substr(0, colon), host.substr(colon + 1)};
}

std::optional<std::string_view> server_name_or_port(const Request& r, const PeerInfo& peer,
                                                     bool want_name) {
    auto [name, port] = split_host(r.host());
    if (name.empty()) name = peer.server_name;
    if (port.empty()) port = r.host().empty() ? std::string_view(peer.server_port) : "80";
    return want_name ? name : port;
}

std::optional<std::string_view> header_variable(const Request& r, std::string_view key,
                                                std::string_view cgi, EnvironScratch& scratch) {
    std::optional<std::string_view> first;
    size_t matches = 0;
    for (size_t i = 0; i < r.header_count(); ++i)
        if (cgi_name_matches(r.header_name(i), cgi) && matches++ == 0) first = r.header_value(i);
    if (matches <= 1) return first;
    for (const auto& [k, v] : scratch)
        if (k == key) return v;
    std::string joined;
    for (size_t i = 0; i < r.header_count(); ++i) {
        if (!cgi_name_matches(r.header_name(i), cgi)) continue;
        if (!joined.empty()) joined += ", ";
        joined += r.header_value(i);
    }
    scratch.emplace_back(std::string(key), std::move(joined));
    return scratch.back().second;
}

}  // namespace

std::optional<std::string_view> environ_value(const Request& r, const PeerInfo& peer,
                                              std::string_view key, EnvironScratch& scratch) {
    if (key == "REQUEST_METHOD") return r.method();
    if (key == "SCRIPT_NAME") return std::string_view();
    if (key == "PATH_INFO") return r.path();
    if (key == "QUERY_STRING") return r.query();
    if (key == "RAW_URI") return r.target();
    if (key == "SERVER_PROTOCOL") return r.protocol();
    if (key == "REMOTE_ADDR") return std::string_view(peer.remote_addr);
    if (key == "REMOTE_PORT") return std::string_view(peer.remote_port);
    if (key == "URL_SCHEME" || key == "wsgi.url_scheme")
        return peer.trusted_proxy && iequals(r.header("X-Forwarded-Proto"), "https") ? "https" : "http";
    if (key == "SERVER_NAME" || key == "SERVER_PORT")
        return server_name_or_port(r, peer, key == "SERVER_NAME");
    // RFC 9112 3.2.2: with an absolute-form target the Host header is ignored for its
    // authority, which r.host() holds; otherwise r.host() is the Host header.
    if (key == "HTTP_HOST" && !r.host().empty()) return r.host();
    if (key == "CONTENT_TYPE" || key == "CONTENT_LENGTH") return header_variable(r, key, key, scratch);
    if (key.starts_with("HTTP_")) return header_variable(r, key, key.substr(5), scratch);
    return std::nullopt;
}

}  // namespace cppg::http
