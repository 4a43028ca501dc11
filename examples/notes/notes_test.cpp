// SPDX-License-Identifier: MIT
// The notes app's unit tests: no server and no socket (cppg::testing drives the app through
// the ABI a worker uses), but a real SQLite file in a fresh temporary directory.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cppgunicorn/testing.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include "notes.hpp"

namespace {

using Client = cppg::testing::Client<notes::App>;
using namespace std::chrono_literals;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char name[] = "/tmp/notes-test-XXXXXX";
        if (!mkdtemp(name)) throw std::runtime_error("mkdtemp failed");
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const char* name) const { return (path / name).string(); }
};

bool logged(Client& c, const std::string& text) {
    for (const auto& line : c.logs())
        if (line.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("notes: create, read, list, delete") {
    TempDir dir;
    Client c({dir.file("notes.db")});
    auto created = c.post("/notes/", nlohmann::json{{"text", "buy milk"}});
    REQUIRE(created.status() == 201);
    CHECK(created.json()["id"] == 1);
    CHECK(created.json()["text"] == "buy milk");
    CHECK_FALSE(created.json()["created"].get<std::string>().empty());
    CHECK(created.header("Location") == "/notes/1");
    CHECK(logged(c, "\"POST /notes/\" created note 1"));
    c.post("/notes/", nlohmann::json{{"text", "walk"}});

    CHECK(c.get("/notes/1").json()["text"] == "buy milk");
    auto items = c.get("/notes/").json()["items"];
    REQUIRE(items.size() == 2);
    CHECK(items[0]["text"] == "walk");  // newest first

    CHECK(c.del("/notes/1").status() == 204);
    CHECK(c.get("/notes/1").status() == 404);
    CHECK(c.get("/notes/1").json()["error"] == "no note 1");
    CHECK(c.del("/notes/1").status() == 404);
    CHECK(c.get("/").json() == nlohmann::json{{"notes", "/notes/"}});
}

TEST_CASE("notes: bad input is answered in JSON") {
    TempDir dir;
    Client c({dir.file("notes.db")});
    CHECK(c.post("/notes/", "{\"text\":", "application/json").json()["status"] == 400);
    CHECK(c.post("/notes/", "text=x", "application/x-www-form-urlencoded").status() == 415);
    CHECK(c.post("/notes/", nlohmann::json{{"body", "x"}}).status() == 400);
    CHECK(c.post("/notes/", nlohmann::json{{"text", ""}}).status() == 422);
    CHECK(c.get("/notes/x").status() == 404);
    CHECK(c.get("/notes/").json()["items"].empty());
}

TEST_CASE("notes: the data is in the file: the app started again finds it") {
    TempDir dir;
    {
        Client c({dir.file("notes.db")});
        REQUIRE(c.post("/notes/", nlohmann::json{{"text", "kept"}}).status() == 201);
    }  // thread_stop, worker_exit, shutdown: every connection closed
    Client again({dir.file("notes.db")});
    CHECK(again.get("/notes/1").json()["text"] == "kept");
}

TEST_CASE("notes: without an argument, the database is $NOTES_DB") {
    TempDir dir;
    setenv("NOTES_DB", dir.file("from-env.db").c_str(), 1);
    {
        Client c;
        CHECK(c.post("/notes/", nlohmann::json{{"text", "x"}}).status() == 201);
    }
    unsetenv("NOTES_DB");
    CHECK(std::filesystem::exists(dir.file("from-env.db")));
}

TEST_CASE("notes: the file is in WAL mode, and each app thread has its own connection") {
    TempDir dir;
    Client c({dir.file("notes.db")});
    CHECK(notes::Connection(dir.file("notes.db"), 0).journal_mode() == "wal");
    auto& db = c.app().db;
    CHECK(db.open_count() == 1);  // the client's thread ran thread_start(0)
    const notes::Connection* mine = &db.here();

    // A second app thread, as in a worker with --threads 2.
    const notes::Connection* theirs = nullptr;
    size_t open_while_both_run = 0;
    std::thread other([&] {
        c.app().thread_start(1);
        theirs = &db.here();
        open_while_both_run = db.open_count();
        c.app().thread_stop(1);
    });
    other.join();
    CHECK(theirs != nullptr);
    CHECK(theirs != mine);
    CHECK(open_while_both_run == 2);
    CHECK(db.open_count() == 1);
    CHECK(&db.here() == mine);

    // A thread that is not an app thread (an executor task) has none: a clear 503.
    std::thread stranger([&] { CHECK_THROWS_AS(db.here(), cppg::HttpError); });
    stranger.join();
}

TEST_CASE("notes: a writer waits for the write lock (busy timeout) instead of failing") {
    TempDir dir;
    Client c({dir.file("notes.db")});
    notes::Connection other(dir.file("notes.db"), 0);  // another worker, say
    other.exec("BEGIN IMMEDIATE");                     // holds the write lock...
    auto start = std::chrono::steady_clock::now();
    std::thread release([&] {
        std::this_thread::sleep_for(300ms);  // ...for 300 ms
        other.exec("COMMIT");
    });
    auto created = c.post("/notes/", nlohmann::json{{"text", "after the lock"}});
    auto waited = std::chrono::steady_clock::now() - start;
    release.join();
    CHECK(created.status() == 201);
    CHECK(waited >= 250ms);
}

TEST_CASE("notes: still locked after the busy timeout: 503 with Retry-After") {
    TempDir dir;
    Client c({dir.file("notes.db"), "50"});  // busy timeout 50 ms
    notes::Connection other(dir.file("notes.db"), 0);
    other.exec("BEGIN IMMEDIATE");
    auto refused = c.post("/notes/", nlohmann::json{{"text", "x"}});
    CHECK(refused.status() == 503);
    CHECK(refused.header("Retry-After") == "1");
    CHECK(refused.json()["error"] == "database busy");
    CHECK(c.get("/notes/").status() == 200);  // WAL: readers do not wait for the writer
    other.exec("COMMIT");
    CHECK(c.post("/notes/", nlohmann::json{{"text", "x"}}).status() == 201);
}

TEST_CASE("notes: a directory the app cannot write fails the worker's boot, naming the file") {
    TempDir dir;
    std::string path = dir.file("missing/notes.db");
    CHECK_THROWS_WITH_AS(Client({path}), doctest::Contains("missing/notes.db"), std::runtime_error);
}
