// SPDX-License-Identifier: MIT
#include "interpreter.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>

#include <fstream>

#include "cppgunicorn_module.hpp"

#ifndef CPPG_PYTHON_EXECUTABLE
#define CPPG_PYTHON_EXECUTABLE "/usr/bin/python3"
#endif

namespace cppg::wsgi {

namespace {

PyThreadState* main_thread_state = nullptr;

// One app thread's Python identity, from thread_start to thread_stop.
struct AppThread {
    PyGILState_STATE gstate{};
    PyThreadState* tstate = nullptr;
};
thread_local AppThread app_thread;

// threading.current_thread().name: the OS thread's name (cppg-thread-N, cppg-executor)
// instead of Python's "Dummy-N" for a thread it did not start, so that log records and
// tracebacks name it. GIL held.
void name_python_thread() {
    char name[16] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 || name[0] == '\0') return;
    Ref threading(PyImport_ImportModule("threading"));
    Ref dummy(threading ? PyObject_GetAttrString(threading.get(), "_DummyThread") : nullptr);
    Ref current(threading ? PyObject_CallMethod(threading.get(), "current_thread", nullptr) : nullptr);
    Ref text(PyUnicode_DecodeFSDefault(name));
    bool renamed = dummy && current && text && PyObject_IsInstance(current.get(), dummy.get()) == 1 &&
                   PyObject_SetAttrString(current.get(), "name", text.get()) == 0;
    if (!renamed) PyErr_Clear();  // the main thread keeps "MainThread"
}

std::string status_message(const PyStatus& status) {
    std::string text = status.err_msg ? status.err_msg : "unknown error";
    if (status.func) text = std::string(status.func) + ": " + text;
    return text;
}

// The server dlopens apps with RTLD_LOCAL, which hides libpython's symbols from the C
// extension modules Python loads later (they are not linked against libpython, as the
// interpreter executable exports them); reopening it RTLD_GLOBAL makes them visible.
std::optional<std::string> export_libpython_symbols() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&Py_InitializeFromConfig), &info) == 0 || info.dli_fname == nullptr)
        return "cannot find libpython's file name (dladdr failed)";
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr)
        return std::string("cannot make libpython's symbols global: ") + dlerror();
    return std::nullopt;
}

// "3.11" from a pyvenv.cfg's version line ("version = 3.11.2", or version_info for newer
// venvs), or "" when it has none.
std::string venv_python_version(std::ifstream& cfg) {
    std::string line;
    while (std::getline(cfg, line)) {
        size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        auto trim = [](std::string& s) {
            s.erase(0, s.find_first_not_of(" \t\r"));
            s.erase(s.find_last_not_of(" \t\r") + 1);
        };
        trim(key);
        trim(value);
        if (key != "version" && key != "version_info") continue;
        size_t first_dot = value.find('.');
        size_t second_dot = first_dot == std::string::npos ? first_dot : value.find('.', first_dot + 1);
        return value.substr(0, second_dot);
    }
    return {};
}

// A venv made by another Python minor version has extension modules this one cannot load.
std::optional<std::string> check_virtualenv(const std::string& dir) {
    const std::string ours = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
    std::ifstream cfg(dir + "/pyvenv.cfg");
    if (!cfg) return "--virtualenv " + dir + ": not a virtualenv (no pyvenv.cfg there)";
    std::string theirs = venv_python_version(cfg);
    if (theirs.empty()) {
        struct stat st {};
        if (::stat((dir + "/lib/python" + ours).c_str(), &st) == 0) return std::nullopt;
        return "--virtualenv " + dir + ": its pyvenv.cfg names no Python version and it has no lib/python" + ours;
    }
    if (theirs != ours)
        return "--virtualenv " + dir + " was made with Python " + theirs + ", but this bridge runs Python " +
               ours + "; recreate it with python" + ours + " -m venv";
    return std::nullopt;
}

std::optional<std::string> initialize(const Options& options) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    struct Clear {
        PyConfig& c;
        ~Clear() { PyConfig_Clear(&c); }
    } clear{config};
    config.install_signal_handlers = 0;  // SIGINT, SIGPIPE... stay the server's
    config.parse_argv = 0;
    // Like python -s: a server does not pick up packages from its user's ~/.local; a venv or
    // --pythonpath says where they are.
    config.user_site_directory = 0;
    // sys.executable: the venv's python makes site.py add the venv's site-packages, and
    // multiprocessing and subprocess users find the right interpreter.
    std::string executable = options.virtualenv.empty() ? CPPG_PYTHON_EXECUTABLE : options.virtualenv + "/bin/python3";
    PyStatus status = PyConfig_SetBytesString(&config, &config.executable, executable.c_str());
    if (PyStatus_Exception(status)) return status_message(status);
    const char* argv[] = {"cppgunicorn"};
    status = PyConfig_SetBytesArgv(&config, 1, const_cast<char* const*>(argv));
    if (PyStatus_Exception(status)) return status_message(status);
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) return "cannot start Python: " + status_message(status);
    return std::nullopt;
}

}  // namespace

