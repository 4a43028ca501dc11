// SPDX-License-Identifier: MIT
// A small app on the C++ SDK, built against the installed kit (see CMakeLists.txt):
// GET /hello/<name> answers in text, GET /hello/<name>/json in JSON.
#include <cppgunicorn/router.hpp>

#include <string>

struct Greeter : cppg::Router {
    explicit Greeter(const cppg::Args& args) : greeting_(args.empty() ? "Hello" : args[0]) {
        get("/hello/<name>", [this](const cppg::Params& p) {
            return cppg::Response::text(greeting_ + ", " + p.get("name") + "!\n");
        });
        get("/hello/<name>/json", [this](const cppg::Params& p) {
            return cppg::Response::json({{"greeting", greeting_}, {"name", p.get("name")}});
        });
    }

private:
    std::string greeting_;  // set once at init, read-only afterwards: safe on every thread
};

CPPG_APP(Greeter, "greeter")
