// SPDX-License-Identifier: MIT
// examples/isolation.cpp through cppg::testing: the contexts are pushed as the server pushes
// them, in the handler and in its executor task.
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "../../../examples/isolation.cpp"

TEST_CASE("isolation example: one context deep, its own request everywhere, clean after a throw") {
    cppg::testing::Client<Isolation> c;
    CHECK(c.get("/depth").json() == nlohmann::json{{"app", 1}, {"request", 1}});
    auto r = c.get("/check?id=7&sleep_ms=1");
    CHECK(r.json() == nlohmann::json{{"id", "7"}, {"ok", true}, {"problems", nlohmann::json::array()}});
    CHECK(c.get("/throw").status() == 500);
    CHECK(c.get("/depth").json() == nlohmann::json{{"app", 1}, {"request", 1}});
    CHECK(cppg::app_context_stack().size() == 0);  // popped after each request
}
