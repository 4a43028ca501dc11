// SPDX-License-Identifier: MIT
// The connection state machine without sockets: a fake ConnectionIo (clock, timer, output
// queue), a scripted AppSocket for the app's thread, and an owner whose "app" is a lambda.
// A test plays the loop and the app's thread in turn, as LeaderFollowers would.
#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <functional>
#include <string>

#include "worker/connection.hpp"

using namespace cppg::worker;
using State = Connection::State;

namespace {

struct FakeIo final : ConnectionIo, AppSocket {
    Connection* conn = nullptr;
    uint64_t now = 1000;
    bool reading = false;
    bool timer_armed = false;
    uint64_t timer_due = 0, timer_repeat = 0;
    std::string sent;            // what the loop sent
    bool hold_output = false;    // the loop's sends stay queued until flush()
    std::string queued;
    bool send_fails = false;     // the next send finds the client gone
    bool shutdown_requested = false, closed = false, interrupted = false;
    // The app's thread's socket.
    std::deque<std::string> incoming;  // what read() returns next ("" = EOF)
    std::string app_sent;
    size_t app_send_room = SIZE_MAX;   // bytes the socket takes before EAGAIN
    int waits = 0;
    bool wait_times_out = false;

    void start_reading() override { reading = true; }
    void stop_reading() override { reading = false; }
    void send(std::string bytes) override {
        if (send_fails) return conn->on_write_error();
        if (hold_output) queued += bytes;
        else sent += bytes;
    }
    bool sending() const override { return !queued.empty(); }
    void shutdown_write() override { shutdown_requested = true; }
    void close() override { closed = true; }
    void arm_timer(uint64_t ms, uint64_t repeat_ms) override {
        timer_armed = true;
        timer_due = now + ms;
        timer_repeat = repeat_ms;
    }
    void stop_timer() override { timer_armed = false; }
    uint64_t now_ms() override { return now; }
    bool input_waiting() override { return false; }
    void interrupt_app_io() override { interrupted = true; }
    AppSocket& app_socket() override { return *this; }

    ssize_t read(char* buf, size_t len) override {
        if (incoming.empty()) {
            errno = EAGAIN;
            return -1;
        }
        std::string& next = incoming.front();
        size_t n = std::min(len, next.size());
        std::memcpy(buf, next.data(), n);
        next.erase(0, n);
        if (n == 0 || next.empty()) incoming.pop_front();
        return static_cast<ssize_t>(n);
    }
    ssize_t send(const char* data, size_t len) override {
        size_t n = std::min(len, app_send_room);
        if (n == 0) {
            errno = EAGAIN;
            return -1;
        }
        app_sent.append(data, n);
        app_send_room -= app_send_room == SIZE_MAX ? 0 : n;
        return static_cast<ssize_t>(n);
    }
    ssize_t send_file(int fd, off_t* offset, size_t len) override {
        std::string buf(std::min(len, app_send_room), '\0');
        ssize_t n = ::pread(fd, buf.data(), buf.size(), *offset);
        if (n <= 0) return n;
        ssize_t taken = send(buf.data(), static_cast<size_t>(n));
        if (taken > 0) *offset += taken;
        return taken;
    }
    Wait wait(short events, int64_t) override {
        ++waits;
        if (wait_times_out) return Wait::kTimeout;
        if (events & POLLOUT) app_send_room = SIZE_MAX;  // the client reads at last
        return Wait::kReady;
    }

    // Time passes; the timer fires if it is due.
    void advance(uint64_t ms) {
        now += ms;
        while (timer_armed && now >= timer_due) {
            if (timer_repeat) timer_due += timer_repeat;
            else timer_armed = false;
            conn->on_timer();
        }
    }
    void flush() {
        sent += queued;
        queued.clear();
        conn->on_sent();
    }
};

struct FakeOwner final : ConnectionOwner {
    cppg::config::Settings s = cppg::config::default_settings();
    cppg::http::ParserLimits parser_limits;
    ClientWaitBudget budget{2};
    char buffer[Connection::kReadBufferSize];
    std::function<void(Exchange&)> app = [](Exchange& e) {
        cppg_header_t h{{"Content-Type", 12}, {"text/plain", 10}};
        e.start_response("200 OK", &h, 1);
        e.write("hello", 5);
    };
    int dispatched = 0, done = 0, closed = 0;
    bool stopping = false;

