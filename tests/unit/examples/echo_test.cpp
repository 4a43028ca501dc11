// SPDX-License-Identifier: MIT
// examples/echo.cpp through cppg::testing: the request as the app sees it.
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include "../../../examples/echo.cpp"

TEST_CASE("echo example: method, target, headers and the body in base64") {
    cppg::testing::Client<Echo> c;
    auto r = c.post("/p%C3%A9?q=1", "hi!", "text/plain", {{"X-Thing", "v"}});
    REQUIRE(r.status() == 200);
    auto doc = r.json();
    CHECK(doc["method"] == "POST");
    CHECK(doc["target"] == "/p%C3%A9?q=1");
    CHECK(doc["path"] == "/p\u00c3\u00a9");  // the decoded bytes, read as latin-1 as WSGI does
    CHECK(doc["query"] == "q=1");
    CHECK(doc["body_b64"] == "aGkh");
    bool saw = false;
    for (const auto& h : doc["headers"]) saw |= h[0] == "X-Thing" && h[1] == "v";
    CHECK(saw);
}
