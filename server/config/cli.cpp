// SPDX-License-Identifier: MIT
#include "config/cli.hpp"

#include <algorithm>
#include <optional>

#include "util/split.hpp"

namespace cppg::config {

namespace {

struct FlagMatch {
    size_t index;
    std::string_view flag;
};

// "--" ends the options: what follows is the app's arguments (app_args), not a flag.
constexpr std::string_view kAppArgsMark = "--";
const size_t kAppArgsIndex = *find_setting("app_args");

std::optional<FlagMatch> find_flag(std::string_view flag) {
    for (size_t i = 0; i < kSettingCount; ++i)
        for (auto spelling : split_flags(kSettingSpecs[i].flags))
            if (spelling == flag && spelling != kAppArgsMark) return FlagMatch{i, spelling};
    return std::nullopt;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// Closest candidate within a few edits; farther than that is noise, not a typo.
template <typename Candidates>
std::string closest(std::string_view word, const Candidates& candidates) {
    std::string best;
    size_t best_distance = 4;
    for (std::string_view c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) best_distance = d, best = std::string(c);
    }
    return best;
}

class ArgParser {
public:
    ArgParser(const std::vector<std::string>& args, std::string_view origin, bool positional)
        : args_(args), origin_(origin), allow_positional_(positional) {}

    std::optional<std::string> parse() {
        bool app_args_started = false;
        for (i_ = 0; i_ < args_.size(); ++i_) {
            std::string_view arg = args_[i_];
            if (app_args_started) {
                result_.assignments.push_back({kAppArgsIndex, std::string(arg), Source{origin_ + " (after --)"}});
            } else if (arg == kAppArgsMark) {
                app_args_started = true;
            } else if (arg.size() > 1 && arg[0] == '-') {
                if (auto err = take_option(arg)) return err;
            } else if (!allow_positional_) {
                return "unexpected argument '" + std::string(arg) + "' in " + origin_ +
                       "; only options belong there";
            } else if (result_.app_path.empty()) {
                result_.app_path = std::string(arg);
            } else {
                return "unexpected argument '" + std::string(arg) +
                       "'; arguments for the app go after '--'";
            }
        }
        return std::nullopt;
    }

    ParsedArgs& result() { return result_; }

private:
    std::optional<std::string> take_option(std::string_view arg) {
        std::string_view flag = arg;
        std::optional<std::string_view> value;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            flag = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else if (!arg.starts_with("--") && arg.size() > 2) {
            flag = arg.substr(0, 2);  // "-b127.0.0.1:80", as getopt allows
            value = arg.substr(2);
        }
        if (flag == "-h" || flag == "--help") return result_.help = true, std::nullopt;
        if (flag == "-v" || flag == "--version") return result_.version = true, std::nullopt;
        auto match = find_flag(flag);
        if (!match) {
            std::string hint = suggest_flag(flag);
            return "unknown option '" + std::string(flag) + "'" +
                   (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                   (origin_ == "command line" ? "" : " (in " + origin_ + ")") +
                   " (see cppgunicorn --help)";
        }
        const SettingSpec& spec = kSettingSpecs[match->index];
        if (!value && spec.type == SettingType::Bool) value = "true";
        if (!value) {
            if (i_ + 1 >= args_.size())
                return "option '" + std::string(flag) + "' needs a value; allowed: " +
                       describe_allowed(spec);
            value = args_[++i_];
        }
        std::string where = origin_ == "command line" ? "command line flag " + std::string(flag)
                                                      : origin_ + " (" + std::string(flag) + ")";
        result_.assignments.push_back({match->index, std::string(*value), Source{where}});
        return std::nullopt;
    }

    const std::vector<std::string>& args_;
    std::string origin_;
    bool allow_positional_;
    size_t i_ = 0;
    ParsedArgs result_;
};

}  // namespace

std::vector<std::string_view> split_flags(std::string_view flags) { return util::split(flags, ' '); }

std::string suggest_flag(std::string_view flag) {
    std::vector<std::string_view> all;
    for (const auto& spec : kSettingSpecs)
        for (auto spelling : split_flags(spec.flags)) all.push_back(spelling);
    return closest(flag, all);
}

std::string suggest_setting(std::string_view name) {
    std::vector<std::string_view> all;
    for (const auto& spec : kSettingSpecs) all.push_back(spec.name);
    return closest(name, all);
}

std::variant<ParsedArgs, std::string> parse_args(const std::vector<std::string>& args,
                                                 std::string_view origin, bool allow_positional) {
    ArgParser parser(args, origin, allow_positional);
    if (auto err = parser.parse()) return *err;
    return std::move(parser.result());
}

std::string render_help() {
    std::string out =
        "usage: cppgunicorn [OPTIONS] APP [-- APP_ARGS...]\n\n"
        "Serve APP over HTTP/1.1: an app plugin (APP.so), or a Python WSGI app named as gunicorn\n"
        "names it (MODULE:CALLABLE).\n"
        "Every option can also be set in a YAML file (-c), as CPPGUNICORN_<NAME> in the\n"
        "environment, or in CPPGUNICORN_CMD_ARGS; the command line wins.\n\n"
        "  -h, --help     show this help and exit\n"
        "  -v, --version  show the version and exit\n";
    std::vector<std::string_view> groups;
    for (const auto& spec : kSettingSpecs)
        if (std::find(groups.begin(), groups.end(), spec.group) == groups.end())
            groups.push_back(spec.group);
    for (auto group : groups) {
        out += "\n" + std::string(group) + ":\n";
        for (const auto& spec : kSettingSpecs) {
            if (spec.group != group) continue;
            std::string flags;
            for (auto f : split_flags(spec.flags)) flags += (flags.empty() ? "" : ", ") + std::string(f);
            if (spec.type == SettingType::Args) flags += " ARGS... (after the app)";
            else if (spec.type != SettingType::Bool) flags += " VALUE";
            out += "  " + flags + "\n      " + std::string(spec.help) + " [default: " +
                   (spec.default_text.empty() ? std::string("none") : std::string(spec.default_text)) + "]\n";
        }
    }
    return out;
}

}  // namespace cppg::config
