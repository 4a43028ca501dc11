// SPDX-License-Identifier: MIT
// A JSON notes API whose data lives in SQLite, the way a database belongs in a cppgunicorn
// app: one connection per app thread, opened in thread_start and closed in thread_stop, so
// a handler never shares its connection and never takes a lock for it; WAL mode, so readers
// do not wait for the writer, and a busy timeout, so concurrent writers from every thread of
// every worker queue for the write lock instead of failing. The schema is made in
// worker_start, which runs after fork as the workers' user (so the file is theirs, and no
// SQLite handle ever crosses a fork, even with --preload).
//
//   cppgunicorn --workers 2 --threads 4 notes.so -- /var/lib/app/notes.db [BUSY_TIMEOUT_MS]
//   NOTES_DB=/var/lib/app/notes.db cppgunicorn notes.so     (or raw_env in a config file)
//
// Served as notes.so (notes.cpp); unit-tested in-process with cppg::testing (notes_test.cpp).
#pragma once

#include <sqlite3.h>

#include <cppgunicorn/router.hpp>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace notes {

// A failed SQLite call. Busy past the timeout is the one a client should retry (503).
struct DatabaseError : std::runtime_error {
    DatabaseError(int rc, const std::string& what) : std::runtime_error(what), code(rc) {}
    bool busy() const { return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED; }
    int code;
};

// One prepared statement; finalized when it goes out of scope.
class Statement {
public:
    Statement(sqlite3* db, std::string_view sql) : db_(db) {
        check(sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr), "prepare");
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, int64_t value) {
        check(sqlite3_bind_int64(stmt_, index, value), "bind");
        return *this;
    }
    Statement& bind(int index, std::string_view value) {
        check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT), "bind");
        return *this;
    }
    // Runs to the next row: true when there is one to read. A statement that writes commits
    // when it has run to the end (false), so run it to the end before answering.
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        check(rc, "step");
        return false;
    }
    int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    std::string text(int column) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
    }

private:
    void check(int rc, const char* what) const {
        if (rc != SQLITE_OK) throw DatabaseError(rc, std::string(what) + ": " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// One connection to the database file, used by one thread only (SQLITE_OPEN_NOMUTEX: SQLite
// takes no lock of its own on it either).
class Connection {
public:
    Connection(const std::string& path, int busy_timeout_ms) : path_(path) {
        int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        if (rc != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw DatabaseError(rc, "cannot open " + path + ": " + why);
        }
        sqlite3_busy_timeout(db_, busy_timeout_ms);
        // With WAL, NORMAL loses no committed data on an application crash, only on a power
        // loss (the last transactions), and saves an fsync per commit.
        exec("PRAGMA synchronous=NORMAL");
    }
    ~Connection() { sqlite3_close(db_); }  // every Statement is gone by now
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Statement prepare(std::string_view sql) { return Statement(db_, sql); }
    void exec(const char* sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string what = std::string(sql) + ": " + (err ? err : sqlite3_errstr(rc));
            sqlite3_free(err);
            throw DatabaseError(rc, what);
        }
    }
    // The journal mode the file is in ("wal" once make_schema ran).
    std::string journal_mode() {
        auto s = prepare("PRAGMA journal_mode");
        return s.step() ? s.text(0) : std::string();
    }
    // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    int64_t changes() { return sqlite3_changes64(db_); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    sqlite3* db_ = nullptr;
};

// Once per worker, before its threads open their connections: WAL mode (a property of the
// file, kept from then on) and the table. Every worker runs it at boot; the busy timeout
// queues them.
inline void make_schema(const std::string& path, int busy_timeout_ms) {
    Connection db(path, busy_timeout_ms);
    auto mode = db.prepare("PRAGMA journal_mode=WAL");
    if (!mode.step() || mode.text(0) != "wal")
        throw DatabaseError(SQLITE_ERROR, path + ": cannot use WAL mode (a network file system?)");
    db.exec(
        "CREATE TABLE IF NOT EXISTS notes ("
        " id INTEGER PRIMARY KEY,"
        " text TEXT NOT NULL,"
        " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))");
}

// The connections of one worker: one per app thread. The map is only touched when a thread
// starts or stops; a handler reaches its thread's connection through a thread_local pointer,
// with no lock.
class ThreadConnections {
public:
    ThreadConnections(std::string path, int busy_timeout_ms) : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}

    // thread_start: runs on the thread itself. The ABI has no way to fail a thread, so a
    // connection that cannot be opened is logged, and that thread's requests answer 503.
    void open_for_this_thread(unsigned thread) {
        try {
            auto connection = std::make_unique<Connection>(path_, busy_timeout_ms_);
            std::lock_guard lock(mu_);
            current_ = connection.get();
            by_thread_[thread] = std::move(connection);
        } catch (const std::exception& e) {
            cppg::log_error("thread {}: no database connection: {}", thread, e.what());
        }
    }
    // thread_stop: on the same thread, after its last request.
    void close_for_this_thread(unsigned thread) {
        std::lock_guard lock(mu_);
        by_thread_.erase(thread);
        current_ = nullptr;
    }
    // The calling thread's connection. Threads that are not app threads (an executor task,
    // a thread the app started) have none: give them their own, or do the query in the handler.
    Connection& here() const {
        if (!current_) throw cppg::HttpError(503, "no database connection on this thread");
        return *current_;
    }
    size_t open_count() const {
        std::lock_guard lock(mu_);
        return by_thread_.size();
    }
    const std::string& path() const { return path_; }
    int busy_timeout_ms() const { return busy_timeout_ms_; }

private:
    std::string path_;
    int busy_timeout_ms_;
    mutable std::mutex mu_;
    std::map<unsigned, std::unique_ptr<Connection>> by_thread_;
    static inline thread_local Connection* current_ = nullptr;
};

