// SPDX-License-Identifier: MIT
// Hello, World! on the C++ SDK's router: the Flask-sized version of examples/hello.c.
#include <cppgunicorn/router.hpp>

struct Hello : cppg::Router {
    explicit Hello(const cppg::Args&) {
        get("/", [] { return cppg::Response::text("Hello, World!\n"); });
    }
};

CPPG_APP(Hello, "hello_sdk")
