// SPDX-License-Identifier: MIT
// Test fixture app: its behaviour is chosen by the request path, so one plugin covers the
// server's reactions to well- and badly-behaved apps.
#include <cppgunicorn/sdk.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace {

long query_number(std::string_view query, std::string_view key, long fallback) {
    size_t pos = query.find(std::string(key) + "=");
    if (pos == std::string_view::npos) return fallback;
    return std::strtol(std::string(query.substr(pos + key.size() + 1)).c_str(), nullptr, 10);
}

// The grandchild of a double fork: once its parent exits it is an orphan, adopted by the
// nearest subreaper or PID 1 (the master, in a container), which must reap it.
void spawn_orphan(long linger_ms) {
    pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) {
            usleep(static_cast<useconds_t>(linger_ms * 1000));
            _exit(0);
        }
        _exit(0);
    }
    if (child > 0) waitpid(child, nullptr, 0);
}

struct Testkit {
    // App arguments:
    //   "boot-delay-ms=N": each worker's init takes N ms (a slow-booting app);
    //   "thread-start-fails-if=PATH": thread_start throws while PATH exists (a database that
    //   cannot be opened), so a test can break and mend the boot of the next worker;
    //   "watch=PATH": names PATH as one of the app's files (host->watch_file, for --reload).
    explicit Testkit(const cppg::Args& args) {
        for (const auto& a : args) {
            if (a.starts_with("watch=")) cppg::host()->watch_file(a.substr(6).c_str());
            if (a.starts_with("boot-delay-ms="))
                std::this_thread::sleep_for(std::chrono::milliseconds(std::stol(a.substr(14))));
            if (a.starts_with("thread-start-fails-if=")) thread_start_fails_if_ = a.substr(22);
        }
    }

    void thread_start(unsigned index) {
        if (!thread_start_fails_if_.empty() && access(thread_start_fails_if_.c_str(), F_OK) == 0)
            throw std::runtime_error("cannot open the database for thread " + std::to_string(index) +
                                     " (" + thread_start_fails_if_ + " exists)");
    }

    void handle(cppg::Request& req) const {
        std::string_view path = req.path();
        std::string_view query = req.query();
        const cppg_host_t* h = cppg::host();
        if (path == "/crlf-header") {
            req.start_response("200 OK", {{"X-Bad", "a\r\nInjected: yes"}});
        } else if (path == "/nul-header") {
            std::string value("a\0b", 3);
            req.start_response("200 OK", {{"X-Bad", value}});
        } else if (path == "/bad-header-name") {
            req.start_response("200 OK", {{"Bad Name", "x"}});
        } else if (path == "/bad-status") {
            req.start_response("OK 200", {});
        } else if (path == "/throw") {
            throw std::runtime_error("boom from testkit");
        } else if (path == "/getenv") {
            // The process environment as the app sees it (for -e KEY=VALUE).
            std::string name(query.substr(query.find('=') + 1));
            const char* value = std::getenv(name.c_str());
            req.respond(value ? "200 OK" : "404 Not Found", {}, value ? value : "");
        } else if (path == "/pid") {
            req.respond("200 OK", {}, std::to_string(getpid()));
        } else if (path == "/print") {
            // What a careless app or library does: write to the standard streams.
            std::fputs("testkit says hello on stdout\n", stdout);
            std::fflush(stdout);
            std::fputs("testkit says hello on stderr\n", stderr);
            req.respond("200 OK", {}, "printed\n");
        } else if (path == "/crash") {
            std::raise(SIGSEGV);  // as a wild pointer in app code would
        } else if (path == "/leak") {
            // Leaks `kib` KiB per call (an app with a leak, for --max-requests to contain).
            auto* lost = new char[static_cast<size_t>(query_number(query, "kib", 64)) << 10];
            std::memset(lost, 1, static_cast<size_t>(query_number(query, "kib", 64)) << 10);
            req.respond("200 OK", {}, lost[0] == 1 ? "leaked\n" : "?\n");
        } else if (path == "/no-response") {
            return;
        } else if (path == "/chunked") {
            // No Content-Length: the server must chunk (1.1) or close-delimit (1.0).
            req.start_response("200 OK", {{"Content-Type", "text/plain"}});
            long n = query_number(query, "n", 3);
            for (long i = 0; i < n; ++i) req.write("chunk" + std::to_string(i) + "\n");
        } else if (path == "/short-length") {
            req.start_response("200 OK", {{"Content-Length", "10"}});
            req.write("abc");
        } else if (path == "/long-length") {
            req.start_response("200 OK", {{"Content-Length", "3"}});
            h->write(req.raw(), "abcdef", 6);
        } else if (path == "/status") {
            std::string code = std::to_string(query_number(query, "code", 200)) + " Custom";
            req.start_response(code, {{"Content-Length", "0"}});
        } else if (path == "/sleep") {
            std::this_thread::sleep_for(std::chrono::milliseconds(query_number(query, "ms", 100)));
            req.respond("200 OK", {}, "slept\n");
        } else if (path == "/upload") {
            // Streams the body, keeping only a count and a checksum: memory stays flat.
            char buf[65536];
            uint64_t total = 0, sum = 0;
            long delay_ms = query_number(query, "delay_ms", 0);
            while (size_t n = req.read(buf, sizeof buf)) {
                total += n;
                for (size_t i = 0; i < n; ++i) sum += static_cast<unsigned char>(buf[i]);
                if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
            }
            req.respond("200 OK", {{"Content-Type", "application/json"}},
                        "{\"bytes\":" + std::to_string(total) + ",\"sum\":" + std::to_string(sum) + "}");
        } else if (path == "/stream-echo") {
            req.start_response("200 OK", {{"Content-Type", "application/octet-stream"}});
            char buf[65536];
            while (size_t n = req.read(buf, sizeof buf)) req.write(std::string_view(buf, n));
        } else if (path == "/big") {
            long bytes = query_number(query, "bytes", 1 << 20);
            req.start_response("200 OK", {{"Content-Length", std::to_string(bytes)}});
            std::string block(65536, 'x');
            for (long left = bytes; left > 0; left -= static_cast<long>(block.size()))
                req.write(std::string_view(block).substr(0, std::min<long>(left, block.size())));
        } else if (path == "/reject-body") {
            // Answers without reading the body (for 100-continue and discard tests).
            req.respond("403 Forbidden", {}, "no thanks\n");
        } else if (path == "/orphan") {
            spawn_orphan(query_number(query, "ms", 50));
            req.respond("200 OK", {{"Content-Type", "text/plain"}}, "orphaned\n");
        } else if (path == "/environ") {
            std::string out;
            for (const char* key : {"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
                                    "RAW_URI", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
                                    "REMOTE_ADDR", "REMOTE_PORT", "URL_SCHEME", "CONTENT_TYPE",
                                    "CONTENT_LENGTH", "HTTP_HOST", "HTTP_X_MULTI", "HTTP_X_UNDER",
                                    "REQUEST_ID"}) {
                auto v = req.env(key);
                out += std::string(key) + "=" + (v ? std::string(*v) : "<absent>") + "\n";
            }
            req.respond("200 OK", {{"Content-Type", "text/plain"}}, out);
        } else {
            req.respond("404 Not Found", {}, "unknown testkit path\n");
        }
    }

private:
    std::string thread_start_fails_if_;
};

}  // namespace

CPPG_APP(Testkit, "testkit")
