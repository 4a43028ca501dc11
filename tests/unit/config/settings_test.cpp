#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/address.hpp"
#include "config/cli.hpp"

using namespace cppg::config;

namespace {

std::variant<CommandLine, std::string> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "cppgunicorn");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}

std::string error_of(std::vector<const char*> args) {
    auto r = parse(std::move(args));
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
}

}  // namespace

TEST_CASE("every default in settings.def passes its own validation") {
    for (size_t i = 0; i < kSettingCount; ++i) {
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
    auto r = parse({"--threads", "4", "-b", "127.0.0.1:9000", "--bind=[::1]:9001",
                    "--limit-request-field_size", "100", "app.so", "--keep-alive=5", "--", "--x", "y"});
    REQUIRE(std::holds_alternative<CommandLine>(r));
    auto& cmd = std::get<CommandLine>(r);
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
    auto v4 = std::get<TcpAddress>(parse_bind_address("127.0.0.1:80"));
    CHECK(v4.host == "127.0.0.1");
    CHECK(v4.port == 80);
    auto v6 = std::get<TcpAddress>(parse_bind_address("[::1]:8080"));
    CHECK(v6.ipv6);
    CHECK(v6.host == "::1");
    CHECK(std::get<TcpAddress>(parse_bind_address("localhost:1")).host == "127.0.0.1");
    CHECK(std::holds_alternative<std::string>(parse_bind_address("127.0.0.1:99999")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("example.com:80")));
    CHECK(std::holds_alternative<std::string>(parse_bind_address("[::1:80")));
}
