// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <cctype>
#include <cstdio>
#include <fstream>

#include "config/address.hpp"
#include "config/docs.hpp"
#include "config/loader.hpp"
#include "config/python_app.hpp"

using namespace cppg::config;

namespace {

std::variant<Config, ConfigError> parse(std::vector<std::string> args, Environment env = {}) {
    return load_config(args, env);
}

Config config_of(std::vector<std::string> args, Environment env = {}) {
    auto r = parse(std::move(args), std::move(env));
    if (auto* err = std::get_if<ConfigError>(&r)) FAIL(err->message);
    return std::get<Config>(r);
}

std::string error_of(std::vector<std::string> args, Environment env = {}) {
    auto r = parse(std::move(args), std::move(env));
    REQUIRE(std::holds_alternative<ConfigError>(r));
    return std::get<ConfigError>(r).message;
}

// A YAML file that lives as long as the test.
struct TempYaml {
    std::string path;
    explicit TempYaml(const std::string& text) {
        char name[] = "/tmp/cppg-settings-XXXXXX";
        int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        path = name;
        std::FILE* f = fdopen(fd, "w");
        std::fputs(text.c_str(), f);
        std::fclose(f);
    }
    ~TempYaml() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("every default in settings.def passes its own validation") {
    for (size_t i = 0; i < kSettingCount; ++i) {
        if (is_list(kSettingSpecs[i].type) && kSettingSpecs[i].default_text.empty())
            continue;  // an empty list: nothing to validate
        Settings s;
        auto err = apply_setting(s, i, kSettingSpecs[i].default_text, Source{"default"}, false);
        CHECK_MESSAGE(!err, kSettingSpecs[i].name);
    }
}

TEST_CASE("defaults match gunicorn's where gunicorn has the setting") {
    Settings s = default_settings();
    CHECK(s.bind == std::vector<std::string>{"127.0.0.1:8000"});
    CHECK(s.backlog == 2048);
    CHECK(s.threads == 1);
    CHECK(s.worker_connections == 1000);
    CHECK(s.keepalive == 2);
    CHECK(s.graceful_timeout == 30);
    CHECK(s.limit_request_line == 4094);
    CHECK(s.limit_request_fields == 100);
    CHECK(s.limit_request_field_size == 8190);
    CHECK(s.accesslog.empty());
    CHECK(s.errorlog == "-");
    CHECK(s.loglevel == "info");
}

TEST_CASE("flags in every spelling set their setting; the app and its arguments are split") {
    Config cmd = config_of({"--threads", "4", "-b", "127.0.0.1:9000", "--bind=[::1]:9001",
                            "--limit-request-field_size", "100", "app.so", "--keep-alive=5", "--",
                            "--x", "y"});
    CHECK(cmd.settings.threads == 4);
    CHECK(cmd.settings.bind == std::vector<std::string>{"127.0.0.1:9000", "[::1]:9001"});
    CHECK(cmd.settings.limit_request_field_size == 100);
    CHECK(cmd.settings.keepalive == 5);
    CHECK(cmd.app_path == "app.so");
    CHECK(cmd.app_args == std::vector<std::string>{"--x", "y"});
}

TEST_CASE("a bad value names the setting, the value, the source and what is allowed") {
    CHECK(error_of({"--threads", "0", "app.so"}) ==
          "setting 'threads': value '0' is out of range (from command line flag --threads); "
          "allowed: an integer in 1..1024");
    CHECK(error_of({"--keep-alive", "abc", "app.so"}) ==
          "setting 'keepalive': value 'abc' is not an integer (from command line flag "
          "--keep-alive); allowed: an integer in 0..3600");
    CHECK(error_of({"--log-level", "loud", "app.so"}) ==
          "setting 'loglevel': value 'loud' is not one of the choices (from command line flag "
          "--log-level); allowed: one of debug|info|warning|error|critical");
    CHECK(error_of({"--bind", "nowhere", "app.so"}).starts_with(
        "setting 'bind': value 'nowhere' is not a valid address: missing :PORT"));
    CHECK(error_of({"--access-logformat", "%(zz)s", "app.so"}).starts_with(
        "setting 'access_log_format': value '%(zz)s' is not a valid format: unknown atom %(zz)s"));
}

TEST_CASE("an unknown flag suggests the closest one") {
    CHECK(error_of({"--bindd", "x", "app.so"}) ==
          "unknown option '--bindd'; did you mean '--bind'? (see cppgunicorn --help)");
    CHECK(error_of({"--zzzzzzzzzz", "app.so"}) == "unknown option '--zzzzzzzzzz' (see cppgunicorn --help)");
}

TEST_CASE("a missing app or a stray argument is an error") {
    CHECK(error_of({}).starts_with("no app given"));
    CHECK(std::get<Config>(parse({"--print-config"})).action == Config::Action::PrintConfig);
    CHECK(error_of({"a.so", "b.so"}).starts_with("unexpected argument 'b.so'"));
    CHECK(error_of({"app.so", "--threads"}).starts_with("option '--threads' needs a value"));
}

TEST_CASE("--help lists every setting under its group") {
    std::string help = render_help();
    for (const auto& spec : kSettingSpecs) {
        CHECK_MESSAGE(help.find(std::string(spec.help)) != std::string::npos, spec.name);
        CHECK(help.find(std::string(spec.group) + ":") != std::string::npos);
    }
}

TEST_CASE("bind addresses: IPv4, IPv6 in brackets, localhost; bad ports and hosts refused") {
    auto tcp = [](std::string_view text) { return std::get<TcpAddress>(std::get<BindAddress>(parse_bind_address(text))); };
    auto v4 = tcp("127.0.0.1:80");
    CHECK(v4.host == "127.0.0.1");
    CHECK(v4.port == 80);
    auto v6 = tcp("[::1]:8080");
    CHECK(v6.ipv6);
    CHECK(v6.host == "::1");
    CHECK(tcp("localhost:1").host == "127.0.0.1");
    CHECK(std::get<UnixAddress>(std::get<BindAddress>(parse_bind_address("unix:/run/app.sock"))).path == "/run/app.sock");
    CHECK(std::get<FdAddress>(std::get<BindAddress>(parse_bind_address("fd://3"))).fd == 3);
    CHECK(std::holds_alternative<std::string>(parse_bind_address("unix:")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("fd://x")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("127.0.0.1:99999")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("example.com:80")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("[::1:80")));
}

TEST_CASE("precedence: command line > CPPGUNICORN_CMD_ARGS > CPPGUNICORN_<NAME> > file > default") {
    TempYaml file("threads: 2\nkeepalive: 7\nbacklog: 100\nbind: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
    Config c = config_of({"-c", file.path, "--threads", "5", "app.so"},
                         {{"CPPGUNICORN_THREADS", "3"}, {"CPPGUNICORN_KEEPALIVE", "8"},
                          {"CPPGUNICORN_CMD_ARGS", "--keep-alive 9 --threads=4"}});
    CHECK(c.settings.threads == 5);
    CHECK(c.sources[*find_setting("threads")].description == "command line flag --threads");
    CHECK(c.settings.keepalive == 9);
    CHECK(c.sources[*find_setting("keepalive")].description ==
          "environment CPPGUNICORN_CMD_ARGS (--keep-alive)");
    CHECK(c.settings.backlog == 100);
    CHECK(c.sources[*find_setting("backlog")].description == "config file " + file.path + ":3:10");
    CHECK(c.settings.bind == std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
    CHECK(c.settings.limit_request_line == 4094);
    CHECK(c.sources[*find_setting("limit_request_line")].description == "default");
}

TEST_CASE("a list from a higher layer replaces the lower layer's list") {
    TempYaml file("bind: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
    Config c = config_of({"-c", file.path, "-b", "127.0.0.1:3", "app.so"});
    CHECK(c.settings.bind == std::vector<std::string>{"127.0.0.1:3"});
}

TEST_CASE("file errors name the file, line and column") {
    TempYaml typo("threads: 2\nbnd: 127.0.0.1:1\n");
    CHECK(error_of({"-c", typo.path, "app.so"}) ==
          "config file " + typo.path + ":2:1: unknown setting 'bnd'; did you mean 'bind'?");
    TempYaml range("threads: 0\n");
    CHECK(error_of({"-c", range.path, "app.so"}) ==
          "setting 'threads': value '0' is out of range (from config file " + range.path +
              ":1:10); allowed: an integer in 1..1024");
    TempYaml bad_yaml("threads: [1\n");
    CHECK(error_of({"-c", bad_yaml.path, "app.so"}).starts_with("config file " + bad_yaml.path + ":2:1: invalid YAML: "));
    TempYaml not_map("- a\n- b\n");
    CHECK(error_of({"-c", not_map.path, "app.so"}) ==
          "config file " + not_map.path + ":1:1: expected a mapping of setting names to values");
    TempYaml wrong_type("threads: {a: 1}\n");
    CHECK(error_of({"-c", wrong_type.path, "app.so"}) ==
          "setting 'threads': a mapping given (config file " + wrong_type.path +
              ":1:10); allowed: an integer in 1..1024");
    CHECK(error_of({"-c", "/nonexistent/x.yaml", "app.so"}) ==
          "setting 'config': cannot read config file '/nonexistent/x.yaml' (No such file or directory)");
}

TEST_CASE("environment errors name the variable") {
    CHECK(error_of({"app.so"}, {{"CPPGUNICORN_THREADS", "many"}}) ==
          "setting 'threads': value 'many' is not an integer (from environment CPPGUNICORN_THREADS); "
          "allowed: an integer in 1..1024");
    CHECK(error_of({"app.so"}, {{"CPPGUNICORN_CMD_ARGS", "--thread 3"}}).starts_with(
        "unknown option '--thread'; did you mean '--threads'? (in environment CPPGUNICORN_CMD_ARGS)"));
    CHECK(error_of({"app.so"}, {{"CPPGUNICORN_CMD_ARGS", "other.so"}}).starts_with(
        "unexpected argument 'other.so' in environment CPPGUNICORN_CMD_ARGS"));
    CHECK(error_of({"app.so"}, {{"CPPGUNICORN_CMD_ARGS", "--bind '127.0.0.1:1"}}) ==
          "unterminated quote in environment CPPGUNICORN_CMD_ARGS");
}

TEST_CASE("--check-config errors are flagged so the caller exits 1, not 2") {
    auto r = parse({"--check-config", "--threads", "0", "app.so"});
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).check_config);
    CHECK_FALSE(std::get<ConfigError>(parse({"--threads", "0", "app.so"})).check_config);
}

TEST_CASE("reloading re-reads the file and keeps the environment and command line") {
    TempYaml file("threads: 2\nkeepalive: 3\n");
    Config first = config_of({"-c", file.path, "--keep-alive", "9", "app.so"});
    { std::ofstream(file.path) << "threads: 6\nkeepalive: 4\n"; }
    auto again = reload_config(first);
    REQUIRE(std::holds_alternative<Config>(again));
    CHECK(std::get<Config>(again).settings.threads == 6);
    CHECK(std::get<Config>(again).settings.keepalive == 9);
    { std::ofstream(file.path) << "threads: nope\n"; }
    CHECK(std::holds_alternative<ConfigError>(reload_config(first)));
}

TEST_CASE("--print-config shows every setting with its value and source") {
    Config c = config_of({"--threads", "3", "app.so"});
    std::string out = render_effective_config(c);
    CHECK(out.find("threads: 3") != std::string::npos);
    CHECK(out.find("# command line flag --threads") != std::string::npos);
    CHECK(out.find("bind: [\"127.0.0.1:8000\"]") != std::string::npos);
    for (const auto& spec : kSettingSpecs) CHECK(out.find(std::string(spec.name) + ": ") != std::string::npos);
}

TEST_CASE("the generated settings reference covers every setting and every flag") {
    std::string md = render_settings_markdown("intro\n@SETTINGS_REFERENCE@\noutro\n");
    CHECK(md.starts_with("intro\n## "));
    CHECK(md.ends_with("outro\n"));
    std::string man = render_settings_man();
    for (const auto& spec : kSettingSpecs) {
        CHECK(md.find("### `" + std::string(spec.name) + "`") != std::string::npos);
        for (auto flag : split_flags(spec.flags)) CHECK(md.find("`" + std::string(flag)) != std::string::npos);
        std::string env = "CPPGUNICORN_";
        for (char ch : spec.name) env.push_back(static_cast<char>(std::toupper(ch)));
        CHECK(man.find("Environment: " + env + ".") != std::string::npos);
    }
}

TEST_CASE("app_args: a YAML list, one shell-split environment string, the words after --; the highest wins whole") {
    TempYaml file("app: app.so\napp_args: [--db, /var/lib/app/app.db, \"two words\"]\n");
    CHECK(config_of({"-c", file.path}).app_args ==
          std::vector<std::string>{"--db", "/var/lib/app/app.db", "two words"});
    Config from_env = config_of({"-c", file.path}, {{"CPPGUNICORN_APP_ARGS", "--db '/srv/my app.db' -v"}});
    CHECK(from_env.app_args == std::vector<std::string>{"--db", "/srv/my app.db", "-v"});
    CHECK(from_env.sources[*find_setting("app_args")].description == "environment CPPGUNICORN_APP_ARGS");
    Config from_cli = config_of({"-c", file.path, "--", "--db", "x.db"}, {{"CPPGUNICORN_APP_ARGS", "-v"}});
    CHECK(from_cli.app_args == std::vector<std::string>{"--db", "x.db"});
    CHECK(from_cli.sources[*find_setting("app_args")].description == "command line (after --)");
    CHECK(config_of({"app.so", "--", "--threads", "8"}).settings.threads == 1);  // the app's, not ours
    CHECK(error_of({"app.so"}, {{"CPPGUNICORN_APP_ARGS", "--db 'unterminated"}}) ==
          "unterminated quote in environment CPPGUNICORN_APP_ARGS");
    CHECK(config_of({"app.so", "--"}).app_args.empty());
}

TEST_CASE("a reload takes app_args from the file again") {
    TempYaml file("app: app.so\napp_args: [one]\n");
    Config running = config_of({"-c", file.path});
    {
        std::ofstream rewrite(file.path);
        rewrite << "app: app.so\napp_args: [two, three]\n";
    }
    auto next = reload_config(running);
    REQUIRE(std::holds_alternative<Config>(next));
    CHECK(std::get<Config>(next).app_args == std::vector<std::string>{"two", "three"});
}

TEST_CASE("an APP that is a dotted Python name (gunicorn's MODULE:CALLABLE) is a Python app; a path or .so is a plugin") {
    for (const char* app : {"myproject.wsgi:application", "myproject.wsgi", "app", "pkg.mod:create_app()",
                            "pkg.mod:create_app(\"prod\", 1)", "_private.mod:app"})
        CHECK_MESSAGE(is_python_app(app), app);
    for (const char* app : {"app.so", "./app.so", "build/examples/hello.so", "/srv/x", "1mod:app", "mod.:app",
                            "mod:", "", "my-app:app", ".mod:app"})
        CHECK_MESSAGE(!is_python_app(app), app);
}

TEST_CASE("a Python app's bridge arguments carry the Python settings, the threads and the app's own arguments") {
    Settings s = default_settings();
    s.threads = 4;
    CHECK(wsgi_bridge_args("m:app", s) == std::vector<std::string>{"--threads", "4", "--workers", "1", "m:app"});
    s.pythonpath = "/srv/a,/srv/b";
    s.virtualenv = "/srv/venv";
    s.app_args = {"x"};
    CHECK(wsgi_bridge_args("m:app", s) == std::vector<std::string>{"--pythonpath", "/srv/a,/srv/b", "--virtualenv",
                                                                  "/srv/venv", "--threads", "4", "--workers", "1",
                                                                  "m:app", "--", "x"});
}

TEST_CASE("$VIRTUAL_ENV is the default of virtualenv, below every setting layer") {
    Config from_var = config_of({"m:app", "--print-config"}, {{"VIRTUAL_ENV", "/tmp"}});
    CHECK(from_var.settings.virtualenv == "/tmp");
    CHECK(from_var.sources[*find_setting("virtualenv")].description == "environment VIRTUAL_ENV");
    Config flag = config_of({"m:app", "--print-config", "--virtualenv", "/"}, {{"VIRTUAL_ENV", "/tmp"}});
    CHECK(flag.settings.virtualenv == "/");
    CHECK(config_of({"app.so", "--print-config"}, {{"VIRTUAL_ENV", "/tmp"}}).settings.virtualenv.empty());
}
