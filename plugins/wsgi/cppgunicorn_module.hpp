// SPDX-License-Identifier: MIT
// The `cppgunicorn` module that apps import: a built-in module (PyImport_AppendInittab)
// whose Python half (cppgunicorn_module.py, compiled into the bridge) defines the executor,
// request_id(), BodyError and FileWrapper, on top of two C functions: _submit() (the host's
// shared executor) and _log() (the server's error log).
#pragma once

#include "python.hpp"

namespace cppg::wsgi {

// The module's init function, for PyImport_AppendInittab.
extern "C" PyObject* init_cppgunicorn_module();

// What the bridge uses of the module, looked up once after start-up (GIL held).
struct ModuleParts {
    Ref module;
    Ref request_id_var;  // contextvars.ContextVar set in every request's context
    Ref body_error;      // BodyError, raised by wsgi.input
    Ref file_wrapper;    // FileWrapper, the environ's wsgi.file_wrapper
    Ref app_import_error;
    Ref prepare_path;    // _prepare_path(list of str)
    Ref load_app;        // _load_app(spec) -> the WSGI callable
};

// Imports the module and fills `parts`; false with a Python error set on failure.
bool import_cppgunicorn_module(ModuleParts& parts);

// The parts, once imported (nullptr before).
const ModuleParts* module_parts();

}  // namespace cppg::wsgi