inline nlohmann::json note_json(Statement& row) {
    return {{"id", row.integer(0)}, {"text", row.text(1)}, {"created", row.text(2)}};
}

// A note's text from a JSON body: a non-empty string of at most 10,000 bytes, else 422.
inline std::string valid_text(const nlohmann::json& body) {
    auto text = cppg::field<std::string>(body, "text");  // missing or not a string: 400
    if (text.empty() || text.size() > 10000) throw cppg::HttpError(422, "text must be 1 to 10000 bytes");
    return text;
}

// The /notes blueprint. Each statement runs alone (autocommit), so a write takes the write
// lock once, waiting up to the busy timeout for it.
inline cppg::Router note_routes(const ThreadConnections& db) {
    cppg::Router r;
    r.get("/", [&db] {
        auto rows = db.here().prepare("SELECT id, text, created FROM notes ORDER BY id DESC LIMIT 100");
        nlohmann::json items = nlohmann::json::array();
        while (rows.step()) items.push_back(note_json(rows));
        return cppg::Response::json({{"items", items}});
    }).name("list");
    r.post("/", [&db] {
        auto insert = db.here().prepare("INSERT INTO notes (text) VALUES (?) RETURNING id, text, created");
        insert.bind(1, valid_text(cppg::json_body())).step();
        auto note = note_json(insert);
        insert.step();  // to the end: committed
        cppg::log_info("created note {}", note["id"].get<int64_t>());
        return cppg::Response::json(note, 201).header("Location", cppg::url_for("notes.detail", {{"id", std::to_string(note["id"].get<int64_t>())}}));
    });
    r.get("/<int:id>", [&db](const cppg::Params& p) {
        auto row = db.here().prepare("SELECT id, text, created FROM notes WHERE id = ?");
        if (!row.bind(1, p.get<int64_t>("id")).step()) throw cppg::HttpError(404, "no note " + p.get("id"));
        return cppg::Response::json(note_json(row));
    }).name("detail");
    r.del("/<int:id>", [&db](const cppg::Params& p) {
        Connection& c = db.here();
        c.prepare("DELETE FROM notes WHERE id = ?").bind(1, p.get<int64_t>("id")).step();
        if (c.changes() == 0) throw cppg::HttpError(404, "no note " + p.get("id"));
        return cppg::Response::no_content();
    });
    return r;
}

struct App : cppg::Router {
    static constexpr int kBusyTimeoutMs = 5000;
    ThreadConnections db;

    // The database file: the first argument, else $NOTES_DB (a config file can set it:
    // raw_env), else notes.db in the working directory. Runs in the master with --preload:
    // touches no file.
    static std::string database_path(const cppg::Args& args) {
        if (!args.empty()) return args[0];
        const char* env = std::getenv("NOTES_DB");
        return env && *env ? env : "notes.db";
    }

    // Arguments: the database file, and the busy timeout in milliseconds.
    explicit App(const cppg::Args& args)
        : db(database_path(args), args.size() > 1 ? std::stoi(args[1]) : kBusyTimeoutMs) {
        get("/", [] { return cppg::Response::json({{"notes", cppg::url_for("notes.list")}}); });
        mount("/notes", note_routes(db), "notes");
        error_handler<cppg::HttpError>([](const cppg::HttpError& e) {
            cppg::Response r = cppg::Response::json({{"error", e.what()}, {"status", e.status()}}, e.status());
            for (const auto& [name, value] : e.headers()) r.header(name, value);
            return r;
        });
        // Still locked after the busy timeout: the database is overloaded; ask to retry.
        error_handler<DatabaseError>([](const DatabaseError& e) {
            cppg::log_error("database: {}", e.what());
            if (e.busy()) return cppg::Response::json({{"error", "database busy"}, {"status", 503}}, 503).header("Retry-After", "1");
            return cppg::Response::json({{"error", "database error"}, {"status", 500}}, 500);
        });
    }

    // In the worker, as its user, before the threads start: a bad path or a read-only
    // directory fails the boot here, with SQLite's reason, instead of every request later.
    void worker_start() {
        make_schema(db.path(), db.busy_timeout_ms());
        cppg::log_info("database {} (WAL, busy timeout {} ms)", db.path(), db.busy_timeout_ms());
    }
    void thread_start(unsigned thread) { db.open_for_this_thread(thread); }
    void thread_stop(unsigned thread) { db.close_for_this_thread(thread); }
};

}  // namespace notes
