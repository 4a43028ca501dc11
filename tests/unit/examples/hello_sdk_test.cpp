// SPDX-License-Identifier: MIT
// examples/hello_sdk.cpp through cppg::testing.
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "../../../examples/hello_sdk.cpp"

TEST_CASE("hello_sdk example") {
    cppg::testing::Client<Hello> c;
    auto r = c.get("/");
    CHECK(r.status_line() == "200 OK");
    CHECK(r.text() == "Hello, World!\n");
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(c.head("/").body().empty());
    CHECK(c.get("/nope").status() == 404);
}
