// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <thread>

#include <cppgunicorn/context.hpp>
#include <cppgunicorn/local.hpp>

// The background reading's demos, as tests.

TEST_CASE("a Local keeps 1 in the main thread while a new thread sees its own 2") {
    cppg::Local<int> b;
    b.get() = 1;
    int seen_in_thread = 0;
    std::thread t([&] {
        b.get() = 2;
        seen_in_thread = b.get();
    });
    t.join();
    CHECK(seen_in_thread == 2);
    CHECK(b.get() == 1);
}

TEST_CASE("a fresh thread sees an empty LocalStack top, whatever other threads pushed") {
    cppg::LocalStack<int> stack;
    stack.push(std::make_shared<int>(1));
    int* top_in_thread = reinterpret_cast<int*>(1);
    size_t size_in_thread = 99;
    std::thread t([&] {
        top_in_thread = stack.top();
        size_in_thread = stack.size();
    });
    t.join();
    CHECK(top_in_thread == nullptr);
    CHECK(size_in_thread == 0);
    CHECK(*stack.top() == 1);
}

TEST_CASE("LocalStack pops in reverse push order and pop on empty is harmless") {
    cppg::LocalStack<int> stack;
    stack.push(std::make_shared<int>(1));
    stack.push(std::make_shared<int>(2));
    CHECK(*stack.top() == 2);
    CHECK(*stack.pop() == 2);
    CHECK(*stack.pop() == 1);
    CHECK(stack.pop() == nullptr);
    CHECK(stack.top() == nullptr);
}

TEST_CASE("two Locals of the same type are independent") {
    cppg::Local<int> a, b;
    a.get() = 5;
    CHECK(b.get() == 0);
    CHECK_FALSE(cppg::Local<int>().has_value());
}

namespace {
struct FakeApp {
    int answer = 42;
};
}  // namespace

TEST_CASE("outside a context the accessors throw, inside they answer, and guards nest") {
    CHECK_THROWS_WITH_AS(cppg::g(), doctest::Contains("working outside of application context"),
                         std::logic_error);
    CHECK_THROWS_WITH_AS(cppg::request(), doctest::Contains("working outside of request context"),
                         std::logic_error);
    FakeApp app;
    {
        cppg::AppContextGuard outer(cppg::make_app_context(app));
        cppg::g().set("user", std::string("ada"));
        CHECK(cppg::current_app<FakeApp>().answer == 42);
        {
            cppg::AppContextGuard inner(cppg::make_app_context(app));
            CHECK(cppg::g().get_optional<std::string>("user") == nullptr);  // its own g
            cppg::g().set("user", std::string("bob"));
        }
        CHECK(cppg::g().get<std::string>("user") == "ada");
        CHECK_THROWS_AS(cppg::g().get<int>("user"), std::logic_error);  // wrong type
    }
    CHECK(cppg::app_context_stack().top() == nullptr);
}

TEST_CASE("a guard pops even when the code inside throws") {
    FakeApp app;
    try {
        cppg::AppContextGuard guard(cppg::make_app_context(app));
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    CHECK(cppg::app_context_stack().size() == 0);
}

TEST_CASE("an ended request context refuses request()") {
    auto ctx = std::make_shared<cppg::RequestContext>();
    ctx->ended = true;
    cppg::RequestContextGuard guard(ctx);
    CHECK_THROWS_WITH_AS(cppg::request(), doctest::Contains("the request has ended"), std::logic_error);
}
