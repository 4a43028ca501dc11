// SPDX-License-Identifier: MIT
#include "config/settings.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <type_traits>

#include "config/address.hpp"
#include "http/access_format.hpp"
#include "shared/process.hpp"
#include "util/split.hpp"

namespace cppg::config {

namespace {

using ValueRef = std::variant<IntValue*, StrValue*, BoolValue*, StrListValue*>;

// The member of `s` that setting `index` is stored in; generated from the same table.
ValueRef member_of(Settings& s, size_t index) {
    size_t i = 0;
    ValueRef ref;
#define SETTING(name, group, flags, type, def, allowed, help, doc) \
    if (i++ == index) ref = &s.name;
#include "settings.def"
#undef SETTING
    return ref;
}

std::optional<std::string> check_int(const SettingSpec& spec, std::string_view text,
                                     IntValue& out) {
    std::string_view range = spec.allowed.substr(0, spec.allowed.find('|'));
    if (text == "auto" && spec.allowed.ends_with("|auto")) {
        out = std::max<long>(1, sysconf(_SC_NPROCESSORS_ONLN));  // one per CPU core
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return std::string("is not an integer");
    auto dots = range.find("..");
    IntValue lo = 0, hi = 0;
    std::from_chars(range.data(), range.data() + dots, lo);
    std::from_chars(range.data() + dots + 2, range.data() + range.size(), hi);
    if (out < lo || out > hi) return std::string("is out of range");
    return std::nullopt;
}

std::optional<std::string> check_bool(std::string_view text, BoolValue& out) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return out = true, std::nullopt;
    if (text == "false" || text == "0" || text == "no" || text == "off") return out = false, std::nullopt;
    return std::string("is not a boolean");
}

std::optional<std::string> check_choice(const SettingSpec& spec, std::string_view text) {
    std::string_view rest = spec.allowed;
    while (!rest.empty()) {
        auto bar = rest.find('|');
        if (rest.substr(0, bar) == text) return std::nullopt;
        if (bar == std::string_view::npos) break;
        rest.remove_prefix(bar + 1);
    }
    return std::string("is not one of the choices");
}

// Validators named "@name" in the allowed column.
std::optional<std::string> run_validator(std::string_view validator, std::string_view text) {
    if (validator == "@address" || (validator == "@address_or_empty" && !text.empty())) {
        auto parsed = parse_bind_address(text);
        if (auto* err = std::get_if<std::string>(&parsed)) return "is not a valid address: " + *err;
    } else if (validator == "@ip_list") {
        for (std::string_view piece : util::split(text, ',')) {
            std::string item(piece);
            unsigned char buf[16];
            if (item != "*" && inet_pton(AF_INET, item.c_str(), buf) != 1 &&
                inet_pton(AF_INET6, item.c_str(), buf) != 1)
                return "has '" + item + "', which is not a numeric IP address or *";
        }
    } else if (validator == "@octal") {
        std::string_view digits = text.starts_with("0o") ? text.substr(2) : text;
        if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("01234567") != std::string_view::npos)
            return std::string("is not an octal mode");
    } else if (validator == "@env") {
        auto eq = text.find('=');
        if (eq == std::string_view::npos || eq == 0) return std::string("is not KEY=VALUE");
    } else if (validator == "@user") {
        if (!text.empty() && !shared::lookup_user(text)) return std::string("is not a known user");
    } else if (validator == "@group") {
        if (!text.empty() && !shared::lookup_group(text)) return std::string("is not a known group");
    } else if (validator == "@directory") {
        struct stat st {};
        if (!text.empty() && (stat(std::string(text).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
            return std::string("is not a directory");
    } else if (validator == "@probe_path") {
        if (!text.empty() && (!text.starts_with("/") ||
                              text.find_first_of(" \t\r\n") != std::string_view::npos))
            return std::string("is not a path starting with /");
    } else if (validator == "@file") {
        // The loader reads the file and reports what is wrong with it, with positions.
    } else if (validator == "@access_format") {
        auto compiled = http::AccessFormat::compile(text);
        if (auto* err = std::get_if<std::string>(&compiled)) return "is not a valid format: " + *err;
    }
    return std::nullopt;
}

std::optional<std::string> parse_into(const SettingSpec& spec, ValueRef ref, std::string_view text,
                                      bool append) {
    if (spec.allowed.starts_with("@")) {
        if (auto err = run_validator(spec.allowed, text)) return err;
    }
    return std::visit(
        [&](auto* member) -> std::optional<std::string> {
            using T = std::remove_pointer_t<decltype(member)>;
            if constexpr (std::is_same_v<T, IntValue>) {
                IntValue v = 0;
                if (auto err = check_int(spec, text, v)) return err;
                *member = v;
            } else if constexpr (std::is_same_v<T, BoolValue>) {
                return check_bool(text, *member);
            } else if constexpr (std::is_same_v<T, StrListValue>) {
                if (!append) member->clear();
                member->emplace_back(text);
            } else {
                if (spec.type == SettingType::Choice) {
                    if (auto err = check_choice(spec, text)) return err;
                }
                *member = std::string(text);
            }
            return std::nullopt;
        },
        ref);
}

}  // namespace

std::string_view type_name(SettingType type) {
    switch (type) {
        case SettingType::Int: return "integer";
        case SettingType::Str: return "string";
        case SettingType::Bool: return "boolean";
        case SettingType::StrList: return "string, repeatable";
        case SettingType::Choice: return "choice";
        case SettingType::Args: return "list of words";
    }
    return "?";
}

std::string describe_allowed(const SettingSpec& spec) {
    switch (spec.type) {
        case SettingType::Int:
            if (spec.allowed.ends_with("|auto"))
                return "an integer in " + std::string(spec.allowed.substr(0, spec.allowed.find('|'))) +
                       ", or auto";
            return "an integer in " + std::string(spec.allowed);
        case SettingType::Bool: return "true or false";
        case SettingType::Choice: return "one of " + std::string(spec.allowed);
        default: break;
    }
    if (spec.allowed == "@address") return "HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N";
    if (spec.allowed == "@address_or_empty")
        return "HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N, or empty for none";
    if (spec.allowed == "@probe_path") return "a URL path starting with /, without blanks";
    if (spec.allowed == "@access_format") return "text with gunicorn %(atom)s atoms";
    if (spec.allowed == "@file") return "the path of a readable YAML file";
    if (spec.allowed == "@ip_list") return "numeric IP addresses separated by commas, or *";
    if (spec.allowed == "@octal") return "an octal mode such as 022 or 0o22";
    if (spec.allowed == "@env") return "KEY=VALUE";
    if (spec.allowed == "@user") return "a user name or uid on this system";
    if (spec.allowed == "@group") return "a group name or gid on this system";
    if (spec.allowed == "@directory") return "an existing directory";
    if (spec.type == SettingType::Args)
        return "any words: a YAML list, or one string split as a shell would in the environment";
    return "any text";
}

namespace {

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "\"";
}

}  // namespace

std::string format_value(Settings& settings, size_t index) {
    return std::visit(
        [](auto* member) -> std::string {
            using T = std::remove_pointer_t<decltype(member)>;
            if constexpr (std::is_same_v<T, IntValue>) return std::to_string(*member);
            else if constexpr (std::is_same_v<T, BoolValue>) return *member ? "true" : "false";
            else if constexpr (std::is_same_v<T, StrListValue>) {
                std::string out = "[";
                for (size_t i = 0; i < member->size(); ++i)
                    out += (i ? ", " : "") + quoted((*member)[i]);
                return out + "]";
            } else return quoted(*member);
        },
        member_of(settings, index));
}

unsigned parse_octal(std::string_view text) {
    std::string_view digits = text.starts_with("0o") ? text.substr(2) : text;
    return static_cast<unsigned>(std::stoul(std::string(digits), nullptr, 8));
}

std::optional<size_t> find_setting(std::string_view name) {
    for (size_t i = 0; i < kSettingCount; ++i)
        if (kSettingSpecs[i].name == name) return i;
    return std::nullopt;
}

std::optional<std::string> apply_setting(Settings& settings, size_t index, std::string_view text,
                                         const Source& source, bool append) {
    const SettingSpec& spec = kSettingSpecs[index];
    auto err = parse_into(spec, member_of(settings, index), text, append);
    if (!err) return std::nullopt;
    return "setting '" + std::string(spec.name) + "': value '" + std::string(text) + "' " + *err +
           " (from " + source.description + "); allowed: " + describe_allowed(spec);
}

Settings default_settings() {
    Settings s;
    for (size_t i = 0; i < kSettingCount; ++i) {
        if (is_list(kSettingSpecs[i].type) && kSettingSpecs[i].default_text.empty())
            continue;  // an empty list
        // A default that fails its own validation is a bug in settings.def; the unit test
        // for the table catches it, so it is ignored here.
        (void)apply_setting(s, i, kSettingSpecs[i].default_text, Source{"default"}, false);
    }
    return s;
}

}  // namespace cppg::config
