// SPDX-License-Identifier: MIT
// wsgi.so: the WSGI bridge, an app plugin that embeds CPython and runs a PEP 3333
// application on cppgunicorn, through the public ABI (include/cppgunicorn/app.h) only.
//
// Arguments (what follows "--" on the server's command line):
//
//     [--pythonpath DIR[,DIR...]] [--virtualenv DIR] [--threads N] [--workers N] APP
//
//   APP             MODULE:CALLABLE, MODULE (the callable `application`), or a factory
//                   called with literal arguments: 'MODULE:create_app()',
//                   'MODULE:create_app("prod", debug=False)' (parsed with ast.literal_eval,
//                   as gunicorn does).
//   --pythonpath    directories put first in sys.path (after the working directory, which
//                   is always there, as under gunicorn); repeatable, comma-separated.
//   --virtualenv    a venv made by the same Python minor version (others are refused).
//   --threads N     the server's --threads: wsgi.multithread is N > 1 (default 1).
//   --workers N     the server's --workers: wsgi.multiprocess is N > 1 (default 1).
//
// e.g.  cppgunicorn --workers 1 --threads 4 build/plugins/wsgi/wsgi.so --
//           --threads 4 --pythonpath tests/wsgi_apps mymod:app   (one command line)
//
// Life cycle, by ABI hook:
//   init          starts Python (PyConfig, no signal handlers), imports the app, releases
//                 the GIL. An app that cannot be imported fails init with the traceback
//                 in the error log. In each worker, or once in the master with --preload.
//   fork_event    --preload only: PyOS_BeforeFork / AfterFork_Parent / AfterFork_Child
//                 around each worker's fork, as os.fork() does.
//   worker_start  faulthandler for every thread on SIGABRT (--timeout) and crashes; with
//                 --reload the files of the imported modules go to the master to watch
//                 (host->watch_file), and after each request those of new imports.
//   thread_start  a long-lived Python thread state per app thread (PyGILState).
//   handle        one request: see request.hpp.
//   thread_stop   the thread state goes (its threading.local data with it).
//   shutdown      atexit handlers, stdout/stderr flushed; no finalisation.
#include <cstddef>
#include <memory>

#include "cppgunicorn_module.hpp"
#include "errors_stream.hpp"
#include "input_stream.hpp"
#include "interpreter.hpp"
#include "request.hpp"
#include "responder.hpp"

namespace cppg::wsgi {

namespace {

// The app imported, as gunicorn's import_app finds it; false with the reason logged.
bool load_app(Bridge& b) {
    Ref path_list(PyList_New(0));
    if (!path_list) return false;
    for (const auto& dir : b.options.pythonpath) {
        Ref text(PyUnicode_DecodeFSDefault(dir.c_str()));
        if (!text || PyList_Append(path_list.get(), text.get()) != 0) return false;
    }
    if (!Ref(PyObject_CallOneArg(b.module.prepare_path.get(), path_list.get()))) {
        log(CPPG_LOG_CRITICAL, "cannot set up sys.path:\n" + take_traceback());
        return false;
    }
    Ref spec(PyUnicode_DecodeFSDefault(b.options.app.c_str()));
    b.app.reset(spec ? PyObject_CallOneArg(b.module.load_app.get(), spec.get()) : nullptr);
    if (b.app) return true;
    if (PyErr_ExceptionMatches(b.module.app_import_error.get()))
        log(CPPG_LOG_CRITICAL, "cannot load WSGI app '" + b.options.app + "': " + take_exception_line());
    else
        log(CPPG_LOG_CRITICAL, "cannot load WSGI app '" + b.options.app + "':\n" + take_traceback());
    return false;
}

// With the GIL held, after Python started: everything a request needs.
bool prepare(Bridge& b) {
    if (!import_cppgunicorn_module(b.module)) {
        log(CPPG_LOG_CRITICAL, "cannot import the cppgunicorn module:\n" + take_traceback());
        return false;
    }
    if (!load_app(b)) return false;
    if (!ready_input_stream_type() || !ready_errors_stream_type() || !ready_responder_type() ||
        !b.environ.init(b.options, b.module.file_wrapper.get())) {
        log(CPPG_LOG_CRITICAL, "cannot prepare the WSGI bridge:\n" + take_traceback());
        return false;
    }
    return true;
}

int init(const cppg_host_t* h, int argc, const char* const* argv, void** state) {
    set_host(h);
    auto parsed = parse_options(argc, argv);
    if (auto* err = std::get_if<std::string>(&parsed)) {
        log(CPPG_LOG_CRITICAL, "wsgi: " + *err);
        return 1;
    }
    auto bridge = std::make_unique<Bridge>();
    bridge->options = std::move(std::get<Options>(parsed));
    if (auto err = start_interpreter(bridge->options)) {
        log(CPPG_LOG_CRITICAL, "wsgi: " + *err);
        return 1;
    }
    if (!prepare(*bridge)) return 1;  // the worker exits; Python is not worth stopping
    release_after_start();
    *state = bridge.release();
    return 0;
}

int handle(void* state, cppg_request_t* req) { return handle_request(*static_cast<Bridge*>(state), req); }

int worker_start(void* state) {
    if (auto err = enter_worker()) {
        log(CPPG_LOG_CRITICAL, "wsgi: " + *err);
        return 1;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    static_cast<Bridge*>(state)->module_watch.report_new_modules();  // --reload: the app's modules
    PyGILState_Release(gil);
    return 0;
}

// --preload: the app was imported here, in the master, and every worker is forked from it.
void fork_event(void*, int phase) {
    if (phase == CPPG_FORK_BEFORE) before_fork();
    else if (phase == CPPG_FORK_PARENT) after_fork_parent();
    else after_fork_child();
}

void thread_start(void*, unsigned) { attach_app_thread(); }
void thread_stop(void*, unsigned) { detach_app_thread(); }

// The Bridge is left alone: its Python objects die with the process, which exits next.
void shutdown(void*) { stop_interpreter(); }

const cppg_app_t kDescriptor = {
    .abi_version = CPPG_ABI_VERSION,
    .struct_size = sizeof(cppg_app_t),
    .name = "wsgi",
    .init = &init,
    .handle = &handle,
    .shutdown = &shutdown,
    .worker_start = &worker_start,
    .thread_start = &thread_start,
    .thread_stop = &thread_stop,
    .pre_request = nullptr,
    .post_request = nullptr,
    .worker_exit = nullptr,
    .fork_event = &fork_event,
    .reserved = {},
};

}  // namespace

}  // namespace cppg::wsgi

extern "C" __attribute__((visibility("default"))) const cppg_app_t* cppg_app_on_load() {
    return &cppg::wsgi::kDescriptor;
}
