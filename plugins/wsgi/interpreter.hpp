// SPDX-License-Identifier: MIT
// CPython's life in a worker: started once (init), one long-lived thread state per app
// thread, the GIL taken for a request and given back at its end, and a stop that runs the
// app's atexit handlers without finalising (the process exits right after).
#pragma once

#include <optional>
#include <string>

#include "options.hpp"
#include "python.hpp"

namespace cppg::wsgi {

// Starts the interpreter (the venv, if any, checked first). On success the calling thread
// holds the GIL; on failure the message says why.
std::optional<std::string> start_interpreter(const Options& options);

// Gives up the GIL at the end of start-up: from here on Python threads of the app run while
// no request is in flight, and every thread enters Python through the calls below.
void release_after_start();

// --preload: around each fork of a worker by the master that imported the app, CPython's own
// fork protocol (as os.fork() does it): the GIL and the import lock are taken before, and the
// child resets its thread bookkeeping (threads of the app are not copied by fork).
void before_fork();
void after_fork_parent();
void after_fork_child();

// What a worker does after fork (or after init, without --preload).
// Enables tracebacks of every thread on SIGABRT (the master's --timeout) and on crashes. GIL
// not held; returns an error message on failure.
std::optional<std::string> enter_worker();

// thread_start / thread_stop: the calling thread's PyGILState thread state is created here
// and kept (threading.local and per-thread connections live as long as the thread).
void attach_app_thread();
void detach_app_thread();

// Around one request on an app thread: takes the GIL with this thread's state (or a
// temporary one on a thread the host did not announce) and gives it back.
class RequestGil {
public:
    RequestGil();
    ~RequestGil();
    RequestGil(const RequestGil&) = delete;
    RequestGil& operator=(const RequestGil&) = delete;
    // Releases the GIL before the destructor would (the end of a request, before the last
    // writes). Idempotent.
    void release();

private:
    PyThreadState* attached_ = nullptr;
    bool ensured_ = false;
    PyGILState_STATE gstate_{};
    bool held_ = true;
};

// An executor thread: the first task keeps a thread state for the thread's whole life, so
// later tasks do not create and destroy one each.
void attach_executor_thread();

// shutdown, on the thread that started the interpreter: runs atexit handlers, flushes
// sys.stdout and sys.stderr. Python is not finalised: non-daemon threads of the app are not
// waited for, and the process exits right after.
void stop_interpreter();

}  // namespace cppg::wsgi
