// SPDX-License-Identifier: MIT
#include "http/access_format.hpp"

#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

namespace cppg::http {

namespace {

constexpr std::string_view kSimpleAtoms = "hlutrmUqHsBbfaTMDLpI";

std::optional<std::string_view> find_header(const HeaderList* headers, std::string_view name) {
    if (headers == nullptr) return std::nullopt;
    for (const auto& [key, value] : *headers) {
        if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0)
            return value;
    }
    return std::nullopt;
}

// Keeps a log line on one line and free of quotes that would break parsers of the format.
void append_escaped(std::string& out, std::string_view text) {
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
        else
            out.push_back(static_cast<char>(c));
    }
}

void append_or_dash(std::string& out, std::optional<std::string_view> text) {
    if (!text || text->empty())
        out.push_back('-');
    else
        append_escaped(out, *text);
}

std::string format_time(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "[%d/%b/%Y:%H:%M:%S %z]", &tm);
    return std::string(buf, n);
}

}  // namespace

std::variant<AccessFormat, std::string> AccessFormat::compile(std::string_view format) {
    AccessFormat result;
    std::string literal;
    size_t i = 0;
    while (i < format.size()) {
        if (format[i] != '%' || i + 1 >= format.size() || format[i + 1] != '(') {
            literal.push_back(format[i++]);
            continue;
        }
        size_t close = format.find(")s", i + 2);
        if (close == std::string_view::npos)
            return std::string("unterminated atom at offset ") + std::to_string(i) +
                   "; atoms look like %(h)s";
        std::string_view name = format.substr(i + 2, close - i - 2);
        Segment seg;
        if (name.size() == 1 && kSimpleAtoms.find(name[0]) != std::string_view::npos) {
            if (name[0] == 'I') result.uses_request_id_ = true;
            seg.atom = name[0];
        } else if (name.size() > 3 && name.front() == '{' && name[name.size() - 2] == '}' &&
                   std::string_view("ioe").find(name.back()) != std::string_view::npos) {
            seg.atom = name.back();
            seg.text = std::string(name.substr(1, name.size() - 3));
            if (seg.atom == 'o') result.uses_response_headers_ = true;
        } else {
            return "unknown atom %(" + std::string(name) + ")s; allowed: h l u t r m U q H s B b f a T M D L p I {header}i {header}o {var}e";
        }
        if (!literal.empty()) result.segments_.push_back(Segment{0, std::move(literal)});
        literal.clear();
        result.segments_.push_back(std::move(seg));
        i = close + 2;
    }
    if (!literal.empty()) result.segments_.push_back(Segment{0, std::move(literal)});
    return result;
}

std::string AccessFormat::render(const AccessRecord& r) const {
    std::string out;
    out.reserve(160);
    auto it = std::back_inserter(out);
    for (const Segment& seg : segments_) {
        switch (seg.atom) {
            case 0: out += seg.text; break;
            case 'h': append_or_dash(out, r.remote_addr); break;
            case 'l': case 'u': out.push_back('-'); break;
            case 't': out += format_time(r.started); break;
            case 'r':
                append_escaped(out, r.method); out.push_back(' ');
                append_escaped(out, r.target); out.push_back(' ');
                append_escaped(out, r.protocol);
                break;
            case 'm': append_or_dash(out, r.method); break;
            case 'U': append_or_dash(out, r.path); break;
            case 'q': append_or_dash(out, r.query); break;
            case 'H': append_or_dash(out, r.protocol); break;
            case 's': fmt::format_to(it, "{}", r.status); break;
            case 'B': fmt::format_to(it, "{}", r.body_bytes); break;
            case 'b':
                if (r.body_bytes == 0) out.push_back('-');
                else fmt::format_to(it, "{}", r.body_bytes);
                break;
            case 'f': append_or_dash(out, find_header(r.request_headers, "Referer")); break;
            case 'a': append_or_dash(out, find_header(r.request_headers, "User-Agent")); break;
            case 'T': fmt::format_to(it, "{}", r.duration_us / 1000000); break;
            case 'M': fmt::format_to(it, "{}", r.duration_us / 1000); break;
            case 'D': fmt::format_to(it, "{}", r.duration_us); break;
            case 'L': fmt::format_to(it, "{:.6f}", static_cast<double>(r.duration_us) / 1e6); break;
            case 'p': fmt::format_to(it, "<{}>", getpid()); break;
            case 'I': append_or_dash(out, r.request_id.empty() ? std::nullopt : std::optional(r.request_id)); break;
            case 'i': append_or_dash(out, find_header(r.request_headers, seg.text)); break;
            case 'o': append_or_dash(out, find_header(r.response_headers, seg.text)); break;
            case 'e': {
                const char* value = std::getenv(seg.text.c_str());
                append_or_dash(out, value ? std::optional<std::string_view>(value) : std::nullopt);
                break;
            }
        }
    }
    return out;
}

}  // namespace cppg::http
