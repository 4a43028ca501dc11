#include "config/cli.hpp"

#include <algorithm>
#include <array>

namespace cppg::config {

namespace {

struct FlagMatch {
    size_t index;
    std::string_view flag;
};

// Splits a "flags" column ("-b --bind") into its spellings.
std::vector<std::string_view> split_flags(std::string_view flags) {
    std::vector<std::string_view> out;
    while (!flags.empty()) {
        auto space = flags.find(' ');
        out.push_back(flags.substr(0, space));
        if (space == std::string_view::npos) break;
        flags.remove_prefix(space + 1);
    }
    return out;
}

std::optional<FlagMatch> find_flag(std::string_view flag) {
    for (size_t i = 0; i < kSettingCount; ++i)
        for (auto spelling : split_flags(kSettingSpecs[i].flags))
            if (spelling == flag) return FlagMatch{i, spelling};
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

struct Parser {
    CommandLine result;
    std::array<bool, kSettingCount> seen{};
    bool app_args_started = false;

    std::optional<std::string> take_option(std::string_view arg, const char* const* argv, int argc,
                                           int& i) {
        std::string_view flag = arg;
        std::optional<std::string_view> value;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            flag = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else if (!arg.starts_with("--") && arg.size() > 2) {
            flag = arg.substr(0, 2);  // "-b127.0.0.1:80" as getopt allows
            value = arg.substr(2);
        }
        if (flag == "-h" || flag == "--help") return result.action = CommandLine::Action::Help, std::nullopt;
        if (flag == "-v" || flag == "--version") return result.action = CommandLine::Action::Version, std::nullopt;
        auto match = find_flag(flag);
        if (!match) {
            std::string hint = suggest_flag(flag);
            return "unknown option '" + std::string(flag) + "'" +
                   (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                   " (see cppgunicorn --help)";
        }
        const SettingSpec& spec = kSettingSpecs[match->index];
        if (!value && spec.type == SettingType::Bool) value = "true";
        if (!value) {
            if (i + 1 >= argc) return "option '" + std::string(flag) + "' needs a value; allowed: " + describe_allowed(spec);
            value = argv[++i];
        }
        bool append = seen[match->index];
        seen[match->index] = true;
        return apply_setting(result.settings, match->index, *value,
                             Source{"command line flag " + std::string(flag)}, append);
    }

    std::optional<std::string> parse(int argc, const char* const* argv) {
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            if (app_args_started) {
                result.app_args.emplace_back(arg);
            } else if (arg == "--") {
                app_args_started = true;
            } else if (arg.size() > 1 && arg[0] == '-') {
                if (auto err = take_option(arg, argv, argc, i)) return err;
            } else if (result.app_path.empty()) {
                result.app_path = std::string(arg);
            } else {
                return "unexpected argument '" + std::string(arg) +
                       "'; arguments for the app go after '--'";
            }
        }
        if (result.action == CommandLine::Action::Run && result.app_path.empty())
            return std::string("no app given; usage: cppgunicorn [OPTIONS] APP.so [-- APP_ARGS...]");
        return std::nullopt;
    }
};

}  // namespace

std::string suggest_flag(std::string_view flag) {
    std::string best;
    size_t best_distance = 4;  // farther than this is noise, not a typo
    for (const auto& spec : kSettingSpecs) {
        for (auto spelling : split_flags(spec.flags)) {
            size_t d = edit_distance(flag, spelling);
            if (d < best_distance) best_distance = d, best = std::string(spelling);
        }
    }
    return best;
}

std::variant<CommandLine, std::string> parse_command_line(int argc, const char* const* argv) {
    Parser parser;
    if (auto err = parser.parse(argc, argv)) return *err;
    return std::move(parser.result);
}

std::string render_help() {
    std::string out =
        "usage: cppgunicorn [OPTIONS] APP.so [-- APP_ARGS...]\n\n"
        "Serve the cppgunicorn app plugin APP.so over HTTP/1.1.\n\n"
        "  -h, --help     show this help and exit\n"
        "  -v, --version  show the version and exit\n";
    std::vector<std::string_view> groups;
    for (const auto& spec : kSettingSpecs)
        if (std::find(groups.begin(), groups.end(), spec.group) == groups.end())
            groups.push_back(spec.group);
    for (auto group : groups) {
        // Appended piecewise: "x" + std::string(...) trips GCC 12's -Wrestrict false positive.
        out += '\n';
        out += group;
        out += ":\n";
        for (const auto& spec : kSettingSpecs) {
            if (spec.group != group) continue;
            std::string flags;
            for (auto f : split_flags(spec.flags)) flags += (flags.empty() ? "" : ", ") + std::string(f);
            if (spec.type != SettingType::Bool) flags += " VALUE";
            out += "  " + flags + "\n      " + std::string(spec.help) + " [default: " +
                   (spec.default_text.empty() ? std::string("none") : std::string(spec.default_text)) + "]\n";
        }
    }
    return out;
}

}  // namespace cppg::config