    const cppg::config::Settings& settings() const override { return s; }
    const cppg::http::ParserLimits& limits() const override { return parser_limits; }
    cppg::log::AccessLog* access_log() override { return nullptr; }
    cppg::shared::RequestCounters* counters() override { return nullptr; }
    ClientWaitBudget& wait_budget() override { return budget; }
    cppg::shared::ThreadSlot* thread_slot(size_t) override { return nullptr; }
    char* read_buffer() override { return buffer; }
    void run_app(size_t, Exchange& e) override {
        app(e);
        e.conclude(0, false);
    }
    bool shutting_down() const override { return stopping; }
    void dispatch(Connection&) override { ++dispatched; }
    void on_request_done() override { ++done; }
    void on_closed(Connection&) override { ++closed; }
};

struct Rig {
    FakeOwner owner;
    FakeIo io;
    Connection conn{owner, io, PeerInfo{"10.0.0.1", "4000", "127.0.0.1", "8000", false}, false};
    Rig() {
        io.conn = &conn;
        conn.open();
    }
    void input(std::string_view bytes) { conn.on_input(bytes.data(), bytes.size()); }
    // The app's thread takes the dispatched request, then the loop takes it back.
    void run_app() {
        REQUIRE(conn.state() == State::kApp);
        conn.run(0);
        conn.back_on_loop();
    }
};

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

bool has_status(const std::string& out, std::string_view status) {
    return out.find("HTTP/1.1 " + std::string(status)) != std::string::npos;
}

}  // namespace

TEST_CASE("connection: a request is read, dispatched, answered on the app's thread, kept alive") {
    Rig r;
    CHECK(r.conn.state() == State::kHead);
    CHECK(r.io.timer_due == r.io.now + r.owner.s.header_timeout * 1000);
    CHECK(r.io.reading);
    r.input(kGet);
    CHECK(r.conn.state() == State::kApp);
    CHECK(r.owner.dispatched == 1);
    CHECK_FALSE(r.io.timer_armed);  // the app's thread enforces its own timeouts
    CHECK(r.io.reading);            // the body is complete: the loop keeps reading (pipelining)
    r.run_app();
    CHECK(has_status(r.io.app_sent, "200 OK"));
    CHECK(r.io.app_sent.find("hello") != std::string::npos);
    CHECK(r.io.sent.empty());  // the app's thread wrote it all itself
    CHECK(r.conn.state() == State::kIdle);
    CHECK(r.owner.done == 1);
    CHECK(r.io.timer_due == r.io.now + r.owner.s.keepalive * 1000);
    r.io.advance(r.owner.s.keepalive * 1000);
    CHECK(r.conn.state() == State::kClosed);
    CHECK(r.io.closed);
}

TEST_CASE("connection: pipelined requests run one at a time, in order") {
    Rig r;
    int calls = 0;
    r.owner.app = [&](Exchange& e) {
        ++calls;
        std::string body = std::string(e.request().target());
        e.start_response("200 OK", nullptr, 0);
        e.write(body.data(), body.size());
    };
    r.input("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHo");
    CHECK(r.owner.dispatched == 1);
    r.run_app();
    CHECK(r.owner.dispatched == 2);  // /b was held and starts as soon as /a is back
    r.run_app();
    CHECK(r.conn.state() == State::kHead);  // /c is partly here
    r.input("st: x\r\n\r\n");
    r.run_app();
    CHECK(calls == 3);
    auto a = r.io.app_sent.find("/a"), b = r.io.app_sent.find("/b"), c = r.io.app_sent.find("/c");
    CHECK((a < b && b < c && c != std::string::npos));
}

