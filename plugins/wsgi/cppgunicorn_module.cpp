// SPDX-License-Identifier: MIT
#include "cppgunicorn_module.hpp"

#include <cstddef>

#include "interpreter.hpp"

namespace cppg::wsgi {

extern const char kCppgunicornModuleSource[];  // cppgunicorn_module.py, embedded by CMake

namespace {

ModuleParts* parts_ptr = nullptr;

bool host_has_submit() {
    return host() != nullptr && host()->struct_size >= offsetof(cppg_host_t, submit) + sizeof(void*) &&
           host()->submit != nullptr;
}

// On an executor thread, without the GIL: one task of cppgunicorn.Executor.
void run_task(void* arg) {
    attach_executor_thread();
    PyGILState_STATE gil = PyGILState_Ensure();
    {
        Ref task(static_cast<PyObject*>(arg));
        // The task itself stores the callable's outcome in its future; an error here is
        // the bridge's own (a future already resolved, out of memory).
        if (!Ref(PyObject_CallNoArgs(task.get())))
            log(CPPG_LOG_ERROR, "cppgunicorn.executor task failed: " + take_traceback());
    }
    PyGILState_Release(gil);
}

PyObject* submit(PyObject* module, PyObject* task) {
    if (!PyCallable_Check(task)) return PyErr_Format(PyExc_TypeError, "_submit() needs a callable");
    if (!host_has_submit())
        return PyErr_Format(PyExc_RuntimeError, "this server has no shared executor");
    Py_INCREF(task);
    int rc = host()->submit(&run_task, task);
    if (rc == CPPG_OK) Py_RETURN_NONE;
    Py_DECREF(task);
    if (rc == CPPG_EBUSY) {
        Ref full(PyObject_GetAttrString(module, "ExecutorFull"));
        if (!full) return nullptr;
        PyErr_SetString(full.get(),
                        "the worker's shared executor queue is full (--executor-queue); task not queued");
        return nullptr;
    }
    return PyErr_Format(PyExc_RuntimeError, "cannot submit to the shared executor: %s", host()->strerror(rc));
}

PyObject* log_line(PyObject*, PyObject* args) {
    int level = CPPG_LOG_INFO;
    const char* text = nullptr;
    Py_ssize_t len = 0;
    if (!PyArg_ParseTuple(args, "is#", &level, &text, &len)) return nullptr;
    if (level < CPPG_LOG_DEBUG || level > CPPG_LOG_CRITICAL) level = CPPG_LOG_ERROR;
    log(static_cast<cppg_log_level_t>(level), std::string_view(text, static_cast<size_t>(len)));
    Py_RETURN_NONE;
}

PyMethodDef kFunctions[] = {
    {"_submit", submit, METH_O, "_submit(task): run task() on the worker's shared executor."},
    {"_log", log_line, METH_VARARGS, "_log(level, text): a line in the server's error log."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef kModule = {
    PyModuleDef_HEAD_INIT, "cppgunicorn", nullptr, -1, kFunctions, nullptr, nullptr, nullptr, nullptr,
};

bool get(PyObject* module, const char* name, Ref& out) {
    out.reset(PyObject_GetAttrString(module, name));
    return static_cast<bool>(out);
}

}  // namespace

extern "C" PyObject* init_cppgunicorn_module() {
    Ref module(PyModule_Create(&kModule));
    if (!module) return nullptr;
    PyObject* dict = PyModule_GetDict(module.get());  // borrowed
    if (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) != 0) return nullptr;
    for (auto [name, level] : {std::pair{"LOG_DEBUG", CPPG_LOG_DEBUG}, {"LOG_INFO", CPPG_LOG_INFO},
                               {"LOG_WARNING", CPPG_LOG_WARNING}, {"LOG_ERROR", CPPG_LOG_ERROR}})
        if (PyModule_AddIntConstant(module.get(), name, level) != 0) return nullptr;
    Ref code(Py_CompileString(kCppgunicornModuleSource, "<cppgunicorn>", Py_file_input));
    if (!code || !Ref(PyEval_EvalCode(code.get(), dict, dict))) return nullptr;
    return module.release();
}

bool import_cppgunicorn_module(ModuleParts& parts) {
    parts.module.reset(PyImport_ImportModule("cppgunicorn"));
    PyObject* m = parts.module.get();
    if (!m || !get(m, "_request_id", parts.request_id_var) || !get(m, "BodyError", parts.body_error) ||
        !get(m, "FileWrapper", parts.file_wrapper) || !get(m, "AppImportError", parts.app_import_error) ||
        !get(m, "_prepare_path", parts.prepare_path) || !get(m, "_load_app", parts.load_app))
        return false;
    parts_ptr = &parts;
    return true;
}

const ModuleParts* module_parts() { return parts_ptr; }

}  // namespace cppg::wsgi