std::optional<std::string> start_interpreter(const Options& options) {
    if (Py_IsInitialized()) return "Python is already running in this process (one WSGI app per server)";
    if (!options.virtualenv.empty())
        if (auto err = check_virtualenv(options.virtualenv)) return err;
    if (auto err = export_libpython_symbols()) return err;
    if (PyImport_AppendInittab("cppgunicorn", &init_cppgunicorn_module) != 0)
        return "cannot register the cppgunicorn module";
    return initialize(options);
}

void release_after_start() { main_thread_state = PyEval_SaveThread(); }

void before_fork() {
    PyEval_RestoreThread(main_thread_state);
    PyOS_BeforeFork();
}

void after_fork_parent() {
    PyOS_AfterFork_Parent();
    main_thread_state = PyEval_SaveThread();
}

void after_fork_child() {
    PyOS_AfterFork_Child();
    main_thread_state = PyEval_SaveThread();
}

std::optional<std::string> enter_worker() {
    // The server's own SIGABRT handler (the C backtrace of the stuck thread) is installed by
    // now; faulthandler keeps it as the previous handler and chains to it after printing
    // every Python thread's stack to stderr, where the C backtrace goes too.
    PyGILState_STATE gil = PyGILState_Ensure();
    std::optional<std::string> error;
    {  // the references go before the GIL does
        Ref faulthandler(PyImport_ImportModule("faulthandler"));
        Ref enable(faulthandler ? PyObject_GetAttrString(faulthandler.get(), "enable") : nullptr);
        Ref args(PyTuple_New(0));
        Ref kwargs(Py_BuildValue("{s:O}", "all_threads", Py_True));
        if (!enable || !args || !kwargs || !Ref(PyObject_Call(enable.get(), args.get(), kwargs.get())))
            error = "cannot enable faulthandler: " + take_exception_line();
    }
    PyGILState_Release(gil);
    return error;
}

void attach_app_thread() {
    app_thread.gstate = PyGILState_Ensure();
    app_thread.tstate = PyThreadState_Get();
    name_python_thread();
    PyEval_SaveThread();
}

void detach_app_thread() {
    if (app_thread.tstate == nullptr) return;
    PyEval_RestoreThread(app_thread.tstate);
    app_thread.tstate = nullptr;
    PyGILState_Release(app_thread.gstate);  // the last reference: the thread state goes
}

RequestGil::RequestGil() {
    if (app_thread.tstate != nullptr) {
        attached_ = app_thread.tstate;
        PyEval_RestoreThread(attached_);
    } else {
        gstate_ = PyGILState_Ensure();
        ensured_ = true;
    }
}

void RequestGil::release() {
    if (!held_) return;
    held_ = false;
    if (attached_ != nullptr) PyEval_SaveThread();
    else if (ensured_) PyGILState_Release(gstate_);
}

RequestGil::~RequestGil() { release(); }

void attach_executor_thread() {
    thread_local bool attached = false;
    if (attached) return;
    attached = true;
    PyGILState_Ensure();  // never released: the thread keeps this state until it exits
    name_python_thread();
    PyEval_SaveThread();
}

void stop_interpreter() {
    if (main_thread_state == nullptr) return;
    PyEval_RestoreThread(main_thread_state);
    main_thread_state = nullptr;
    Ref atexit(PyImport_ImportModule("atexit"));
    if (!atexit || !Ref(PyObject_CallMethod(atexit.get(), "_run_exitfuncs", nullptr)))
        log(CPPG_LOG_ERROR, "atexit handlers failed: " + take_traceback());
    for (const char* name : {"stdout", "stderr"}) {
        PyObject* stream = PySys_GetObject(name);  // borrowed
        if (stream != nullptr && stream != Py_None && !Ref(PyObject_CallMethod(stream, "flush", nullptr)))
            PyErr_Clear();
    }
    // The GIL stays taken: nothing of the app runs again in this process.
}

}  // namespace cppg::wsgi
