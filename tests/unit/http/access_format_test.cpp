// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <unistd.h>

#include "http/access_format.hpp"

using namespace cppg::http;

namespace {

AccessFormat compile(std::string_view f) {
    auto r = AccessFormat::compile(f);
    REQUIRE(std::holds_alternative<AccessFormat>(r));
    return std::get<AccessFormat>(r);
}

}  // namespace

TEST_CASE("gunicorn's default format renders like gunicorn, with '-' for missing values") {
    HeaderList req{{"User-Agent", "curl/8"}, {"Host", "x"}};
    AccessRecord r;
    r.remote_addr = "127.0.0.1";
    r.method = "GET";
    r.target = "/p?q=1";
    r.protocol = "HTTP/1.1";
    r.status = 200;
    r.body_bytes = 14;
    r.request_headers = &req;
    std::string line =
        compile(R"(%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s")").render(r);
    CHECK(line.starts_with("127.0.0.1 - - ["));
    CHECK(line.ends_with("] \"GET /p?q=1 HTTP/1.1\" 200 14 \"-\" \"curl/8\""));
}

TEST_CASE("timing, pid and header atoms") {
    HeaderList req{{"X-Test", "abc"}};
    HeaderList resp{{"Content-Type", "text/plain"}};
    AccessRecord r;
    r.duration_us = 1234567;
    r.request_headers = &req;
    r.response_headers = &resp;
    auto f = compile("%(T)s %(M)s %(D)s %(L)s %(p)s %({x-test}i)s %({content-type}o)s %({nope}i)s %(B)s %(b)s");
    CHECK(f.uses_response_headers());
    CHECK(f.render(r) == "1 1234 1234567 1.234567 <" + std::to_string(getpid()) +
                             "> abc text/plain - 0 -");
}

TEST_CASE("control characters and quotes are escaped so a line stays one line") {
    AccessRecord r;
    r.method = "GET";
    r.target = "/a\"b\nc";
    r.protocol = "HTTP/1.1";
    CHECK(compile("%(r)s").render(r) == "GET /a\\x22b\\x0ac HTTP/1.1");
}

TEST_CASE("unknown atoms and unterminated atoms are refused") {
    CHECK(std::holds_alternative<std::string>(AccessFormat::compile("%(zz)s")));
    CHECK(std::holds_alternative<std::string>(AccessFormat::compile("%(h")));
    CHECK(std::holds_alternative<AccessFormat>(AccessFormat::compile("plain text 100%")));
}