TEST_CASE("connection: a malformed head gets its 4xx, then a graceful close") {
    Rig r;
    r.input("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    CHECK(has_status(r.io.sent, "400"));
    CHECK(r.io.sent.find("Connection: close") != std::string::npos);
    CHECK(r.owner.dispatched == 0);
    CHECK(r.conn.state() == State::kLinger);  // our side shut down; dropping what comes
    CHECK(r.io.shutdown_requested);
    r.conn.on_shutdown(true);
    CHECK(r.io.reading);
    r.input("garbage after the answer");
    CHECK(r.conn.state() == State::kLinger);
    r.io.advance(Connection::kLingerMs);
    CHECK(r.conn.state() == State::kClosed);
}

TEST_CASE("connection: Connection: close is answered, then closed without lingering") {
    Rig r;
    r.input("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    r.run_app();
    CHECK(r.io.app_sent.find("Connection: close") != std::string::npos);
    CHECK(r.conn.state() == State::kClosed);
    CHECK_FALSE(r.io.shutdown_requested);
}

TEST_CASE("connection: an incomplete head times out with 408; a silent one just closes") {
    Rig r;
    r.input("GET / HTTP/1.1\r\nHo");
    r.io.advance(r.owner.s.header_timeout * 1000);
    CHECK(has_status(r.io.sent, "408"));
    CHECK(r.conn.state() == State::kLinger);

    Rig silent;
    silent.io.advance(silent.owner.s.header_timeout * 1000);
    CHECK(silent.io.sent.empty());
    CHECK(silent.conn.state() == State::kClosed);
}

TEST_CASE("connection: a body that stops arriving: the app's read times out, 408") {
    Rig r;
    int read_result = 0;
    r.owner.app = [&](Exchange& e) {
        char buf[16];
        read_result = static_cast<int>(e.read(buf, sizeof buf));
        if (read_result > 0) read_result = static_cast<int>(e.read(buf, sizeof buf));
    };
    r.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(r.conn.state() == State::kBody);  // a small body is buffered before the app starts
    CHECK(r.owner.dispatched == 0);
    r.io.advance(r.owner.s.body_timeout * 1000 + Connection::kActivityTickMs);
    CHECK(r.conn.state() == State::kApp);
    r.run_app();
    CHECK(read_result == CPPG_ETIMEDOUT);
    CHECK(has_status(r.io.app_sent, "408"));
    CHECK(r.conn.state() != State::kIdle);  // closing, not kept alive
}

TEST_CASE("connection: a large body streams to the app, which reads the socket itself") {
    Rig r;
    std::string received;
    r.owner.app = [&](Exchange& e) {
        char buf[8192];
        ptrdiff_t n;
        while ((n = e.read(buf, sizeof buf)) > 0) received.append(buf, static_cast<size_t>(n));
        e.start_response("200 OK", nullptr, 0);
    };
    std::string body(200000, 'b');
    std::string head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    r.input(head + body.substr(0, 70000));  // more than kAppStartBytes: the app starts now
    CHECK(r.conn.state() == State::kApp);
    CHECK_FALSE(r.io.reading);  // the app's thread reads the rest; the loop must not
    r.io.incoming.push_back(body.substr(70000, 100000));
    r.io.incoming.push_back(body.substr(170000) + std::string(kGet));  // and the next request
    r.run_app();
    CHECK(received == body);
    CHECK(r.owner.dispatched == 2);  // the pipelined GET the app's thread read went on
    CHECK(r.io.reading);
}

TEST_CASE("connection: the app answers before reading the body; the rest is drained") {
    Rig r;
    std::string body(100000, 'x');
    r.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body.substr(0, 70000));
    r.run_app();
    CHECK(has_status(r.io.app_sent, "200"));
    CHECK(r.conn.state() == State::kDrainBody);
    CHECK(r.io.reading);
    r.input(body.substr(70000));
    CHECK(r.conn.state() == State::kIdle);
    r.input(kGet);
    CHECK(r.owner.dispatched == 2);
}

TEST_CASE("connection: a slow reader: what the socket does not take, the loop sends later") {
    Rig r;
    std::string big(300000, 'z');
    r.owner.app = [&](Exchange& e) {
        e.start_response("200 OK", nullptr, 0);
        e.write(big.data(), big.size());
    };
    r.io.app_send_room = 1000;
    r.io.hold_output = true;
    r.input(kGet);
    r.run_app();
    CHECK(r.io.app_sent.size() == 1000);
    CHECK(r.io.queued.size() > big.size() - 1000);  // handed to the loop, not waited for
    CHECK(r.io.waits == 0);
    CHECK(r.io.timer_repeat == Connection::kActivityTickMs);  // send_timeout is watched
    r.io.flush();
    CHECK(r.conn.state() == State::kIdle);
    CHECK(r.io.timer_due == r.io.now + r.owner.s.keepalive * 1000);
}

TEST_CASE("connection: a reader that never reads: send_timeout closes") {
    Rig r;
    r.owner.app = [&](Exchange& e) {
        e.start_response("200 OK", nullptr, 0);
        e.write("x", 1);
    };
    r.io.app_send_room = 0;
    r.io.hold_output = true;
    r.input(kGet);
    r.run_app();
    CHECK(r.io.sending());
    r.io.advance(r.owner.s.send_timeout * 1000 + 2 * Connection::kActivityTickMs);
    CHECK(r.conn.state() == State::kClosed);
}

TEST_CASE("connection: a graceful stop answers the request in progress with close, idles out the rest") {
    Rig busy;
    busy.input(kGet);
    busy.conn.stop_when_idle();
    busy.run_app();
    CHECK(busy.io.app_sent.find("Connection: close") != std::string::npos);
    CHECK(busy.conn.state() == State::kLinger);  // half-closed, the client may still be sending
    CHECK(busy.io.shutdown_requested);

    Rig idle;
    idle.input(kGet);
    idle.run_app();
    idle.conn.stop_when_idle();
    CHECK(idle.io.timer_due == idle.io.now + Connection::kStopGraceMs);
    idle.input(kGet);  // a request on its way is still answered, with close
    idle.run_app();
    CHECK(idle.io.app_sent.rfind("Connection: close") != std::string::npos);
    CHECK(idle.conn.state() == State::kLinger);

    Rig silent;
    silent.input(kGet);
    silent.run_app();
    silent.conn.stop_when_idle();
    silent.io.advance(Connection::kStopGraceMs);
    CHECK(silent.conn.state() == State::kClosed);
}

TEST_CASE("connection: closing while the app runs waits for the call; the app's I/O is cut") {
    Rig r;
    r.input(kGet);
    r.conn.close();
    CHECK(r.conn.state() == State::kApp);
    CHECK(r.io.interrupted);
    CHECK_FALSE(r.io.closed);
    r.run_app();
    CHECK(r.io.closed);
    CHECK(r.io.app_sent.empty());  // the exchange was aborted: nothing more goes out
}

TEST_CASE("connection: EOF before the body is complete: the app's read fails, 400") {
    Rig r;
    int rc = 0;
    r.owner.app = [&](Exchange& e) {
        char buf[64];
        while ((rc = static_cast<int>(e.read(buf, sizeof buf))) > 0) {
        }
    };
    r.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    r.conn.on_eof();
    r.run_app();
    CHECK(rc == CPPG_EBODY);
    CHECK(has_status(r.io.app_sent, "400"));
}

TEST_CASE("connection: Expect: 100-continue is answered by the app's first read") {
    Rig r;
    std::string got;
    r.owner.app = [&](Exchange& e) {
        char buf[64];
        ptrdiff_t n = e.read(buf, sizeof buf);
        if (n > 0) got.assign(buf, static_cast<size_t>(n));
        e.start_response("200 OK", nullptr, 0);
    };
    r.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    CHECK(r.conn.state() == State::kApp);  // it does not wait for a body the client holds back
    r.io.incoming.push_back("data");
    r.run_app();
    CHECK(r.io.app_sent.starts_with("HTTP/1.1 100 Continue\r\n\r\n"));
    CHECK(got == "data");
}

TEST_CASE("connection: a client gone while its response was queued: the pipelined request never runs") {
    Rig r;
    std::string big(300000, 'z');
    int calls = 0;
    r.owner.app = [&](Exchange& e) {
        ++calls;
        e.start_response("200 OK", nullptr, 0);
        e.write(big.data(), big.size());
    };
    r.io.app_send_room = 1000;
    r.input(std::string(kGet) + std::string(kGet));
    r.conn.run(0);
    CHECK(r.conn.needs_loop_now());  // unsent bytes: the leader must take it back now
    r.io.send_fails = true;
    r.conn.back_on_loop();
    CHECK(r.conn.state() == State::kClosed);
    CHECK(r.owner.dispatched == 1);
    CHECK(calls == 1);
}

TEST_CASE("connection: the loop takes a connection back at once when it must read for it") {
    Rig big_body;
    std::string body(100000, 'b');
    big_body.owner.app = [&](Exchange& e) {
        char buf[65536];
        while (e.read(buf, sizeof buf) > 0) {
        }
        e.start_response("200 OK", nullptr, 0);
    };
    big_body.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body.substr(0, 70000));
    big_body.io.incoming.push_back(body.substr(70000));
    big_body.conn.run(0);
    CHECK(big_body.conn.needs_loop_now());  // reading was stopped for the app's thread

    Rig held;
    held.input(kGet);
    held.conn.run(0);
    CHECK_FALSE(held.conn.needs_loop_now());  // a plain keep-alive answer can wait for a turn
    held.input(kGet);                         // ... unless the next request came meanwhile
    CHECK(held.conn.needs_loop_now());
    held.conn.back_on_loop();
    CHECK(held.owner.dispatched == 2);
}

TEST_CASE("connection: a stopping worker gives a new, silent connection the stop grace, not header_timeout") {
    Rig r;
    r.conn.stop_when_idle();
    CHECK(r.io.timer_due == r.io.now + Connection::kStopGraceMs);
    r.io.advance(Connection::kStopGraceMs);
    CHECK(r.conn.state() == State::kClosed);
}

TEST_CASE("connection: a request cut before its call started never reaches the app") {
    Rig r;
    int calls = 0;
    r.owner.app = [&](Exchange&) { ++calls; };
    r.input(kGet);
    r.conn.close();  // a quick stop while the job waits for a thread
    r.run_app();
    CHECK(calls == 0);
    CHECK(r.io.closed);
}

TEST_CASE("connection: draining an unread body counts body_timeout from the end of the call") {
    Rig r;
    r.owner.app = [&](Exchange& e) {
        e.start_response("200 OK", nullptr, 0);
        r.io.now += 5000;  // a call that takes five seconds
    };
    r.input("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(70000, 'x'));
    r.run_app();
    CHECK(r.conn.state() == State::kDrainBody);
    r.io.advance(Connection::kActivityTickMs);
    CHECK(r.conn.state() == State::kDrainBody);  // not timed out by the call's own length
}
