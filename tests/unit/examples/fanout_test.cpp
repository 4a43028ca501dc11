// SPDX-License-Identifier: MIT
// examples/fanout.cpp through cppg::testing: the calls run in parallel on submitted tasks.
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "../../../examples/fanout.cpp"

TEST_CASE("fanout example: four 100 ms calls run side by side, not one after another") {
    cppg::testing::Client<Fanout> c;
    auto r = c.get("/?calls=4&ms=100");
    REQUIRE(r.status() == 200);
    auto doc = r.json();
    CHECK(doc["calls"] == 4);
    CHECK(doc["ms"] == 100);
    CHECK(doc["elapsed_ms"].get<int>() >= 100);
    CHECK(doc["elapsed_ms"].get<int>() < 300);  // one after another would be 400 at least
}
